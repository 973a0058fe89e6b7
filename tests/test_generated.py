"""``generated/`` holds the derivative modules of the examples, as the
command line prints them; this test fails when any is out of date.

Regenerate them with ``python -m pytest tests/test_generated.py --update-golden``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from s2s.cli import derivative_source

from conftest import REPO

GENERATED = REPO / "generated"

# (example, function, wrt, mode): the derivatives each example computes
MODULES = [
    ("gaussian_fit.py", "rs", "xs", "forward"),
    ("gaussian_fit.py", "rs_scalar", "d", "reverse"),
    ("heat_equation.py", "simulate", "nu", "forward"),
    ("heat_equation.py", "misfit", "u0", "reverse"),
    ("mlp_training.py", "loss", "W1,b1,W2,b2", "reverse"),
    ("newton_rosenbrock.py", "rosenbrock", "x", "reverse"),
]


def _name(example: str, function: str, wrt: str, mode: str) -> str:
    return f"{Path(example).stem}.{function}.{wrt.replace(',', '_')}.{mode}.py"


@pytest.mark.parametrize("example, function, wrt, mode", MODULES, ids=[_name(*m) for m in MODULES])
def test_generated_module_is_up_to_date(example, function, wrt, mode, update_golden, monkeypatch):
    monkeypatch.chdir(REPO)
    source = derivative_source(f"examples/{example}", function, tuple(wrt.split(",")), mode)
    path = GENERATED / _name(example, function, wrt, mode)
    if update_golden:
        path.write_text(source)
    assert path.exists(), f"{path.name} is missing: run python -m pytest tests/test_generated.py --update-golden"
    assert path.read_text() == source, f"{path.name} is out of date: run python -m pytest tests/test_generated.py --update-golden"


def test_every_example_has_its_modules_and_nothing_else_is_there():
    examples = {p.name for p in (REPO / "examples").glob("*.py")}
    assert examples == {m[0] for m in MODULES}
    expected = {_name(*m) for m in MODULES}
    assert {p.name for p in GENERATED.glob("*.py")} <= expected, "generated/ holds a module no example needs"
