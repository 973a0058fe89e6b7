"""Shared test helpers: user code as real files, so s2s reads real source."""

from __future__ import annotations

import importlib.util
import itertools
import contextlib
import os
import shutil
import signal
import sys
import threading
import tempfile
import textwrap
from pathlib import Path
from typing import Callable

import pytest

_counter = itertools.count()


@pytest.fixture
def make_module(tmp_path: Path):
    """``make_module(source)`` writes a module file and imports it."""

    def make(source: str, name: str | None = None):
        return write_module(tmp_path, source, name or f"s2s_user_{next(_counter)}")

    return make


def write_module(directory: Path, source: str, name: str):
    """Write and import a module once (for module-scoped fixtures)."""
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def time_limit(seconds: float, error: Callable[[str], BaseException]):
    """Raise ``error(message)`` in the block when it runs longer than
    ``seconds`` (a hang), where the alarm signal is available: on the main
    thread of a Unix process."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise error(f"no answer after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# The seed (the Gaussian residual of README.md), as module source for tests
# that differentiate it next to other functions; it needs `import numpy as np`.
SEED_SOURCE = """
x = np.arange(-10.0, 11.0)


def f(m):
    return np.exp(-1.5 * (x - m) ** 2)


def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0
"""


def pytest_configure(config):
    """Generated modules go to a cache of the test session's own, never the user's."""
    config._s2s_cache = tempfile.mkdtemp(prefix="s2s-test-cache-")
    os.environ["S2S_CACHE_DIR"] = config._s2s_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "_s2s_cache", ""), ignore_errors=True)


def pytest_terminal_summary(terminalreporter):
    """The number of random programs tried, when their properties ran (and
    how many of their sweeps the numba backend compiled)."""
    module = sys.modules.get("test_random_programs")
    if module is not None and module.TRIED["programs"]:
        terminalreporter.write_line(module.summary())
    numba_programs = sys.modules.get("test_numba_random_programs")
    if numba_programs is not None and numba_programs.COMPILED:
        terminalreporter.write_line(numba_programs.summary())


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite the expected outputs of golden tests")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


REPO = Path(__file__).resolve().parent.parent
