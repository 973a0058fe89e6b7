"""The disk cache of generated derivative modules.

Entry points: ``cache_key(fn, wrt, mode)`` and ``ModuleCache`` (``get``,
``put``, ``entries``, ``clear``), found with ``module_cache(directory)``.

A derivative is generated once per change of the user's code, not once per
process. The key is a hash of the s2s, Python and numpy versions, ``wrt``,
the mode, and a fingerprint of the function: its source text, file and
line, and what each global and closure name it reads denotes — numpy's
``exp``, a data array, or another user function, whose fingerprint is
included in turn. So editing the function or any function it calls gives a
new key; editing an unrelated function does not; and a name that now means
something else (``from math import exp`` instead of numpy's) is noticed. The
key is computed without parsing anything: a hit costs reading the function's
source lines, the entry file, and compiling the module.

Each entry is one file, ``<key>.py``: the module as generated, with the key
added to its header and a checksum as its last line. Writes go to a
temporary file in the same directory, renamed into place, so no reader ever
sees a torn file. A file that fails its checks (truncated, corrupt, another
key, unsafe permissions) is ignored, reported once, and written again.
Loading a module executes it, so s2s reads only from a directory and files
that its user owns and no one else may write to; otherwise, and when the
disk is read-only or full, derivatives are generated in memory, with a
warning.
"""

from __future__ import annotations

import functools
import hashlib
import linecache
import os
import platform
import re
import sys
import tempfile
import threading
import types
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from . import __version__
from .errors import S2SWarning

KEY_LENGTH = 40
_KEY_LINE = "# Cache key {key}."
_CHECKSUM_PREFIX = "# sha256 of the lines above: "
_ENTRY = re.compile(rf"^[0-9a-f]{{{KEY_LENGTH}}}\.py$")


# --------------------------------------------------------------------------
# Where


def default_directory() -> Path:
    """``S2S_CACHE_DIR``, else ``$XDG_CACHE_HOME/s2s``, else ``~/.cache/s2s``."""
    explicit = os.environ.get("S2S_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "s2s"


_caches: dict[Path, "ModuleCache"] = {}
_caches_lock = threading.Lock()


def module_cache(directory: str | os.PathLike | None = None) -> "ModuleCache":
    """The cache in ``directory`` (default: ``default_directory()``), one
    object per directory so that each problem is reported once."""
    path = Path(directory).expanduser() if directory is not None else default_directory()
    path = path.absolute()
    with _caches_lock:
        cache = _caches.get(path)
        if cache is None:
            cache = _caches[path] = ModuleCache(path)
        return cache


# --------------------------------------------------------------------------
# The key


def cache_key(fn: types.FunctionType, wrt: Sequence[str], mode: str) -> str:
    """The key of ``fn``'s ``mode`` derivative w.r.t. ``wrt``."""
    digest = hashlib.sha256(repr((compiler_fingerprint(), tuple(wrt), mode, _fingerprint(fn, {}))).encode())
    return digest.hexdigest()[:KEY_LENGTH]


@functools.cache
def compiler_fingerprint() -> tuple:
    """The versions of s2s, Python and numpy, and the size and time of each
    of s2s's own files: a changed compiler (an upgrade, or a checkout under
    development with the same version number) writes new modules."""
    files = tuple(_source_files(os.path.dirname(__file__), ""))
    return ("s2s", __version__, platform.python_implementation(), platform.python_version(), "numpy", np.__version__, files)


def _source_files(directory: str, prefix: str) -> Iterator[tuple[str, int, int]]:
    """(path, size, time) of each .py file below ``directory``, in name
    order: os.scandir, since pathlib's walk takes 0.8 ms of a warm first
    call's 5."""
    for entry in sorted(os.scandir(directory), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            yield from _source_files(entry.path, f"{prefix}{entry.name}/")
        elif entry.name.endswith(".py"):
            status = entry.stat()
            yield (prefix + entry.name, status.st_size, status.st_mtime_ns)


def _fingerprint(fn: types.FunctionType, memo: dict[Any, str]) -> str:
    """A hash of what s2s reads of ``fn``: its source and where it is, and
    what each free name it reads denotes (user functions by their own
    fingerprints)."""
    from .frontend import LiveScope, display_path

    fn = getattr(fn, "__s2s_primal__", fn)
    if fn in memo:
        return memo[fn]
    memo[fn] = f"recursion into {fn.__module__}.{fn.__qualname__}"
    code = fn.__code__
    parts: list[Any] = [fn.__module__, fn.__qualname__, display_path(code.co_filename), code.co_firstlineno, _source_lines(code)]
    scope = LiveScope(fn, set())
    names = _free_names(code)
    for name in sorted(names):
        parts.append((name, _denotes(scope.resolve(name), names, memo)))
    memo[fn] = hashlib.sha256(repr(parts).encode()).hexdigest()
    return memo[fn]


def _source_lines(code: types.CodeType) -> str:
    """The lines of the file from the function's first line (its first
    decorator) to the last line any of its code comes from: its source,
    read without tokenizing (``inspect.getsource`` costs milliseconds)."""
    linecache.checkcache(code.co_filename)  # the file may have changed since it was read
    lines = linecache.getlines(code.co_filename)
    return "".join(lines[code.co_firstlineno - 1 : _last_line(code)])


def _last_line(code: types.CodeType) -> int:
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=code.co_firstlineno)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            last = max(last, _last_line(const))
    return last


def _free_names(code: types.CodeType) -> set[str]:
    """Global, attribute and closure names that ``code`` and the code nested
    in it (comprehensions) read."""
    names = set(code.co_names) | set(code.co_freevars)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _free_names(const)
    return names


def _denotes(ref: Any, names: set[str], memo: dict[Any, str]) -> Any:
    from .frontend import DataRef, FunctionRef, ModuleRef, classify_value

    if isinstance(ref, FunctionRef):
        return ("function", _fingerprint(ref.identity, memo))  # type: ignore[arg-type]
    if isinstance(ref, DataRef):
        return ("data",)  # read by name when the derivative runs: its value is not part of the code
    if isinstance(ref, ModuleRef) and ref.module is not None:  # a user module: what its attributes we read denote
        attributes = sorted(n for n in names if hasattr(ref.module, n))
        found = [(n, classify_value(getattr(ref.module, n), n, "global")) for n in attributes]
        return ("module", ref.name, [(n, _denotes(r, set(), memo) if isinstance(r, FunctionRef) else repr(r)) for n, r in found])
    return repr(ref)


# --------------------------------------------------------------------------
# The files


class ModuleCache:
    """Generated modules in one directory, ``<key>.py`` each."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._usable: bool | None = None
        self._reported: set[str] = set()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<s2s.ModuleCache {str(self.directory)!r}>"

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.py"

    def get(self, key: str) -> "CachedModule | None":
        """The module stored under ``key``, or ``None`` (not there, or not
        trustworthy: reported once, to be generated again)."""
        if not self.usable():
            return None
        path = self.path(key)
        try:
            status = path.stat()
            problem = _unsafe(status)
            if problem is not None:
                self.report(f"s2s is not loading {path}: {problem}; generating the derivative again")
                return None
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.report(f"s2s cannot read {path} ({exc.strerror or exc}); generating the derivative again")
            return None
        stored, problem = _unpack(data, key)
        if stored is None:
            self.report(f"s2s is ignoring the cache file {path}: {problem}; generating the derivative again")
            return None
        return CachedModule(path, stored, _without_key(stored, key))

    def put(self, key: str, module: str) -> "CachedModule | None":
        """Store ``module`` under ``key``, atomically; on failure (read-only
        or full disk), warn once and carry on."""
        if not self.usable():
            return None
        text = _pack(module, key)
        temporary = None
        try:
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.replace(temporary, self.path(key))
        except OSError as exc:
            if temporary is not None:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
            self.report(f"s2s cannot write to its cache directory {self.directory} ({exc.strerror or exc}); derivatives are generated in memory")
            return None
        return CachedModule(self.path(key), text[: text.rindex(_CHECKSUM_PREFIX)], module)

    def usable(self) -> bool:
        """Is the directory there (created if need be, owner-only) and safe
        to load code from?"""
        with self._lock:
            if self._usable is None:
                self._usable = self._prepare()
            return self._usable

    def _prepare(self) -> bool:
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            status = self.directory.stat()
        except OSError as exc:
            self.report(f"s2s cannot use {self.directory} as its cache directory ({exc.strerror or exc}); derivatives are generated in memory")
            return False
        problem = _unsafe(status)
        if problem is not None:
            self.report(
                f"s2s is not using {self.directory} as its cache directory: {problem}; derivatives are generated in memory "
                f"(make it yours alone, e.g. chmod 700, or choose another with S2S_CACHE_DIR)"
            )
            return False
        return True

    def entries(self) -> list[Path]:
        """The cached modules."""
        try:
            return sorted(p for p in self.directory.iterdir() if _ENTRY.match(p.name))
        except OSError:
            return []

    def clear(self) -> int:
        """Remove every cached module (and leftovers of interrupted writes);
        returns how many modules were removed."""
        removed = 0
        try:
            leftovers = [p for p in self.directory.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
        except OSError:
            leftovers = []
        for path in self.entries() + leftovers:
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            removed += path.suffix == ".py"
        return removed

    def report(self, message: str) -> None:
        """Warn once per message, pointing at the user's call."""
        if message not in self._reported:
            self._reported.add(message)
            warnings.warn(message, S2SWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the innermost caller outside s2s."""
    package = str(Path(__file__).parent)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def _unsafe(status: os.stat_result) -> str | None:
    """Why code in a file or directory with this status must not be loaded."""
    if os.name != "posix":
        return None
    if status.st_uid != os.getuid():
        return "it belongs to another user"
    if status.st_mode & 0o022:
        return f"other users can write to it (mode {oct(status.st_mode & 0o777)})"
    return None


@dataclass(frozen=True)
class CachedModule:
    """A module in the cache: its file, the file's code (the module with its
    key in the header: tracebacks and editors agree on line numbers), and
    the module as generated."""

    path: Path
    stored: str
    module: str


def _pack(module: str, key: str) -> str:
    """The cache file: the key added to the module's header, and a checksum
    of everything as the last line."""
    lines = module.split("\n")
    end_of_header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    lines.insert(end_of_header, _KEY_LINE.format(key=key))
    body = "\n".join(lines)
    return f"{body}{_CHECKSUM_PREFIX}{_checksum(body)}\n"


def _unpack(data: bytes, key: str) -> tuple[str | None, str | None]:
    """(the file's code without its checksum line, None), or (None, what is
    wrong with the file)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None, "it is not text"
    body, marker, rest = text.rpartition(_CHECKSUM_PREFIX)
    if not marker or rest != f"{_checksum(body)}\n":
        return None, "it is incomplete or corrupt (its checksum does not match)"
    if _KEY_LINE.format(key=key) not in body.split("\n")[:12]:
        return None, "it was written for another key"
    return body, None


def _without_key(stored: str, key: str) -> str:
    lines = stored.split("\n")
    lines.remove(_KEY_LINE.format(key=key))
    return "\n".join(lines)


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
