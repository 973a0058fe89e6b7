"""Helpers that call derivative rules registered with ``s2s.derivative_rule``."""

from __future__ import annotations

from typing import Any

__all__ = ["custom_tangent", "custom_adjoint"]


def custom_tangent(name: str, args: tuple, tangents: tuple) -> Any:
    """The output's tangent, from the rule registered as ``name``."""
    from ..custom import named

    return named(name).tangent(args, tangents)


def custom_adjoint(name: str, args: tuple, out: Any, g: Any) -> tuple:
    """One contribution per parameter (``0.0`` for none), from the rule
    registered as ``name``."""
    from ..custom import named

    rule = named(name)
    found = rule.adjoint(args, out, g)
    found = tuple(found) if isinstance(found, (tuple, list)) else (found,)
    if len(found) != len(rule.parameters):
        from ..errors import S2SError

        raise S2SError(f"the adjoint of the derivative rule {name!r} returned {len(found)} values for {len(rule.parameters)} parameters")
    return tuple(0.0 if f is None else f for f in found)
