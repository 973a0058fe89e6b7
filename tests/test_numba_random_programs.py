"""The numba backend on random programs (the grammar of
``test_random_programs``): its derivatives equal the numpy backend's, to
rounding, in both modes. Each program compiles in a few seconds, so this
runs only when asked::

    S2S_PROPERTY_NUMBA=40 .venv/bin/python -m pytest -q tests/test_numba_random_programs.py

(the number is how many programs hypothesis tries)."""

from __future__ import annotations

import os
import warnings

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


@settings(max_examples=EXAMPLES, **_COMMON)
@given(case=cases())
def test_the_numba_backend_gives_the_numpy_backends_derivatives(case, tmp_path_factory):
    cache_dir = tmp_path_factory.getbasetemp() / "numba-random-cache"
    with loaded(case) as f:
        for mode in ("forward", "reverse"):
            expected = differentiate(f, wrt=case.wrt, mode=mode, cache_dir=cache_dir).derivative(*case.args)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # what numba cannot compile runs the numpy code, by design
                found = differentiate(f, wrt=case.wrt, mode=mode, cache_dir=cache_dir, backend="numba").derivative(*case.args)
            for a, b in zip(found if isinstance(found, tuple) else (found,), expected if isinstance(expected, tuple) else (expected,), strict=True):
                assert np.shape(a) == np.shape(b)
                assert relative_error(a, b) < 1e-9, f"{mode}: numba {a!r} against numpy {b!r}"
