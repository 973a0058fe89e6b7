"""The numba backend on random programs (the grammar of
``test_random_programs``): ``jvp`` and ``vjp`` along random directions
(single-direction code, which the backend compiles; the vector modes run
numpy code by design) equal the numpy backend's, to rounding. Each program
compiles in a few seconds, so this runs only when asked::

    S2S_PROPERTY_NUMBA=40 .venv/bin/python -m pytest -q tests/test_numba_random_programs.py

(the number is how many programs hypothesis tries). The end of the run
says how many sweeps compiled and how many ran numpy code, and why."""

from __future__ import annotations

import os
import warnings
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("numba")
EXAMPLES = int(os.environ.get("S2S_PROPERTY_NUMBA", "0") or 0)
if not EXAMPLES:
    pytest.skip("set S2S_PROPERTY_NUMBA to the number of programs to try", allow_module_level=True)

from hypothesis import given, settings  # noqa: E402

from s2s import differentiate  # noqa: E402
from s2s.check import relative_error  # noqa: E402

from test_random_programs import _COMMON, cases, loaded  # noqa: E402

COMPILED: Counter = Counter()  # "compiled", or the reason a sweep ran numpy code


def summary() -> str:
    reasons = ", ".join(f"{n} {why}" for why, n in COMPILED.most_common() if why != "compiled")
    return f"numba random programs: {COMPILED['compiled']} sweeps compiled; numpy code for {sum(COMPILED.values()) - COMPILED['compiled']} ({reasons or 'none'})"


def random_like(value, rng: np.random.Generator):
    return float(rng.standard_normal()) if np.ndim(value) == 0 else rng.standard_normal(np.shape(value))


def _pairs(a, b):
    return zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,), strict=True)


@settings(max_examples=EXAMPLES, **_COMMON)
@given(case=cases())
def test_the_numba_backend_gives_the_numpy_backends_products(case, tmp_path_factory):
    cache_dir = tmp_path_factory.getbasetemp() / "numba-random-cache"
    rng = np.random.default_rng(7)
    with loaded(case) as f:
        wrt_values = [case.args[case.names.index(w)] for w in case.wrt]
        tangents = [random_like(v, rng) for v in wrt_values]
        output = f(*case.args)
        cotangent = tuple(random_like(o, rng) for o in output) if isinstance(output, tuple) else random_like(output, rng)
        for mode in ("forward", "reverse"):
            numpy_g = differentiate(f, wrt=case.wrt, mode=mode, cache_dir=cache_dir)
            numba_g = differentiate(f, wrt=case.wrt, mode=mode, cache_dir=cache_dir, backend="numba")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # what numba cannot compile runs the numpy code, by design
                found = numba_g.jvp(case.args, tangents)[1] if mode == "forward" else numba_g.vjp(case.args, cotangent)[1]
            expected = numpy_g.jvp(case.args, tangents)[1] if mode == "forward" else numpy_g.vjp(case.args, cotangent)[1]
            for a, b in _pairs(found, expected):
                assert np.shape(a) == np.shape(b)
                assert relative_error(a, b) < 1e-9, f"{mode}: numba {a!r} against numpy {b!r}"
            for stats in numba_g.compile_stats().values():
                COMPILED["compiled" if stats["fallback"] is None else stats["fallback"].split(" (")[0][:60]] += 1
