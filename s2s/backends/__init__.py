"""Backends: what runs a generated module's entries.

Entry point: ``backend_for(name, parallel=..., fastmath=...)``, ``None`` for
the default ``"numpy"`` (the generated module, run by Python), else an
object whose ``apply(loaded, label, cache)`` returns the ``Loaded`` with its
entries replaced by compiled ones.

numba is optional (``pip install s2s[numba]``): it is imported only when
the numba backend is asked for.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

from ..errors import S2SError, S2SWarning

BACKENDS = ("numpy", "numba")


def backend_for(name: str, *, parallel: bool = False, fastmath: bool = False) -> "NumbaBackend | None":
    """The backend called ``name``; an ``S2SError`` for an unknown one, or for
    ``"numba"`` when numba is not installed."""
    if name not in BACKENDS:
        raise S2SError(f"backend must be one of {', '.join(map(repr, BACKENDS))}; got {name!r}")
    if name == "numpy":
        if parallel or fastmath:
            raise S2SError("parallel= and fastmath= are options of backend='numba'", hint="pass backend='numba' as well, or leave them out")
        return None
    try:
        import numba  # noqa: F401
    except ImportError as exc:
        raise S2SError(f"backend='numba' needs numba, which cannot be imported ({exc})", hint="pip install s2s[numba]") from None
    from .numba_compile import NumbaOptions

    return NumbaBackend(NumbaOptions(parallel=bool(parallel), fastmath=bool(fastmath)))


class NumbaBackend:
    """Compiles each generated module s2s loads (one per mode) with numba."""

    name = "numba"

    def __init__(self, options: Any) -> None:
        self.options = options
        self.modules: dict[str, Any] = {}  # mode -> CompiledModule
        self.fallbacks: dict[str, str] = {}  # mode -> why it runs numpy code

    def apply(self, loaded: Any, label: str, cache: Any) -> Any:
        """``loaded`` with compiled entries; ``loaded`` itself, with a
        warning naming the construct, when its module cannot be compiled."""
        from .numba_compile import Unsupported, compile_module

        mode = loaded.info.mode
        directory = cache.directory / "numba" if cache is not None and cache.usable() else None
        try:
            compiled = compile_module(loaded, self.options, directory, label)
        except Unsupported as exc:
            self.fallbacks[mode] = str(exc)
            warnings.warn(f"s2s's numba backend cannot compile the {mode} derivative of {label}: {exc}; using the numpy backend", S2SWarning, stacklevel=5)
            return loaded
        self.modules[mode] = compiled
        entries = {loaded.info.entry[role]: entry for role, entry in compiled.entries.items()}
        return dataclasses.replace(loaded, functions={**loaded.functions, **entries})

    @property
    def seconds(self) -> float:
        """Time spent compiling (or loading from numba's cache) so far."""
        return sum(m.seconds for m in self.modules.values())

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per mode: compile seconds, numba cache hits and misses, and why
        it falls back to numpy code, if it does."""
        out: dict[str, dict[str, Any]] = {}
        for mode, module in self.modules.items():
            out[mode] = {"seconds": module.seconds, "cache_hits": module.cache_hits(), "cache_misses": module.cache_misses(), "fallback": module.fallback, "numpy_roles": module.numpy_roles, "path": module.path}
        for mode, reason in self.fallbacks.items():
            out[mode] = {"seconds": 0.0, "cache_hits": 0, "cache_misses": 0, "fallback": reason, "numpy_roles": [], "path": None}
        return out
