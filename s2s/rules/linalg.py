"""(filled in below)"""

from __future__ import annotations

from .core import Family

family = Family()
