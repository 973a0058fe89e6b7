"""Timing shared by the benchmarks: paired rounds in one process, medians."""

from __future__ import annotations

import timeit
from typing import Callable

import numpy as np


def paired_median_us(a: Callable[[], object], b: Callable[[], object], number: int, rounds: int) -> tuple[float, float, float]:
    """Medians of a, of b, and of the paired difference a - b, in microseconds.

    The two run in alternating ABBA order, so that neither always runs first
    and the machine's drift cancels in the paired difference."""
    ta, tb = [], []
    for k in range(rounds):
        first, second = (a, b) if k % 2 == 0 else (b, a)
        t1 = timeit.timeit(first, number=number) / number * 1e6
        t2 = timeit.timeit(second, number=number) / number * 1e6
        ta.append(t1 if k % 2 == 0 else t2)
        tb.append(t2 if k % 2 == 0 else t1)
    return float(np.median(ta)), float(np.median(tb)), float(np.median(np.subtract(ta, tb)))


def median_ratio(a: Callable[[], object], b: Callable[[], object], number: int, rounds: int) -> tuple[float, float, float, float]:
    """Medians of a and of b in microseconds, and the median and spread
    (max - min over rounds) of the per-round ratio a / b."""
    ratios, ta, tb = [], [], []
    for k in range(rounds):
        pair = (a, b) if k % 2 == 0 else (b, a)
        times = [timeit.timeit(f, number=number) / number * 1e6 for f in pair]
        x, y = times if k % 2 == 0 else times[::-1]
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    return float(np.median(ta)), float(np.median(tb)), float(np.median(ratios)), float(np.ptp(ratios))


def calls_per_repeat(fn: Callable[[], object], target_seconds: float) -> int:
    """How many calls of fn one repeat makes so that it lasts about
    target_seconds, as timeit's autorange finds it: timer overhead and
    clock resolution then do not dominate tiny calls."""
    number = 1
    while True:
        elapsed = timeit.timeit(fn, number=number)
        if elapsed >= target_seconds / 10 or number >= 10**6:
            return max(1, round(number * target_seconds / max(elapsed, 1e-9)))
        number *= 10


def interleaved_us(fns: dict[str, Callable[[], object]], numbers: dict[str, int], repeats: int) -> dict[str, list[float]]:
    """Microseconds per call of each fn, one entry per repeat.

    Every repeat runs every fn once, forward and backward in turn (ABBA
    order), so that the machine's drift touches all of them alike and
    ratios taken within a repeat cancel it."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for k in range(repeats):
        order = list(fns) if k % 2 == 0 else list(fns)[::-1]
        for name in order:
            times[name].append(timeit.timeit(fns[name], number=numbers[name]) / numbers[name] * 1e6)
    return times
