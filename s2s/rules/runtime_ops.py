"""Runtime helpers that generated code calls (``s2s.runtime``), as operations.

They need shapes so that emission can reason about broadcasting, and rules
so that generated code can itself be differentiated.
"""

from __future__ import annotations

from ..expr import SCALAR
from .core import Family, Site, elementwise_shape, same_shape_as, unknown_shape

family = Family()


def _shape_of_second(site: Site):
    return site.node.args[1].shape


family.helper("rt.unbroadcast", "g, like", shape=_shape_of_second)
family.helper("rt.broadcast_like", "t, like", shape=_shape_of_second)
family.helper("rt.zeros_like", "x", shape=same_shape_as("x"))
family.helper("rt.reduced_size", "x, axis=None", shape=lambda site: SCALAR)
family.helper("rt.xlogy", "x, y", shape=elementwise_shape)
family.helper("rt.unpack_adjoint", "x, bars", shape=same_shape_as("x"))
for name in (
    "expand_reduced",
    "choice_tangent",
    "choice_adjoint",
    "prod_tangent",
    "prod_adjoint",
    "var_tangent",
    "var_adjoint",
    "std_tangent",
    "std_adjoint",
    "cumsum_adjoint",
    "cumprod_tangent",
    "cumprod_adjoint",
    "norm_tangent",
    "norm_adjoint",
):
    family.helper(f"rt.{name}", shape=unknown_shape)
