"""The one exception s2s raises for code it cannot differentiate or for misuse.

Every error names the place in the user's code (file, line, column), shows
the offending line, and says what is supported instead, so that a user can
fix their code without reading the compiler.
"""

from __future__ import annotations

import ast


class S2SError(Exception):
    """A function s2s cannot differentiate, or a misuse of the s2s API.

    Attributes
    ----------
    message:
        What is wrong, in one sentence.
    filename, lineno, col:
        Where in the user's code (``None`` when the error is not tied to a line).
    source_line:
        The user's line of code, shown under the message.
    hint:
        What to do instead.
    """

    def __init__(
        self,
        message: str,
        *,
        filename: str | None = None,
        lineno: int | None = None,
        col: int | None = None,
        source_line: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col = col
        self.source_line = source_line
        self.hint = hint
        super().__init__(str(self))

    @property
    def location(self) -> str:
        """``file:line:col`` as far as it is known, or ``""``."""
        parts = [p for p in (self.filename, self.lineno, self.col) if p is not None]
        if self.col is not None:
            parts[-1] = self.col + 1  # columns are shown 1-based, as editors do
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        head = f"{self.location}: {self.message}" if self.location else self.message
        lines = [head]
        if self.source_line:
            text = self.source_line.rstrip()
            stripped = text.lstrip()
            lines.append("    " + stripped)
            if self.col is not None:
                caret = max(self.col - (len(text) - len(stripped)), 0)
                lines.append("    " + " " * caret + "^")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def one_line(self) -> str:
        """The message and location without the quoted source, for the CLI."""
        head = f"{self.location}: {self.message}" if self.location else self.message
        return f"{head} ({self.hint})" if self.hint else head


class S2SWarning(UserWarning):
    """Something s2s worked around, such as a cache it could not use."""


class SourceLocator:
    """Builds errors located in one file, given its lines."""

    def __init__(self, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    def line(self, lineno: int | None) -> str | None:
        if lineno is None or not 1 <= lineno <= len(self.lines):
            return None
        return self.lines[lineno - 1]

    def error(self, node: ast.AST | None, message: str, hint: str | None = None) -> S2SError:
        lineno = getattr(node, "lineno", None)
        col = getattr(node, "col_offset", None)
        return S2SError(
            message,
            filename=self.filename,
            lineno=lineno,
            col=col,
            source_line=self.line(lineno),
            hint=hint,
        )
