"""The benchmark suite's problems at their smallest sizes: s2s, the
hand-written derivatives and forward finite differences agree, and s2s
matches a central difference (no timing, no peers)."""

from __future__ import annotations

import sys

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
from problems import PROBLEMS, assert_close  # noqa: E402


@pytest.fixture(params=PROBLEMS, ids=lambda problem: problem.key)
def smallest(request):
    return request.param.build(request.param.sizes[0])


def test_s2s_matches_central_differences(smallest):
    smallest.check_central(smallest.s2s()())


def test_hand_written_derivatives_match_s2s(smallest):
    expected = smallest.s2s()()
    assert smallest.hand_written  # each problem has one at least
    for name, call in smallest.hand_written.items():
        try:
            assert_close(call(), expected, smallest.rtol)
        except AssertionError as error:
            raise AssertionError(f"{name}: {error}") from None


def test_forward_differences_match_s2s(smallest):
    assert_close(smallest.forward_difference(), smallest.s2s()(), smallest.difference_rtol)


def test_seed_problems_have_an_expert_version():
    for problem in (p for p in PROBLEMS if p.key.startswith("seed")):
        assert "hand-written np.dot" in problem.build(problem.sizes[0]).hand_written
