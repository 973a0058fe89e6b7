"""The command line: the module it prints is the one ``source()`` returns;
files are read, never executed; bad input gives one line and an exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from s2s import differentiate
from s2s.cli import main

from conftest import REPO

SCRIPT = Path(sys.executable).parent / ("s2s.exe" if os.name == "nt" else "s2s")


def run(*args: str, cwd: Path = REPO, program: str = "module") -> subprocess.CompletedProcess:
    command = [str(SCRIPT)] if program == "script" else [sys.executable, "-m", "s2s"]
    return subprocess.run(command + list(args), capture_output=True, text=True, cwd=cwd, timeout=120)


EXAMPLES = [
    ("gaussian_fit", "rs", "xs", "forward"),
    ("gaussian_fit", "rs_scalar", "d", "reverse"),
    ("heat_equation", "misfit", "u0", "reverse"),
    ("mlp_training", "loss", "W1,b1,W2,b2", "auto"),
]


@pytest.mark.parametrize("example, function, wrt, mode", EXAMPLES)
def test_the_printed_module_is_what_source_returns(example, function, wrt, mode, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    module = __import__(example)
    printed = run(f"examples/{example}.py", function, "--wrt", wrt, "--mode", mode)
    assert printed.returncode == 0, printed.stderr
    g = differentiate(getattr(module, function), wrt=tuple(wrt.split(",")), mode=mode)
    assert printed.stdout == g.source()


@pytest.mark.skipif(not SCRIPT.exists(), reason="the s2s script is installed with the package")
def test_the_script_and_python_m_are_the_same_program():
    args = ("examples/gaussian_fit.py", "rs", "--wrt", "xs")
    assert run(*args, program="script").stdout == run(*args).stdout


def test_a_file_is_read_not_executed(tmp_path):
    (tmp_path / "model.py").write_text(
        "import numpy as np\n"
        "import a_module_that_does_not_exist\n"
        "from numpy import exp as e\n"
        "raise SystemExit('executed!')\n"
        "data = a_module_that_does_not_exist.load()\n\n\n"
        "def f(x):\n"
        "    return np.sum(e(x) * data)\n"
    )
    printed = run("model.py", "f", "--wrt", "x", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert "executed" not in printed.stdout + printed.stderr
    assert "data" in printed.stdout and "np.exp(x)" in printed.stdout  # a name read when the module runs; exp resolved


@pytest.mark.parametrize(
    "files, args, message",
    [
        ({}, ("missing.py", "f", "--wrt", "x"), "missing.py"),
        ({"bad.py": "def f(x):\n    return x +\n"}, ("bad.py", "f", "--wrt", "x"), "bad.py:2"),
        ({"m.py": "def g(x):\n    return x\n"}, ("m.py", "f", "--wrt", "x"), "no top-level function named 'f' in m.py"),
        ({"m.py": "def f(x):\n    return x\n"}, ("m.py", "f", "--wrt", "y"), "wrt='y' is not a parameter of f(x)"),
        ({"m.py": "def f(x):\n    with open('a'):\n        return x\n"}, ("m.py", "f", "--wrt", "x"), "m.py:2:5: s2s cannot differentiate a `with` statement"),
    ],
    ids=["missing file", "syntax error", "unknown function", "bad wrt", "unsupported construct"],
)
def test_bad_input_gives_one_line_and_a_failing_status(tmp_path, files, args, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    printed = run(*args, cwd=tmp_path)
    assert printed.returncode == 1
    assert printed.stdout == ""
    assert printed.stderr.startswith("s2s: ") and message in printed.stderr
    assert printed.stderr.count("\n") == 1 and "Traceback" not in printed.stderr


def test_output_writes_the_module_to_a_file(tmp_path, capsys):
    target = tmp_path / "rs_jvp.py"
    assert main([str(REPO / "examples/gaussian_fit.py"), "rs", "--wrt", "xs", "--output", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert "def rs_jvp(d, xs, xs_dot):" in target.read_text()


def test_color_is_used_when_asked_and_never_in_a_pipe():
    plain = run("examples/gaussian_fit.py", "rs", "--wrt", "xs")
    assert "\033[" not in plain.stdout  # auto, and standard output is a pipe
    colored = run("examples/gaussian_fit.py", "rs", "--wrt", "xs", "--color", "always")
    assert "\033[1;34mdef\033[0m" in colored.stdout
    assert "\033[" not in run("examples/gaussian_fit.py", "rs", "--wrt", "xs", "--color", "never").stdout


def test_help_shows_an_example_and_the_cache_commands():
    text = run("--help").stdout
    assert "s2s examples/gaussian_fit.py rs --wrt xs" in text and "s2s cache info" in text and "--mode" in text


def test_cache_info_and_clear(tmp_path):
    cache = tmp_path / "cache"
    assert "empty (not created yet)" in run("cache", "info", "--dir", str(cache)).stdout
    env = dict(os.environ, S2S_CACHE_DIR=str(cache))
    script = "import sys; sys.path.insert(0, 'examples'); import gaussian_fit as g; g.rs.derivative(g.f(0.3), 0.3)"
    subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, check=True, timeout=120)
    info = run("cache", "info", "--dir", str(cache)).stdout
    assert str(cache) in info and "1 module," in info
    assert run("cache", "clear", "--dir", str(cache)).stdout.startswith("removed 1 module from")
    assert "0 modules, 0.0 kB" in run("cache", "info", "--dir", str(cache)).stdout


def test_functions_imported_from_a_module_beside_the_file_are_read_too(tmp_path, monkeypatch):
    (tmp_path / "helpers.py").write_text("import numpy as np\n\n\ndef scale(x):\n    return np.tanh(x) * 2.0\n")
    (tmp_path / "model.py").write_text(
        "import numpy as np\nimport helpers\nfrom helpers import scale as s\n\n\n"
        "def f(x):\n    return np.sum(s(x) * helpers.scale(x))\n"
    )
    printed = run("model.py", "f", "--wrt", "x", "--mode", "reverse", cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("helpers", None)
    model = __import__("model")
    try:
        assert printed.stdout == differentiate(model.f, wrt="x", mode="reverse", cache=False).source()
        assert "def scale_backward(" in printed.stdout
    finally:
        sys.modules.pop("model", None)
        sys.modules.pop("helpers", None)
