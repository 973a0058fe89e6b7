"""Plans: what the forward sweep leaves for the backward sweep to do.

The reverse emitter writes the forward sweep statement by statement and,
for each statement that needs an adjoint, records a step; the backward
emitter walks the steps in reverse. Steps nest as the code does: a branch
holds the steps of its two blocks, a loop the steps of its body.

Each step lists the values it ``pushed`` onto the tape right after it ran
in the forward sweep (inside loops, the loop-variant values its adjoint
reads); its adjoint pops them first, so pushes and pops pair up whatever
path the code took.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .activity import CallActivity
from .expr import Graph, Node


@dataclass
class Step:
    origin: ast.stmt | None
    pushed: list[str] = field(default_factory=list, kw_only=True)
    tape: str = field(default="", kw_only=True)  # the list they were pushed on: one per place that pushes
    position: int = field(default=0, kw_only=True)  # order in the forward sweep
    loops: tuple[int, ...] = field(default=(), kw_only=True)  # the loops it runs in, outermost first


@dataclass
class Assignment(Step):
    """``target = <expression>``: contributions to the adjoints of the
    variables it reads, each already brought to its variable's shape."""

    target: str
    graph: Graph
    root: Node
    contributions: dict[str, Node]  # variable -> contribution
    names: dict[Node, str]  # primal nodes bound to names in the forward sweep


@dataclass
class Copy(Step):
    """``target = source``, where paths join or an iteration ends."""

    target: str
    source: str


@dataclass
class Call(Step):
    """``outputs, saved = f_forward(args)``."""

    targets: list[str]
    call: CallActivity
    args: list[str]
    saved: str


@dataclass
class Unpack(Step):
    """``a, b = source``."""

    targets: list[str]
    source: str


@dataclass
class Append(Step):
    """``items.append(value)``: the adjoint pops the element's adjoint back."""

    items: str
    value: str | None  # the name appended, when it carries a derivative


@dataclass
class Update(Step):
    """``array[index] = value``; ``restore`` names where the overwritten
    elements were saved ("" when no adjoint reads the array: no need)."""

    array: str
    index: ast.expr
    value: str | None  # the name assigned, when it carries a derivative
    value_shape: str = ""  # where the adjoint finds the value's shape ("" : the value itself)
    restore: str = ""
    in_loop: bool = False
    array_varies: bool = False  # made anew in an enclosing loop or branch: recorded on the tape


@dataclass
class Branch(Step):
    condition: ast.expr
    then: list[Step]
    orelse: list[Step]
    local: set[str] = field(default_factory=set)  # names defined in either block


@dataclass
class Loop(Step):
    """A loop run ``count`` times (or over all of ``iterations``)."""

    body: list[Step]
    index: str | None  # the loop variable of a for loop over a range
    iterations: str | None  # the range a for loop ran over
    count: str | None  # how many iterations ran, when that can differ
    local: set[str] = field(default_factory=set)  # names defined in the body
    carried: set[str] = field(default_factory=set)  # names whose value one iteration hands to the next
    canonical: set[str] = field(default_factory=set)  # the names variables assigned in the body have after it
