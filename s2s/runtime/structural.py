"""Runtime helpers for the structural rules (see s2s/rules/structural.py)."""

from __future__ import annotations

__all__: list[str] = []
