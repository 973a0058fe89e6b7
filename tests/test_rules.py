"""Every derivative rule, in both modes, against central finite differences,
on scalars, vectors and matrices, with broadcasting."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

from s2s import check
from s2s.rules import RULES

from conftest import write_module
from specs import SPECS

CASES = [
    (name, expr, shapes)
    for name, spec in SPECS.items()
    for expr in spec.exprs
    for shapes in spec.shapes
]


def _case_id(case) -> str:
    name, expr, shapes = case
    return f"{expr}-{'x'.join(str(s) for s in shapes)}"


def test_every_rule_has_a_spec():
    missing = sorted(k for k in RULES if not k.startswith("rt.") and k not in SPECS)
    assert not missing, f"rules without a test spec: {missing}"


@pytest.fixture(scope="module")
def cases_module(tmp_path_factory):
    lines = ["import math", "import numpy as np", ""]
    for i, (name, expr, shapes) in enumerate(CASES):
        params = ", ".join("abc"[: len(SPECS[name].domain)])
        lines += [f"def case_{i}({params}):", f"    return {expr}", ""]
    return write_module(tmp_path_factory.mktemp("rules"), "\n".join(lines), "s2s_rule_cases")


def _inputs(spec, shapes, seed):
    rng = np.random.default_rng(seed)
    values = []
    for (lo, hi), shape in zip(spec.domain, shapes):
        value = rng.uniform(lo, hi, size=shape)
        values.append(float(value) if shape == () else value)
    return values


@pytest.mark.parametrize("case", range(len(CASES)), ids=[_case_id(c) for c in CASES])
def test_rule(case, cases_module):
    name, expr, shapes = CASES[case]
    spec = SPECS[name]
    shapes = tuple(shapes) + ((),) * (spec.n - len(shapes))
    args = _inputs(spec, shapes, zlib.crc32(f"{name}{expr}{shapes}".encode()))
    wrt = tuple(a for a in "abc"[: spec.n] if re.search(rf"\b{a}\b", expr))
    check(getattr(cases_module, f"case_{case}"), *args, wrt=wrt)
