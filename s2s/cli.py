"""The s2s command line: print the derivative of a function in a file.

The file is read as text and never executed: its imports of numpy and math
are understood statically, and its other globals (data arrays) stay names in
the generated code, to be resolved when the module is used.
"""

from __future__ import annotations

import argparse
import io
import keyword
import os
import sys
import token
import tokenize
from pathlib import Path

from . import __version__
from .errors import S2SError

EXAMPLE = """\
examples:
  s2s examples/gaussian_fit.py rs --wrt xs
  s2s model.py loss --wrt w,b --mode reverse --output loss_grad.py

The output is the module s2s generates and runs for the same function and
options (what `differentiate(f, wrt=...).source()` returns).

The disk cache of generated modules:
  s2s cache info     where it is, how many modules, their size
  s2s cache clear    remove them
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s2s",
        description="Print the derivative of a Python/numpy function, as readable Python code.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", help="the Python file defining the function (read, never executed)")
    parser.add_argument("function", help="the name of a top-level function in FILE")
    parser.add_argument("--wrt", required=True, metavar="NAME[,NAME]", help="parameters to differentiate with respect to")
    parser.add_argument(
        "--mode",
        choices=("forward", "reverse", "auto"),
        default="auto",
        help="forward (tangent) or reverse (adjoint) mode; auto picks reverse when the "
        "function returns a scalar by construction, forward otherwise (default: auto)",
    )
    parser.add_argument("--output", "-o", metavar="PATH", help="write the module to PATH instead of standard output")
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="highlight the output's syntax (default: auto, when writing to a terminal)",
    )
    parser.add_argument("--version", action="version", version=f"s2s {__version__}")
    return parser


def derivative_source(path: str, function: str, wrt: tuple[str, ...], mode: str) -> str:
    """The derivative module for ``function`` in the file at ``path``."""
    from .frontend import load_from_file
    from .generate import generate, static_mode

    fn = load_from_file(path, function)
    if mode == "auto":
        mode = static_mode(fn, wrt)
    return generate(fn, wrt, mode).source


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cache"] and not Path("cache").is_file():
        return cache_command(argv[1:])
    args = _parser().parse_args(argv)
    wrt = tuple(w.strip() for w in args.wrt.split(",") if w.strip())
    try:
        source = derivative_source(args.file, args.function, wrt, args.mode)
    except S2SError as err:
        print(f"s2s: {err.one_line()}", file=sys.stderr)
        return 1
    except RecursionError:
        print(f"s2s: {args.file}: the function is too deeply nested to differentiate", file=sys.stderr)
        return 1
    except Exception as exc:  # never a traceback; but say it is our fault
        print(f"s2s: internal error while differentiating {args.function} in {args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    if args.output:
        try:
            Path(args.output).write_text(source)
        except OSError as exc:
            print(f"s2s: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    sys.stdout.write(highlight(source) if color else source)
    return 0


def cache_command(argv: list[str]) -> int:
    """``s2s cache info`` and ``s2s cache clear``."""
    from .cache import default_directory, module_cache

    parser = argparse.ArgumentParser(prog="s2s cache", description="Inspect or empty the disk cache of generated derivative modules.")
    parser.add_argument("action", choices=("info", "clear"), help="info: location, number of modules and size; clear: remove them")
    parser.add_argument("--dir", metavar="PATH", help="the cache directory (default: S2S_CACHE_DIR, else $XDG_CACHE_HOME/s2s, else ~/.cache/s2s)")
    args = parser.parse_args(argv)
    cache = module_cache(args.dir if args.dir else default_directory())
    if args.action == "clear":
        removed = cache.clear()
        print(f"removed {removed} module{'s' if removed != 1 else ''} from {cache.directory}")
        return 0
    print(f"s2s cache: {cache.directory}")
    if not cache.directory.is_dir():
        print("  empty (not created yet)")
        return 0
    entries = cache.entries()
    size = sum(p.stat().st_size for p in entries)
    print(f"  {len(entries)} module{'s' if len(entries) != 1 else ''}, {size / 1000:.1f} kB")
    return 0


# --------------------------------------------------------------------------
# Syntax highlighting with ANSI colors, from the tokenize module

_STYLE = {
    "keyword": "\033[1;34m",
    "string": "\033[32m",
    "number": "\033[36m",
    "comment": "\033[90m",
    "definition": "\033[1;33m",
}
_RESET = "\033[0m"


def highlight(source: str) -> str:
    """``source`` with ANSI colors for keywords, names defined, strings,
    numbers and comments."""
    out: list[str] = []
    lines = source.splitlines(keepends=True)
    row, col = 1, 0
    previous = ""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source
    for tok in tokens:
        (srow, scol), (erow, ecol) = tok.start, tok.end
        out.append(_between(lines, row, col, srow, scol))
        style = _token_style(tok, previous)
        text = tok.string
        out.append(f"{_STYLE[style]}{text}{_RESET}" if style and text else text)
        row, col = erow, ecol
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
            previous = tok.string
    return "".join(out)


def _token_style(tok: tokenize.TokenInfo, previous: str) -> str | None:
    if tok.type == token.NAME:
        if previous in ("def", "class"):
            return "definition"
        if keyword.iskeyword(tok.string):
            return "keyword"
        return None
    return {token.STRING: "string", token.NUMBER: "number", tokenize.COMMENT: "comment"}.get(tok.type)


def _between(lines: list[str], row: int, col: int, srow: int, scol: int) -> str:
    """The source text between two token positions (white space, newlines)."""
    if (row, col) >= (srow, scol):
        return ""
    if row == srow:
        return lines[row - 1][col:scol] if row - 1 < len(lines) else ""
    parts = [lines[row - 1][col:]] if row - 1 < len(lines) else []
    parts += lines[row : srow - 1]
    parts.append(lines[srow - 1][:scol] if srow - 1 < len(lines) else "")
    return "".join(parts)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
