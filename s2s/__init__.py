"""s2s: source-to-source automatic differentiation for numpy Python.

    >>> import numpy as np
    >>> from s2s import differentiate
    >>> @differentiate(wrt="x")
    ... def f(x):
    ...     return np.sin(x) * x
    >>> round(float(f.derivative(0.5)), 12) == round(float(np.cos(0.5) * 0.5 + np.sin(0.5)), 12)
    True

See ``differentiate`` for the API and ``README.md`` for a tour.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import Differentiated, differentiate  # noqa: E402
from .check import CheckReport, DerivativeMismatch, check  # noqa: E402
from .custom import derivative_rule  # noqa: E402
from .errors import S2SError, S2SWarning  # noqa: E402
from .verbs import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp  # noqa: E402

__all__ = [
    "CheckReport",
    "DerivativeMismatch",
    "Differentiated",
    "S2SError",
    "S2SWarning",
    "check",
    "derivative_rule",
    "differentiate",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "value_and_grad",
    "vjp",
    "__version__",
]
