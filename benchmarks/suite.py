"""The benchmark suite: s2s against hand-written derivatives, finite
differences and other automatic-differentiation libraries, on the problems
of ``problems.py`` at several sizes.

For each problem and size, every method is a zero-argument callable. Before
any timing, each method's result is compared with s2s's, and s2s's with a
central finite difference along a random direction; a method that
disagrees is reported and not timed. Then all methods are timed together:
every repeat runs each method once, in alternating order, for enough calls
to last about ``--target`` seconds. The table gives the median time per
call over the repeats, the spread of the repeats ((max - min) / median),
and s2s's time divided by the method's (the median of that ratio over the
repeats). A method whose one call takes over ``--slow`` seconds is not
timed, and the forward finite difference is skipped when its estimated
time (a primal call per input element) is over that limit.

Peers, each timed when it imports (``pip install -e '.[bench]'`` installs
autograd, JAX and matplotlib): autograd, JAX without and with ``jit``
(float64, results waited for with ``block_until_ready``), and torch.func
(float64). Torch is installed on its own, with the CPU wheel of one exact
version (any other spec pulls in the CUDA libraries, gigabytes):

    .venv/bin/pip install torch==2.13.0

Every method runs on one thread (numpy's own elementwise code does
anyway): the suite sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS,
MKL_NUM_THREADS and XLA_FLAGS accordingly unless they are set. On a
two-core machine shared with other work, a second BLAS or OpenMP thread
made calls up to several times slower and their times erratic.

Run: python benchmarks/suite.py [--quick] [--problems a,b] [--sizes n,m]
     [--repeats N] [--output benchmarks/results.md]

The Markdown table is written to ``--output`` and, when matplotlib imports,
a log-log plot of time against size per problem beside it (same name,
``.png``).
"""

from __future__ import annotations

import os

# before numpy, JAX or torch start their thread pools
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import platform  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Iterator  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import Peer, available_peers  # noqa: E402
from problems import PROBLEMS, Case, Problem, assert_close, problem_named  # noqa: E402
from timing import calls_per_repeat, interleaved_us  # noqa: E402

import s2s  # noqa: E402

HERE = Path(__file__).resolve().parent
REFERENCE = "s2s"


@dataclass
class Method:
    """One way of computing a case's derivative, and what became of it."""

    name: str
    call: Callable[[], Any] | None
    to_numpy: Callable[[Any], Any] = lambda result: result
    warm_up: bool = False  # call once, untimed and unchecked, before the checked call
    status: str = "ok"  # "ok", or why the method is not timed
    loud: bool = False  # a wrong result or an error, printed as a warning
    seconds: float = 0.0  # the checked call's time
    times_us: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # s2s / this, per repeat


# ---------------------------------------------------------------- building the methods


def numba_backend() -> tuple[bool, str]:
    """Whether differentiate() takes backend="numba", and if not, why."""

    def cube(x):
        return x * x * x

    try:
        s2s.differentiate(cube, wrt="x", backend="numba").derivative(2.0)
    except (TypeError, s2s.S2SError) as error:
        return False, f"s2s numba: skipped, differentiate(..., backend='numba') is not accepted ({type(error).__name__}: {error})"
    return True, ""


def built(name: str, make: Callable[[], Callable[[], Any]], peer: Peer | None = None) -> Method:
    """A method whose call is made now (outside any timing), or the error
    making it raised."""
    try:
        call = make()
    except Exception as error:  # a method that cannot be set up is reported, not fatal
        return Method(name, None, status=f"error: {type(error).__name__}: {error}", loud=True)
    return Method(name, call) if peer is None else Method(name, call, peer.to_numpy, peer.warm_up)


def methods_for(case: Case, peers: list[Peer], numba: bool) -> list[Method]:
    methods = [Method("numpy primal", case.primal), built(REFERENCE, case.s2s)]
    if numba:  # its first call compiles (seconds, reported by the backend): untimed, like JAX's
        compiled = built("s2s numba", lambda: case.s2s(backend="numba"))
        compiled.warm_up = compiled.call is not None
        methods.append(compiled)
    methods += [Method(name, call) for name, call in case.hand_written.items()]
    methods.append(Method("finite difference", case.forward_difference))
    methods += [built(peer.name, lambda peer=peer: peer.prepare(case.peer), peer) for peer in peers]
    return methods


# ---------------------------------------------------------------- checking


def timed_call(method: Method) -> Any:
    start = time.perf_counter()
    result = method.call()
    method.seconds = time.perf_counter() - start
    return result


def first_line(error: BaseException) -> str:
    """The gist of an error: numpy's tolerance line and largest differences
    for a mismatch, else the first lines."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    largest = [line for line in lines if line.startswith("Max ")]
    return f"{type(error).__name__}: {' / '.join(lines[:1] + largest if largest else lines[:3])}"


class TooSlow(Exception):
    """A call ran past the time limit."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the code inside after seconds: a method slower than the
    limit is not timed, so there is no point in waiting for it."""

    def interrupt(signum: int, frame: Any) -> None:
        # raised inside a garbage-collection callback, the exception is
        # swallowed: fire again until it lands in the method's own code
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise TooSlow

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_against(method: Method, expected: Any, rtol: float, slow_seconds: float) -> None:
    """Run the method once and compare its result with s2s's."""
    try:
        if method.warm_up:
            method.call()
        with time_limit(slow_seconds):
            result = timed_call(method)
        assert_close(method.to_numpy(result), expected, rtol)
    except TooSlow:
        method.status = f"— (a call takes over {slow_seconds:g} s; not timed)"
    except AssertionError as error:
        method.status, method.loud = f"MISMATCH with s2s: {first_line(error)}", True
    except Exception as error:  # a peer failing on a problem is a result to report
        method.status, method.loud = f"error: {first_line(error)}", True


def check_case(case: Case, methods: list[Method], slow_seconds: float) -> None:
    """Check every method against s2s, and s2s against central differences;
    mark what cannot be timed."""
    by_name = {m.name: m for m in methods}
    timed_call(by_name["numpy primal"])
    reference = by_name[REFERENCE]
    if reference.call is None:
        for method in methods[1:]:
            method.status = method.status if method.call is None else "not checked: s2s failed"
        return
    try:
        expected = timed_call(reference)
        case.check_central(expected)
    except AssertionError as error:
        reference.status, reference.loud = f"MISMATCH with central differences: {first_line(error)}", True
    except Exception as error:
        reference.status, reference.loud = f"error: {first_line(error)}", True
        return
    for method in methods:
        if method.name in ("numpy primal", REFERENCE) or method.call is None:
            continue
        if method.name == "finite difference":
            estimate = case.difference_calls * by_name["numpy primal"].seconds
            if estimate > slow_seconds:
                method.status = f"— (about {estimate:.0f} s a call: {case.difference_calls:,} primal calls)"
                continue
        rtol = case.difference_rtol if method.name == "finite difference" else case.rtol
        check_against(method, expected, rtol, slow_seconds)
    for method in methods:
        if method.status == "ok" and method.seconds > slow_seconds:
            method.status = f"— (one call took {method.seconds:.1f} s; not timed)"


# ---------------------------------------------------------------- timing


def time_case(methods: list[Method], repeats: int, target_seconds: float) -> None:
    """Time the methods that passed their check, in interleaved repeats."""
    timed = {m.name: m for m in methods if m.status == "ok"}
    numbers = {name: calls_per_repeat(m.call, target_seconds) for name, m in timed.items()}
    times = interleaved_us({name: m.call for name, m in timed.items()}, numbers, repeats)
    for name, method in timed.items():
        method.times_us = times[name]
    if REFERENCE in timed:
        reference = times[REFERENCE]
        for name, method in timed.items():
            method.ratios = [s / t for s, t in zip(reference, times[name], strict=True)]


# ---------------------------------------------------------------- reporting


def microseconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def table_rows(case: Case, methods: list[Method]) -> list[str]:
    rows = []
    for method in methods:
        if method.times_us:
            median = float(np.median(method.times_us))
            spread = (max(method.times_us) - min(method.times_us)) / median
            ratio = f"{np.median(method.ratios):.3g}" if method.ratios else "—"
            cells = [microseconds(median), f"{spread:.0%}", ratio]
        else:
            status = method.status.replace("|", "\\|")
            cells = [f"**{status}**" if method.loud else status, "", ""]
        rows.append("| " + " | ".join([case.label, method.name] + cells) + " |")
    return rows


def table_header(problem: Problem) -> list[str]:
    return [
        f"### {problem.key}: {problem.title}",
        "",
        f"| {problem.size_name} | method | µs per call | spread | s2s ÷ method |",
        "|---:|---|---:|---:|---:|",
    ]


def environment_lines(peers: list[Peer], skipped: list[str], repeats: int, target: float) -> list[str]:
    versions = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"s2s {s2s.__version__}"]
    for module in ("autograd", "jax", "torch"):
        if module in sys.modules:
            versions.append(f"{module} {importlib.metadata.version(module)}")
    lines = [
        "# s2s benchmark suite",
        "",
        f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}; {', '.join(versions)}; one thread each.",
        f"Peers timed: {', '.join(p.name for p in peers) or 'none'}.",
    ]
    lines += [f"Skipped: {line}." for line in skipped]
    lines += [
        "",
        f"Each time is the median over {repeats} interleaved repeats of about {target * 1e3:.0f} ms each "
        "(at least one call); spread is (max - min) / median over the repeats; s2s ÷ method is the "
        "median over the repeats of s2s's time divided by the method's (below 1: s2s is faster). "
        "The ratio pairs times taken within a repeat, so it is the steadier figure when the machine is busy "
        "and the spreads are wide; it can then differ from the ratio of the two medians.",
        "",
    ]
    return lines


def timed_points(cases: list[tuple[Case, list[Method]]], name: str) -> list[tuple[int, float]]:
    return [(case.n, float(np.median(m.times_us))) for case, methods in cases for m in methods if m.name == name and m.times_us]


def plot(results: dict[Problem, list[tuple[Case, list[Method]]]], path: Path) -> str:
    """A log-log plot of time against size, one panel per problem, each
    method in the same colour in every panel."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: no plot"
    names = list(dict.fromkeys(m.name for cases in results.values() for _, methods in cases for m in methods))
    colours = dict(zip(names, plt.get_cmap("tab10").colors, strict=False))
    columns = min(3, len(results))
    rows = -(-len(results) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(5.5 * columns, 4.2 * rows), squeeze=False)
    for axis, (problem, cases) in zip(axes.flat, results.items(), strict=False):  # spare panels stay empty
        for name in names:
            points = timed_points(cases, name)
            if points:
                axis.loglog(*zip(*points, strict=True), marker="o", label=name, color=colours.get(name), linewidth=2.5 if name == REFERENCE else 1.2)
        axis.set_title(problem.key)
        axis.set_xlabel(problem.size_name)
        axis.set_ylabel("µs per call")
        axis.grid(True, which="major", alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(results) :]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return f"plot written to {path}"


# ---------------------------------------------------------------- the run


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="the smallest size of each problem only (a smoke test)")
    parser.add_argument("--problems", help=f"comma-separated, of: {', '.join(p.key for p in PROBLEMS)}")
    parser.add_argument("--sizes", help="comma-separated sizes for every problem chosen, instead of its own")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per method (default 7)")
    parser.add_argument("--target", type=float, default=0.03, help="seconds one repeat of a method lasts at least (default 0.03)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds beyond which a call is not timed (default 2)")
    parser.add_argument("--peers", help="comma-separated, of: autograd, jax, torch (default: all that import)")
    parser.add_argument("--output", type=Path, default=HERE / "results.md", help="the Markdown file (default benchmarks/results.md)")
    return parser.parse_args(argv)


def chosen_problems(arguments: argparse.Namespace) -> list[tuple[Problem, tuple[int, ...]]]:
    problems = [problem_named(key.strip()) for key in arguments.problems.split(",")] if arguments.problems else PROBLEMS
    chosen = []
    for problem in problems:
        sizes = tuple(int(s) for s in arguments.sizes.split(",")) if arguments.sizes else problem.sizes
        chosen.append((problem, sizes[:1] if arguments.quick else sizes))
    return chosen


def run_case(problem: Problem, n: int, peers: list[Peer], numba: bool, arguments: argparse.Namespace) -> tuple[Case, list[Method]]:
    case = problem.build(n)
    methods = methods_for(case, peers, numba)
    check_case(case, methods, arguments.slow)
    for method in methods:
        if method.loud:
            print(f"!!! {problem.key} at {case.label}, {method.name}: {method.status}", file=sys.stderr, flush=True)
    time_case(methods, arguments.repeats, arguments.target)
    return case, methods


def main(argv: list[str] | None = None) -> None:
    start = time.perf_counter()
    load_at_start = os.getloadavg()[0]  # other work on the machine widens the spreads
    arguments = parse_arguments(argv)
    try:
        chosen = chosen_problems(arguments)
    except KeyError as error:
        sys.exit(f"suite.py: {error.args[0]}")
    peers, skipped = available_peers(arguments.peers.split(",") if arguments.peers else None)
    numba, numba_reason = numba_backend()
    skipped += [] if numba else [numba_reason]
    lines = environment_lines(peers, skipped, arguments.repeats, arguments.target)
    print("\n".join(lines), flush=True)
    results: dict[Problem, list[tuple[Case, list[Method]]]] = {}
    for problem, sizes in chosen:
        header = table_header(problem)
        print("\n".join(header), flush=True)
        lines += header
        for n in sizes:
            case, methods = run_case(problem, n, peers, numba, arguments)
            results.setdefault(problem, []).append((case, methods))
            rows = table_rows(case, methods)
            print("\n".join(rows), flush=True)
            lines += rows
        print()
        lines.append("")
    wall = time.perf_counter() - start
    lines.append(f"Total wall time: {wall:.0f} s; load average over the last minute: {load_at_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end.")
    arguments.output.write_text("\n".join(lines) + "\n")
    print(f"table written to {arguments.output}")
    print(plot(results, arguments.output.with_suffix(".png")))
    print(f"total wall time: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
