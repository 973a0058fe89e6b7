# s2s: rs wrt=xs mode=forward
# s2s: rs wrt=xs mode=reverse
# s2s: rs wrt=d mode=reverse
# s2s: rs_scalar wrt=d mode=reverse
# s2s: rs_scalar wrt=xs mode=forward
import numpy as np

x = np.arange(-10.0, 11.0)


def f(m):
    return np.exp(-1.5 * (x - m) ** 2)


def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar(d, xs):
    return np.sum(rs(d, xs) ** 2)
