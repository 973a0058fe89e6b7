"""Runtime helpers for the linalg rules (see s2s/rules/linalg.py)."""

from __future__ import annotations

__all__: list[str] = []
