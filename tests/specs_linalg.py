"""Test specs for the linalg rules (merged into specs.SPECS).

Products are swept over every combination of ranks numpy accepts: scalars
(where allowed), vectors, matrices and stacks of matrices that broadcast.
Matrix functions are tested on ``a + 3.0 * np.eye(3)`` with ``a`` small, so
that the matrices stay well conditioned and finite differences accurate.

A spec's expressions share its shapes, so an operation whose test
expressions need different shapes has more than one entry: the extra ones
are named after the key, with what they add in parentheses.
"""

from __future__ import annotations

from specs import ANY, Spec

SPECS: dict[str, Spec] = {}

SMALL = (-0.5, 0.5)  # a + 3I is then diagonally dominant
MATMUL_SHAPES = [
    ((3,), (3,)),  # vector @ vector: a scalar
    ((2, 3), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3, 4)),
    ((2, 3, 4), (4, 5)),  # a stack of matrices @ one matrix
    ((2, 1, 3, 4), (3, 4, 2)),  # stacks that broadcast
    ((3,), (2, 3, 4)),
    ((2, 3, 4), (4,)),
]

SPECS["matmul"] = Spec(["a @ b", "np.tanh(a @ b) * 2.0"], [ANY, ANY], MATMUL_SHAPES)
SPECS["np.matmul"] = Spec(["np.matmul(a, b)"], [ANY, ANY], MATMUL_SHAPES)
SPECS["np.dot"] = Spec(
    ["np.dot(a, b)"],
    [ANY, ANY],
    [
        ((), ()),
        ((), (2, 3)),  # a scalar operand multiplies
        ((3,), ()),
        ((3,), (3,)),
        ((2, 3), (3,)),
        ((3,), (3, 2)),
        ((2, 3), (3, 4)),
        ((2, 3, 4), (4,)),
        ((2, 3), (2, 3, 4)),  # sums a's last axis with b's second-to-last
        ((2, 2, 3), (2, 3, 2)),
    ],
)
SPECS["np.dot (method)"] = Spec(["a.dot(b)"], [ANY, ANY], [((3,), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (4,))])
SPECS["np.vdot"] = Spec(["np.vdot(a, b)"], [ANY, ANY], [((), ()), ((6,), (6,)), ((2, 3), (3, 2)), ((2, 3), (6,))])
SPECS["np.inner"] = Spec(
    ["np.inner(a, b)"],
    [ANY, ANY],
    [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 3), (4, 3)), ((2, 2, 3), (2, 3))],
)
SPECS["np.outer"] = Spec(["np.outer(a, b)"], [ANY, ANY], [((3,), (4,)), ((2, 3), (2,)), ((), (3,))])
SPECS["np.tensordot"] = Spec(
    [
        "np.tensordot(a, b, axes=1)",
        "np.tensordot(a, b)",  # the default, axes=2
        "np.tensordot(a, b, axes=2)",
        "np.tensordot(a, b, axes=([1], [0]))",
        "np.tensordot(a, b, axes=([-1, 0], [0, 1]))",
        "np.tensordot(a, b, 0)",  # an outer product
    ],
    [ANY, ANY],
    [((3, 3, 3), (3, 3, 2)), ((3, 3), (3, 3, 2))],
)
SPECS["np.kron"] = Spec(
    ["np.kron(a, b)"],
    [ANY, ANY],
    [((2,), (3,)), ((2, 2), (2, 3)), ((2,), (2, 3)), ((2, 2), (3,)), ((), (3,)), ((2, 1, 2), (3, 2))],
)
SPECS["np.trace"] = Spec(
    ["np.trace(a)", "a.trace()", "np.trace(a, 1)", "np.trace(a, offset=-1, axis1=1, axis2=0)", "np.trace(a, axis1=-2, axis2=-1)"],
    [ANY],
    [((3, 3),), ((3, 4),), ((2, 3, 4),)],
)

# a is a vector, b a square matrix, c a matrix
SPECS["np.einsum"] = Spec(
    [
        "np.einsum('ij,jk->ik', b, c)",
        "np.einsum('i,i->', a, a)",
        "np.einsum('ij->ji', c)",
        "np.einsum('ii->i', b)",
        "np.einsum('ii->', b)",
        "np.einsum('ij->i', c)",  # j is summed within one operand
        "np.einsum('ij,j->i', b, a)",
        "np.einsum('i,j->ij', a, a)",
        "np.einsum('i,ij,jk->k', a, b, c)",
        "np.einsum('ii,ij->j', b, c)",
        "np.einsum('ij,jk', b, c)",  # implicit output: 'ik'
    ],
    [ANY, ANY, ANY],
    [((3,), (3, 3), (3, 4)), ((2,), (2, 2), (2, 3))],
)
SPECS["np.einsum (batches)"] = Spec(
    ["np.einsum('bij,bjk->bik', a, b)", "np.einsum('bij,bjk->ik', a, b)", "np.einsum('bij,bji->b', a, b)"],
    [ANY, ANY],
    [((2, 3, 4), (2, 4, 3)), ((1, 3, 4), (2, 4, 3))],  # a batch of 1 broadcasts
)
SPECS["np.einsum (ellipsis)"] = Spec(
    ["np.einsum('...ij,...jk->...ik', a, b)"],
    [ANY, ANY],
    [((2, 3, 4), (4, 3)), ((3, 4), (2, 1, 4, 2)), ((2, 1, 3, 4), (3, 4, 2))],
)

SPECS["np.linalg.inv"] = Spec(
    ["np.linalg.inv(a + 3.0 * np.eye(3))", "np.linalg.inv(a + 3.0 * np.eye(3)) @ b"],
    [SMALL, ANY],
    [((3, 3), (3,)), ((2, 3, 3), (3, 2))],
)
SPECS["np.linalg.solve"] = Spec(
    ["np.linalg.solve(a + 3.0 * np.eye(3), b)"],
    [SMALL, ANY],
    [
        ((3, 3), (3,)),
        ((3, 3), (3, 2)),
        ((2, 3, 3), (3,)),  # one vector, solved with each matrix of a stack
        ((2, 3, 3), (2, 3, 2)),
        ((2, 3, 3), (3, 2)),  # b broadcast along a's stack
        ((3, 3), (2, 3, 2)),  # a broadcast along b's stack
    ],
)
SPECS["np.linalg.det"] = Spec(
    ["np.linalg.det(a + 3.0 * np.eye(3))", "np.log(np.linalg.det(a + 3.0 * np.eye(3)))"],
    [SMALL],
    [((3, 3),), ((2, 3, 3),)],
)
