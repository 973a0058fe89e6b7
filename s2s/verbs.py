"""The standard derivative verbs as functions of a function.

``grad(f)``, ``jacobian(f)`` and ``hessian(f)`` return functions, as JAX's
do; ``jvp``, ``vjp`` and ``hvp`` take the point and the direction and return
the value (the gradient, for ``hvp``) with the product. Each is a thin layer over ``differentiate``: the generated code is
made once per (function, ``wrt``, mode) and reused by later calls.

``wrt`` names parameters as in ``differentiate``. Left out, it is the first
parameter for ``grad``, ``value_and_grad``, ``jacobian``, ``hessian`` and
``hvp`` (JAX's
``argnums=0``) and every parameter for ``jvp`` and ``vjp`` (JAX's
tangents and cotangents for all primals).
"""

from __future__ import annotations

import functools
import threading
import weakref
from typing import Any, Callable, Sequence

from .api import Differentiated, Mode, differentiate
from .errors import S2SError

_made: "weakref.WeakKeyDictionary[Callable, dict[tuple, Differentiated]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _differentiated(f: Callable, wrt: str | Sequence[str] | None, mode: Mode, default: str) -> Differentiated:
    """The ``Differentiated`` of ``f`` for ``wrt`` and ``mode``, made once."""
    fn = f.__wrapped__ if isinstance(f, Differentiated) else f
    if wrt is None:
        import inspect

        params = list(inspect.signature(fn).parameters)
        if not params:
            raise S2SError(f"{getattr(fn, '__qualname__', fn)!s} has no parameter to differentiate with respect to")
        wrt = params[0] if default == "first" else tuple(params)
    key = (wrt if isinstance(wrt, str) else tuple(wrt), mode)
    with _lock:
        per_function = _made.setdefault(fn, {})
        made = per_function.get(key)
        if made is None:
            made = per_function[key] = differentiate(fn, wrt=wrt, mode=mode)
    return made


def grad(f: Callable, wrt: str | Sequence[str] | None = None, *, mode: Mode = "auto") -> Callable[..., Any]:
    """The function computing the gradient of ``f``, whose output must be a
    number, w.r.t. ``wrt`` (default: the first parameter).

    >>> import numpy as np
    >>> def energy(x):
    ...     return np.sum(x ** 2) / 2
    >>> grad(energy)(np.array([1.0, -2.0]))
    array([ 1., -2.])
    """
    d = _differentiated(f, wrt, mode, "first")

    @functools.wraps(d.__wrapped__)
    def gradient(*args: Any, **kwargs: Any) -> Any:
        return d.grad(*args, **kwargs)

    return gradient


def value_and_grad(f: Callable, wrt: str | Sequence[str] | None = None, *, mode: Mode = "auto") -> Callable[..., tuple[Any, Any]]:
    """Like ``grad``, returning ``(f(*args), gradient)``."""
    d = _differentiated(f, wrt, mode, "first")

    @functools.wraps(d.__wrapped__)
    def value_and_gradient(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return d.value_and_grad(*args, **kwargs)

    return value_and_gradient


def jacobian(f: Callable, wrt: str | Sequence[str] | None = None, *, mode: Mode = "auto") -> Callable[..., Any]:
    """The function computing the Jacobian of ``f`` w.r.t. ``wrt`` (default:
    the first parameter): shape ``output shape + argument shape``."""
    d = _differentiated(f, wrt, mode, "first")

    @functools.wraps(d.__wrapped__)
    def jacobian_of(*args: Any, **kwargs: Any) -> Any:
        return d.derivative(*args, **kwargs)

    return jacobian_of


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], wrt: str | Sequence[str] | None = None) -> tuple[Any, Any]:
    """``(f(*primals), J @ tangents)`` in one forward pass; ``tangents`` has
    one entry per ``wrt`` argument (default: every parameter), shaped like it."""
    return _differentiated(f, wrt, "forward", "all").jvp(primals, tangents)


def vjp(f: Callable, primals: Sequence[Any], cotangent: Any, wrt: str | Sequence[str] | None = None) -> tuple[Any, Any]:
    """``(f(*primals), cotangent @ J)`` in one forward and one backward
    sweep; the product is a tuple over ``wrt`` (default: every parameter)
    when it names several."""
    return _differentiated(f, wrt, "reverse", "all").vjp(primals, cotangent)


def hessian(f: Callable, wrt: str | Sequence[str] | None = None) -> Callable[..., Any]:
    """The function computing the Hessian of ``f``, whose output must be a
    number, w.r.t. ``wrt`` (default: the first parameter): forward mode over
    the reverse-mode gradient code, shape ``A + A``.

    >>> import numpy as np
    >>> def energy(x):
    ...     return np.sum(x ** 3) / 6
    >>> hessian(energy)(np.array([1.0, 2.0]))
    array([[1., 0.],
           [0., 2.]])
    """
    d = _differentiated(f, wrt, "reverse", "first")

    @functools.wraps(d.__wrapped__)
    def hessian_of(*args: Any, **kwargs: Any) -> Any:
        return d.hessian(*args, **kwargs)

    return hessian_of


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any], wrt: str | Sequence[str] | None = None) -> tuple[Any, Any]:
    """``(gradient, H @ tangents)`` at ``primals``, without forming the
    Hessian: one forward pass over the reverse-mode gradient code;
    ``tangents`` has one entry per ``wrt`` argument (default: the first
    parameter)."""
    return _differentiated(f, wrt, "reverse", "first").hvp(primals, tangents)
