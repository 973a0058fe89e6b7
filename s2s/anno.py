"""Annotations that stages attach to AST nodes.

Normalization resolves each call once and records what it is, so that later
stages never re-resolve names:

``op``       the operation key of a call or attribute (``"np.exp"``)
``callee``   the ``FunctionRef`` of a call to a user function
``origin``   the user's statement a normal-form statement comes from
"""

from __future__ import annotations

import ast
from typing import Any

_KEY = "_s2s"


class _Annotations(dict):
    """Copied shallowly: annotations point at shared objects (function
    sources, live modules) that a deep copy of the tree must not clone."""

    def __deepcopy__(self, memo: dict) -> "_Annotations":
        return _Annotations(self)


def set_anno(node: ast.AST, key: str, value: Any) -> None:
    annotations = node.__dict__.setdefault(_KEY, _Annotations())
    annotations[key] = value


def get_anno(node: ast.AST, key: str, default: Any = None) -> Any:
    return node.__dict__.get(_KEY, {}).get(key, default)


def has_anno(node: ast.AST, key: str) -> bool:
    return key in node.__dict__.get(_KEY, {})


def copy_annos(source: ast.AST, target: ast.AST) -> ast.AST:
    for key, value in source.__dict__.get(_KEY, {}).items():
        set_anno(target, key, value)
    return target
