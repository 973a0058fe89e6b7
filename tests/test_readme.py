"""The README tells the truth: its code runs, its generated code is what s2s
generates, its error is the error s2s raises."""

from __future__ import annotations

import re

import pytest

from s2s import S2SError, differentiate
from s2s.frontend import load_from_file
from s2s.generate import generate

from conftest import REPO

README = (REPO / "README.md").read_text()
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, re.S)


def _blocks(lang: str) -> list[str]:
    return [code for kind, code in BLOCKS if kind == lang]


def test_the_first_example_runs(make_module):
    m = make_module(_blocks("python")[0])
    assert m.rs.derivative(m.d, 0.3).shape == (21,)


def test_the_generated_code_shown_is_what_s2s_generates(monkeypatch):
    monkeypatch.chdir(REPO)
    shown = _blocks("python")[1].strip()
    source = generate(load_from_file("examples/gaussian_fit.py", "rs"), ("xs",), "forward").source
    assert shown in source


def test_the_inlined_tangent_shown_is_what_s2s_generates(monkeypatch):
    monkeypatch.chdir(REPO)
    shown = _blocks("python")[2].strip()
    source = generate(load_from_file("examples/gaussian_fit.py", "rs"), ("xs",), "forward").source
    assert shown in source


def test_the_error_shown_is_the_error_raised(tmp_path, monkeypatch):
    model = _blocks("python")[3]
    (expected,) = [b.strip() for b in _blocks("") if b.startswith("model.py:")]
    (tmp_path / "model.py").write_text(model)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    loss = importlib.import_module("model").loss
    with pytest.raises(S2SError) as info:
        differentiate(loss, wrt="w").source()
    assert str(info.value).replace(str(tmp_path) + "/", "") == expected


def test_the_reverse_loop_shown_is_what_s2s_generates(tmp_path, monkeypatch):
    primal, shown = _blocks("python")[4:6]
    (tmp_path / "recurrence.py").write_text(primal)
    monkeypatch.chdir(tmp_path)
    source = generate(load_from_file("recurrence.py", "recurrence"), ("alpha", "u"), "reverse").source
    assert shown.strip() in source
