"""The peers of the benchmark: the same problems differentiated by other
automatic-differentiation libraries, when they are installed.

Each problem is written once against a numpy-like module ``xp`` (numpy's
own functions under autograd.numpy, jax.numpy and torch share their names),
in the same operations as the numpy function s2s differentiates. Loops
stay Python loops, except under JAX, whose own idiom for them is
``lax.fori_loop`` and ``lax.scan`` (tracing a Python loop of thousands of
steps would make ``jit`` compile for minutes); in-place updates of an
array become a list of values that is stacked, as none of the peers
differentiates writes into an array.

A peer turns a ``PeerTask`` (see ``problems.py``) into a zero-argument
callable, and its results into numpy arrays for the correctness check.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from problems import PeerTask

# ---------------------------------------------------------------- the problems against xp


def seed_rs(xp, d, xs, x):
    d0 = xp.exp(-1.5 * (x - xs) ** 2)
    return d - xp.sum(d * d0) / xp.sum(d0 * d0) * d0


def seed_rs_scalar(xp, d, xs, x):
    return xp.sum(seed_rs(xp, d, xs, x) ** 2)


def logistic_loss(xp, w, X, y):
    z = X @ w
    return xp.mean(xp.log1p(xp.exp(-y * z)))


def mlp_loss(xp, W1, b1, W2, b2, X, y, batch):
    total = 0.0
    for start in range(0, len(X), batch):
        h = xp.tanh(X[start : start + batch] @ W1 + b1)
        r = h @ W2 + b2 - y[start : start + batch]
        total = total + xp.sum(r * r)
    return total / len(X) + 1e-4 * (xp.sum(W1 * W1) + xp.sum(W2 * W2))


def rosenbrock(xp, x):
    return xp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def heat_misfit(xp, u0, nu, observed, steps):
    u = u0
    for _ in range(steps):
        u = u + nu * (xp.roll(u, 1) - 2.0 * u + xp.roll(u, -1))
    r = u - observed
    return 0.5 * xp.sum(r * r)


def recurrence(xp, alpha, u):
    y = [u[0]]
    for i in range(1, len(u)):
        y.append(alpha * y[-1] + u[i])
    y = xp.stack(y)
    return xp.sum(y * y)


PROBLEMS = {
    "seed-rs": seed_rs,
    "seed-rs_scalar": seed_rs_scalar,
    "logistic": logistic_loss,
    "mlp": mlp_loss,
    "rosenbrock": rosenbrock,
    "heat": heat_misfit,
    "recurrence": recurrence,
}


# ---------------------------------------------------------------- the peers


@dataclass
class Peer:
    """A library, in one configuration, able to differentiate PeerTasks."""

    name: str
    prepare: Callable[[PeerTask], Callable[[], Any]]  # task -> the timed call
    to_numpy: Callable[[Any], Any]
    warm_up: bool = False  # the first call traces and compiles: make it before any check or timing


def _tuple_map(fn: Callable, value: Any) -> Any:
    return tuple(_tuple_map(fn, v) for v in value) if isinstance(value, tuple) else fn(value)


def _along_one(jvp: Callable, fn: Callable, args: tuple, index: int, one: Any) -> Any:
    """The derivative w.r.t. the one scalar args[index], by a jvp along 1:
    one forward pass, as s2s's forward mode makes (a whole jacfwd costs
    these libraries more when eager: it maps the jvp over a basis)."""
    return jvp(lambda s: fn(*args[:index], s, *args[index + 1 :]), (args[index],), (one,))[1]


def _wrt(task: PeerTask) -> int | tuple[int, ...]:
    """One index for one argument (a bare result), a tuple for several (a tuple)."""
    return task.wrt[0] if len(task.wrt) == 1 else task.wrt


def autograd_peer() -> Peer:
    import autograd
    import autograd.numpy as anp
    from autograd.differential_operators import make_jvp

    def prepare(task: PeerTask) -> Callable[[], Any]:
        fn = functools.partial(PROBLEMS[task.key], anp, **task.constants)
        args = task.args
        if task.kind == "forward-jacobian":  # autograd's forward mode, along the one direction
            return lambda: make_jvp(fn, _wrt(task))(*args)(1.0)[1]
        if task.kind == "grad":
            gradient = autograd.grad(fn, _wrt(task))
            return lambda: gradient(*args)
        hvp = make_jvp(autograd.grad(fn))  # forward over reverse
        return lambda: hvp(*args)(task.tangent)

    return Peer("autograd", prepare, functools.partial(_tuple_map, np.asarray))


# JAX's idiom for loops: lax.fori_loop and lax.scan


def jax_heat_misfit(jnp, lax, u0, nu, observed, steps):
    u = lax.fori_loop(0, steps, lambda k, u: u + nu * (jnp.roll(u, 1) - 2.0 * u + jnp.roll(u, -1)), u0)
    r = u - observed
    return 0.5 * jnp.sum(r * r)


def jax_recurrence(jnp, lax, alpha, u):
    def step(previous, u_i):
        y_i = alpha * previous + u_i
        return y_i, y_i

    _, rest = lax.scan(step, u[0], u[1:])
    y = jnp.concatenate([u[:1], rest])
    return jnp.sum(y * y)


def jax_peers() -> list[Peer]:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from jax import lax

    def problem(task: PeerTask) -> Callable:
        own = {"heat": jax_heat_misfit, "recurrence": jax_recurrence}.get(task.key)
        if own is not None:
            return functools.partial(own, jnp, lax, **task.constants)
        return functools.partial(PROBLEMS[task.key], jnp, **task.constants)

    def derivative(task: PeerTask) -> Callable:
        fn = problem(task)
        if task.kind == "forward-jacobian":
            return lambda *args: _along_one(jax.jvp, fn, args, task.wrt[0], 1.0)
        if task.kind == "grad":
            return jax.grad(fn, argnums=_wrt(task))
        return lambda x, v: jax.jvp(jax.grad(fn), (x,), (v,))  # forward over reverse

    def arguments(task: PeerTask) -> tuple:
        args = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in task.args)
        return args + ((jnp.asarray(task.tangent),) if task.kind == "hvp" else ())

    def prepare(jit: bool) -> Callable[[PeerTask], Callable[[], Any]]:
        def prepared(task: PeerTask) -> Callable[[], Any]:
            fn = jax.jit(derivative(task)) if jit else derivative(task)
            args = arguments(task)
            return lambda: jax.block_until_ready(fn(*args))

        return prepared

    to_numpy = functools.partial(_tuple_map, np.asarray)
    return [Peer("JAX eager", prepare(False), to_numpy, warm_up=True), Peer("JAX jit", prepare(True), to_numpy, warm_up=True)]


def torch_peer() -> Peer:
    import torch
    import torch.func

    def tensor(value: Any, differentiated: bool) -> Any:
        if isinstance(value, np.ndarray):
            return torch.from_numpy(value)
        return torch.tensor(value, dtype=torch.float64) if differentiated else value  # torch.func differentiates tensors only

    def prepare(task: PeerTask) -> Callable[[], Any]:
        fn = functools.partial(PROBLEMS[task.key], torch, **task.constants)
        args = tuple(tensor(a, i in task.wrt) for i, a in enumerate(task.args))
        if task.kind == "forward-jacobian":
            one = torch.ones_like(args[task.wrt[0]])
            return lambda: _along_one(torch.func.jvp, fn, args, task.wrt[0], one)
        if task.kind == "grad":
            gradient = torch.func.grad(fn, argnums=_wrt(task))
            return lambda: gradient(*args)
        gradient, tangent = torch.func.grad(fn), torch.from_numpy(task.tangent)
        return lambda: torch.func.jvp(gradient, args, (tangent,))  # forward over reverse

    def to_numpy(result: Any) -> Any:
        return _tuple_map(lambda t: t.detach().numpy(), result)

    return Peer("torch.func", prepare, to_numpy)


PEER_FACTORIES: dict[str, Callable[[], Peer | list[Peer]]] = {
    "autograd": autograd_peer,
    "jax": jax_peers,
    "torch": torch_peer,
}


def available_peers(names: list[str] | None = None) -> tuple[list[Peer], list[str]]:
    """The peers that import, and one line for each library that does not."""
    peers, skipped = [], []
    for library, factory in PEER_FACTORIES.items():
        if names is not None and library not in names:
            continue
        try:
            made = factory()
        except ImportError as error:
            skipped.append(f"{library}: not installed, skipped ({error})")
            continue
        peers.extend(made if isinstance(made, list) else [made])
    return peers, skipped
