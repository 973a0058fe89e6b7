"""The examples run, and the derivatives they print agree with the finite
differences they print beside them."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import REPO


def run_example(name: str) -> str:
    done = subprocess.run([sys.executable, str(REPO / "examples" / name)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_gaussian_fit():
    out = run_example("gaussian_fit.py")
    assert float(re.search(r"max \|s2s - finite difference\| = (\S+)", out).group(1)) < 1e-6
    assert "(mode forward)" in out
    last = re.findall(r"xs = ([-\d.]+)", out)[-1]
    assert abs(float(last) - 0.7) < 0.01  # the peak the data were made with


def test_heat_equation():
    out = run_example("heat_equation.py")
    s2s, fd = map(float, re.search(r"directional derivative: s2s (\S+), finite difference (\S+)", out).groups())
    assert abs(s2s - fd) < 1e-6 * max(1.0, abs(fd))
    assert "d simulate / d nu: mode forward" in out and "d misfit / d u0: mode reverse" in out
    nu = float(re.findall(r"nu = ([\d.]+)", out)[-1])
    assert abs(nu - 0.21) < 0.005  # the diffusivity the data were made with


def test_mlp_training():
    out = run_example("mlp_training.py")
    s2s, fd = map(float, re.search(r"directional derivative: s2s (\S+), finite difference (\S+)", out).groups())
    assert abs(s2s - fd) < 1e-6 * max(1.0, abs(fd))
    assert "(mode reverse)" in out
    losses = [float(v) for v in re.findall(r"loss ([\d.]+)\n", out)]
    assert losses[-1] < 0.1 * losses[0]  # training works


def test_newton_rosenbrock():
    out = run_example("newton_rosenbrock.py")
    assert float(re.search(r"max \|s2s - finite difference of the gradient\| = (\S+)", out).group(1)) < 1e-5
    assert float(re.search(r"max \|hvp - H u\| = (\S+)", out).group(1)) < 1e-10
    assert float(re.search(r"f = (\S+), x =", out).group(1)) < 1e-20  # the minimum at (1, ..., 1)
