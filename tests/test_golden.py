"""Golden files: the generated code for each case, compared exactly.

Each ``tests/golden/<name>.py`` starts with lines ``# s2s: FUNCTION wrt=A[,B]
mode=MODE``; the expected module for each lies beside it in
``<name>.<FUNCTION>.<wrt>.<mode>.txt``. Run ``pytest --update-golden`` to
rewrite them after an intended change, and review the diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from s2s.frontend import load_from_file
from s2s.generate import generate

from conftest import REPO

GOLDEN = Path(__file__).parent / "golden"
HEADER = re.compile(r"^# s2s: (\w+) wrt=([\w,]+) mode=(\w+)$", re.M)


def _cases() -> list:
    cases = []
    for path in sorted(GOLDEN.glob("*.py")):
        for function, wrt, mode in HEADER.findall(path.read_text()):
            cases.append(pytest.param(path, function, tuple(wrt.split(",")), mode, id=f"{path.stem}-{function}-{wrt}-{mode}"))
    return cases


@pytest.mark.parametrize("path, function, wrt, mode", _cases())
def test_golden(path, function, wrt, mode, update_golden, monkeypatch):
    monkeypatch.chdir(REPO)
    source = generate(load_from_file(path.relative_to(REPO), function), wrt, mode).source
    expected = path.with_name(f"{path.stem}.{function}.{'_'.join(wrt)}.{mode}.txt")
    if update_golden:
        expected.write_text(source)
    assert expected.exists(), f"{expected.name} is missing: run pytest --update-golden and review it"
    assert source == expected.read_text()
