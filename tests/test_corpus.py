"""A corpus of small numpy programs, each differentiated in both modes and
checked against central finite differences: scalar math, broadcasting,
reductions, linear algebra, indexing, shape operations, calls between user
functions, control flow and a few little scientific kernels.

Arguments are chosen inside each function's domain and away from kinks and
branch switch points, so a finite difference is a fair reference."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import S2SError, check, differentiate

MODES = ("forward", "reverse")

SOURCE = '''
import math

import numpy as np


# ---------------------------------------------------------------- scalar math


def rational(x):
    return (x ** 3 - 2.0 * x + 1.0) / (x ** 2 + 1.0)


def exp_log_chain(x):
    return np.log1p(np.exp(-x)) + np.expm1(x / 3.0) - np.log(x * x + 0.5)


def trig_mix(x, y):
    return np.sin(x) * np.cos(y) + np.tan(x * y) - np.cos(x) ** 2


def hyperbolic(x):
    return np.tanh(x) + np.sinh(x) / np.cosh(x + 1.0)


def inverse_trig(x):
    return np.arcsin(x) + np.arccos(x / 2.0) + np.arctan(3.0 * x)


def inverse_hyperbolic(x):
    return np.arcsinh(x) + np.arccosh(1.5 + x * x) + np.arctanh(x / 2.0)


def math_module(x, y):
    return math.exp(x) * math.sin(y) + math.log(x + 2.0) + math.sqrt(y) + math.atan2(y, x) + math.tanh(x * y)


def powers(x, y):
    return x ** y + y ** 2.5 + x ** -1.5 + 2.0 ** x + x ** 3


def division_chain(a, b):
    return a / b - b / (a * a + 1.0) + 1.0 / (a + b)


def floor_div_and_mod(x, y):
    return (x // 0.7) * y + (x % 0.7) * y ** 2 + x % y


def angle_and_radius(x, y):
    return np.arctan2(y, x) * np.hypot(x, y)


def log_variants(x):
    return np.log2(x) + np.log10(x) + np.log1p(x) + np.exp2(x)


def roots_and_squares(x):
    return np.cbrt(x) + np.square(x) - np.sqrt(x)


def abs_and_sign(x):
    return np.abs(x) * np.sign(x) + abs(x - 3.0) + np.floor(x) * x


def logaddexp_pair(x, y):
    return np.logaddexp(x, y) * np.logaddexp(2.0 * x, -y)


def max_min_scalars(x, y):
    return np.maximum(x, y) + np.minimum(2.0 * x, y) + np.fmax(x, 0.5) + np.fmin(y, 3.0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.where(x > 0, x + np.log1p(np.exp(-x)), np.log1p(np.exp(x)))


def builtins_on_scalars(x, y):
    return max(x, y) * min(x, 2.0) + abs(y) + float(x) * y


def unary_minus(x):
    return -x ** 3 + (-x) ** 2 - (-(x * 2.0))


# --------------------------------------------------------------- broadcasting


def scalar_times_vector(a, v):
    return a * v + v / a - a ** 2


def column_with_row(c, r):
    return c * r + np.sin(c - r)


def matrix_with_vector(m, v):
    return m * v + m / (1.0 + v ** 2)


def column_with_matrix(c, m):
    return np.exp(c) * m - c


def standardize_columns(m):
    mu = np.mean(m, axis=0, keepdims=True)
    sd = np.std(m, axis=0, keepdims=True)
    return (m - mu) / sd


def gaussian_kernel(a, b):
    d = a.reshape(-1, 1) - b
    return np.exp(-0.5 * d ** 2)


def broadcast_to_grid(x):
    return np.broadcast_to(x, (3, 4)) * np.arange(12.0).reshape(3, 4)


def pairwise_distances(p):
    d = p.reshape(4, 1, 2) - p.reshape(1, 4, 2)
    return np.sum(np.sqrt(np.sum(d ** 2, axis=-1) + 1.0))


def three_d_broadcast(a, b):
    return np.sum(a * b, axis=1) + np.sum(a * b, axis=(0, 2))[0]


def numpy_scalar_with_vector(s, v):
    return s * v ** 2 + np.pi * v / s


# ----------------------------------------------------------------- reductions


def sums_over_axes(m):
    return np.sum(m ** 2, axis=0) + np.sum(np.sin(m), axis=1).sum()


def row_normalize(m):
    return m / np.sum(m, axis=1, keepdims=True)


def mean_keepdims(m):
    return m - np.mean(m, axis=1, keepdims=True) + np.mean(m) * np.mean(m, axis=-1)[0]


def row_products(m):
    return np.prod(m, axis=1) + np.prod(m[:, :2], axis=1, keepdims=True).sum()


def total_product(v):
    return np.prod(v) / np.prod(v[:2])


def max_min_axes(m):
    return np.max(m, axis=0) - np.min(m, axis=1, keepdims=True)


def max_min_all(v):
    return np.max(v) * v.min() + np.max(v ** 2)


def variance_and_std(m):
    return np.var(m, axis=0) + np.std(m, axis=1, keepdims=True)


def total_variance(v):
    return np.var(v) + np.std(v * v)


def running_sums(v):
    return np.cumsum(v * v) * np.cumsum(v)[-1]


def cumsum_axes(m):
    return np.cumsum(m, axis=1) + np.cumsum(m, axis=0) ** 2


def cumprod_rows(m):
    return np.cumprod(m, axis=1)


def vector_norm(v):
    return np.linalg.norm(v) * v


def matrix_norms(m):
    return np.linalg.norm(m, axis=1) + np.linalg.norm(m)


def normalize_columns(m):
    return m / np.linalg.norm(m, axis=0, keepdims=True)


def reduction_methods(m):
    return m.sum(axis=1) * m.mean() + m.max(axis=1) - m.min(axis=1) + m.prod(axis=1)


def builtin_sum_len(v):
    return sum(v * v) / len(v) + max(v) * min(v)


def logsumexp_rows(m):
    c = np.max(m, axis=1, keepdims=True)
    return c[:, 0] + np.log(np.sum(np.exp(m - c), axis=1))


# ------------------------------------------------------------- linear algebra


def matmul_chain(a, b, x):
    return a @ b @ x


def dot_forms(a, b):
    return np.dot(a, b) * a + a.dot(b) ** 2


def matrix_vector_dot(a, x):
    return np.dot(a, np.tanh(np.matmul(a.T, np.dot(a, x))))


def outer_products(a, b):
    return np.outer(a, b) ** 2 + np.outer(b, a).T


def bilinear_einsum(x, a, y):
    return np.einsum("i,ij,j->", x, a, y)


def einsum_rows(a, b):
    return np.einsum("ij,ij->i", a, b) + np.einsum("ij,kj->ik", a, b).sum(axis=1)


def einsum_trace(a):
    return np.einsum("ii->", a @ a) + np.einsum("ij->ji", a)[0, 1]


def linear_solve(a, b):
    return np.linalg.solve(a, b)


def solve_many(a, b):
    return np.linalg.solve(a, b) ** 2


def inverse_squares(a):
    return np.sum(np.linalg.inv(a) ** 2)


def determinant(a):
    return np.linalg.det(a)


def log_det_gram(a):
    g = a @ a.T + np.eye(3)
    return np.log(np.linalg.det(g))


def trace_of_product(a, b):
    return np.trace(a @ b.T) + np.trace(a)


def quadratic_form(a, x):
    return x @ a @ x


def vdot_inner(a, b):
    return np.vdot(a, b) + np.inner(a, b * b)


def tensordot_pair(a, b):
    return np.tensordot(a, b, axes=1)


def tensordot_full(a, b):
    return np.tensordot(a, b, axes=([0, 1], [1, 0]))


def kron_vectors(a, b):
    return np.kron(a, b)


def normal_equations(x, y):
    return np.linalg.solve(x.T @ x, x.T @ y)


def matrix_cubic(a):
    return a @ a @ a - 2.0 * a


# ------------------------------------------------------ indexing and slicing


def negative_indices(v):
    return v[-1] * v[0] + v[-2] ** 2


def stepped_slices(v):
    return v[::2] * v[1::2] + v[::-1][:3] + v[-1:-4:-1] ** 2


def repeated_integer_index(v):
    idx = np.array([0, 2, 2, 1, 0, 2])
    return v[idx] ** 2 * np.arange(6.0)


def boolean_mask_sum(v):
    return np.sum(v[v > 0] ** 2) - np.sum(v[v < 0])


def shifted_products(m):
    return m[1:, :-1] * m[:-1, 1:]


def rows_and_columns(m):
    return m[1, :3] + m[:, -1] * m[0, 0]


def paired_integer_index(m):
    return m[[0, 2, 2], [1, 3, 1]] * m[2, 1]


def matrix_masks(m):
    return np.sum(np.exp(m[m > 0.6])) + np.sum(m[:, m[0] > 0] ** 2)


def take_and_diff(v):
    return np.take(v, [3, 0, 3]).sum() * (v[1:] - v[:-1])


def element_reads(m):
    return m[1, 2] * m[-1, -1] + m[0][1]


def repeated_rows(m):
    return m[np.array([2, 0, 2])] * m[0]


# -------------------------------------------------------------- shape operations


def reshape_transpose(v):
    return np.sum(v.reshape(2, 3).T * np.arange(6.0).reshape(3, 2), axis=1)


def concatenate_parts(a, b):
    return np.concatenate([a, b * 2.0, a ** 2])


def concatenate_columns(m, c):
    return np.concatenate((m, c, m[:, :1] * c), axis=1)


def stack_columns(a, b):
    return np.stack([a, b, a * b], axis=1) @ np.array([1.0, -1.0, 0.5])


def hstack_vstack(a, b):
    return np.vstack([a, b]) * np.hstack([b, a])[:3]


def where_select(x):
    return np.where(x > 0, x ** 2, -x * 0.5)


def clipped(x):
    return np.clip(x, -1.0, 1.0) * x + np.clip(2.0 * x, 0.0, 10.0)


def squeeze_expand(c):
    return np.expand_dims(np.squeeze(c), 0) * c


def flip_and_roll(v):
    return np.flip(v) * np.roll(v, 2) + np.roll(v, -1)


def tile_and_repeat(v):
    return np.tile(v, 2) + np.repeat(v, 2)


def diagonal_ops(v, a):
    return np.diag(v) @ a + np.diag(a)


def swap_and_move(t):
    return np.swapaxes(t, 0, 2).sum(axis=0) + np.moveaxis(t, 0, -1).sum(axis=1)


def ravel_copy_astype(m):
    r = m.ravel().copy()
    return r.astype(float) * np.ravel(m.T)


def array_of_active(x, y):
    return np.array([x, x * y, np.sin(y)]) * np.array([1.0, 2.0, 3.0])


def constructors(x):
    z = np.zeros(3) + np.ones(3) * x + np.full(3, 2.0) + np.linspace(0.0, 1.0, 3) * x
    return z * np.ones_like(z) + np.zeros_like(z) + np.eye(3) @ z + np.arange(3) * x


# ------------------------------------------------ user functions calling others


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def logsumexp(z):
    c = np.max(z)
    return c + np.log(np.sum(np.exp(z - c)))


def cross_entropy(z, target):
    return logsumexp(z) - np.sum(z * target)


def softmax_entropy(z):
    p = softmax(z)
    return -np.sum(p * np.log(p))


def dense(w, b, x):
    return np.tanh(w @ x + b)


def two_layer(w1, b1, w2, x):
    h = dense(w1, b1, x)
    return np.sum(dense(w2, 0.1, h) ** 2)


def regularized_network(w1, b1, w2, x):
    return two_layer(w1, b1, w2, x) + 0.01 * (np.sum(w1 ** 2) + np.sum(w2 ** 2))


def affine(x, scale=2.0, shift=0.0):
    return scale * x + shift


def keyword_call(x, y):
    return np.sum(affine(x, shift=y) * affine(x))


# ------------------------------------------------------------------- kernels


def gaussian_log_likelihood(mu, log_sigma, data):
    sigma = np.exp(log_sigma)
    r = (data - mu) / sigma
    return -0.5 * np.sum(r ** 2) - len(data) * (log_sigma + 0.5 * np.log(2.0 * np.pi))


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def horner_vector(c, x):
    p = np.zeros_like(x)
    for k in range(len(c)):
        p = p * x + c[k]
    return p


def newton_sqrt(a):
    x = a
    k = 0
    while abs(x * x - a) > 1e-15 * a and k < 60:
        x = 0.5 * (x + a / x)
        k += 1
    return x


def euler_forced_decay(y0, k, dt, steps):
    y = y0
    t = 0.0
    for _ in range(steps):
        y = y + dt * (-k * y + np.sin(t))
        t = t + dt
    return y


def conv1d_valid(signal, kernel):
    n = len(kernel)
    out = np.zeros(len(signal) - n + 1)
    for j in range(n):
        out = out + kernel[j] * signal[j:j + len(out)]
    return out


def cumulative_trapezoid(y, dx):
    return np.concatenate([np.zeros(1), np.cumsum(0.5 * dx * (y[1:] + y[:-1]))])


def trapezoid_loop(y, x):
    total = 0.0
    for i in range(1, len(y)):
        total += 0.5 * (x[i] - x[i - 1]) * (y[i] + y[i - 1])
    return total


def logistic_rate(y, k):
    return k * y * (1.0 - y)


def rk4_logistic(y0, k, h, n):
    y = y0
    for _ in range(n):
        k1 = logistic_rate(y, k)
        k2 = logistic_rate(y + 0.5 * h * k1, k)
        k3 = logistic_rate(y + 0.5 * h * k2, k)
        k4 = logistic_rate(y + h * k3, k)
        y = y + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return y


def power_iteration(a, n):
    v = np.ones(a.shape[0])
    for _ in range(n):
        v = a @ v
        v = v / np.linalg.norm(v)
    return v @ a @ v


def logistic_regression_loss(w, x, y):
    z = x @ w
    return np.sum(np.logaddexp(0.0, z) - y * z) / len(y)


def ridge_objective(w, x, y, lam):
    r = x @ w - y
    return r @ r + lam * w @ w


def huber_loss(r, delta):
    a = np.abs(r)
    return np.sum(np.where(a < delta, 0.5 * r ** 2, delta * (a - 0.5 * delta)))


def spring_chain_energy(p):
    d = p[1:] - p[:-1]
    return np.sum((np.sqrt(np.sum(d ** 2, axis=1)) - 1.0) ** 2)


def polynomial_fit_residual(c, x, y):
    basis = np.stack([x ** k for k in range(3)], axis=1)
    r = basis @ c - y
    return r @ r


def exponential_quadrature(a, b):
    t = np.linspace(0.0, 1.0, 11)
    f = np.exp(-a * t) * np.cos(b * t)
    return np.sum(0.5 * (f[1:] + f[:-1])) * 0.1


def exp_series(x):
    term = 1.0
    total = 1.0
    k = 1
    while True:
        term = term * x / k
        total = total + term
        if abs(term) < 1e-17:
            break
        k += 1
    return total


# --------------------------------------------------------------- control flow


def piecewise(x):
    if x < -1.0:
        y = -2.0 * x - 1.0
    elif x < 1.0:
        y = x ** 2
    else:
        y = 2.0 * x - 1.0
    return y * np.exp(-0.1 * x)


def piecewise_sum(xs):
    s = 0.0
    for v in xs:
        s = s + piecewise(v)
    return s


def rows_loop(m, w):
    s = 0.0
    for row in m:
        s = s + np.tanh(row @ w)
    return s


def while_halving(x):
    y = x
    n = 0
    while y > 1.0:
        y = y / 2.0
        n += 1
    return y * (n + 1)


def break_continue(v):
    s = 0.0
    for i in range(len(v)):
        if v[i] < 0:
            continue
        if s > 5.0:
            break
        s = s + v[i] * (i + 1)
    return s


def first_crossing(v, level):
    for i in range(len(v)):
        if v[i] > level:
            return v[i] * level + i
    return np.sum(v) * level


def inplace_recurrence(x):
    y = np.zeros_like(x)
    y[0] = x[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] * 0.9 + x[i] ** 2
    return y


def augmented_updates(x, a):
    y = x.copy()
    y[0] *= a
    y[1] += a ** 2
    y[-1] -= np.sum(x)
    y[2] /= 1.0 + a
    s = 0.0
    s += np.sum(y)
    s *= a
    s -= x[0]
    return y * s


def slice_and_mask_updates(x, a):
    y = np.ones(len(x)) * a
    y[1:4] = x[:3] * a
    y[y > 1.0] = np.sqrt(y[y > 1.0])
    y[::2] += x[::2]
    return y


def append_then_array(x, n):
    vals = []
    v = x
    for k in range(n):
        v = np.cos(v) + 0.1 * k
        vals.append(v * v)
    return np.array(vals)


def append_vectors_stack(a, b):
    rows = []
    for k in range(3):
        rows.append(a * k + b ** k)
    return np.stack(rows)


def comprehension_array(v):
    return np.array([np.sin(v[i]) * v[-1 - i] for i in range(len(v))])


def comprehension_filtered(v):
    return sum([x ** 3 for x in v if x > 0.0]) + sum(np.exp(-x) for x in v)


def enumerate_zip(a, b):
    s = 0.0
    for i, (p, q) in enumerate(zip(a, b)):
        s = s + (i + 1.0) * p * q
    return s


def swap_recurrence(a, b, n):
    for _ in range(n):
        a, b = b, a * b + 0.1
    return a + b


def gram_by_loops(m):
    out = np.zeros((m.shape[0], m.shape[0]))
    for i in range(m.shape[0]):
        for j in range(i + 1):
            out[i, j] = np.dot(m[i], m[j])
            out[j, i] = out[i, j]
    return out


def conditional_comprehension(v):
    return np.array([x * 2.0 if x > 0 else x ** 2 for x in v])


def early_return_scalar(x, y):
    if x * y > 1.0:
        return np.log(x * y)
    z = x + y
    if z < 0.0:
        return z ** 2
    return np.sqrt(z) * x


def gradient_descent(x0, lr, n):
    x = x0
    for _ in range(n):
        g = 4.0 * x ** 3 - 2.0 * x
        x = x - lr * g
    return x


def bubble_pass(v):
    y = v.copy()
    for i in range(len(y) - 1):
        if y[i] > y[i + 1]:
            t = y[i]
            y[i] = y[i + 1]
            y[i + 1] = t
    return y


def running_max(v):
    best = v[0]
    out = []
    for x in v:
        if x > best:
            best = x
        out.append(best)
    return np.array(out)


def normalized_iteration(a, x, n):
    y = x
    for _ in range(n):
        y = a @ y + x
        y = y / np.linalg.norm(y)
    return y


def loop_over_matrix_columns(m, c):
    total = np.zeros(m.shape[0])
    for j, col in enumerate(m.T):
        if c[j] > 0:
            total += c[j] * col
        else:
            total -= np.exp(c[j]) * col ** 2
    return total


def nested_calls_in_loop(z, n):
    s = 0.0
    for k in range(n):
        s = s + cross_entropy(z * (k + 1.0), softmax(z))
    return s

# ------------------------------------------------------------ more coverage

WEIGHTS = np.array([0.5, -1.0, 2.0, 0.25])


def uses_module_constant(x):
    return np.sum(WEIGHTS * np.sin(x)) + WEIGHTS[0] * x[-1]


def ufunc_spellings(x, y):
    return np.add(x, y) * np.multiply(x, 2.0) - np.subtract(y, x) / np.divide(x, y) + np.power(x, 2.0) + np.negative(y)


def more_math(x, y):
    return math.pow(x, y) + math.hypot(x, y) + math.log10(y) + math.log2(x) + math.cos(x) * math.atan(y)


def broadcast_binary_ufuncs(c, r):
    return np.arctan2(c, r) + np.hypot(c, r) + np.maximum(c, r) * np.logaddexp(c, r)


def relu_network(w, x):
    return np.sum(np.maximum(w @ x, 0.0) ** 2)


def reductions_over_tuple_axes(t):
    return np.mean(t, axis=(0, 2)) + np.max(t, axis=(1, 2)).sum() + np.var(t, axis=-1, keepdims=True).sum(axis=0)[:, 0]


def flattened_cumulative(m):
    return np.cumsum(m) * np.cumprod(m[0])[-1] + np.cumsum(m[::-1], axis=0)[-1].sum()


def structural_axes(m):
    return np.tile(m, (2, 1))[1:4] + np.repeat(m, 2, axis=0)[::2] + np.roll(m, 1, axis=1) + np.flip(m, axis=0)


def take_columns_and_mixed_index(m):
    return np.take(m, [3, 1, 3], axis=1) * m[1:3, [0, 2, 0]].sum() + m[[-1, 0], -2].sum()


def index_with_matrix_of_indices(v):
    idx = np.array([[0, 1], [1, 3], [-1, 0]])
    return v[idx] ** 2


def batched_linalg(a):
    return np.linalg.det(a) + np.sum(np.linalg.inv(a) ** 2, axis=(1, 2))


def kron_matrices(a, b):
    return np.kron(a[:2, :2], b)


def dot_scalar_and_outer_flatten(a, b):
    return np.dot(2.0, a) + np.outer(a, b)[:3, :3]


def einsum_batched(t):
    return np.einsum("bij,bkj->bik", t, np.sin(t))


def diag_offsets(v, a):
    return np.diag(v, 1)[1:, 1:] * 2.0 + np.diag(a, -1).sum() + np.diag(np.diag(a))


def stack_last_axis_and_expand(a, b):
    s = np.stack([a, b], axis=-1)
    return np.expand_dims(s, axis=(0, 2)).sum(axis=0) * np.concatenate([a, b], axis=0).reshape(2, 3).T.reshape(3, 1, 2)


def back_substitution(u, b):
    n = len(b)
    x = np.zeros(n)
    for i in range(n - 1, -1, -1):
        x[i] = (b[i] - u[i, i + 1:] @ x[i + 1:]) / u[i, i]
    return x


def cholesky_logdet(a):
    n = a.shape[0]
    low = np.zeros_like(a)
    for j in range(n):
        s = a[j, j] - np.sum(low[j, :j] ** 2)
        low[j, j] = np.sqrt(s)
        for i in range(j + 1, n):
            low[i, j] = (a[i, j] - np.sum(low[i, :j] * low[j, :j])) / low[j, j]
    return 2.0 * np.sum(np.log(np.diag(low)))


def thomas_tridiagonal(lower, diag, upper, rhs):
    n = len(diag)
    c = np.zeros(n - 1)
    d = np.zeros(n)
    c[0] = upper[0] / diag[0]
    d[0] = rhs[0] / diag[0]
    for i in range(1, n):
        denom = diag[i] - lower[i - 1] * c[i - 1]
        if i < n - 1:
            c[i] = upper[i] / denom
        d[i] = (rhs[i] - lower[i - 1] * d[i - 1]) / denom
    x = np.zeros(n)
    x[-1] = d[-1]
    for i in range(n - 2, -1, -1):
        x[i] = d[i] - c[i] * x[i + 1]
    return x


def simpson(y, h):
    return h / 3.0 * (y[0] + 4.0 * np.sum(y[1:-1:2]) + 2.0 * np.sum(y[2:-1:2]) + y[-1])


def laplacian_smoothing(u, alpha, steps):
    u = u.copy()
    for _ in range(steps):
        lap = np.zeros_like(u)
        lap[1:-1, 1:-1] = u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4.0 * u[1:-1, 1:-1]
        u = u + alpha * lap
    return u


def verlet_oscillator(x0, v0, omega, dt, n):
    x, v = x0, v0
    a = -omega ** 2 * x
    for _ in range(n):
        x = x + v * dt + 0.5 * a * dt ** 2
        a_new = -omega ** 2 * x
        v = v + 0.5 * (a + a_new) * dt
        a = a_new
    return x * v


def lotka_volterra(state, params, dt, n):
    s = state
    for _ in range(n):
        prey, pred = s[0], s[1]
        ds = np.array([params[0] * prey - params[1] * prey * pred, params[2] * prey * pred - params[3] * pred])
        s = s + dt * ds
    return s


def kalman_filter_1d(q, r, zs):
    x = 0.0
    p = 1.0
    nll = 0.0
    for z in zs:
        p = p + q
        s = p + r
        k = p / s
        innovation = z - x
        nll = nll + 0.5 * (np.log(2.0 * np.pi * s) + innovation ** 2 / s)
        x = x + k * innovation
        p = (1.0 - k) * p
    return nll


def moving_average(x, w):
    c = np.cumsum(np.concatenate([np.zeros(1), x]))
    return (c[w:] - c[:-w]) / w


def batch_norm(x, gamma, beta):
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    return gamma * (x - mu) / np.sqrt(var + 1e-5) + beta


def attention(q, k, v):
    scores = q @ k.T / np.sqrt(q.shape[1])
    scores = scores - scores.max(axis=1, keepdims=True)
    w = np.exp(scores)
    w = w / w.sum(axis=1, keepdims=True)
    return w @ v


def gmm_log_likelihood(means, log_sds, logits, data):
    z = (data.reshape(-1, 1) - means) / np.exp(log_sds)
    log_comp = -0.5 * z ** 2 - log_sds - 0.5 * np.log(2.0 * np.pi)
    a = log_comp + logits - logsumexp(logits)
    m = np.max(a, axis=1, keepdims=True)
    return np.sum(m[:, 0] + np.log(np.sum(np.exp(a - m), axis=1)))


def matrix_exponential(a, terms):
    result = np.eye(a.shape[0])
    term = np.eye(a.shape[0])
    for k in range(1, terms):
        term = term @ a / k
        result = result + term
    return result


def discounted_return(rewards, gamma):
    discounts = np.cumprod(np.full(len(rewards), gamma)) / gamma
    return np.sum(discounts * rewards)


def fixed_point_vector(a, b):
    x = np.zeros(len(b))
    for _ in range(200):
        x_new = np.cos(a @ x) * 0.5 + b
        if np.max(np.abs(x_new - x)) < 1e-14:
            x = x_new
            break
        x = x_new
    return x


def cubic_root_newton(p):
    x = 1.0
    while True:
        fx = x ** 3 + x - p
        if abs(fx) < 1e-14:
            break
        x = x - fx / (3.0 * x ** 2 + 1.0)
    return x


def while_continue(v):
    i = 0
    s = 0.0
    while i < len(v):
        i += 1
        if v[i - 1] < 0:
            continue
        s = s + np.sqrt(v[i - 1])
    return s


def early_return_nested(m):
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j] > 1.2:
                return m[i, j] * np.sum(m[i])
    return np.sum(m)


def loop_over_list_of_arrays(a, b, c):
    s = np.zeros_like(a)
    for w in [a, b * 2.0, c]:
        s = s * 0.5 + np.tanh(w)
    return s


def list_index_reads(x, n):
    ys = [x, x * 0.5]
    for _ in range(n):
        ys.append(ys[-1] * ys[-2] + 0.1)
    return np.array(ys)


def sum_of_list(a, b):
    parts = [a * b, np.sin(a), b ** 2]
    return sum(parts) + np.sum(np.array(parts), axis=0)


def mean_and_std(v):
    return np.mean(v), np.std(v)


def zscore(v):
    mu, sd = mean_and_std(v)
    return (v - mu) / sd


def shape_attributes(m):
    n, k = m.shape
    return np.sum(m) / (n * k) + m.size * m[0, 0] + m.ndim * len(m) * m[-1, -1]


def row_and_column_assignment(m, r):
    y = m.copy()
    y[0, :] = r
    y[:, 1] = y[:, 1] * r[1]
    y[y < 0] = 0.0
    return y


def smoothing_update(x, alpha):
    y = x.copy()
    y[1:-1] = (1.0 - alpha) * x[1:-1] + 0.5 * alpha * (x[:-2] + x[2:])
    return y


def alias_then_augment(x):
    y = x * 1.0
    z = y
    y += 1.0
    return z * y


def repeated_index_update(x):
    y = np.zeros(4)
    y[np.array([0, 2, 0])] += x[:3]
    return y * x


def distinct_index_update(x):
    y = np.zeros(4)
    y[np.array([3, 0, 2])] += x[:3]
    return y * x


def clamp_first(v):
    w = v.copy()
    if w[0] > 1.0:
        w[0] = 1.0
    w[-1] *= 2.0
    return w


def calls_inplace_callee(v):
    return np.sum(clamp_first(v) ** 2)


def float_and_abs_builtins(x):
    return float(np.sum(x ** 2)) * abs(x) + len(x)


def negated(p):
    return -p


def same_array(p):
    return p


def callee_result_then_update(a):
    h = negated(a[0])
    y = a.copy()
    y[0] = h
    return negated(h) * y


def element_of_branch_result(a):
    if np.sum(a) > 0.0:
        b = a[::2] * 2.0
    else:
        b = np.maximum(np.sum(a[-1]), a[::2])
    return np.sum(np.sin(b[-1]), axis=-1, keepdims=True)


def element_of_other_branch(a):
    return element_of_branch_result(-a - 1.5)


def callee_view_then_update(a):
    y = a.copy()
    h = same_array(y)
    y[0] = 3.0 * a[1]
    return h * a


def slices_of_one_length(x):
    # x[1:] and x[:-1] have one length, x[2:] and x[:-2] another; x[:1] is not known
    return np.sum((x[1:] - x[:-1] ** 2) ** 2 + np.sum(x[2:]) * x[:-2].sum() + x[:1] * x[1:])


def chained_slices(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def mean_of_a_softplus(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def doubled(p):
    return p * 2.0


def decayed(p):
    return np.exp(-p[0] ** 2)


def callee_result_is_new(a):
    # doubled and decayed compute their results: no memory shared with y, which the update changes
    y = a.copy()
    h = np.broadcast_to(doubled(y), (2, 3))
    e = np.broadcast_to(decayed(y), (3,))
    y[0] = 3.0 * a[1]
    return h * y + e


def negative_constant_base(a):
    return a * (1.0 + (-1.5) ** 2) ** np.sin(a) + (-2) ** 2 * a


def callee_of_broadcast_constant(a):
    h = negated(np.broadcast_to(-1.5, (2, 3)))
    y = a.copy()
    y[:, 0] -= h[0, 0] * a[:, 1]
    return y * h


def second_of_pair(p, q):
    return -2.0 * q[1]


def constant_callee_result_carried_by_loop(a):
    s = second_of_pair(a, np.array([0.5, 0.25]))
    for i in range(3):
        s = (1.0 + s ** 2) ** np.sin(a[i])
    return s


def reversed_in_place(a):
    y = a * np.arange(1.0, 4.0)
    y[::-1] = y
    return y * np.sin(y)


def rows_from_itself(m):
    y = np.exp(m)
    y[1:2] = y[0]
    y[:, ::-1] = y
    y[0:1] = y[0:1] * y[2]
    return y


def update_of_exp_result(m):
    y = np.exp(m)
    y[0] = y[0] * 2.0
    return y


def copy_before_update_of_tanh(m):
    y = np.tanh(m)
    t = np.copy(y)
    y[1:] = 5.0
    return y + t * y[0]


def zero_trip_loop_after_branch(a, n):
    if np.sum(a) > 0.0:
        b = np.sin(a[0])
    else:
        b = np.cos(a[1])
    t = 0.0
    for i in range(n):
        t = t + b * a[i]
    for i in range(1):
        b = a[i] * 2.0
    return b + t


def two_trip_loop_after_branch(a):
    return zero_trip_loop_after_branch(a, 2)


def branch_read_after_guarded_update(a, b):
    if np.sum(b) > 0.0:
        c = np.log(1.0 + a[0] ** 2)
    else:
        c = b[1] * 2.0
    s = np.sqrt(1.0 + a[-1] ** 2)
    for i in range(1):
        s = np.exp(-(c ** 2))
        a = s + b
    return a * s


def updates_after_an_unused_read(a, c):
    y = np.tanh(np.cos(a))
    y[1:] += c
    y[1:] -= y[::2]
    s = np.sum(y ** 2)
    for i in range(2):
        s = c * a[i]
    return s


def scaled_tail_of_a_constant_array(a, c):
    y = np.tanh(np.broadcast_to(c, (3,)))
    y[1:] *= a[-1]
    return -y[-1] * y


def carried_adjoint_that_becomes_none(a, v):
    s = np.sin(a)
    for i in range(3):
        s = np.where(s > a, a * 2.0, np.cos(v))
        a = np.where(a > v, v, v * 0.5)
    return s


def loop_after_a_value_its_adjoint_reads(x):
    s = np.exp(x)
    for i in range(2):
        s = -s * 0.5
    return s + np.sqrt(1.0 + x ** 2)


def blocks_of_pass(x):
    if np.sum(x) > 0.0:
        pass
    elif np.sum(x) < -5.0:
        x = -x
    for i in range(2):
        pass
    return x * 2.0


def reversed_over_a_list(a, b):
    ys = []
    for k in range(4):
        ys.append(a * k + b)
    h = 0.0
    for y in reversed(ys):
        h = np.tanh(h + y)
    return h


def reversed_range_sweep(x):
    w = x * 1.0
    for i in reversed(range(len(x) - 1)):
        w[i] = w[i] + 0.5 * np.sin(w[i + 1])
    return w


def stack_of_pairs(x, c):
    # a stack: the last pushed is popped first (forward mode only)
    stack = []
    for k in range(3):
        stack.append((x * k + c, np.sin(x + k)))
    s = 0.0
    for k in range(3):
        top, weight = stack.pop()
        s = s * 0.5 + np.sum(top * weight)
    return s


def number_becomes_an_array(x):
    acc = 0.0
    y = 0.0
    for k in range(3):
        acc = acc * 0.5 + np.sum(y * x)
        y = x * k + y
    return acc + np.sum(y * y)


def pop_and_drop(x):
    items = [x, x * x, np.cos(x)]
    items.pop()
    last = items.pop()
    return last * items[0]
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("corpus"), SOURCE, "s2s_corpus_cases")


# ---------------------------------------------------------------- arguments

V3 = np.array([0.4, -0.9, 1.3])
W3 = np.array([1.1, 0.6, -0.4])
V4 = np.array([0.3, -0.7, 1.2, 0.5])
W4 = np.array([0.8, 1.4, -0.2, 0.6])
V6 = np.array([0.4, -1.1, 0.8, 1.5, -0.3, 0.9])
POS4 = np.array([0.6, 1.3, 0.9, 1.7])
POS6 = np.array([0.6, 1.3, 0.9, 1.7, 0.75, 1.1])
C31 = np.array([[0.2], [-0.5], [1.1]])
M34 = np.array([[0.5, -1.2, 0.8, 0.3], [1.1, 0.4, -0.6, 0.9], [-0.2, 0.7, 1.3, -0.8]])
P34 = np.array([[0.5, 1.2, 0.8, 1.3], [1.1, 0.4, 0.6, 0.9], [0.7, 1.7, 1.35, 0.85]])
N43 = np.array([[0.3, -0.5, 0.9], [1.2, 0.1, -0.7], [-0.4, 0.8, 0.6], [0.5, 1.1, -0.2]])
A33 = np.array([[2.0, 0.3, -0.5], [0.4, 1.5, 0.2], [-0.3, 0.6, 1.8]])
B33 = np.array([[0.7, -0.2, 0.4], [0.1, 0.9, -0.6], [0.5, 0.3, 1.2]])
SPD33 = np.array([[3.0, 0.5, 0.2], [0.5, 2.0, 0.3], [0.2, 0.3, 1.5]])
B32 = np.array([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8]])
B42 = np.array([[0.5, -1.0], [1.5, 0.2], [-0.3, 0.8], [0.9, 0.4]])
T234 = np.linspace(-1.0, 1.3, 24).reshape(2, 3, 4)
X52 = np.array([[1.0, 0.2], [1.0, 0.9], [1.0, -0.4], [1.0, 1.6], [1.0, 0.5]])
Y5 = np.array([0.3, 1.1, -0.2, 2.0, 0.7])
P42 = np.array([[0.0, 0.0], [1.1, 0.2], [1.9, 0.9], [2.4, 2.0]])

TRI_LOWER = np.array([0.3, -0.2, 0.4, 0.1])
TRI_DIAG = np.array([2.0, 2.5, 1.8, 2.2, 3.0])
TRI_UPPER = np.array([-0.5, 0.6, 0.2, -0.3])
U33 = np.array([[2.0, 0.5, -0.4], [0.0, 1.5, 0.3], [0.0, 0.0, 1.2]])
GRID55 = np.sin(np.linspace(0.0, 3.0, 25)).reshape(5, 5)

CASES = [
    # scalar math
    ("rational", (0.7,), "x"),
    ("exp_log_chain", (np.array([0.3, -1.2, 2.1]),), "x"),
    ("trig_mix", (0.6, 0.9), ("x", "y")),
    ("hyperbolic", (np.array([-0.8, 0.2, 1.4]),), "x"),
    ("inverse_trig", (np.array([-0.6, 0.1, 0.7]),), "x"),
    ("inverse_hyperbolic", (np.array([-0.9, 0.4, 1.3]),), "x"),
    ("math_module", (0.8, 1.3), ("x", "y")),
    ("powers", (1.3, 0.7), ("x", "y")),
    ("division_chain", (0.8, 1.7), ("a", "b")),
    ("floor_div_and_mod", (2.3, 0.9), ("x", "y")),
    ("angle_and_radius", (np.array([0.8, -1.2, 0.3]), np.array([0.5, 0.7, -1.1])), ("x", "y")),
    ("log_variants", (np.array([0.4, 1.3, 2.2]),), "x"),
    ("roots_and_squares", (np.array([0.4, 1.3, 2.2]),), "x"),
    ("abs_and_sign", (np.array([-1.4, 0.6, 3.8]),), "x"),
    ("logaddexp_pair", (0.4, -0.9), ("x", "y")),
    ("max_min_scalars", (0.9, 1.4), ("x", "y")),
    ("sigmoid", (V4,), "x"),
    ("softplus", (np.array([-2.0, -0.5, 0.3, 1.7]),), "x"),
    ("builtins_on_scalars", (0.9, -1.4), ("x", "y")),
    ("unary_minus", (0.7,), "x"),
    # broadcasting
    ("scalar_times_vector", (1.3, V4), ("a", "v")),
    ("column_with_row", (C31, V4), ("c", "r")),
    ("matrix_with_vector", (M34, V4), ("m", "v")),
    ("column_with_matrix", (C31, M34), ("c", "m")),
    ("standardize_columns", (M34,), "m"),
    ("gaussian_kernel", (V3, V4), ("a", "b")),
    ("broadcast_to_grid", (V4,), "x"),
    ("pairwise_distances", (P42,), "p"),
    ("three_d_broadcast", (np.linspace(-0.5, 1.0, 6).reshape(2, 1, 3), np.array([[0.3], [-0.8], [1.2], [0.5]])), ("a", "b")),
    ("numpy_scalar_with_vector", (np.float64(1.3), V4), ("s", "v")),
    # reductions
    ("sums_over_axes", (M34,), "m"),
    ("row_normalize", (P34,), "m"),
    ("mean_keepdims", (M34,), "m"),
    ("row_products", (P34,), "m"),
    ("total_product", (POS4,), "v"),
    ("max_min_axes", (M34,), "m"),
    ("max_min_all", (V6,), "v"),
    ("variance_and_std", (M34,), "m"),
    ("total_variance", (V6,), "v"),
    ("running_sums", (V6,), "v"),
    ("cumsum_axes", (M34,), "m"),
    ("cumprod_rows", (P34,), "m"),
    ("vector_norm", (V4,), "v"),
    ("matrix_norms", (M34,), "m"),
    ("normalize_columns", (M34,), "m"),
    ("reduction_methods", (M34,), "m"),
    ("builtin_sum_len", (V6,), "v"),
    ("logsumexp_rows", (M34,), "m"),
    # linear algebra
    ("matmul_chain", (M34, N43, V3), ("a", "b", "x")),
    ("dot_forms", (V4, W4), ("a", "b")),
    ("matrix_vector_dot", (M34, V4), ("a", "x")),
    ("outer_products", (V3, W3), ("a", "b")),
    ("bilinear_einsum", (V3, M34, V4), ("x", "a", "y")),
    ("einsum_rows", (M34, P34), ("a", "b")),
    ("einsum_trace", (A33,), "a"),
    ("linear_solve", (A33, V3), ("a", "b")),
    ("solve_many", (A33, B32), ("a", "b")),
    ("inverse_squares", (A33,), "a"),
    ("determinant", (A33,), "a"),
    ("log_det_gram", (B33,), "a"),
    ("trace_of_product", (A33, B33), ("a", "b")),
    ("quadratic_form", (SPD33, V3), ("a", "x")),
    ("vdot_inner", (V4, W4), ("a", "b")),
    ("tensordot_pair", (M34, B42), ("a", "b")),
    ("tensordot_full", (M34, N43), ("a", "b")),
    ("kron_vectors", (V3, np.array([0.5, -1.5])), ("a", "b")),
    ("normal_equations", (X52, Y5), ("x", "y")),
    ("matrix_cubic", (B33,), "a"),
    # indexing and slicing
    ("negative_indices", (V4,), "v"),
    ("stepped_slices", (V6,), "v"),
    ("repeated_integer_index", (V3,), "v"),
    ("boolean_mask_sum", (V6,), "v"),
    ("shifted_products", (M34,), "m"),
    ("rows_and_columns", (M34,), "m"),
    ("paired_integer_index", (M34,), "m"),
    ("matrix_masks", (M34,), "m"),
    ("take_and_diff", (V4,), "v"),
    ("element_reads", (M34,), "m"),
    ("repeated_rows", (M34,), "m"),
    # shape operations
    ("reshape_transpose", (V6,), "v"),
    ("concatenate_parts", (V3, W4), ("a", "b")),
    ("concatenate_columns", (M34, C31), ("m", "c")),
    ("stack_columns", (V4, W4), ("a", "b")),
    ("hstack_vstack", (V3, W3), ("a", "b")),
    ("where_select", (V6,), "x"),
    ("clipped", (np.array([-1.6, -0.4, 0.7, 1.9, 6.2]),), "x"),
    ("squeeze_expand", (C31,), "c"),
    ("flip_and_roll", (V6,), "v"),
    ("tile_and_repeat", (V3,), "v"),
    ("diagonal_ops", (V3, A33), ("v", "a")),
    ("swap_and_move", (T234,), "t"),
    ("ravel_copy_astype", (M34,), "m"),
    ("array_of_active", (0.8, -0.4), ("x", "y")),
    ("constructors", (0.8,), "x"),
    # user functions calling user functions
    ("softmax", (V4,), "z"),
    ("cross_entropy", (V4, np.array([0.1, 0.2, 0.6, 0.1])), "z"),
    ("softmax_entropy", (V4,), "z"),
    ("two_layer", (M34, V3, A33, V4), ("w1", "b1", "w2", "x")),
    ("regularized_network", (M34 * 0.5, V3, B33, V4), ("w1", "b1", "w2")),
    ("keyword_call", (V3, 0.7), ("x", "y")),
    # kernels
    ("gaussian_log_likelihood", (0.4, -0.3, np.array([0.1, 0.9, -0.5, 1.4, 0.3])), ("mu", "log_sigma", "data")),
    ("rosenbrock", (np.array([-1.2, 1.0, 0.8, 1.3]),), "x"),
    ("horner_vector", (np.array([0.5, -1.0, 2.0, 0.3]), V3), ("c", "x")),
    ("newton_sqrt", (2.7,), "a"),
    ("euler_forced_decay", (1.5, 0.8, 0.05, 40), ("y0", "k", "dt")),
    ("conv1d_valid", (np.sin(np.linspace(0.0, 4.0, 9)), np.array([0.25, 0.5, -0.3])), ("signal", "kernel")),
    ("cumulative_trapezoid", (POS6, 0.2), ("y", "dx")),
    ("trapezoid_loop", (V6, np.array([0.0, 0.3, 0.5, 1.1, 1.4, 2.0])), ("y", "x")),
    ("rk4_logistic", (0.1, 1.2, 0.1, 20), ("y0", "k", "h")),
    ("power_iteration", (SPD33, 30), "a"),
    ("logistic_regression_loss", (np.array([0.3, -0.8]), X52, np.array([0.0, 1.0, 0.0, 1.0, 1.0])), "w"),
    ("ridge_objective", (np.array([0.3, -0.8]), X52, Y5, 0.5), ("w", "x", "y", "lam")),
    ("huber_loss", (np.array([-2.1, -0.3, 0.4, 1.7]), 1.0), ("r", "delta")),
    ("spring_chain_energy", (P42,), "p"),
    ("polynomial_fit_residual", (np.array([0.2, 0.9, -0.3]), np.array([0.0, 0.4, 0.9, 1.5, 2.0]), Y5), ("c", "x", "y")),
    ("exponential_quadrature", (0.7, 2.3), ("a", "b")),
    ("exp_series", (1.7,), "x"),
    # control flow
    ("piecewise", (0.4,), "x"),
    ("piecewise_sum", (np.array([-2.5, -0.3, 0.8, 1.6]),), "xs"),
    ("rows_loop", (M34, V4), ("m", "w")),
    ("while_halving", (13.0,), "x"),
    ("break_continue", (np.array([1.2, -0.5, 2.0, 0.7, 1.5, 0.4]),), "v"),
    ("first_crossing", (np.array([0.2, 0.6, 1.4, 0.3]), 1.0), ("v", "level")),
    ("inplace_recurrence", (V4,), "x"),
    ("augmented_updates", (V4, 0.6), ("x", "a")),
    ("slice_and_mask_updates", (np.array([0.3, 1.9, 2.6, 0.9, 1.4]), 0.8), ("x", "a")),
    ("append_then_array", (0.6, 4), "x"),
    ("append_vectors_stack", (V3, W3), ("a", "b")),
    ("comprehension_array", (V4,), "v"),
    ("comprehension_filtered", (V6,), "v"),
    ("enumerate_zip", (V4, W4), ("a", "b")),
    ("swap_recurrence", (0.7, 1.1, 5), ("a", "b")),
    ("gram_by_loops", (M34,), "m"),
    ("conditional_comprehension", (V6,), "v"),
    ("early_return_scalar", (0.8, 0.9), ("x", "y")),
    ("gradient_descent", (0.3, 0.1, 15), ("x0", "lr")),
    ("bubble_pass", (np.array([0.9, 0.2, 1.5, -0.4, 0.7]),), "v"),
    ("running_max", (np.array([0.3, 1.2, 0.8, 1.9, 1.4]),), "v"),
    ("normalized_iteration", (A33 * 0.5, V3, 6), ("a", "x")),
    ("loop_over_matrix_columns", (M34, np.array([0.5, -0.8, 1.2, -0.3])), ("m", "c")),
    ("nested_calls_in_loop", (V4, 3), "z"),
    # more coverage
    ("uses_module_constant", (V4,), "x"),
    ("ufunc_spellings", (np.array([0.6, 1.4, 2.2]), np.array([1.1, 0.7, 1.9])), ("x", "y")),
    ("more_math", (1.3, 0.8), ("x", "y")),
    ("broadcast_binary_ufuncs", (C31, V4), ("c", "r")),
    ("relu_network", (M34, V4), ("w", "x")),
    ("reductions_over_tuple_axes", (T234,), "t"),
    ("flattened_cumulative", (P34,), "m"),
    ("structural_axes", (M34,), "m"),
    ("take_columns_and_mixed_index", (M34,), "m"),
    ("index_with_matrix_of_indices", (V4,), "v"),
    ("batched_linalg", (np.stack([A33, B33 + 2.0 * np.eye(3)]),), "a"),
    ("kron_matrices", (A33, B32), ("a", "b")),
    ("dot_scalar_and_outer_flatten", (A33, B33), ("a", "b")),
    ("einsum_batched", (T234,), "t"),
    ("diag_offsets", (V3, A33), ("v", "a")),
    ("stack_last_axis_and_expand", (V3, W3), ("a", "b")),
    ("back_substitution", (U33, V3), ("u", "b")),
    ("cholesky_logdet", (SPD33,), "a"),
    ("thomas_tridiagonal", (TRI_LOWER, TRI_DIAG, TRI_UPPER, np.array([1.0, -0.5, 0.3, 2.0, 0.7])), ("lower", "diag", "upper", "rhs")),
    ("simpson", (POS6[:5], 0.25), ("y", "h")),
    ("laplacian_smoothing", (GRID55, 0.1, 3), ("u", "alpha")),
    ("verlet_oscillator", (1.0, 0.2, 1.5, 0.05, 30), ("x0", "v0", "omega", "dt")),
    ("lotka_volterra", (np.array([1.0, 0.5]), np.array([1.1, 0.4, 0.3, 0.9]), 0.05, 30), ("state", "params", "dt")),
    ("kalman_filter_1d", (0.1, 0.5, np.array([0.3, 0.8, 0.6, 1.2, 0.9])), ("q", "r", "zs")),
    ("moving_average", (V6, 3), "x"),
    ("batch_norm", (M34, V4, W4), ("x", "gamma", "beta")),
    ("attention", (M34, P34, B32), ("q", "k", "v")),
    ("gmm_log_likelihood", (np.array([-0.5, 1.0]), np.array([-0.2, 0.3]), np.array([0.4, -0.1]), Y5), ("means", "log_sds", "logits", "data")),
    ("matrix_exponential", (B33 * 0.5, 12), "a"),
    ("discounted_return", (V6, 0.9), ("rewards", "gamma")),
    ("fixed_point_vector", (A33 * 0.3, V3), ("a", "b")),
    ("cubic_root_newton", (2.5,), "p"),
    ("while_continue", (np.array([0.4, -1.0, 2.0, -0.3, 1.5]),), "v"),
    ("early_return_nested", (M34,), "m"),
    ("loop_over_list_of_arrays", (V3, W3, np.array([0.2, 0.2, -0.9])), ("a", "b", "c")),
    ("list_index_reads", (0.9, 4), "x"),
    ("sum_of_list", (V3, W3), ("a", "b")),
    ("zscore", (V6,), "v"),
    ("shape_attributes", (M34,), "m"),
    ("row_and_column_assignment", (M34, V4), ("m", "r")),
    ("smoothing_update", (V6, 0.3), ("x", "alpha")),
    ("distinct_index_update", (V4,), "x"),
    ("calls_inplace_callee", (np.array([1.3, -0.4, 0.8]),), "v"),
    ("float_and_abs_builtins", (V3,), "x"),
    ("callee_result_then_update", (V3,), "a"),
    ("element_of_branch_result", (M34,), "a"),
    ("element_of_other_branch", (M34,), "a"),
    ("negative_constant_base", (V3,), "a"),
    ("callee_of_broadcast_constant", (B32.T,), "a"),
    ("constant_callee_result_carried_by_loop", (V3,), "a"),
    ("reversed_in_place", (V3,), "a"),
    ("rows_from_itself", (B33,), "m"),
    ("update_of_exp_result", (V3,), "m"),
    ("copy_before_update_of_tanh", (B33,), "m"),
    ("zero_trip_loop_after_branch", (V3, 0), "a"),
    ("two_trip_loop_after_branch", (-V3,), "a"),
    ("branch_read_after_guarded_update", (V3, W3), ("a", "b")),
    ("updates_after_an_unused_read", (V3, 0.7), ("a", "c")),
    ("scaled_tail_of_a_constant_array", (V3, -1.5), "a"),
    ("carried_adjoint_that_becomes_none", (-V3, np.array([-0.5, -0.2, 0.1])), ("a", "v")),
    ("loop_after_a_value_its_adjoint_reads", (V3,), "x"),
    ("blocks_of_pass", (V3,), "x"),
    ("reversed_over_a_list", (V3, 0.4), ("a", "b")),
    ("reversed_range_sweep", (V4,), "x"),
    ("number_becomes_an_array", (V3,), "x"),
    ("callee_result_is_new", (V3,), "a"),
    ("slices_of_one_length", (V6,), "x"),
    ("chained_slices", (N43,), "x"),  # rows of a matrix
    ("mean_of_a_softplus", (W3, N43, V4), "w"),
]


@pytest.mark.parametrize("name, args, wrt", CASES, ids=[c[0] for c in CASES])
def test_corpus(mod, name, args, wrt):
    check(getattr(mod, name), *args, wrt=wrt, modes=MODES)


# what s2s refuses, and why: (name, args, wrt, modes, message)
REFUSED = [
    # `y += ...` on an array another name shares: the derivative code computes
    # y anew, where numpy changes the array z sees too
    ("alias_then_augment", (V3,), "x", ("forward", "reverse"), "`z` may be a view of an array that was updated in place"),
    # numpy keeps one of the writes to a repeated element; the adjoint cannot
    # tell which (forward mode follows numpy, and is right)
    ("repeated_index_update", (V4,), "x", ("reverse",), "names an element more than once"),
    # a user function may return its argument itself, which the update changes
    ("callee_view_then_update", (V3,), "a", ("forward", "reverse"), "`h` may be a view of an array that was updated in place"),
    # the adjoint of a list is built by undoing appends in reverse order: a pop in between would misalign it
    ("stack_of_pairs", (V3, 0.3), ("x", "c"), ("reverse",), r"`stack.pop\(\)` on a list whose elements carry derivatives, in reverse mode"),
    ("pop_and_drop", (V3,), "x", ("reverse",), r"`items.pop\(\)` on a list whose elements carry derivatives"),
]


@pytest.mark.parametrize("name, args, wrt, modes, message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused(mod, name, args, wrt, modes, message):
    for mode in modes:
        with pytest.raises(S2SError, match=message) as info:
            differentiate(getattr(mod, name), wrt=wrt, mode=mode).derivative(*args)
        assert info.value.filename == mod.__file__


def test_forward_mode_follows_numpy_through_repeated_indices(mod):
    check(mod.repeated_index_update, V4, wrt="x", modes=("forward",))


@pytest.mark.parametrize("name, args, wrt", [("stack_of_pairs", (V3, 0.3), ("x", "c")), ("pop_and_drop", (V3,), "x")])
def test_forward_mode_pops_a_tangent_list_alongside(mod, name, args, wrt):
    check(getattr(mod, name), *args, wrt=wrt, modes=("forward",))


def test_matching_slices_need_no_broadcasting(mod):
    """The adjoints of x[1:] - x[:-1] ** 2 know that the two slices have one
    shape: no broadcasting of the cotangent, no summing back."""
    source = differentiate(mod.chained_slices, wrt="x", mode="reverse").source()
    gradient = source.split("def chained_slices_gradient")[1].split("\n\n\n")[0]
    assert "broadcast_like" not in gradient and "unbroadcast(" not in gradient


def test_a_value_measured_for_its_size_only_is_not_computed(mod):
    """The adjoint of np.mean(np.log1p(e)) divides by the number of elements,
    which e has too: the log1p, which nothing else needs, is not computed."""
    source = differentiate(mod.mean_of_a_softplus, wrt="w", mode="reverse").source()
    gradient = source.split("def mean_of_a_softplus_gradient")[1].split("\n\n\n")[0]
    code = [line for line in gradient.splitlines() if not line.strip().startswith("#")]
    assert not any("log1p" in line for line in code)


def test_corpus_is_large_and_distinct():
    names = [c[0] for c in CASES]
    assert len(names) >= 90
    assert len(set(names)) == len(names)
