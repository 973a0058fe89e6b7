"""Operations whose result carries no derivative.

Shapes, sizes, indices, predicates and random numbers: their results are
integers, booleans or values independent of the inputs' values, so they
stop derivatives. An operation belongs here only if its result is locally
constant in every input: ``a.item()``, ``list(a)`` or ``np.meshgrid(x, y)``
return the inputs' values and are differentiable, so they are not here.
Elementwise predicates (``np.sign``, comparisons) live with the elementwise
family.
"""

from __future__ import annotations

from .core import Family, scalar_shape, unknown_shape

family = Family()

_SCALAR_RESULT = [
    "builtins.len",
    "builtins.int",
    "builtins.bool",
    "builtins.round",
    "builtins.isinstance",
    "np.ndim",
    "np.size",
    "np.count_nonzero",
    "np.any",
    "np.all",
    "np.allclose",
    "np.array_equal",
    "np.array_equiv",
    "np.isscalar",
    "np.iscomplexobj",
    "np.isrealobj",
    "attr.ndim",
    "attr.size",
    "attr.dtype",
]
_OTHER = [
    "builtins.range",
    "builtins.print",
    "np.shape",
    "attr.shape",
    "np.argmax",
    "np.argmin",
    "np.argsort",
    "np.argwhere",
    "np.nonzero",
    "np.flatnonzero",
    "np.searchsorted",
    "np.digitize",
    "np.isclose",
    "np.unravel_index",
    "np.ravel_multi_index",
    "np.indices",
]
_RANDOM = [
    "np.random.rand",
    "np.random.randn",
    "np.random.random",
    "np.random.uniform",
    "np.random.normal",
    "np.random.standard_normal",
    "np.random.randint",
    "np.random.default_rng",
    "method.standard_normal",
    "method.normal",
    "method.uniform",
    "method.random",
    "method.integers",
]

family.zero(_SCALAR_RESULT, shape=scalar_shape)
family.zero(_OTHER + _RANDOM, shape=unknown_shape)
