"""The problems of the benchmark suite, each with its derivative written by hand.

Every problem is a plain numpy function s2s differentiates. ``build(n)``
returns a ``Case``: the inputs at size n, and each way of computing the
derivative as a zero-argument callable (the numpy primal for reference,
s2s, the hand-written derivative, forward finite differences), together
with what the peers (other AD libraries, see ``peers.py``) need to compute
the same derivative.

The seed problems (``rs`` and ``rs_scalar`` of ``examples/gaussian_fit.py``)
are defined in a closure per size: s2s reads the grid from the closure, so
each size's functions see their own grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from s2s import differentiate

Call = Callable[[], Any]


@dataclass
class PeerTask:
    """What a peer library differentiates: the function ``peers.py`` holds
    under ``key``, its positional arguments (numpy values), the indices of
    those it differentiates w.r.t., and how.

    kind: ``"forward-jacobian"`` (one scalar in, an array out: forward
    mode), ``"grad"`` (a scalar out) or ``"hvp"`` (gradient and
    Hessian-vector product along ``tangent``)."""

    key: str
    args: tuple
    wrt: tuple[int, ...]
    kind: str
    tangent: Any = None
    constants: dict = field(default_factory=dict)  # keyword arguments that stay Python values (loop counts)


@dataclass
class Case:
    """One problem at one size."""

    label: str  # the size as the table shows it
    n: int  # the size on the plot's axis
    primal: Call
    s2s: Callable[..., Call]  # s2s(**extra differentiate() options) -> the timed call
    hand_written: dict[str, Call]  # method name -> call
    forward_difference: Call
    difference_calls: int  # primal calls one forward difference makes
    check_central: Callable[[Any], None]  # raises AssertionError unless s2s's result matches central differences
    peer: PeerTask
    rtol: float = 1e-8  # between methods that compute the derivative exactly
    difference_rtol: float = 1e-4  # for forward differences, whose error is O(h)


@dataclass(frozen=True)
class Problem:
    key: str
    title: str
    sizes: tuple[int, ...]
    build: Callable[[int], Case]
    size_name: str = "n"


# ---------------------------------------------------------------- helpers


def s2s_method(fn: Callable, wrt: str | tuple[str, ...], mode: str, verb: str, *args: Any) -> Callable[..., Call]:
    """A factory of the timed s2s call: the ``differentiate`` object is made
    once, outside the timing, with any extra options (a backend)."""

    def build(**options: Any) -> Call:
        method = getattr(differentiate(fn, wrt=wrt, mode=mode, **options), verb)
        return lambda: method(*args)

    return build


def _perturbed(args: tuple, index: int, value: Any) -> tuple:
    return args[:index] + (value,) + args[index + 1 :]


def _step(value: float, order: float) -> float:
    """A finite-difference step for a value: eps ** order of its scale
    (order 1/2 for forward differences, 1/3 for central ones)."""
    return float(np.finfo(float).eps ** order * max(1.0, abs(value)))


def forward_difference(f: Callable, args: tuple, wrt: tuple[int, ...]) -> Any:
    """The derivative of f w.r.t. args[i] for i in wrt by forward
    differences: one extra call of f per input element. Shapes as s2s's
    (output shape + input shape); a tuple for several wrt."""
    base = np.asarray(f(*args))
    results = []
    for index in wrt:
        value = args[index]
        if np.ndim(value) == 0:
            h = _step(value, 1 / 2)
            results.append((np.asarray(f(*_perturbed(args, index, value + h))) - base) / h)
            continue
        work = np.array(value, dtype=float)  # perturbed in place, one element at a time
        result = np.empty(base.shape + work.shape)
        for element in np.ndindex(work.shape):
            original = work[element]
            h = _step(original, 1 / 2)
            work[element] = original + h
            result[(Ellipsis,) + element] = (np.asarray(f(*_perturbed(args, index, work))) - base) / h
            work[element] = original
        results.append(result)
    return results[0] if len(wrt) == 1 else tuple(results)


def random_like(value: Any, rng: np.random.Generator) -> Any:
    return float(rng.standard_normal()) if np.ndim(value) == 0 else rng.standard_normal(np.shape(value))


def central_directional(f: Callable, args: tuple, wrt: tuple[int, ...], direction: tuple) -> Any:
    """(f(args + h v) - f(args - h v)) / 2h along a direction v over the wrt
    arguments: two calls of f whatever the size, so it checks s2s at every
    size."""
    h = _step(max(float(np.max(np.abs(args[i]))) for i in wrt), 1 / 3)
    plus, minus = list(args), list(args)
    for index, v in zip(wrt, direction, strict=True):
        plus[index] = args[index] + h * v
        minus[index] = args[index] - h * v
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * h)


def along(derivative: Any, direction: tuple) -> Any:
    """The derivative (one array per wrt argument, output axes first)
    applied to a direction: the sum over arguments of the contraction over
    their axes."""
    parts = derivative if isinstance(derivative, tuple) else (derivative,)
    return sum(np.tensordot(d, v, axes=np.ndim(v)) for d, v in zip(parts, direction, strict=True))


def assert_close(actual: Any, expected: Any, rtol: float) -> None:
    """assert_allclose over a result and its tuple parts, with an absolute
    tolerance scaled to the expected values (entries near zero would
    otherwise need an exact match)."""
    if isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"expected a tuple of {len(expected)}, got {type(actual).__name__}"
        for a, e in zip(actual, expected, strict=True):
            assert_close(a, e, rtol)
        return
    expected = np.asarray(expected)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol, atol=rtol * scale)


def directional_checker(f: Callable, args: tuple, wrt: tuple[int, ...], rtol: float = 1e-6) -> Callable[[Any], None]:
    """A check of a derivative of f against a central difference along a
    random direction."""
    rng = np.random.default_rng(12345)
    direction = tuple(random_like(args[i], rng) for i in wrt)

    def check(derivative: Any) -> None:
        assert_close(along(derivative, direction), central_directional(f, args, wrt, direction), rtol)

    return check


# ---------------------------------------------------------------- seed: the Gaussian fit


def seed_functions(n: int) -> tuple[np.ndarray, Callable, Callable, Callable]:
    """The grid x of n points and f, rs, rs_scalar of examples/gaussian_fit.py on it."""
    x = np.linspace(-10.0, 10.0, n)

    def f(m):
        return np.exp(-1.5 * (x - m) ** 2)

    def rs(d, xs):
        d0 = f(xs)
        return d - np.sum(d * d0) / np.sum(d0 * d0) * d0

    def rs_scalar(d, xs):
        return np.sum(rs(d, xs) ** 2)

    return x, f, rs, rs_scalar


def seed_data(f: Callable, n: int) -> np.ndarray:
    """A peak at 0.7 with a little noise."""
    return 2.5 * f(0.7) + 0.01 * np.random.default_rng(0).standard_normal(n)


def _peak_and_tangent(x, d, xs):
    """The peak d0 and the height c = d.d0 / d0.d0 of the fit, with their
    tangents w.r.t. xs, written term by term."""
    t = x - xs
    d0 = np.exp(-1.5 * t**2)
    d0_dot = 3.0 * t * d0
    s1 = np.sum(d * d0)
    s1_dot = np.sum(d * d0_dot)
    s2 = np.sum(d0 * d0)
    s2_dot = 2.0 * np.sum(d0 * d0_dot)
    c = s1 / s2
    c_dot = (s1_dot - c * s2_dot) / s2
    return d0, d0_dot, c, c_dot


def drs_dxs(x, d, xs):
    """d rs / d xs, by hand."""
    d0, d0_dot, c, c_dot = _peak_and_tangent(x, d, xs)
    return -(c_dot * d0 + c * d0_dot)


def drs_scalar_dxs(x, d, xs):
    """d sum(rs**2) / d xs, by hand: 2 rs . (d rs / d xs)."""
    d0, d0_dot, c, c_dot = _peak_and_tangent(x, d, xs)
    r = d - c * d0
    r_dot = -(c_dot * d0 + c * d0_dot)
    return 2.0 * np.sum(r * r_dot)


def _peak_and_tangent_dot(x, d, xs):
    """As _peak_and_tangent, with the reductions as dot products and the
    elementwise work done in place: two temporaries of size n in all."""
    d0 = x - xs
    d0_dot = 3.0 * d0
    d0 *= d0
    d0 *= -1.5
    np.exp(d0, out=d0)
    d0_dot *= d0
    s2 = np.dot(d0, d0)
    c = np.dot(d, d0) / s2
    c_dot = (np.dot(d, d0_dot) - 2.0 * c * np.dot(d0, d0_dot)) / s2
    return d0, d0_dot, c, c_dot


def drs_dxs_dot(x, d, xs):
    """d rs / d xs, by an expert: dot products, updates in place."""
    d0, d0_dot, c, c_dot = _peak_and_tangent_dot(x, d, xs)
    d0_dot *= -c
    d0 *= c_dot
    d0_dot -= d0
    return d0_dot


def drs_scalar_dxs_dot(x, d, xs):
    """d sum(rs**2) / d xs, by an expert: 2 rs . rs_dot as one dot product."""
    d0, d0_dot, c, c_dot = _peak_and_tangent_dot(x, d, xs)
    r = d - c * d0
    d0_dot *= c
    d0 *= c_dot
    d0_dot += d0  # -rs_dot
    return -2.0 * np.dot(r, d0_dot)


def drs_scalar_dd(x, d, xs):
    """d sum(rs**2) / d d, by hand: the adjoint of rs = d - c(d) d0."""
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    s2 = np.sum(d0 * d0)
    c = np.sum(d * d0) / s2
    r_bar = 2.0 * (d - c * d0)
    c_bar = -np.sum(r_bar * d0)
    return r_bar + c_bar / s2 * d0


def drs_scalar_dd_dot(x, d, xs):
    """d sum(rs**2) / d d, by an expert: dot products, updates in place."""
    d0 = x - xs
    d0 *= d0
    d0 *= -1.5
    np.exp(d0, out=d0)
    s2 = np.dot(d0, d0)
    r_bar = d0 * (-2.0 * np.dot(d, d0) / s2)
    r_bar += d
    r_bar += d  # 2 (d - c d0)
    d0 *= -np.dot(r_bar, d0) / s2
    r_bar += d0
    return r_bar


def _seed_case(n: int, function: str, wrt: str, mode: str, verb: str, by_hand: Callable, by_expert: Callable) -> Case:
    x, f, rs, rs_scalar = seed_functions(n)
    fn = {"rs": rs, "rs_scalar": rs_scalar}[function]
    d, xs = seed_data(f, n), 0.3
    args = (d, xs)
    index = (0,) if wrt == "d" else (1,)
    return Case(
        label=f"{n:,}",
        n=n,
        primal=lambda: fn(d, xs),
        s2s=s2s_method(fn, wrt, mode, verb, d, xs),
        hand_written={"hand-written": lambda: by_hand(x, d, xs), "hand-written np.dot": lambda: by_expert(x, d, xs)},
        forward_difference=lambda: forward_difference(fn, args, index),
        difference_calls=int(np.size(args[index[0]])),
        check_central=directional_checker(fn, args, index),
        peer=PeerTask(f"seed-{function}", (d, xs, x), index, "forward-jacobian" if verb == "derivative" else "grad"),
    )


def seed_a(n: int) -> Case:
    return _seed_case(n, "rs", "xs", "forward", "derivative", drs_dxs, drs_dxs_dot)


def seed_b(n: int) -> Case:
    return _seed_case(n, "rs_scalar", "xs", "forward", "derivative", drs_scalar_dxs, drs_scalar_dxs_dot)


def seed_c(n: int) -> Case:
    return _seed_case(n, "rs_scalar", "d", "reverse", "grad", drs_scalar_dd, drs_scalar_dd_dot)


# ---------------------------------------------------------------- logistic regression


def logistic_loss(w, X, y):
    """Mean logistic loss of labels y in {-1, 1}; the data keep the margins
    y * (X @ w) small, so exp does not overflow."""
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def logistic_gradient(w, X, y):
    """By hand: d/dz log(1 + exp(-y z)) = -y / (1 + exp(y z))."""
    z = X @ w
    return X.T @ (-y / (1.0 + np.exp(y * z))) / len(y)


LOGISTIC_FEATURES = 100


def logistic(m: int) -> Case:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((m, LOGISTIC_FEATURES)) / np.sqrt(LOGISTIC_FEATURES)
    y = np.sign(X @ rng.standard_normal(LOGISTIC_FEATURES) + 0.3 * rng.standard_normal(m))
    w = 0.5 * rng.standard_normal(LOGISTIC_FEATURES)
    args = (w, X, y)
    return Case(
        label=f"{m:,} x {LOGISTIC_FEATURES}",
        n=m,
        primal=lambda: logistic_loss(*args),
        s2s=s2s_method(logistic_loss, "w", "reverse", "grad", *args),
        hand_written={"hand-written": lambda: logistic_gradient(*args)},
        forward_difference=lambda: forward_difference(logistic_loss, args, (0,)),
        difference_calls=w.size,
        check_central=directional_checker(logistic_loss, args, (0,)),
        peer=PeerTask("logistic", args, (0,), "grad"),
    )


# ---------------------------------------------------------------- two-layer perceptron


def layer(W, b, x):
    return np.tanh(x @ W + b)


def predict(W1, b1, W2, b2, X):
    h = layer(W1, b1, X)
    return h @ W2 + b2


def mlp_loss(W1, b1, W2, b2, X, y, batch):
    """The mini-batch loss of examples/mlp_training.py."""
    total = 0.0
    for start in range(0, len(X), batch):
        r = predict(W1, b1, W2, b2, X[start : start + batch]) - y[start : start + batch]
        total = total + np.sum(r * r)
    return total / len(X) + 1e-4 * (np.sum(W1 * W1) + np.sum(W2 * W2))


def mlp_gradient(W1, b1, W2, b2, X, y, batch):
    """By hand: backpropagation batch by batch."""
    gW1, gb1, gW2, gb2 = (np.zeros_like(p) for p in (W1, b1, W2, b2))
    for start in range(0, len(X), batch):
        xb = X[start : start + batch]
        h = np.tanh(xb @ W1 + b1)
        r_bar = 2.0 / len(X) * (h @ W2 + b2 - y[start : start + batch])
        gW2 += h.T @ r_bar
        gb2 += r_bar.sum(axis=0)
        a_bar = (r_bar @ W2.T) * (1.0 - h * h)
        gW1 += xb.T @ a_bar
        gb1 += a_bar.sum(axis=0)
    gW1 += 2e-4 * W1
    gW2 += 2e-4 * W2
    return gW1, gb1, gW2, gb2


MLP_INPUTS, MLP_HIDDEN, MLP_BATCH = 4, 32, 64


def mlp(m: int) -> Case:
    rng = np.random.default_rng(2)
    X = rng.uniform(-1.0, 1.0, (m, MLP_INPUTS))
    y = np.sin(3.0 * X.sum(axis=1, keepdims=True))
    weights = (rng.normal(0.0, 1.0, (MLP_INPUTS, MLP_HIDDEN)), 0.1 * rng.standard_normal(MLP_HIDDEN),
               rng.normal(0.0, 0.3, (MLP_HIDDEN, 1)), 0.1 * rng.standard_normal(1))
    args = weights + (X, y, MLP_BATCH)
    wrt = (0, 1, 2, 3)
    return Case(
        label=f"{m:,} samples",
        n=m,
        primal=lambda: mlp_loss(*args),
        s2s=s2s_method(mlp_loss, ("W1", "b1", "W2", "b2"), "reverse", "grad", *args),
        hand_written={"hand-written": lambda: mlp_gradient(*args)},
        forward_difference=lambda: forward_difference(mlp_loss, args, wrt),
        difference_calls=sum(p.size for p in weights),
        check_central=directional_checker(mlp_loss, args, wrt),
        peer=PeerTask("mlp", weights + (X, y), wrt, "grad", constants={"batch": MLP_BATCH}),
    )


# ---------------------------------------------------------------- Rosenbrock


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_gradient(x):
    """By hand, term by term."""
    t = x[1:] - x[:-1] ** 2
    g = np.zeros_like(x)
    g[:-1] = -400.0 * t * x[:-1] - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * t
    return g


def rosenbrock_gradient_and_hvp(x, v):
    """By hand: the gradient and its derivative along v, H @ v."""
    head, v_head = x[:-1], v[:-1]
    t = x[1:] - head**2
    t_dot = v[1:] - 2.0 * head * v_head
    g = np.zeros_like(x)
    g[:-1] = -400.0 * t * head - 2.0 * (1.0 - head)
    g[1:] += 200.0 * t
    hv = np.zeros_like(x)
    hv[:-1] = -400.0 * (t_dot * head + t * v_head) + 2.0 * v_head
    hv[1:] += 200.0 * t_dot
    return g, hv


def _rosenbrock_point(n: int) -> np.ndarray:
    return np.random.default_rng(3).uniform(-1.5, 1.5, n)


def rosenbrock_grad(n: int) -> Case:
    x = _rosenbrock_point(n)
    return Case(
        label=f"{n:,}",
        n=n,
        primal=lambda: rosenbrock(x),
        s2s=s2s_method(rosenbrock, "x", "reverse", "grad", x),
        hand_written={"hand-written": lambda: rosenbrock_gradient(x)},
        forward_difference=lambda: forward_difference(rosenbrock, (x,), (0,)),
        difference_calls=n,
        check_central=directional_checker(rosenbrock, (x,), (0,)),
        peer=PeerTask("rosenbrock", (x,), (0,), "grad"),
    )


def gradient_difference_along(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and a forward difference of it along v: the
    finite-difference Hessian-vector product (one extra gradient call)."""
    g = rosenbrock_gradient(x)
    h = _step(float(np.max(np.abs(x))), 1 / 2) / float(np.max(np.abs(v)))
    return g, (rosenbrock_gradient(x + h * v) - g) / h


def rosenbrock_hvp(n: int) -> Case:
    x = _rosenbrock_point(n)
    v = np.random.default_rng(4).standard_normal(n)
    gradient_check = directional_checker(rosenbrock, (x,), (0,))

    def check(result: tuple) -> None:
        gradient, product = result
        gradient_check(gradient)
        # H @ v against a central difference of the hand-written gradient along v
        assert_close(product, central_directional(rosenbrock_gradient, (x,), (0,), (v,)), 1e-6)

    return Case(
        label=f"{n:,}",
        n=n,
        primal=lambda: rosenbrock(x),
        s2s=s2s_method(rosenbrock, "x", "reverse", "hvp", (x,), (v,)),
        hand_written={"hand-written": lambda: rosenbrock_gradient_and_hvp(x, v)},
        forward_difference=lambda: gradient_difference_along(x, v),
        difference_calls=1,
        check_central=check,
        peer=PeerTask("rosenbrock", (x,), (0,), "hvp", tangent=v),
    )


# ---------------------------------------------------------------- heat equation


def heat_step(u, nu):
    return u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))


def simulate(u0, nu, steps):
    u = u0
    for _ in range(steps):
        u = heat_step(u, nu)
    return u


def heat_misfit(u0, nu, steps, observed):
    r = simulate(u0, nu, steps) - observed
    return 0.5 * np.sum(r * r)


def heat_misfit_gradient(u0, nu, steps, observed):
    """By hand: the step is linear in u and its stencil symmetric, so the
    adjoint of a step is the step itself, run on the residual."""
    u_bar = simulate(u0, nu, steps) - observed
    for _ in range(steps):
        u_bar = heat_step(u_bar, nu)
    return u_bar


HEAT_STEPS, HEAT_NU = 400, 0.2


def heat(n: int) -> Case:
    grid = np.linspace(0.0, 1.0, n, endpoint=False)
    observed = simulate(np.exp(-(((grid - 0.45) / 0.05) ** 2)), HEAT_NU, HEAT_STEPS)
    u0 = np.exp(-(((grid - 0.5) / 0.05) ** 2))
    args = (u0, HEAT_NU, HEAT_STEPS, observed)
    return Case(
        label=f"{n:,} points",
        n=n,
        primal=lambda: heat_misfit(*args),
        s2s=s2s_method(heat_misfit, "u0", "reverse", "grad", *args),
        hand_written={"hand-written": lambda: heat_misfit_gradient(*args)},
        forward_difference=lambda: forward_difference(heat_misfit, args, (0,)),
        difference_calls=n,
        check_central=directional_checker(heat_misfit, args, (0,)),
        peer=PeerTask("heat", (u0, HEAT_NU, observed), (0,), "grad", constants={"steps": HEAT_STEPS}),
        difference_rtol=1e-3,  # 400 steps amplify the rounding of a forward difference
    )


# ---------------------------------------------------------------- recurrence with in-place updates


def recurrence(alpha, u):
    y = np.zeros(len(u))
    y[0] = u[0]
    for i in range(1, len(u)):
        y[i] = alpha * y[i - 1] + u[i]
    return np.sum(y * y)


def recurrence_gradient(alpha, u):
    """By hand: keep y, walk back once."""
    n = len(u)
    y = np.zeros(n)
    y[0] = u[0]
    for i in range(1, n):
        y[i] = alpha * y[i - 1] + u[i]
    y_bar = 2.0 * y
    alpha_bar = 0.0
    for i in range(n - 1, 0, -1):
        alpha_bar += y_bar[i] * y[i - 1]
        y_bar[i - 1] += alpha * y_bar[i]
    return alpha_bar, y_bar  # u_bar[i] is y_bar[i] once the walk has passed i


def recurrence_case(n: int) -> Case:
    u = np.sin(np.linspace(0.0, 3.0, n))
    args = (0.9, u)
    wrt = (0, 1)
    return Case(
        label=f"{n:,}",
        n=n,
        primal=lambda: recurrence(*args),
        s2s=s2s_method(recurrence, ("alpha", "u"), "reverse", "grad", *args),
        hand_written={"hand-written": lambda: recurrence_gradient(*args)},
        forward_difference=lambda: forward_difference(recurrence, args, wrt),
        difference_calls=n + 1,
        check_central=directional_checker(recurrence, args, wrt),
        peer=PeerTask("recurrence", args, wrt, "grad"),
    )


SEED_SIZES = (21, 10_000, 1_000_000)

PROBLEMS = [
    Problem("seed-a", "Seed task A: d rs / d xs (s2s forward mode)", SEED_SIZES, seed_a),
    Problem("seed-b", "Seed task B: d rs_scalar / d xs, rs_scalar = sum(rs**2) (s2s forward mode)", SEED_SIZES, seed_b),
    Problem("seed-c", "Seed task C: d rs_scalar / d d, the gradient w.r.t. the data (s2s reverse mode)", SEED_SIZES, seed_c),
    Problem("logistic", f"Logistic-regression loss, gradient w.r.t. the {LOGISTIC_FEATURES} weights (X of m x {LOGISTIC_FEATURES})",
            (1_000, 100_000), logistic, "m"),
    Problem("mlp", f"Two-layer perceptron ({MLP_INPUTS}-{MLP_HIDDEN}-1, batches of {MLP_BATCH}), loss gradient w.r.t. all weights",
            (256, 4_096), mlp, "samples"),
    Problem("rosenbrock-grad", "Rosenbrock gradient", (100, 10_000, 1_000_000), rosenbrock_grad),
    Problem("rosenbrock-hvp", "Rosenbrock Hessian-vector product (gradient and H @ v; s2s .hvp)", (100, 10_000, 1_000_000), rosenbrock_hvp),
    Problem("heat", f"Heat equation, {HEAT_STEPS} explicit steps: gradient of the misfit w.r.t. the initial state", (100, 1_000, 10_000), heat, "points"),
    Problem("recurrence", "Recurrence y[i] = alpha * y[i-1] + u[i] in place: gradient of sum(y**2) w.r.t. alpha and u",
            (100, 1_000, 10_000), recurrence_case),
]


def problem_named(key: str) -> Problem:
    for problem in PROBLEMS:
        if problem.key == key:
            return problem
    raise KeyError(f"no problem {key!r}; the problems are {', '.join(p.key for p in PROBLEMS)}")

