"""Several threads decorating and calling at once: each derivative is
generated once, and no thread ever sees a half-built one."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import s2s.generate
from s2s import differentiate

SOURCE = '''
import numpy as np


def f(x, w):
    h = np.tanh(x * w)
    return np.sum(h * h) + np.prod(np.cos(x))
'''

THREADS = 8
X = np.linspace(0.1, 0.9, 5)


def expected(x, w):
    h = np.tanh(x * w)
    return 2 * h * (1 - h * h) * w - np.prod(np.cos(x)) * np.tan(x)


@pytest.fixture
def mod(make_module):
    return make_module(SOURCE)


@pytest.fixture
def generations(monkeypatch):
    """Counts calls of the compiler."""
    calls = []
    real = s2s.generate.generate

    def counting(*args, **kwargs):
        calls.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(s2s.generate, "generate", counting)
    return calls


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_a_shared_derivative_is_generated_once(mod, generations, mode):
    g = differentiate(mod.f, wrt="x", mode=mode, cache=False)
    start = threading.Barrier(THREADS)

    def work(k: int):
        start.wait()
        w = 0.5 + 0.1 * k
        return w, g.derivative(X, w)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    for w, d in results:
        np.testing.assert_allclose(d, expected(X, w), rtol=1e-12)
    assert generations and len(generations) == len(set(generations))  # each mode used, generated once


def test_decorating_in_many_threads_at_once(mod, tmp_path):
    start = threading.Barrier(THREADS)

    def work(k: int):
        start.wait()
        g = differentiate(mod.f, wrt=("x", "w"), mode="reverse" if k % 2 else "forward", cache_dir=tmp_path)
        return g.derivative(X, 0.7)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    for dx, _ in results:
        np.testing.assert_allclose(dx, expected(X, 0.7), rtol=1e-12)
