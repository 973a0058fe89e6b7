"""Test specs for the linalg rules (merged into specs.SPECS)."""

from __future__ import annotations

from specs import ANY, POS, Spec  # noqa: F401

SPECS: dict[str, Spec] = {}
