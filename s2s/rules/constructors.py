"""Array constructors: zeros, ones, eye, full, linspace, arange.

``zeros``, ``ones``, ``empty``, their ``_like`` forms, ``eye`` and
``identity`` read only shapes and dtypes, never the values of their
arguments: their results carry no derivative. ``full`` broadcasts its fill
value, ``linspace`` is linear in its two ends together, and ``arange``'s
values ``start + i * step`` depend on its start and step (its stop only
decides how many there are, a locally constant count).
"""

from __future__ import annotations

from collections.abc import Callable

from ..expr import Node, ShapeSet
from .core import Bar, Family, Site, Slot
from .structural import (
    dtype_argument,
    given,
    linear_with_dtype,
    shape_named,
    unbroadcast_adjoint,
    with_cast,
)

family = Family()


def _shape_of_param(param: str) -> Callable[[Site], ShapeSet]:
    """The result has the shape an argument names (``np.zeros(x.shape)``)."""

    def shape(site: Site) -> ShapeSet:
        return shape_named(site.arg(param))

    return shape


def _like_shape(site: Site) -> ShapeSet:
    """``zeros_like(a)`` has ``a``'s shape unless ``shape=`` says otherwise."""
    if site.arg("shape") is not None:
        return shape_named(site.arg("shape"))
    return site.arg("a").shape  # type: ignore[union-attr]


# --------------------------------------------------------------------------
# Constant values

_SHAPED = "shape, dtype=None, order='C', *, device=None, like=None"
_LIKE = "a, dtype=None, order='K', subok=True, shape=None, *, device=None"
family.zero(["np.zeros", "np.ones", "np.empty"], _SHAPED, shape=_shape_of_param("shape"))
family.zero(["np.zeros_like", "np.ones_like", "np.empty_like"], _LIKE, shape=_like_shape)
family.zero("np.eye", "N, M=None, k=0, dtype=float, order='C', *, device=None, like=None")
family.zero("np.identity", "n, dtype=None, *, like=None")


# --------------------------------------------------------------------------
# full and full_like: the fill value, broadcast


def _like_dtype(site: Site) -> Node | None:
    """``full_like(a, v)`` has ``a``'s dtype unless ``dtype=`` is given: an
    integer ``a`` makes the result locally constant."""
    return dtype_argument(site) or site.arg("a")


_FULL = "shape, fill_value, dtype=None, order='C', *, device=None, like=None"
_FULL_LIKE = "a, fill_value, dtype=None, order='K', subok=True, shape=None, *, device=None"
linear_with_dtype(family, "np.full", _FULL, unbroadcast_adjoint("fill_value"), diff="fill_value", shape=_shape_of_param("shape"))
linear_with_dtype(family, "np.full_like", _FULL_LIKE, unbroadcast_adjoint("fill_value"), diff="fill_value", dtype_of=_like_dtype, shape=_like_shape)


# --------------------------------------------------------------------------
# linspace: start * (1 - w) + stop * w


def _linspace_vjp(site: Site, g: Node) -> list[Bar]:
    """Each end receives the cotangent weighted by its share of each sample."""
    num = site.arg("num") or 50
    options = given(site, "endpoint", "axis")
    return [
        Bar(site.slot("start"), site.call("rt.linspace_adjoint", g, site.arg("start"), num, **options)),
        Bar(site.slot("stop"), site.call("rt.linspace_adjoint", g, site.arg("stop"), num, **options, stop=True)),
    ]


_LINSPACE = "start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *, device=None"
linear_with_dtype(family, "np.linspace", _LINSPACE, _linspace_vjp, diff="start stop", forbid="retstep")


# --------------------------------------------------------------------------
# arange: start + i * step


def _arange_slots(site: Site) -> tuple[Slot | None, Slot | None]:
    """The slots of arange's start and step, ``None`` where absent: without
    ``stop``, the first argument is the stop."""
    start = site.slot("start") if site.given("start") and site.given("stop") else None
    step = site.slot("step") if site.given("step") else None
    return start, step


def _positions(site: Site) -> Node:
    """``i`` for each element of arange's result."""
    return site.call("np.arange", site.call("np.size", site.out))


def _arange_jvp(site: Site, tangents: dict) -> Node | None:
    start, step = _arange_slots(site)
    t_start = tangents.get(start) if start else None
    t_step = tangents.get(step) if step else None
    if t_step is None:
        return None if t_start is None else site.call("rt.broadcast_like", t_start, site.out)
    return site.G.add(t_start, site.G.mul(t_step, _positions(site)))


def _arange_vjp(site: Site, g: Node) -> list[Bar]:
    """Sums of the cotangent for the start, weighted by ``i`` for the step;
    the stop, which only decides how many values there are, gets nothing."""
    start, step = _arange_slots(site)
    bars = [Bar(start, site.G.total(g))] if start else []
    if step:
        bars.append(Bar(step, site.G.total(site.G.mul(g, _positions(site)))))  # type: ignore[arg-type]
    return bars


_ARANGE = "start=None, stop=None, step=None, dtype=None, *, device=None, like=None"
family.custom("np.arange", _ARANGE, *with_cast(_arange_jvp, _arange_vjp, dtype_argument), diff="start stop step")
