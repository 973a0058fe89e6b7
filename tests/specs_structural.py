"""Test specs for the structural and constructor rules (merged into specs.SPECS).

Where one argument cannot take every shape an expression needs, a second
argument of another rank is used (``b`` a vector beside a matrix ``a``).
"""

from __future__ import annotations

from specs import ANY, Spec

SPECS: dict[str, Spec] = {}

SCALAR_TO_3D = [((),), ((4,),), ((2, 3),), ((2, 3, 2),)]
ARRAYS = [((4,),), ((2, 3),), ((2, 3, 2),)]
STEP = (0.3, 0.9)


def _add(names: str | list[str], spec: Spec) -> None:
    for name in [names] if isinstance(names, str) else names:
        SPECS[name] = spec


# --- permutations and reshapes ------------------------------------------------
_add("np.transpose", Spec(
    ["np.transpose(a) * 2.0", "np.transpose(a, (1, 0, 2)) ** 2", "np.sin(np.transpose(a, (-1, 0, 1)))", "a.transpose(2, 0, 1) * a.T[0, 0, 0]",
     "np.transpose(b) * 3.0", "b.T ** 2", "np.transpose(c) * c"],
    [ANY, ANY, ANY], [((2, 3, 2), (2, 3), ()), ((1, 2, 3), (4,), ()), ((2, 2, 3), (3, 1), ())]))
_add("np.reshape", Spec(
    ["np.sin(np.reshape(a, (3, 2))) * 2.0", "np.reshape(a, -1) ** 2", "a.reshape(2, -1) * a.reshape(2, 3)", "np.reshape(a, shape=(6,)) * 3.0",
     "np.reshape(a, np.shape(b)) * b"],
    [ANY, ANY], [((6,), (1, 6)), ((2, 3), (3, 2)), ((3, 2, 1), (6,))]))
_add("np.ravel", Spec(["np.ravel(a) ** 2", "np.sin(b.ravel()) * 2.0"], [ANY, ANY], [((), (4,)), ((4,), (2, 3)), ((2, 3, 2), (2, 3, 2))]))
_add("method.flatten", Spec(["a.flatten() ** 2", "np.cos(a.flatten()) * a.flatten()"], [ANY], ARRAYS))
_add("np.squeeze", Spec(
    ["np.squeeze(a) ** 2", "np.squeeze(a, axis=-1) * 2.0", "a.squeeze(0) ** 3", "np.squeeze(b, 1) * np.sum(b)"],
    [ANY, ANY], [((1, 3, 1), (2, 1)), ((1, 1, 1), (1, 1))]))
_add("np.expand_dims", Spec(
    ["np.expand_dims(a, 0) ** 2", "np.expand_dims(a, axis=-1) * 2.0", "np.sin(np.expand_dims(a, (0, -1)))"], [ANY], SCALAR_TO_3D))
_add("np.swapaxes", Spec(
    ["np.swapaxes(a, 0, 2) ** 2", "a.swapaxes(-1, 1) * 2.0", "np.swapaxes(a, 0, 1) * a[0, 0, 0]"], [ANY], [((2, 3, 2),), ((1, 2, 3),)]))
_add("np.moveaxis", Spec(
    ["np.moveaxis(a, 0, -1) ** 2", "np.moveaxis(a, (0, 1), (2, 0)) * 2.0", "np.sin(np.moveaxis(a, -1, 1))"], [ANY], [((2, 3, 2),), ((1, 2, 3),)]))
_add("np.broadcast_to", Spec(
    ["np.broadcast_to(a, (2, 3)) ** 2", "np.sin(np.broadcast_to(a, (4, 2, 3))) * 2.0", "np.broadcast_to(a, np.shape(b)) * b"],
    [ANY, ANY], [((), (2, 3)), ((3,), (2, 3)), ((1, 3), (2, 3)), ((2, 1), (2, 3))]))

# --- reordering -----------------------------------------------------------------
_add("np.flip", Spec(
    ["np.flip(a) * a", "np.flip(a, 0) ** 2", "np.flip(a, axis=(0, -1)) * 2.0", "np.sin(np.flip(a, -1))"], [ANY], [((2, 3),), ((3, 2, 2),)]))
_add("np.fliplr", Spec(["np.fliplr(a) * a", "np.fliplr(a) ** 2"], [ANY], [((2, 3),), ((3, 2, 2),)]))
_add("np.flipud", Spec(["np.flipud(a) * a", "np.flipud(a) ** 2"], [ANY], ARRAYS))
_add("np.roll", Spec(
    ["np.roll(a, 1) * a", "np.roll(a, -2, axis=0) ** 2", "np.roll(a, (1, 2), axis=(0, 1)) * 2.0", "np.roll(a, np.argmax(a) % 3, axis=-1) * 2.0"],
    [ANY], [((2, 3),), ((3, 2, 2),)]))

_add("builtins.list", Spec(
    ["sum(list(a)) * 2.0", "list(a)[0] ** 2", "np.array(list(a * a)) * a", "sum(list([a, a * a]))"], [ANY], ARRAYS))

# --- joining --------------------------------------------------------------------
_add("np.concatenate", Spec(
    ["np.concatenate([a, 2.0 * b, a * b])", "np.concatenate([a, b, c]) ** 2", "np.concatenate((np.sin(a), b), axis=-1)",
     "np.concatenate([c, a, c], axis=None) * 2.0", "np.concatenate([a, np.ones_like(c)]) * 2.0"],
    [ANY, ANY, ANY], [((2, 3), (2, 3), (1, 3)), ((3,), (3,), (2,))]))
_add("np.stack", Spec(
    ["np.stack([a, b * 2.0])", "np.stack([a, b, a * b], axis=-1) ** 2", "np.stack((np.sin(a), b, 1.0 + a), axis=0)"],
    [ANY, ANY], [((), ()), ((3,), (3,)), ((2, 3), (2, 3))]))
_add("np.hstack", Spec(
    ["np.hstack([a, 2.0 * b, c])", "np.hstack((np.sin(a), b)) ** 2", "np.hstack([c, c * c])"],
    [ANY, ANY, ANY], [((), (), ()), ((3,), (2,), (3,)), ((2, 3), (2, 1), (2, 2))]))
_add("np.vstack", Spec(
    ["np.vstack([a, 2.0 * b])", "np.vstack((a, b, c * c)) ** 2", "np.vstack([np.sin(c)])"],
    [ANY, ANY, ANY], [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (1, 3), (2, 3))]))
_add("np.column_stack", Spec(
    ["np.column_stack([a, 2.0 * b])", "np.column_stack((a, b, c * c)) ** 2"],
    [ANY, ANY, ANY], [((), (), ()), ((3,), (3,), (3,)), ((3, 2), (3,), (3, 1))]))

# --- diagonals, tiles, repeats, take ----------------------------------------------
_add("np.diag", Spec(
    ["np.diag(a) * 2.0", "np.diag(a * a, 1)", "np.diag(a, k=-2) ** 2", "np.diag(b) ** 2", "np.diag(b, 1) * 2.0", "np.diag(np.sin(b), k=-1)"],
    [ANY, ANY], [((3,), (3, 4)), ((4,), (4, 3))]))
_add("np.diagonal", Spec(
    ["np.diagonal(a) ** 2", "np.diagonal(a, 1) * 2.0", "np.diagonal(a, offset=-1, axis1=-1, axis2=0) ** 2", "a.diagonal() * a.diagonal(-1)[0]"],
    [ANY], [((3, 4),), ((2, 3, 4),)]))
_add("np.tile", Spec(
    ["np.tile(a, 2) ** 2", "np.tile(a, (2, 1)) * 2.0", "np.sin(np.tile(a, (2, 1, 2)))"], [ANY], [((),), ((3,),), ((2, 3),)]))
_add("np.repeat", Spec(
    ["np.repeat(a, 2) ** 2", "np.repeat(a, 3, axis=0) * 2.0", "np.repeat(a, [1, 0, 2], axis=-1) ** 2", "a.repeat(2, axis=1) * a.repeat(2, 1)",
     "np.repeat(b, 3) ** 2"],
    [ANY, ANY], [((2, 3), ()), ((4, 3), ())]))
_add("np.take", Spec(
    ["np.take(a, [0, 2, 2]) ** 2", "np.take(a, 1, axis=1) * 2.0", "np.take(a, [[0, 1], [1, 1]], axis=0) ** 2", "a.take([-1, 0], axis=-1) * a.take(3)",
     "np.take(a, [5, -7, 1], mode='wrap') ** 2", "np.take(a, [9, -3], axis=1, mode='clip') * 2.0"],
    [ANY], [((3, 4),), ((2, 3, 2),)]))

# --- indexing and elements ----------------------------------------------------------
_add("getitem", Spec(
    ["a[1] * 2.0", "a[-1] ** 2", "a[1:3] * 2.0", "a[::2] ** 2", "a[:, 0] * 2.0", "a[..., 1] ** 2", "a[None, :] * 2.0", "a[[0, 2, 2]] ** 2",
     "a[a > 0] * 2.0", "a[0] * a[1]", "a[1:, :-1] * a[:-1, 1:]", "a[[0, 2], [1, 0]] ** 2", "a[:, [1, 1]] * 2.0", "a[..., None] ** 2",
     "a[np.argmax(b) % 3] * 2.0",
     "b[1] * b", "b[-1] ** 2", "b[1:4] * b[:3]", "b[::-2] ** 2", "b[[0, 2, 2]] * 2.0", "b[b > 0] ** 2", "b[[True, False, True, True, False]] * 2.0"],
    [ANY, ANY], [((3, 4), (5,)), ((3, 4, 2), (5,))]))
_add("method.item", Spec(
    ["a.item(1) * a", "a.item(-1) ** 2", "np.sum(a).item() * a", "a.item(0) * a.item(1)"], [ANY], ARRAYS))

# --- copies, conversions, casts ------------------------------------------------------
_add("np.copy", Spec(["np.copy(a) * a", "np.copy(a) ** 2"], [ANY], SCALAR_TO_3D))
_CONVERT = [((), (), ()), ((3,), (3,), (3,)), ((2, 3), (2, 3), (2, 3))]
_add("np.array", Spec(
    ["np.array(a) * 2.0", "np.array([a, 2.0 * b, c])", "np.array((a, b)) ** 2", "np.array([a, b], dtype=float) * 2.0",
     "np.array(a, dtype=np.float64) * a", "np.array([a, b], dtype=int) * a", "np.array([a, b], dtype=np.dtype('float64')) * 2.0",
     "np.array(a, dtype=np.dtype('int64')) * a"],
    [ANY, ANY, ANY], _CONVERT))
for _name in ["np.asarray", "np.asanyarray", "np.ascontiguousarray"]:
    _add(_name, Spec(
        [f"{_name}(a) * a", f"{_name}([a, 2.0 * b]) ** 2", f"{_name}(a, dtype='float64') * 2.0", f"{_name}(a, dtype=bool) * a"],
        [ANY, ANY], [((), ()), ((3,), (3,)), ((2, 3), (2, 3))]))
_add("method.astype", Spec(
    ["a.astype(float) * a", "a.astype(np.float64) ** 2", "a.astype('float64') * 2.0", "a.astype(int) * a", "a.astype(bool) * a",
     "a.astype(a.dtype) * 2.0", "(3.0 * a).astype(np.int64) * a"],
    [ANY], ARRAYS))

# --- constructors ----------------------------------------------------------------------
for _name, _expr in [
    ("np.zeros", "np.zeros(np.shape(a)) + a * 2.0"),
    ("np.ones", "np.ones(np.shape(a)) * a"),
    ("np.empty", "a * np.size(np.empty((2, 3)))"),
    ("np.zeros_like", "np.zeros_like(a) + a ** 2"),
    ("np.ones_like", "np.ones_like(a) * a"),
    ("np.empty_like", "a * np.size(np.empty_like(a))"),
    ("np.eye", "np.eye(3) * a + np.eye(3, 3, k=1) * a"),
    ("np.identity", "np.identity(3) * a"),
]:
    _add(_name, Spec([_expr], [ANY], [((3,),), ((3, 3),)]))
_add("np.full", Spec(
    ["np.full((2, 3), a) * 2.0", "np.full(np.shape(b), a) * b", "np.full((4, 2, 3), a) ** 2", "np.full((2, 3), a, dtype=int) * b"],
    [ANY, ANY], [((), (2, 3)), ((3,), (2, 3)), ((2, 1), (2, 3))]))
_add("np.full_like", Spec(
    ["np.full_like(b, a) * b", "np.full_like(b, a, dtype=np.float64) ** 2", "np.full_like(b, a, dtype=int) * b", "np.full_like(np.zeros(3, int), a) * a"],
    [ANY, ANY], [((), (2, 3)), ((3,), (2, 3))]))
_add("np.linspace", Spec(
    ["np.linspace(a, b, 5) ** 2", "np.linspace(a, b, 4, endpoint=False) * 2.0", "np.linspace(a, 3.0, 3, axis=-1) ** 2", "np.linspace(0.0, b, 4) * b",
     "np.linspace(a, b, 1) * 2.0", "np.linspace(a, b, 3, dtype=int) * a"],
    [ANY, ANY], [((), ()), ((3,), (3,)), ((2, 1), (3,))]))
_add("np.arange", Spec(
    ["np.arange(a, 5.0, 0.5) ** 2", "np.arange(1.0, 3.0, b) * 2.0", "np.arange(a, a + 2.0, b) ** 2", "np.arange(a, 4.0) * 2.0",
     "np.arange(4) * a", "np.arange(2.0 * a + 5.0) * a", "np.arange(a, 4.0, dtype=int) * a", "np.arange(5.0, step=b) ** 2"],
    [ANY, STEP], [((), ())]))
