"""Helpers that generated derivative code calls.

This is the only part of s2s that generated modules import, and it imports
only numpy. Helpers live with their family (``core``: broadcasting and
reductions; ``directions``: vector forward mode; ``linalg``; ``structural``:
shapes and indexing); generated code imports them from here by name.
"""

from __future__ import annotations

from . import core, custom, directions, linalg, structural
from .core import *  # noqa: F401,F403
from .custom import *  # noqa: F401,F403
from .directions import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .structural import *  # noqa: F401,F403

__all__ = [*core.__all__, *custom.__all__, *directions.__all__, *linalg.__all__, *structural.__all__]
