# s2s: recurrence wrt=alpha mode=forward
# s2s: recurrence wrt=alpha,u mode=reverse
# s2s: clipped_energy wrt=x mode=forward
# s2s: clipped_energy wrt=x mode=reverse
# s2s: heat wrt=u0 mode=reverse
import numpy as np


def recurrence(alpha, u):
    y = np.zeros(len(u))
    y[0] = u[0]
    for i in range(1, len(u)):
        y[i] = alpha * y[i - 1] + u[i]
    return np.sum(y * y)


def clipped_energy(x, limit):
    e = np.sum(x * x)
    if e > limit:
        e = limit + np.log(e - limit + 1.0)
    return e


def heat(u0, nu, steps):
    u = u0
    for step in range(steps):
        u = u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)
