"""Fuzzing both entry points: arbitrary source, valid or not, never gives an
internal exception.

The contract: through the command line (``s2s.cli.derivative_source`` and
``s2s.cli.main``) and through the decorator (``differentiate(f, ...)
.source()`` and ``.derivative(...)``), any Python source either gives
derivative code or the documented ``S2SError``, whose message names the
file (and the line, when there is one). Anything else that escapes s2s's
own modules is an internal exception, and a failure here. A run-time error
of the user's own code (the primal raising, say, ``TypeError``), or of the
derivative code it was turned into, is not s2s's fault and is only counted.

Two sources of input:

- the standard library's own files: every top-level function of every file
  goes through ``derivative_source`` in both modes (the file is read, never
  run), and one per file through ``main``;
- programs written by hypothesis from a grammar of Python 3.11 (every kind
  of statement and expression, parameters of every kind, imports of numpy
  and math under several names), some of them mutated into invalid source.
  Each goes through the command line in every mode; those that only define
  functions and import numpy or math are also imported and go through the
  decorator; and the functions of unmutated ones are called with 0.5 for
  each required argument, primal first, in a child process with a time and
  memory limit.

Findings are gathered rather than raised at the first one, deduplicated by
exception type and innermost s2s frame, shrunk (lines removed while the same
exception still comes from the same frame) and reported together at the end.

Normal run: a fixed sample of the standard library and a fixed, derandomized
set of generated programs (about 25 s on two slow cores)::

    .venv/bin/python -m pytest -q tests/test_fuzz_frontend.py

Long run: every file of the standard library, and thousands of random
programs; ``-s`` shows the counts printed at the end of each test::

    S2S_FUZZ_LONG=1 .venv/bin/python -m pytest -q -s tests/test_fuzz_frontend.py

The same as a script, which prints the counts and every finding (add
``S2S_FUZZ_LONG=1`` for the long run; ``--corpus`` or ``--programs`` runs
one half only; ``--examples N`` sets the number of generated programs)::

    S2S_FUZZ_LONG=1 .venv/bin/python tests/test_fuzz_frontend.py
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import importlib.util
import inspect
import io
import itertools
import json
import os
import re
import signal
import sys
import sysconfig
import tempfile
import textwrap
import time
import traceback
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import s2s
from s2s import S2SError, differentiate
from s2s.cli import derivative_source, main

LONG = os.environ.get("S2S_FUZZ_LONG") == "1"

S2S_DIR = Path(s2s.__file__).resolve().parent
RUNTIME_DIR = S2S_DIR / "runtime"
REPO = S2S_DIR.parent
MODES = ("forward", "reverse", "auto")

HANG_SECONDS = 120.0  # one call of the compiler on one function
CHILD_SECONDS = 30.0  # a child process running a primal and its derivatives
CHILD_MEMORY = 2 << 30  # bytes a child may add to its address space

# normal run: a fixed sample; long run: everything
CORPUS_FILE_STEP = 1 if LONG else 53
CORPUS_FUNCTIONS_PER_FILE = None if LONG else 3
PROGRAM_EXAMPLES = int(os.environ.get("S2S_FUZZ_EXAMPLES", "3000" if LONG else "14"))
SHRINK_SECONDS = 120.0 if LONG else 20.0


# ===========================================================================
# Outcomes and findings


@dataclass
class Finding:
    """One internal exception (or another breach of the contract)."""

    entry: str  # derivative_source, main, differentiate().source(), derivative()
    mode: str
    error: str  # the exception type, or what is wrong
    message: str
    frame: str  # the innermost frame in s2s, file:line
    function: str
    wrt: tuple[str, ...]
    source: str = ""  # the program's text (generated programs)
    path: str = ""  # the file (the standard library)

    @property
    def key(self) -> tuple[str, str]:
        return (self.error, self.frame)

    def describe(self) -> str:
        where = self.path or "generated program"
        head = (
            f"{self.error} at {self.frame}\n"
            f"  entry point: {self.entry}, mode={self.mode}, function {self.function}, wrt={','.join(self.wrt)} ({where})\n"
            f"  message: {self.message}"
        )
        if self.source:
            head += "\n  source:\n" + textwrap.indent(self.source.rstrip("\n"), "    | ")
        return head


@dataclass
class Tally:
    """Counts of outcomes, and the findings deduplicated by cause."""

    counts: Counter = field(default_factory=Counter)
    findings: dict[tuple[str, str], list[Finding]] = field(default_factory=dict)

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] += n

    def add(self, finding: Finding) -> None:
        self.counts["findings (all occurrences)"] += 1
        same = self.findings.setdefault(finding.key, [])
        same.append(finding)
        same.sort(key=lambda f: len(f.source) if f.source else 10**9)
        del same[5:]  # the shortest few are enough

    def summary(self, title: str) -> str:
        width = max((len(k) for k in self.counts), default=0)
        lines = [f"{title}:"] + [f"  {k:<{width}}  {v}" for k, v in sorted(self.counts.items())]
        lines.append(f"  distinct internal exceptions: {len(self.findings)}")
        for (error, frame), same in sorted(self.findings.items()):
            lines.append(f"    {error} at {frame}  ({same[0].entry}, mode={same[0].mode})")
        return "\n".join(lines)


class Hang(BaseException):
    """Raised by the alarm when a call does not return in time (a
    BaseException, so that no ``except Exception`` on the way swallows it)."""


def time_limit(seconds: float):
    from conftest import time_limit as limit

    return limit(seconds, Hang)


def _under(filename: str, directory: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(directory)
    except (OSError, ValueError):
        return False


def _frame_kind(filename: str) -> str | None:
    """compiler (s2s's own modules), generated (a derivative module or the
    helpers it imports), or None (numpy, the standard library, exec'd text)."""
    if filename.startswith("<s2s "):
        return "generated"
    if _under(filename, RUNTIME_DIR):
        return "generated"
    if _under(filename, S2S_DIR):
        return "compiler"
    return None


def innermost_s2s_frame(exc: BaseException) -> str:
    """file:line of the innermost frame in s2s's own modules."""
    found = "(no frame in s2s)"
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        filename = frame.f_code.co_filename
        if _under(filename, S2S_DIR):
            found = f"{Path(filename).resolve().relative_to(REPO)}:{lineno}"
    return found


def innermost_frame_outside_s2s(exc: BaseException) -> str:
    frames = list(traceback.walk_tb(exc.__traceback__))
    if not frames:
        return "(no frame)"
    frame, lineno = frames[-1]
    return f"{frame.f_code.co_filename}:{lineno}"


def compiler_to_blame(exc: BaseException, user_files: set[str]) -> bool:
    """Whether the innermost frame that is s2s's or the user's is in s2s's
    compiler (not in generated code, its runtime helpers or the user's file)."""
    for frame, _ in reversed(list(traceback.walk_tb(exc.__traceback__))):
        filename = frame.f_code.co_filename
        if filename in user_files:
            return False
        kind = _frame_kind(filename)
        if kind == "generated":
            return False
        if kind == "compiler":
            return True
    return True


def first_line(text: str, limit: int = 300) -> str:
    line = str(text).strip().split("\n")[0]
    return line if len(line) <= limit else line[:limit] + "..."


def error_names_its_place(err: S2SError, filename: str, lines: int | None) -> str | None:
    """What is wrong with where an S2SError says the problem is, or None."""
    text = str(err)
    if err.filename is None and os.path.basename(filename) not in text:
        return "S2SError naming no file"
    if err.lineno is not None and err.filename is not None and lines is not None:
        if os.path.realpath(err.filename) == os.path.realpath(filename) and not 1 <= err.lineno <= lines + 1:
            return f"S2SError at line {err.lineno} of a {lines}-line file"
    return None


def line_count(text: str) -> int:
    return len(text.splitlines())


# ===========================================================================
# The entry points, each turned into an outcome and maybe a finding


def run_derivative_source(path: Path, function: str, wrt: tuple[str, ...], mode: str, tally: Tally, *, source: str = "", report_path: str = "") -> str:
    """``derivative_source`` on a file: "ok", "S2SError" or "internal"."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with time_limit(HANG_SECONDS):
                text = derivative_source(str(path), function, wrt, mode)
    except KeyboardInterrupt:
        raise
    except S2SError as err:
        problem = error_names_its_place(err, str(path), _file_lines(path))
        if problem:
            tally.add(Finding("derivative_source", mode, problem, first_line(err.one_line()), _error_site(err), function, wrt, source, report_path))
            return "internal"
        return "S2SError"
    except BaseException as exc:  # noqa: BLE001 - the file is never run: anything else is s2s's
        tally.add(Finding("derivative_source", mode, type(exc).__name__, first_line(exc), innermost_s2s_frame(exc), function, wrt, source, report_path))
        return "internal"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, f"<derivative of {function}>", "exec")
    except (SyntaxError, ValueError) as exc:
        message = f"{exc}: {first_line(text.splitlines()[exc.lineno - 1]) if getattr(exc, 'lineno', None) else ''}"
        tally.add(Finding("derivative_source", mode, "generated code does not compile", message, type(exc).__name__, function, wrt, source, report_path))
        return "internal"
    return "ok"


def _error_site(err: S2SError) -> str:
    """Where the S2SError was raised in s2s (the error's key)."""
    return innermost_s2s_frame(err)


def _file_lines(path: Path) -> int | None:
    try:
        return line_count(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None


def run_main(path: Path, function: str, wrt_text: str, mode: str, tally: Tally, *, source: str = "", report_path: str = "", internal_expected: bool = False) -> str:
    """``main([...])``: must return an int, 0 or 1 (3 says internal error)."""
    out, err = io.StringIO(), io.StringIO()
    wrt = tuple(w.strip() for w in wrt_text.split(",") if w.strip())
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            warnings.simplefilter("ignore")
            with time_limit(HANG_SECONDS):
                status = main([str(path), function, "--wrt", wrt_text, "--mode", mode])
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001
        tally.add(Finding("main", mode, f"main raised {type(exc).__name__}", first_line(exc) + " " + first_line(err.getvalue()), innermost_s2s_frame(exc), function, wrt, source, report_path))
        return "raised"
    if not isinstance(status, int) or isinstance(status, bool):
        tally.add(Finding("main", mode, "main returned a non-int", repr(status), "s2s/cli.py", function, wrt, source, report_path))
        return "raised"
    if status == 3 and not internal_expected:
        # derivative_source did not fail the same way, or was not asked
        message = first_line(err.getvalue())
        kind = re.search(r"internal error while differentiating .*?: (\w+):", message)
        tally.add(Finding("main", mode, f"main exit status 3 ({kind.group(1) if kind else '?'})", message, "s2s/cli.py (main)", function, wrt, source, report_path))
    elif status not in (0, 1, 3):
        tally.add(Finding("main", mode, f"main exit status {status}", first_line(err.getvalue()), "s2s/cli.py (main)", function, wrt, source, report_path))
    return f"status {status}"


def run_decorator_source(fn, wrt: str, mode: str, module_file: str, tally: Tally, source: str) -> str:
    """``differentiate(fn, wrt=..., mode=...).source()``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with time_limit(HANG_SECONDS):
                differentiate(fn, wrt=wrt, mode=mode).source()
    except KeyboardInterrupt:
        raise
    except S2SError as err:
        problem = error_names_its_place(err, module_file, line_count(source))
        if problem:
            tally.add(Finding("differentiate().source()", mode, problem, first_line(err.one_line()), _error_site(err), fn.__name__, (wrt,), source))
            return "internal"
        return "S2SError"
    except BaseException as exc:  # noqa: BLE001 - source() runs none of the user's code
        tally.add(Finding("differentiate().source()", mode, type(exc).__name__, first_line(exc), innermost_s2s_frame(exc), fn.__name__, (wrt,), source))
        return "internal"
    return "ok"


# ---------------------------------------------------------------------------
# Calling the primal and the derivative, in a child process


def float_arguments(fn) -> tuple[tuple, dict] | None:
    """0.5 for each required argument (positional, then keyword-only)."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    args, kwargs = [], {}
    for p in parameters:
        if p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind is p.KEYWORD_ONLY:
            kwargs[p.name] = 0.5
        else:
            args.append(0.5)
    return tuple(args), kwargs


def _child_run(fn, wrt: str, modes: tuple[str, ...], user_files: set[str], say) -> None:
    """In the child: the primal, then each mode's derivative; one JSON line each."""
    arguments = float_arguments(fn)
    if arguments is None:
        say({"stage": "primal", "outcome": "no signature"})
        return
    args, kwargs = arguments
    say({"stage": "primal", "outcome": "started"})
    try:
        fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the user's own code
        say({"stage": "primal", "outcome": "raised", "error": type(exc).__name__})
        return
    say({"stage": "primal", "outcome": "ok"})
    for mode in modes:
        say({"stage": f"derivative {mode}", "outcome": "started"})
        try:
            differentiate(fn, wrt=wrt, mode=mode).derivative(*args, **kwargs)
        except S2SError as err:
            problem = error_names_its_place(err, fn.__code__.co_filename, None)
            say({"stage": f"derivative {mode}", "outcome": "S2SError", "problem": problem, "message": first_line(err.one_line()), "frame": innermost_s2s_frame(err)})
            continue
        except BaseException as exc:  # noqa: BLE001
            blame = compiler_to_blame(exc, user_files)
            say({
                "stage": f"derivative {mode}",
                "outcome": "internal" if blame else "run-time error",
                "error": type(exc).__name__,
                "message": first_line(exc),
                "frame": innermost_s2s_frame(exc) if blame else innermost_frame_outside_s2s(exc),
            })
            continue
        say({"stage": f"derivative {mode}", "outcome": "ok"})


def run_in_child(fn, wrt: str, modes: tuple[str, ...], user_files: set[str]) -> list[dict]:
    """``_child_run`` in a forked process with a time and memory limit; the
    last record says "hung" or "died" when it did not finish."""
    if not hasattr(os, "fork"):
        return [{"stage": "primal", "outcome": "not run (no fork)"}]
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 0
        try:
            os.close(read_end)
            _limit_child()
            out = os.fdopen(write_end, "w", buffering=1)

            def say(record: dict) -> None:
                out.write(json.dumps(record) + "\n")

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _child_run(fn, wrt, modes, user_files, say)
            out.flush()
        except BaseException:  # noqa: BLE001
            status = 1
        finally:
            os._exit(status)
    os.close(write_end)
    records: list[dict] = []
    buffer = b""
    deadline = time.monotonic() + CHILD_SECONDS
    import select

    finished = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([read_end], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(read_end, 65536)
        if not chunk:
            finished = True
            break
        buffer += chunk
    os.close(read_end)
    if not finished:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    for line in buffer.decode("utf-8", "replace").splitlines():
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    if not finished:
        stage = records[-1]["stage"] if records else "start"
        records.append({"stage": stage, "outcome": "hung"})
    elif status != 0 and (not records or records[-1].get("outcome") == "started"):
        stage = records[-1]["stage"] if records else "start"
        records.append({"stage": stage, "outcome": "died", "status": status})
    return records


def _limit_child() -> None:
    with contextlib.suppress(Exception):
        import resource

        size = 0
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    size = int(line.split()[1]) * 1024
        if size:
            resource.setrlimit(resource.RLIMIT_AS, (size + CHILD_MEMORY, resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_REAL, 0)


# ---------------------------------------------------------------------------
# Importing a program: only when running its module-level code is harmless

SAFE_IMPORTS = ("numpy", "numpy.linalg", "math", "__future__")


def safe_to_import(tree: ast.Module) -> bool:
    """Whether the module-level code of ``tree`` only imports numpy or math,
    binds constants and defines undecorated functions with constant
    defaults and plain annotations: nothing else runs at import."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            if not all(a.name in SAFE_IMPORTS for a in stmt.names):
                return False
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level or stmt.module not in SAFE_IMPORTS:
                return False
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if not all(isinstance(t, ast.Name) for t in targets):
                return False
            if stmt.value is not None and not _literal(stmt.value):
                return False
            if isinstance(stmt, ast.AnnAssign) and not _plain_annotation(stmt.annotation):
                return False
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if stmt.decorator_list:
                return False
            args = stmt.args
            if not all(_literal(d) or _plain_annotation(d) for d in args.defaults + [d for d in args.kw_defaults if d is not None]):
                return False
            annotations = [a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a is not None]
            if not all(_plain_annotation(a) for a in annotations + [stmt.returns] if a is not None):
                return False
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        elif not isinstance(stmt, ast.Pass):
            return False
    return True


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _plain_annotation(node: ast.expr) -> bool:
    allowed = (ast.Name, ast.Attribute, ast.Constant, ast.Subscript, ast.Tuple, ast.List, ast.BinOp, ast.BitOr, ast.Load,
               ast.Slice, ast.UnaryOp, ast.USub)
    return all(isinstance(n, allowed) for n in ast.walk(node))


_module_counter = itertools.count()


def import_program(path: Path, source: str) -> tuple[object | None, str]:
    """The module, imported, or None and why not."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None, "does not parse"
    if not safe_to_import(tree):
        return None, "not imported (runs code at import)"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, str(path), "exec")
    except (SyntaxError, ValueError):
        return None, "does not compile"
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        with warnings.catch_warnings(), time_limit(10):
            warnings.simplefilter("ignore")
            spec.loader.exec_module(module)
    except Exception:  # noqa: BLE001 - e.g. an annotation naming nothing
        sys.modules.pop(name, None)
        return None, "import raised"
    return module, "imported"


# ===========================================================================
# (a) The standard library


def stdlib_files() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    files = []
    for directory, subdirectories, names in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d not in ("site-packages", "dist-packages", "__pycache__"))
        files += [Path(directory) / n for n in sorted(names) if n.endswith(".py")]
    return files


def top_level_functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions defined at module level, also inside if/try/with/for/while
    blocks (conditional definitions), first definition of each name."""
    found: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}

    def visit(body: list[ast.stmt]) -> None:
        for stmt in body:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.setdefault(stmt.name, stmt)
            elif isinstance(stmt, (ast.If, ast.Try, ast.TryStar, ast.With, ast.For, ast.While)):
                for name in ("body", "orelse", "finalbody"):
                    visit(getattr(stmt, name, []))
                for handler in getattr(stmt, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return list(found.values())


def parameter_names(fdef: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fdef.args
    names = [p.arg for p in a.posonlyargs + a.args]
    if a.vararg:
        names.append(a.vararg.arg)
    names += [p.arg for p in a.kwonlyargs]
    if a.kwarg:
        names.append(a.kwarg.arg)
    return names


def corpus_sample(step: int = CORPUS_FILE_STEP, per_file: int | None = CORPUS_FUNCTIONS_PER_FILE) -> list[tuple[Path, list[tuple[str, tuple[str, ...]]]]]:
    """(file, [(function, wrt)]) for every ``step``-th file of the standard
    library; a file that does not parse is tried with a made-up name."""
    sample = []
    for path in stdlib_files()[::step]:
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError, MemoryError, RecursionError):
            sample.append((path, [("f", ("x",))]))
            continue
        functions = top_level_functions(tree)
        if per_file is not None and len(functions) > per_file:
            # spread over the file: first, middle, last, ...
            picks = sorted({round(i * (len(functions) - 1) / (per_file - 1)) for i in range(per_file)}) if per_file > 1 else [0]
            functions = [functions[i] for i in picks]
        sample.append((path, [(f.name, (parameter_names(f) or ["x"])[0:1]) for f in functions]))
    return [(p, [(n, tuple(w)) for n, w in fs]) for p, fs in sample]


def run_corpus(sample, tally: Tally, progress=None) -> None:
    for number, (path, functions) in enumerate(sample):
        tally.count("files")
        if not functions:
            tally.count("files without top-level functions")
        for index, (function, wrt) in enumerate(functions):
            tally.count("functions")
            internal = False
            for mode in ("forward", "reverse"):
                outcome = run_derivative_source(path, function, wrt, mode, tally, report_path=str(path))
                tally.count(f"derivative_source {mode}: {outcome}")
                internal = internal or outcome == "internal"
            if index == 0:  # main once per file, on the first function
                outcome = run_main(path, function, ",".join(wrt), "auto", tally, report_path=str(path), internal_expected=internal)
                tally.count(f"main auto: {outcome}")
        if progress:
            progress(number + 1, len(sample), path)


def corpus_findings_to_snippets(tally: Tally) -> None:
    """Shrink each distinct corpus finding to a small file (copied out of
    the standard library) that still raises it."""
    deadline = time.monotonic() + SHRINK_SECONDS * max(1, len(tally.findings))
    for same in tally.findings.values():
        finding = same[0]
        if finding.source or not finding.path or time.monotonic() > deadline:
            continue
        with contextlib.suppress(Exception):
            text = Path(finding.path).read_text(encoding="utf-8")
            finding.source = shrink(finding, text, min(SHRINK_SECONDS, deadline - time.monotonic())) or ""


def test_stdlib_corpus(capsys):
    """Every (sampled) top-level function of the standard library, through
    the command line in both modes: derivative code or an S2SError."""
    started = time.monotonic()
    tally = Tally()
    sample = corpus_sample()
    assert sample, "no standard library files found"
    run_corpus(sample, tally)
    corpus_findings_to_snippets(tally)
    if LONG:
        with capsys.disabled():
            print(f"\n{tally.summary(f'standard library corpus ({time.monotonic() - started:.0f} s)')}")
    if tally.findings:
        pytest.fail(report(tally), pytrace=False)


# ===========================================================================
# (b) Generated programs

FLOATS = ("0.5", "1.0", "2.0", "3.0", "0.1", "1e-3", "-1.5", "2.5e1", "1.", ".5")
INTS = ("0", "1", "2", "3", "-1")
STRINGS = ("'a'", "'b c'", "''", "b'x'", "r'\\d'", "'\\n'", "u'e'")
OTHER_CONSTANTS = ("True", "False", "None", "...", "1j", "0x1f", "1_000", "0o7", "0b1", "2.5j")
NP_UNARY = ("exp", "log", "sin", "cos", "tanh", "sqrt", "abs", "square", "sum", "mean", "max", "min", "prod", "ravel",
            "transpose", "floor", "sign", "cumsum", "arctan", "log1p", "expm1", "cbrt", "exp2", "negative", "copy",
            "atleast_1d", "diag", "trace", "std", "var", "isfinite", "shape", "size", "asarray", "array", "real")
NP_BINARY = ("arctan2", "hypot", "maximum", "minimum", "dot", "outer", "logaddexp", "power", "add", "multiply",
             "subtract", "divide", "inner", "kron", "fmax", "matmul", "true_divide", "greater", "where")
NP_CONSTRUCTORS = ("np.ones(3)", "np.zeros((2, 3))", "np.arange(3.0)", "np.linspace(0.0, 1.0, 4)", "np.eye(2)",
                   "np.array([1.0, 2.0, 3.0])", "np.full(2, 0.5)", "np.pi", "np.e", "np.inf", "np.nan",
                   "np.newaxis", "np.float64(1.5)", "np.ones((2, 2))", "np.random", "np.linalg")
MATH_UNARY = ("exp", "sin", "cos", "sqrt", "log", "fabs", "tanh", "floor", "atan", "erf", "gamma", "log10")
BINOPS = ("+", "-", "*", "/", "//", "%", "**", "@", "<<", ">>", "|", "&", "^")
COMPARE = ("<", "<=", ">", ">=", "==", "!=", "is", "is not", "in", "not in")
UNARY = ("-", "+", "~", "not ")
VARIABLES = ("x", "y", "z", "a", "b", "c", "s", "t", "u", "v", "w", "k", "i", "acc", "out", "tmp", "total", "item", "row")
SHADOWING = ("np", "math", "exp", "sum", "len", "range", "float", "abs", "max", "sqrt", "f0")
PARAMETERS = ("x", "y", "z", "w", "p", "q", "alpha", "beta", "data", "n", "theta", "args", "kw")
ANNOTATIONS = ("float", "int", "np.ndarray", "'np.ndarray'", "float | None", "list[float]", "tuple[float, ...]",
               "'Array'", "np.float64", "complex", "None", "dict[str, float]", "bool")
DEFAULTS = ("0.5", "1.0", "-2.0", "None", "(1.0, 2.0)", "'s'", "True", "1", "()", "1e3", "np.pi", "math.pi")
EXCEPTIONS = ("ValueError", "(TypeError, ZeroDivisionError)", "Exception", "ArithmeticError", "FloatingPointError",
              "np.linalg.LinAlgError", "KeyError", "(IndexError,)", "BaseException")
ATTRIBUTES = ("T", "shape", "real", "imag", "ndim", "size", "dtype", "flat", "value", "__class__")
METHODS = ("sum()", "mean(axis=0)", "reshape(-1)", "copy()", "astype(float)", "ravel()", "max()", "item()",
           "conjugate()", "dot({})", "cumsum()", "transpose()", "squeeze()", "clip(0.0, 1.0)", "tolist()",
           "append({})", "get('k')", "__add__({})", "prod(keepdims=True)", "std(ddof=1)")
WITH_ITEMS = ("np.errstate(all='ignore')", "np.errstate(divide='ignore', invalid='warn')", "np.printoptions(precision=3)")
DECORATORS = ("staticmethod", "np.vectorize", "(lambda f: f)", "property", "classmethod", "f0", "np.errstate()")
MUTATION_TOKENS = (
    "(", ")", "[", "]", "{", "}", ":", ",", "=", "==", ":=", "**", "*", "@", "\\", "\n", "\t", " ", "    ",
    "'", '"', '"""', "#", "def ", "lambda ", "return ", "yield ", "await ", "async ", "class ", "if ", "else",
    "elif ", "for ", "in ", "not ", "None", "0", "1.5", "1e", "0x", "x", "np.", ".", ";", "\x00", "\ufeff",
    "\r", "\f", "\u00e9", "\u2028", "global x\n", "nonlocal x\n", "match x:\n", "case _:\n", "*x", "**x", "->",
    "...", "f'{", "}'", "b'\\xff'", "\\N{", "0_", "1__0", "del ", "with ", "try:\n", "except* E:\n", "type ",
    "    return x\n", "def f(x):\n", "x = 1\n", "\n\n\n", "import numpy as np\n", "from numpy import *\n",
)


@dataclass
class Scope:
    """Where a statement is generated."""

    names: list[str]  # names bound so far in the function (shared by its blocks)
    flavor: str = "plain"  # plain, generator, async, async generator
    in_loop: bool = False
    depth: int = 0
    no_jump: bool = False  # inside an except* block: no return/break/continue
    declared: frozenset[str] = frozenset()  # global and nonlocal names

    def inner(self, **changes) -> "Scope":
        return dataclasses.replace(self, depth=self.depth + 1, **changes)


@dataclass(frozen=True)
class Ex:
    """What an expression may contain here."""

    extra: tuple[str, ...] = ()  # comprehension or lambda variables
    await_ok: bool = False
    yield_ok: bool = False
    walrus_ok: bool = True


class Writer:
    """Writes a module of functions from hypothesis draws."""

    MAX_DEPTH = 3

    def __init__(self, draw) -> None:
        self.draw = draw
        self.fresh = itertools.count()
        self.np = "np."  # how numpy's names are spelled: np.exp, numpy.exp, exp
        self.np_functions: list[str] = []  # names bound to numpy functions
        self.math: str | None = None
        self.math_functions: list[str] = []
        self.globals: list[str] = []
        self.functions: list[tuple[str, int, int]] = []  # earlier top-level functions: name, required, total
        self.decorated_at_top = False
        # wild programs draw every form alike; numeric ones mostly what s2s
        # differentiates (numpy arithmetic, loops, branches), so that the
        # later stages of the compiler see them too
        self.wild = self.coin(50)

    # draws --------------------------------------------------------------

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def coin(self, percent: int) -> bool:
        return self.draw(st.integers(0, 99)) >= 100 - percent

    def number(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def new_name(self, prefix: str = "v") -> str:
        return f"{prefix}{next(self.fresh)}"

    # the module ------------------------------------------------------------

    def module(self) -> str:
        lines: list[str] = []
        if self.coin(10):
            lines.append("from __future__ import annotations")
        lines += self.imports()
        for _ in range(self.number(0, 2)):
            name = self.new_name("G")
            value = self.pick(FLOATS + ("(1.0, 2.0)", "[0.5, 1.5]", "{'k': 1.0}", "'text'", "None", "3"))
            lines.append(f"{name}: {self.pick(ANNOTATIONS)} = {value}" if self.coin(20) else f"{name} = {value}")
            self.globals.append(name)
        for i in range(self.number(1, 3)):
            flavor = self.pick(("plain",) * (7 if self.wild else 60) + ("generator", "async", "async generator"))
            lines += ["", ""] + self.function(f"f{i}", None, flavor, top=True)
        # the grammar writes numpy as np; spelled as this module imports it
        return re.sub(r"\bnp\.", self.np, "\n".join(lines)) + "\n"

    def imports(self) -> list[str]:
        lines = []
        numpy_form = self.pick(("import numpy as np",) * 6 + ("import numpy", "import numpy as npx", "from numpy import *", "none"))
        if numpy_form == "import numpy":
            self.np = "numpy."
        elif numpy_form == "import numpy as npx":
            self.np = "npx."
        if numpy_form != "none":
            lines.append(numpy_form)
        if numpy_form == "from numpy import *":
            self.np = ""  # np.exp is written exp
        if self.coin(40):
            chosen = self.draw(st.lists(st.sampled_from(("exp", "sin", "sum", "sqrt", "log", "maximum", "where", "dot", "linalg")), min_size=1, max_size=3, unique=True))
            parts = []
            for name in chosen:
                alias = f"np_{name}" if self.coin(40) else name
                parts.append(name if alias == name else f"{name} as {alias}")
                self.np_functions.append(alias)
            lines.append(f"from numpy import {', '.join(parts)}")
        if self.coin(15):
            lines.append(self.pick(("import numpy.linalg as la", "from numpy.linalg import norm, inv", "import numpy.linalg")))
            self.np_functions += {"import numpy.linalg as la": ["la.norm"], "from numpy.linalg import norm, inv": ["norm", "inv"]}.get(lines[-1], [])
        if self.coin(40):
            form = self.pick(("import math", "import math as m", "from math import sqrt, pi as PI", "from math import *"))
            lines.append(form)
            if form == "import math":
                self.math = "math"
            elif form == "import math as m":
                self.math = "m"
            elif form.startswith("from math import sqrt"):
                self.math_functions += ["sqrt"]
                self.globals.append("PI")
        return lines

    # functions --------------------------------------------------------------

    def function(self, name: str, outer: Scope | None, flavor: str, top: bool) -> list[str]:
        params, bound, required = self.parameters()
        lines = []
        decorators = 0
        if (not top and self.coin(30)) or (top and self.coin(8 if self.wild else 2)):
            decorators = self.number(1, 2)
            self.decorated_at_top = self.decorated_at_top or top
        for _ in range(decorators):
            lines.append("@" + self.pick(DECORATORS))
        keyword = "async def" if flavor.startswith("async") else "def"
        returns = f" -> {self.pick(ANNOTATIONS)}" if self.coin(25) else ""
        lines.append(f"{keyword} {name}({params}){returns}:")
        scope = Scope(names=list(bound), flavor=flavor)
        body: list[str] = []
        if self.coin(15):
            body.append(self.pick(("'''Docstring.'''", '"""One line."""', "r'raw doc'")))
        declared: set[str] = set()
        if top and self.coin(20 if self.wild else 3):
            names = self.draw(st.lists(st.sampled_from(self.globals + ["G_new", "total"]), min_size=1, max_size=2, unique=True))
            names = [n for n in names if n not in bound]
            if names:
                body.append(f"global {', '.join(names)}")
                declared.update(names)
                scope.names += [n for n in names if n not in scope.names]
        if outer is not None and self.coin(30 if self.wild else 5):
            candidates = [n for n in outer.names if n not in bound and n not in outer.declared]
            if candidates:
                chosen = self.pick(candidates)
                body.append(f"nonlocal {chosen}")
                declared.add(chosen)
                if chosen not in scope.names:
                    scope.names.append(chosen)
        scope.declared = frozenset(declared)
        for _ in range(self.number(1, 4)):
            body += self.statement(scope)
        if flavor != "async generator" and self.coin(85):
            body.append(f"return {self.expression(scope, self.ex(scope), 2)}")
        lines += ["    " + line for line in body]
        if top:
            self.functions.append((name, required, len(bound)))
        return lines

    def parameters(self) -> tuple[str, list[str], int]:
        """A parameter list with every kind of parameter, the names it binds
        and the number of required positional parameters."""
        pool = list(PARAMETERS)
        names = self.draw(st.permutations(pool))
        taken = iter(names)
        parts: list[str] = []
        bound: list[str] = []
        defaulted = False
        required = 0

        rare = 1 if self.wild else 4  # numeric programs: mostly plain parameters

        def one(kind: str) -> str:
            nonlocal defaulted, required
            name = next(taken)
            bound.append(name)
            text = name
            if self.coin(25 // rare):
                text += f": {self.pick(ANNOTATIONS)}"
            if kind == "positional":
                if defaulted or self.coin(20 // rare):
                    defaulted = True
                    text += (" = " if ":" in text else "=") + self.pick(DEFAULTS)
                else:
                    required += 1
            elif kind == "keyword" and self.coin(50):
                text += (" = " if ":" in text else "=") + self.pick(DEFAULTS)
            return text

        positional_only = self.number(0, 2) if self.coin(20 // rare) else 0
        for _ in range(positional_only):
            parts.append(one("positional"))
        if positional_only:
            parts.append("/")
        for _ in range(self.number(0 if positional_only else 1, 3) if self.coin(95) else 0):
            parts.append(one("positional"))
        keyword_only = self.number(1, 2) if self.coin(20 // rare) else 0
        if self.coin(15 // rare):
            name = next(taken)
            bound.append(name)
            parts.append(f"*{name}" + (f": {self.pick(ANNOTATIONS)}" if self.coin(20) else ""))
        elif keyword_only:
            parts.append("*")
        for _ in range(keyword_only):
            parts.append(one("keyword"))
        if self.coin(12 // rare):
            name = next(taken)
            bound.append(name)
            parts.append(f"**{name}")
        return ", ".join(parts), bound, required

    # statements --------------------------------------------------------------

    SIMPLE = ("assign",) * 6 + ("augmented",) * 3 + ("unpack", "chained", "item", "attribute", "annotated", "expression",
              "pass", "delete", "assert", "raise", "import", "lambda", "yield", "return", "jump", "walrus")
    COMPOUND = ("if",) * 3 + ("for",) * 3 + ("while", "try", "try star", "with", "match", "def", "class")

    NUMERIC_SIMPLE = ("assign",) * 10 + ("augmented",) * 3 + ("unpack", "item", "item", "return", "jump")
    NUMERIC_COMPOUND = ("if",) * 3 + ("for",) * 3 + ("while",)

    def statement(self, scope: Scope) -> list[str]:
        if self.wild or self.coin(2):
            kinds = self.SIMPLE + (self.COMPOUND if scope.depth < self.MAX_DEPTH else ())
        else:
            kinds = self.NUMERIC_SIMPLE + (self.NUMERIC_COMPOUND if scope.depth < self.MAX_DEPTH else ())
        kind = self.pick(kinds)
        return getattr(self, "s_" + kind.replace(" ", "_"))(scope)

    def block(self, scope: Scope, lo: int = 1, hi: int = 3) -> list[str]:
        lines: list[str] = []
        for _ in range(self.number(lo, hi)):
            lines += self.statement(scope)
        return ["    " + line for line in (lines or ["pass"])]

    def ex(self, scope: Scope, **changes) -> Ex:
        base = Ex(await_ok=scope.flavor.startswith("async"), yield_ok=scope.flavor in ("generator", "async generator"))
        return dataclasses.replace(base, **changes)

    def target(self, scope: Scope) -> str:
        if scope.names and self.coin(40):
            return self.pick(scope.names)
        name = self.pick(SHADOWING) if self.coin(5) else self.pick(VARIABLES)
        return name

    def bind(self, scope: Scope, *names: str) -> None:
        for name in names:
            if name not in scope.names:
                scope.names.append(name)

    def s_assign(self, scope):
        name = self.target(scope)
        value = self.expression(scope, self.ex(scope), 3)
        self.bind(scope, name)
        return [f"{name} = {value}"]

    def s_chained(self, scope):
        a, b = self.target(scope), self.target(scope)
        value = self.expression(scope, self.ex(scope), 2)
        self.bind(scope, a, b)
        return [f"{a} = {b} = {value}"]

    def s_unpack(self, scope):
        a, b, c = self.target(scope), self.target(scope), self.target(scope)
        e = lambda: self.expression(scope, self.ex(scope), 1)  # noqa: E731
        form = self.number(0, 6)
        self.bind(scope, a, b, c)
        return [[
            f"{a}, {b} = {e()}, {e()}",
            f"[{a}, {b}] = [{e()}, {e()}]",
            f"{a}, *{b} = [{e()}, {e()}, {e()}]",
            f"({a}, {b}), {c} = ({e()}, {e()}), {e()}",
            f"{a}, {b} = {e()}",
            f"*{a}, = {e()}",
            f"{a}, {b} = {b}, {a}" if a in scope.names and b in scope.names else f"{a}, {b} = 1.0, 2.0",
        ][form]]

    def s_item(self, scope):
        base = self.pick(scope.names) if scope.names else "x"
        return [f"{base}[{self.index(scope)}] = {self.expression(scope, self.ex(scope), 2)}"]

    def s_attribute(self, scope):
        base = self.pick(scope.names) if scope.names else "x"
        return [f"{base}.{self.pick(ATTRIBUTES)} = {self.expression(scope, self.ex(scope), 1)}"]

    def s_augmented(self, scope):
        op = self.pick(BINOPS) + "="
        form = self.number(0, 3)
        base = self.pick(scope.names) if scope.names else self.target(scope)
        value = self.expression(scope, self.ex(scope), 2)
        if form == 0:
            return [f"{base}[{self.index(scope)}] {op} {value}"]
        if form == 1:
            return [f"{base}.{self.pick(ATTRIBUTES)} {op} {value}"]
        return [f"{base} {op} {value}"]

    def s_annotated(self, scope):
        name = self.target(scope)
        if name in scope.declared:  # an annotated name cannot be global or nonlocal
            name = self.new_name("an")
        annotation = self.pick(ANNOTATIONS)
        form = self.number(0, 4)
        value = self.expression(scope, self.ex(scope), 2)
        if form == 0:
            self.bind(scope, name)
            return [f"{name}: {annotation} = {value}"]
        if form == 1:
            return [f"{name}: {annotation}"]
        if form == 2:
            self.bind(scope, name)
            return [f"({name}): {annotation} = {value}"]
        base = self.pick(scope.names) if scope.names else "x"
        return [f"{base}[0]: {annotation} = {value}" if form == 3 else f"{base}.{self.pick(ATTRIBUTES)}: {annotation}"]

    def s_expression(self, scope):
        if self.coin(20):
            return [self.pick(STRINGS + ("...", "None", "0.5"))]
        return [self.expression(scope, self.ex(scope), 3)]

    def s_walrus(self, scope):
        name = self.target(scope)
        value = self.expression(scope, self.ex(scope), 2)
        self.bind(scope, name)
        return [f"({name} := {value})"]

    def s_pass(self, scope):
        return ["pass"]

    def s_delete(self, scope):
        if not scope.names:
            return ["pass"]
        a = self.pick(scope.names)
        return [self.pick((f"del {a}", f"del {a}[0]", f"del {a}, {self.pick(scope.names)}", f"del ({a})", f"del {a}.{self.pick(ATTRIBUTES)}", f"del [{a}]"))]

    def s_assert(self, scope):
        test = self.expression(scope, self.ex(scope), 2)
        return [f"assert {test}" + (", 'message'" if self.coin(50) else "")]

    def s_raise(self, scope):
        return [self.pick(("raise", "raise ValueError('no')", "raise ValueError", "raise TypeError('t') from None",
                           f"raise ValueError({self.atom(scope, self.ex(scope))}) from ZeroDivisionError()",
                           "raise NotImplementedError", "raise StopIteration"))]

    def s_import(self, scope):
        form = self.pick(("import numpy as np", "import numpy as np2", "from numpy import cos, tan as tg", "import math",
                          "from math import log as ln", "import numpy.linalg", "import numpy.linalg as la2",
                          "import math, numpy", "from numpy import linalg", "from numpy.linalg import norm"))
        bound = {"import numpy as np": ["np"], "import numpy as np2": ["np2"], "from numpy import cos, tan as tg": ["cos", "tg"],
                 "import math": ["math"], "from math import log as ln": ["ln"], "import numpy.linalg": ["numpy"],
                 "import numpy.linalg as la2": ["la2"], "import math, numpy": ["math", "numpy"],
                 "from numpy import linalg": ["linalg"], "from numpy.linalg import norm": ["norm"]}[form]
        self.bind(scope, *bound)
        return [form]

    def s_lambda(self, scope):
        name = self.target(scope)
        self.bind(scope, name)
        return [f"{name} = {self.lambda_(scope, self.ex(scope))}"]

    def s_yield(self, scope):
        if scope.flavor == "generator":
            form = self.number(0, 3)
            e = self.expression(scope, self.ex(scope), 2)
            if form == 3:
                name = self.target(scope)
                self.bind(scope, name)
                return [f"{name} = yield {e}"]
            return [["yield", f"yield {e}", f"yield from {self.pick(('range(2)', '[1.0, 2.0]', e))}"][form]]
        if scope.flavor == "async generator":
            return [f"yield {self.expression(scope, self.ex(scope), 2)}"]
        if scope.flavor == "async":
            return [f"await {self.atom(scope, self.ex(scope))}"]
        return self.s_assign(scope)

    def s_return(self, scope):
        if scope.no_jump:
            return ["pass"]
        if scope.flavor == "async generator":
            return ["return"]
        e = lambda: self.expression(scope, self.ex(scope), 2)  # noqa: E731
        return [self.pick(("return", f"return {e()}", f"return {e()}, {e()}", f"return ({e()})"))]

    def s_jump(self, scope):
        if scope.in_loop and not scope.no_jump:
            return [self.pick(("break", "continue"))]
        return ["pass"]

    def s_if(self, scope):
        inner = scope.inner()
        lines = [f"if {self.expression(scope, self.ex(scope), 2)}:"] + self.block(inner)
        for _ in range(self.number(0, 2)):
            lines += [f"elif {self.expression(scope, self.ex(scope), 2)}:"] + self.block(inner)
        if self.coin(50):
            lines += ["else:"] + self.block(inner)
        return lines

    def s_for(self, scope):
        target = self.pick((self.target(scope), f"{self.target(scope)}, {self.target(scope)}", f"({self.target(scope)}, *{self.target(scope)})"))
        self.bind(scope, *[t.strip("()* ") for t in target.split(",")])
        iterable = self.iterable(scope, self.ex(scope))
        keyword = "async for" if scope.flavor.startswith("async") and self.coin(30) else "for"
        lines = [f"{keyword} {target} in {iterable}:"] + self.block(scope.inner(in_loop=True))
        if self.coin(25):
            lines += ["else:"] + self.block(scope.inner())
        return lines

    def s_while(self, scope):
        guard = self.new_name("n")
        test = self.pick(("True", "1", self.expression(scope, self.ex(scope), 2)))
        body = self.block(scope.inner(in_loop=True))
        lines = [f"{guard} = 0", f"while {test}:", f"    {guard} += 1", f"    if {guard} > 3:", "        break"] + body
        self.bind(scope, guard)
        if self.coin(25):
            lines += ["else:"] + self.block(scope.inner())
        return lines

    def s_try(self, scope):
        inner = scope.inner()
        lines = ["try:"] + self.block(inner)
        handlers = self.number(0 if self.coin(30) else 1, 3)
        for i in range(handlers):
            bare = i == handlers - 1 and self.coin(15)
            if bare:
                lines.append("except:")
            else:
                name = self.target(scope)
                named = self.coin(40)
                lines.append(f"except {self.pick(EXCEPTIONS)}" + (f" as {name}:" if named else ":"))
                if named:
                    self.bind(scope, name)
            lines += self.block(inner)
        if handlers and self.coin(30):
            lines += ["else:"] + self.block(inner)
        if not handlers or self.coin(30):
            lines += ["finally:"] + self.block(inner)
        return lines

    def s_try_star(self, scope):
        lines = ["try:"] + self.block(scope.inner())
        for _ in range(self.number(1, 2)):
            name = self.target(scope)
            named = self.coin(40)
            lines.append(f"except* {self.pick(EXCEPTIONS[:5] + ('(KeyError, IndexError)',))}" + (f" as {name}:" if named else ":"))
            if named:
                self.bind(scope, name)
            lines += self.block(scope.inner(no_jump=True))
        if self.coin(25):
            lines += ["else:"] + self.block(scope.inner())
        if self.coin(25):
            lines += ["finally:"] + self.block(scope.inner())
        return lines

    def s_with(self, scope):
        items = []
        for _ in range(self.number(1, 2)):
            item = self.pick(WITH_ITEMS + (self.atom(scope, self.ex(scope)),))
            if self.coin(40):
                name = self.target(scope)
                self.bind(scope, name)
                item += f" as {name}" if self.coin(80) else f" as ({name}, {name}_b)"
                if " as (" in item:
                    self.bind(scope, f"{name}_b")
            items.append(item)
        keyword = "async with" if scope.flavor.startswith("async") and self.coin(30) else "with"
        head = f"{keyword} ({', '.join(items)}):" if len(items) > 1 and self.coin(50) else f"{keyword} {', '.join(items)}:"
        return [head] + self.block(scope.inner())

    def s_match(self, scope):
        lines = [f"match {self.expression(scope, self.ex(scope), 2)}:"]
        inner = scope.inner()
        n = self.number(1, 4)
        for i in range(n):
            last = i == n - 1
            pattern = self.pattern(scope, irrefutable_ok=last)
            guard = f" if {self.expression(scope, self.ex(scope), 1)}" if self.coin(25) else ""
            lines.append(f"    case {pattern}{guard}:")
            lines += ["    " + line for line in self.block(inner, 1, 2)]
        return lines

    def pattern(self, scope: Scope, irrefutable_ok: bool, depth: int = 2) -> str:
        names = iter(self.draw(st.permutations(["m0", "m1", "m2", "m3", "m4", "m5"])))

        def capture() -> str:
            name = next(names, "m9")
            self.bind(scope, name)
            return name

        def one(d: int) -> str:
            kind = self.number(0, 9 if d > 0 else 4)
            if kind == 0:
                return self.pick(("0", "1.5", "-1", "'a'", "None", "True", "1 + 2j", "b'x'", "-0.5"))
            if kind == 1:
                return self.pick(("np.pi", "math.e", "np.linalg.LinAlgError"))
            if kind == 2:
                return self.pick(("0 | 1 | 2", "'a' | 'b'", "None | False"))
            if kind == 3:
                return self.pick(("float()", "int() | float()", "np.ndarray()", "complex(real=0.0)", "str()", "list()"))
            if kind == 4:
                return self.pick(("[]", "()", "{}", "[*_]", "{**m6}" if False else "{'k': _}"))
            if kind == 5:
                return f"[{one(d - 1)}, {one(d - 1)}]"
            if kind == 6:
                return f"({one(d - 1)}, *{capture() if self.coin(50) else '_'})"
            if kind == 7:
                return f"{{'k': {one(d - 1)}, **{capture()}}}" if self.coin(50) else f"{{'k': {one(d - 1)}, 1: _}}"
            if kind == 8:
                return f"({one(d - 1)}) as {capture()}"
            return f"float({capture()})" if self.coin(50) else f"[{capture()}, *_]"

        if irrefutable_ok and self.coin(40):
            return self.pick(("_", capture()))
        return one(depth)

    def s_def(self, scope):
        name = self.new_name("g")
        flavor = self.pick(("plain",) * 4 + ("generator", "async"))
        lines = self.function(name, scope, flavor, top=False)
        self.bind(scope, name)
        return lines

    def s_class(self, scope):
        name = self.new_name("K")
        head = self.pick((f"class {name}:", f"class {name}(object):", f"class {name}(metaclass=type):", "class {name}(np.ndarray):".format(name=name)))
        lines = [head]
        if self.coin(30):
            lines.append("    '''A class.'''")
        body = []
        for _ in range(self.number(1, 3)):
            kind = self.number(0, 3)
            if kind == 0:
                body.append(f"{self.pick(VARIABLES)} = {self.pick(FLOATS)}")
            elif kind == 1:
                body.append(f"{self.pick(VARIABLES)}: {self.pick(ANNOTATIONS)} = {self.pick(FLOATS)}")
            else:
                decorator = self.pick(("", "@staticmethod", "@property", "@classmethod"))
                method = self.new_name("m")
                if decorator:
                    body.append(decorator)
                params = "x" if decorator == "@staticmethod" else ("cls, x" if decorator == "@classmethod" else "self" if decorator == "@property" else "self, x")
                body += [f"def {method}({params}):", f"    return {self.expression(Scope(names=params.replace(' ', '').split(',')), Ex(), 2)}"]
        lines += ["    " + line for line in body]
        self.bind(scope, name)
        return lines

    # expressions --------------------------------------------------------------

    def readable(self, scope: Scope, ex: Ex) -> list[str]:
        return list(scope.names) + list(ex.extra) + self.globals

    def atom(self, scope: Scope, ex: Ex) -> str:
        kind = self.number(0, 9) if self.wild else self.pick((0, 0, 0, 0, 0, 0, 0, 5, 5, 5, 7, 9))
        names = self.readable(scope, ex)
        if kind <= 4 and names:
            return self.pick(names)
        if kind <= 6:
            return self.pick(FLOATS)
        if kind == 7:
            return self.pick(INTS)
        if kind == 8:
            return self.pick(STRINGS + OTHER_CONSTANTS)
        return self.pick(NP_CONSTRUCTORS)

    def paren(self, text: str) -> str:
        return text if re.fullmatch(r"[A-Za-z_][\w.]*", text) else f"({text})"

    def expression(self, scope: Scope, ex: Ex, depth: int) -> str:
        if depth <= 0 or self.coin(20):
            return self.atom(scope, ex)
        d = depth - 1
        e = lambda: self.expression(scope, ex, d)  # noqa: E731
        if self.wild or self.coin(2):
            kind = self.pick(("binary",) * 5 + ("numpy",) * 4 + ("unary", "compare", "boolean", "conditional", "call",
                              "builtin", "method", "subscript", "attribute", "lambda", "comprehension", "fstring", "display",
                              "walrus", "await", "yield", "starred call", "math", "string"))
        else:
            kind = self.pick(("binary",) * 8 + ("numpy",) * 6 + ("unary", "compare", "conditional", "call", "call", "builtin",
                              "method", "subscript", "subscript", "comprehension", "math"))
        if kind == "binary":
            return f"{self.paren(e())} {self.pick(BINOPS)} {self.paren(e())}"
        if kind == "unary":
            return f"{self.pick(UNARY)}{self.paren(e())}"
        if kind == "compare":
            parts = [self.paren(e())]
            for _ in range(self.number(1, 3)):
                parts += [self.pick(COMPARE), self.paren(e())]
            return " ".join(parts)
        if kind == "boolean":
            return f"{self.paren(e())} {self.pick(('and', 'or'))} {self.paren(e())}" + (f" or {self.paren(e())}" if self.coin(30) else "")
        if kind == "conditional":
            return f"{self.paren(e())} if {self.paren(e())} else {self.paren(e())}"
        if kind == "numpy":
            return self.numpy_call(scope, ex, d)
        if kind == "math":
            if self.math:
                return f"{self.math}.{self.pick(MATH_UNARY)}({e()})"
            if self.math_functions:
                return f"{self.pick(self.math_functions)}({e()})"
            return self.numpy_call(scope, ex, d)
        if kind == "call":
            return self.user_call(scope, ex, d)
        if kind == "builtin":
            fn = self.pick(("len", "abs", "min", "max", "sum", "float", "int", "list", "tuple", "sorted", "isinstance", "range", "round", "bool", "enumerate", "zip", "reversed", "divmod", "pow"))
            if not self.wild:
                fn = self.pick(("len", "abs", "min", "max", "sum", "float"))
            if fn in ("min", "max", "zip", "divmod", "pow"):
                return f"{fn}({e()}, {e()})"
            if fn == "isinstance":
                return f"isinstance({e()}, {self.pick(('float', '(int, float)', 'np.ndarray'))})"
            if fn == "range":
                return f"range({self.pick(INTS)}" + (f", {self.pick(INTS)})" if self.coin(50) else ")")
            return f"{fn}({e()})"
        if kind == "method":
            return f"{self.paren(e())}.{self.pick(METHODS).format(self.atom(scope, ex))}"
        if kind == "subscript":
            return f"{self.paren(e())}[{self.index(scope, ex)}]"
        if kind == "attribute":
            return f"{self.paren(e())}.{self.pick(ATTRIBUTES)}"
        if kind == "lambda":
            return self.lambda_(scope, ex, call=self.coin(60))
        if kind == "comprehension":
            return self.comprehension(scope, ex, d)
        if kind == "fstring":
            return self.fstring(scope, ex)
        if kind == "display":
            form = self.number(0, 7)
            return [f"({e()}, {e()})", f"({e()},)", "()", f"[{e()}, *{self.paren(e())}]", f"{{{e()}, {e()}}}",
                    f"{{'k': {e()}, **{{'j': {e()}}}}}", f"[{e()}]", "{}"][form]
        if kind == "walrus" and ex.walrus_ok:
            name = self.target(scope)
            value = e()
            self.bind(scope, name)
            return f"({name} := {value})"
        if kind == "await" and ex.await_ok:
            return f"(await {self.paren(e())})"
        if kind == "yield" and ex.yield_ok:
            if scope.flavor == "generator" and self.coin(30):
                return f"(yield from {self.paren(e())})"
            return self.pick(("(yield)", f"(yield {e()})"))
        if kind == "starred call":
            callee = self.pick(self.callables(scope))
            return f"{callee}(*{self.paren(e())}, **{{'k': {e()}}})" if self.coin(50) else f"{callee}({e()}, *[{e()}], axis={self.pick(INTS)}, **{self.pick(('{}', 'dict(keepdims=True)'))})"
        if kind == "string":
            return self.pick(("'a' 'b'", "'%s' % 1.0", "'{}'.format(1.0)", "'a' + 'b'", "b'a' b'b'", "'''t'''"))
        return f"{self.paren(e())} {self.pick(BINOPS)} {self.paren(e())}"

    def callables(self, scope: Scope) -> list[str]:
        found = [f"np.{f}" for f in NP_UNARY[:6]] + self.np_functions + [f[0] for f in self.functions]
        return found

    def numpy_call(self, scope: Scope, ex: Ex, depth: int) -> str:
        e = lambda: self.expression(scope, ex, depth)  # noqa: E731
        np_ = "np"
        form = self.number(0, 9)
        if form <= 3:
            fn = self.pick(NP_UNARY)
            extra = self.pick(("", "", "", ", axis=0", ", axis=-1, keepdims=True", ", keepdims=False", ", out=None"))
            return f"{np_}.{fn}({e()}{extra if fn in ('sum', 'mean', 'max', 'min', 'prod', 'cumsum', 'std', 'var') else ''})"
        if form <= 5:
            fn = self.pick(NP_BINARY)
            third = f", {e()}" if fn == "where" else ""
            return f"{np_}.{fn}({e()}, {e()}{third})"
        if form == 6 and self.np_functions:
            return f"{self.pick(self.np_functions)}({e()})"
        if form == 7:
            return f"{np_}.linalg.{self.pick(('norm', 'inv', 'det', 'solve', 'eigh'))}({e()})"
        if form == 8:
            return f"{np_}.{self.pick(('clip', 'einsum', 'concatenate', 'stack', 'reshape', 'tensordot', 'full_like', 'broadcast_to'))}(" + self.pick((
                f"{e()}, 0.0, 1.0", f"'i,i->', {e()}, {e()}", f"[{e()}, {e()}]", f"({e()}, {e()}), axis=0", f"{e()}, (-1,)", f"{e()}, {e()}, axes=1", f"{e()}, 2.0", f"{e()}, (2, 3)")) + ")"
        return f"{np_}.{self.pick(NP_UNARY)}({e()})"

    def user_call(self, scope: Scope, ex: Ex, depth: int) -> str:
        e = lambda: self.expression(scope, ex, depth)  # noqa: E731
        local_functions = [n for n in scope.names if n.startswith(("g", "K", "f"))]
        if not self.functions and not local_functions:
            return self.numpy_call(scope, ex, depth)
        if local_functions and (not self.functions or self.coin(40)):
            return f"{self.pick(local_functions)}({', '.join(e() for _ in range(self.number(0, 2)))})"
        name, required, total = self.pick(self.functions)
        n = required if self.coin(80) else self.number(0, total + 1)
        args = [e() for _ in range(n)]
        if self.coin(15):
            args.append(f"{self.pick(PARAMETERS)}={e()}")
        return f"{name}({', '.join(args)})"

    def index(self, scope: Scope, ex: Ex | None = None) -> str:
        ex = ex or self.ex(scope)
        a = lambda: self.pick(INTS + tuple(n for n in self.readable(scope, ex) if n in ("i", "k", "n")))  # noqa: E731
        return self.pick((a(), f"{a()}:{a()}", "::2", f"{a()}:", f":{a()}", "::-1", f"{a()}, :", ":, 0", "..., None",
                          "None", f"{a()}:{a()}:{a()}", f"[{a()}, {a()}]", "()", f"{self.atom(scope, ex)} > 0"))

    def iterable(self, scope: Scope, ex: Ex) -> str:
        names = self.readable(scope, ex)
        return self.pick((f"range({self.pick(INTS[1:4])})", f"range(1, {self.pick(INTS[1:4])})", "[0.5, 1.5]",
                          "np.arange(3.0)", "enumerate([1.0, 2.0])", "zip([1.0], [2.0])", "(1.0, 2.0)",
                          self.pick(names) if names else "()", "np.ones((2, 2))", "'ab'", "{'k': 1.0}"))

    def lambda_(self, scope: Scope, ex: Ex, call: bool = False) -> str:
        params = self.pick(("", "a", "a, b=1.0", "*a", "a, /, b", "*, k=0.5", "**kw", "a, *b, c=2.0, **d"))
        bound = tuple(p.strip("*/ ").split("=")[0] for p in params.split(",") if p.strip("*/ "))
        inner = Ex(extra=ex.extra + bound, await_ok=False, yield_ok=False, walrus_ok=False)
        text = f"(lambda {params}: {self.expression(scope, inner, 2)})".replace("lambda :", "lambda:")
        if call:
            text += f"({', '.join(self.atom(scope, ex) for _ in range(self.number(0, 2)))})"
        return text

    def comprehension(self, scope: Scope, ex: Ex, depth: int) -> str:
        clauses = []
        variables: list[str] = []
        inner = dataclasses.replace(ex, yield_ok=False, walrus_ok=False)
        for _ in range(self.number(1, 2)):
            var = self.pick(("j", "e", "r", "q"))
            target = var if self.coin(75) else f"{var}, {var}2"
            iterable = self.iterable(scope, dataclasses.replace(inner, extra=inner.extra + tuple(variables)))
            variables += [var, f"{var}2"] if "," in target else [var]
            keyword = "async for" if ex.await_ok and self.coin(20) else "for"
            clauses.append(f"{keyword} {target} in {iterable}")
            inner = dataclasses.replace(inner, extra=inner.extra + tuple(variables))
            if self.coin(30):
                clauses.append(f"if {self.paren(self.expression(scope, inner, 1))}")
        element = self.expression(scope, inner, depth)
        kind = self.number(0, 3)
        body = " ".join(clauses)
        if kind == 0:
            return f"[{element} {body}]"
        if kind == 1:
            return f"{{{element} {body}}}"
        if kind == 2:
            return f"{{{self.atom(scope, inner)}: {element} {body}}}"
        return f"({element} {body})"

    def fstring(self, scope: Scope, ex: Ex) -> str:
        names = [n for n in self.readable(scope, ex)] or ["1.0"]
        parts = []
        for _ in range(self.number(1, 3)):
            inside = self.pick(names)
            form = self.number(0, 5)
            parts.append(["{%s}" % inside, "{%s!r}" % inside, "{%s:.3f}" % inside, "{%s=}" % inside,
                          "{%s:>10}" % inside, "{{literal}} {%s!s:^8}" % inside][form])
        return "f'" + " ".join(parts) + "'"


@st.composite
def programs(draw) -> tuple[str, bool]:
    """(source, mutated): a generated module of functions, sometimes mutated."""
    writer = Writer(draw)
    source = writer.module()
    if draw(st.integers(0, 99)) < 35:
        return mutate(draw, source), True
    return source, False


def mutate(draw, source: str) -> str:
    for _ in range(draw(st.integers(1, 3))):
        lines = source.split("\n")
        kind = draw(st.integers(0, 8))
        at = draw(st.integers(0, len(source)))
        line = draw(st.integers(0, max(0, len(lines) - 1)))
        if kind == 0:  # delete a span
            source = source[:at] + source[at + draw(st.integers(1, 12)) :]
        elif kind in (1, 2):  # insert a token
            source = source[:at] + draw(st.sampled_from(MUTATION_TOKENS)) + source[at:]
        elif kind == 3:  # duplicate a line
            lines.insert(line, lines[line])
            source = "\n".join(lines)
        elif kind == 4:  # delete a line
            del lines[line]
            source = "\n".join(lines)
        elif kind == 5:  # swap two lines
            other = draw(st.integers(0, max(0, len(lines) - 1)))
            lines[line], lines[other] = lines[other], lines[line]
            source = "\n".join(lines)
        elif kind == 6:  # change a line's indentation
            lines[line] = draw(st.sampled_from(("", " ", "  ", "    ", "\t", "        "))) + lines[line].lstrip(" ")
            source = "\n".join(lines)
        elif kind == 7:  # truncate
            source = source[:at]
        else:  # replace a character
            source = source[:at] + draw(st.sampled_from(MUTATION_TOKENS))[:1] + source[at + 1 :]
    return source


_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(([^)]*)", re.MULTILINE)


def functions_in_text(source: str) -> list[tuple[str, list[str]]]:
    """Top-level functions and their parameters, from the tree when the
    source parses, else from the text (names a mutated file may still hold)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        found = []
        for match in _DEF.finditer(source):
            params = [p.strip(" */").split(":")[0].split("=")[0].strip() for p in match.group(2).split(",")]
            found.append((match.group(1), [p for p in params if p.isidentifier()]))
        return found[:3] or [("f0", ["x"])]
    return [(f.name, parameter_names(f)) for f in top_level_functions(tree)]


_program_counter = itertools.count()


def check_program(source: str, mutated: bool, workdir: Path, tally: Tally, *, run: bool = True) -> None:
    """Both entry points on one program; findings go to ``tally``."""
    tally.count("programs")
    tally.count("programs mutated" if mutated else "programs generated")
    directory = Path(tempfile.mkdtemp(dir=workdir))
    path = directory / f"s2s_fuzz_{os.getpid()}_{next(_program_counter)}.py"
    path.write_bytes(source.encode("utf-8", "surrogatepass"))
    try:
        ast.parse(source)
        tally.count("programs that parse")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    functions = functions_in_text(source)[:3]
    for name, params in functions:
        tally.count("functions")
        wrt_choices = [tuple(params[:1]) or ("x",)]
        if len(params) > 1:
            wrt_choices.append(tuple(params[-2:]))
        internal = False
        for mode in MODES:
            for wrt in wrt_choices:
                outcome = run_derivative_source(path, name, wrt, mode, tally, source=source)
                tally.count(f"derivative_source {mode}: {outcome}")
                internal = internal or (outcome == "internal" and mode == "auto" and wrt == wrt_choices[0])
        outcome = run_main(path, name, ",".join(wrt_choices[0]), "auto", tally, source=source, internal_expected=internal)
        tally.count(f"main auto: {outcome}")
    module, why = import_program(path, source)
    tally.count(f"decorator path: {why}")
    if module is None:
        return
    try:
        for name, _ in functions:
            fn = getattr(module, name, None)
            if not inspect.isfunction(fn):
                continue
            params = list(inspect.signature(fn).parameters)
            wrt = params[0] if params else "x"
            for mode in MODES:
                outcome = run_decorator_source(fn, wrt, mode, str(path), tally, source)
                tally.count(f"differentiate().source() {mode}: {outcome}")
            if run and not mutated:
                for record in run_in_child(fn, wrt, MODES, {str(path)}):
                    note_child_record(record, fn.__name__, wrt, tally, source)
    finally:
        sys.modules.pop(path.stem, None)


def note_child_record(record: dict, function: str, wrt: str, tally: Tally, source: str) -> None:
    stage, outcome = record.get("stage", "?"), record.get("outcome", "?")
    if outcome == "started":
        return
    if outcome == "raised":
        outcome = "raised (the user's code)"
    tally.count(f"{stage}: {outcome}")
    mode = stage.split()[-1] if stage.startswith("derivative") else "-"
    if outcome == "internal":
        tally.add(Finding("derivative()", mode, record["error"], record["message"], record["frame"], function, (wrt,), source))
    elif outcome == "S2SError" and record.get("problem"):
        tally.add(Finding("derivative()", mode, record["problem"], record["message"], record["frame"], function, (wrt,), source))
    elif outcome in ("hung", "died") and stage.startswith("derivative"):
        tally.add(Finding("derivative()", mode, f"derivative {outcome}", f"the primal returned; {stage} {outcome}", f"(child process, {stage})", function, (wrt,), source))


def reproduce(finding: Finding, source: str, workdir: Path) -> tuple[str, str] | None:
    """The key of the same entry point's finding on ``source``, if any."""
    tally = Tally()
    directory = Path(tempfile.mkdtemp(dir=workdir))
    path = directory / f"s2s_shrink_{os.getpid()}_{next(_program_counter)}.py"
    path.write_bytes(source.encode("utf-8", "surrogatepass"))
    if finding.entry == "derivative_source":
        run_derivative_source(path, finding.function, finding.wrt, finding.mode, tally, source=source)
    elif finding.entry == "main":
        run_main(path, finding.function, ",".join(finding.wrt), finding.mode, tally, source=source)
    else:
        module, _ = import_program(path, source)
        fn = getattr(module, finding.function, None) if module is not None else None
        if not inspect.isfunction(fn):
            return None
        try:
            if finding.entry == "differentiate().source()":
                run_decorator_source(fn, finding.wrt[0], finding.mode, str(path), tally, source)
            else:
                modes = (finding.mode,) if finding.mode in MODES else MODES
                for record in run_in_child(fn, finding.wrt[0], modes, {str(path)}):
                    note_child_record(record, finding.function, finding.wrt[0], tally, source)
        finally:
            sys.modules.pop(path.stem, None)
    return finding.key if finding.key in tally.findings else None


def shrink(finding: Finding, source: str, seconds: float) -> str | None:
    """``source`` with lines removed (or emptied to ``pass``) while the same
    finding still comes from it; None if the source does not reproduce it."""
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory(prefix="s2s-shrink-") as workdir:
        work = Path(workdir)
        if reproduce(finding, source, work) is None:
            return None
        lines = source.split("\n")
        # a long file: first try the function alone with the module's imports
        if len(lines) > 60:
            with contextlib.suppress(SyntaxError, ValueError):
                tree = ast.parse(source)
                keep = [ast.get_source_segment(source, s) for s in tree.body if isinstance(s, (ast.Import, ast.ImportFrom))]
                target = [s for s in top_level_functions(tree) if s.name == finding.function]
                if target:
                    candidate = "\n".join(keep + ["", "", ast.get_source_segment(source, target[0], padded=False)]) + "\n"
                    if reproduce(finding, candidate, work):
                        lines = candidate.split("\n")
        changed = True
        while changed and time.monotonic() < deadline:
            changed = False
            for size in (16, 8, 4, 2, 1):
                i = 0
                while i < len(lines) and time.monotonic() < deadline:
                    candidate = lines[:i] + lines[i + size :]
                    if candidate and reproduce(finding, "\n".join(candidate), work):
                        lines, changed = candidate, True
                    else:
                        i += size
            for i in range(len(lines)):
                if time.monotonic() > deadline:
                    break
                stripped = lines[i].strip()
                if stripped in ("", "pass") or stripped.startswith(("def ", "async def ", "class ")) or stripped.endswith(":"):
                    continue
                candidate = lines[:i] + [lines[i][: len(lines[i]) - len(lines[i].lstrip())] + "pass"] + lines[i + 1 :]
                if reproduce(finding, "\n".join(candidate), work):
                    lines, changed = candidate, True
        return "\n".join(line for line in lines if line.strip() != "") + "\n"


def shrink_findings(tally: Tally) -> None:
    for same in tally.findings.values():
        finding = same[0]
        if finding.source:
            with contextlib.suppress(Exception):
                smaller = shrink(finding, finding.source, SHRINK_SECONDS)
                if smaller:
                    finding.source = smaller


def report(tally: Tally) -> str:
    parts = [f"{len(tally.findings)} distinct internal exception(s) or contract breaches:"]
    for (error, frame), same in sorted(tally.findings.items()):
        parts.append(same[0].describe())
        occurrences = sum(1 for _ in same)
        if occurrences > 1:
            parts.append(f"  (and {occurrences - 1} more kept example(s))")
    return "\n\n".join(parts)


PROGRAM_SETTINGS = settings(
    max_examples=PROGRAM_EXAMPLES,
    deadline=None,
    derandomize=not LONG,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def run_programs(tally: Tally, workdir: Path, examples: int = PROGRAM_EXAMPLES, progress=None) -> None:
    @settings(PROGRAM_SETTINGS, max_examples=examples)
    @given(programs())
    def check(program):
        source, mutated = program
        check_program(source, mutated, workdir, tally)
        if progress:
            progress(tally)

    check()


def test_generated_programs(tmp_path, capsys):
    """Programs of every syntax form of Python 3.11, some mutated into
    invalid source, through both entry points in every mode."""
    started = time.monotonic()
    tally = Tally()
    run_programs(tally, tmp_path)
    shrink_findings(tally)
    if LONG:
        with capsys.disabled():
            print(f"\n{tally.summary(f'generated programs ({time.monotonic() - started:.0f} s)')}")
    assert tally.counts["programs"] > 0
    if tally.findings:
        pytest.fail(report(tally), pytrace=False)


def test_generated_programs_are_mostly_valid_python():
    """The grammar itself: most unmutated programs parse and compile, so
    that the fuzzing reaches past the parser."""
    compiled = parsed = total = 0

    @settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(programs())
    def count(program):
        nonlocal compiled, parsed, total
        source, mutated = program
        if mutated:
            return
        total += 1
        try:
            tree = ast.parse(source)
            parsed += 1
            compile(tree, "<program>", "exec")
            compiled += 1
        except SyntaxError:
            pass

    count()
    assert total and parsed == total, f"{total - parsed} of {total} generated programs do not parse"
    assert compiled >= 0.8 * total, f"only {compiled} of {total} generated programs compile"


# ===========================================================================
# As a script: the same runs, with counts and findings printed


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="store_true", help="only the standard library")
    parser.add_argument("--programs", action="store_true", help="only generated programs")
    parser.add_argument("--examples", type=int, default=PROGRAM_EXAMPLES, help="generated programs to try")
    options = parser.parse_args()
    both = not (options.corpus or options.programs)
    os.environ.setdefault("S2S_CACHE_DIR", tempfile.mkdtemp(prefix="s2s-fuzz-cache-"))
    failed = False
    if both or options.corpus:
        started = time.monotonic()
        corpus = Tally()
        sample = corpus_sample()

        def corpus_progress(done, total, path):
            if done % 25 == 0 or done == total:
                print(f"  corpus: {done}/{total} files, {corpus.counts['functions']} functions, {len(corpus.findings)} distinct findings, {time.monotonic() - started:.0f} s", flush=True)

        run_corpus(sample, corpus, corpus_progress)
        corpus_findings_to_snippets(corpus)
        print(corpus.summary(f"standard library corpus ({time.monotonic() - started:.0f} s)"))
        if corpus.findings:
            print(report(corpus))
            failed = True
    if both or options.programs:
        started = time.monotonic()
        generated = Tally()

        def program_progress(tally):
            if tally.counts["programs"] % 100 == 0:
                print(f"  programs: {tally.counts['programs']}, {len(tally.findings)} distinct findings, {time.monotonic() - started:.0f} s", flush=True)

        with tempfile.TemporaryDirectory(prefix="s2s-fuzz-") as workdir:
            run_programs(generated, Path(workdir), options.examples, program_progress)
            shrink_findings(generated)
        print(generated.summary(f"generated programs ({time.monotonic() - started:.0f} s)"))
        if generated.findings:
            print(report(generated))
            failed = True
    raise SystemExit(1 if failed else 0)
