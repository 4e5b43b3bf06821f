"""The LSH bands datasketch's ``MinHashLSH(threshold, num_perm)`` picks, without importing it (or scipy).

datasketch tries every ``b`` bands of ``r`` rows with ``b * r <= num_perm`` and keeps the first that
minimises the mean of the false-positive area (``1 - (1 - s^r)^b`` over ``s`` in ``[0, threshold]``)
and the false-negative area (its complement over ``[threshold, 1]``), integrating with scipy's
``quad``. Both integrands are polynomials of degree ``b * r``, so Gauss-Legendre quadrature with
``num_perm // 2 + 1`` nodes integrates them exactly; where two choices come within ``quad``'s
tolerance of each other, which one ``quad`` ranks first is up to its rounding, so datasketch itself
is asked (a second to import).

>>> lsh_bands(0.8, 128)[:2], len(lsh_bands(0.8, 128))
(((0, 13), (13, 26)), 9)
"""

from __future__ import annotations

import numpy as np

# quad's default absolute tolerance is 1.49e-8 per integral: choices closer than this may swap.
_AMBIGUOUS = 1e-7


def lsh_bands(threshold: float, num_perm: int) -> tuple[tuple[int, int], ...]:
    """``(start, end)`` of each band of a signature: ``MinHashLSH(threshold, num_perm).hashranges``."""
    b, r = _optimal_bands(threshold, num_perm)
    return tuple((i * r, (i + 1) * r) for i in range(b))


def _optimal_bands(threshold: float, num_perm: int) -> tuple[int, int]:
    nodes, weights = np.polynomial.legendre.leggauss(num_perm // 2 + 1)  # exact to degree num_perm + 1
    below = threshold / 2 * (nodes + 1)  # the nodes mapped onto [0, threshold] ...
    above = threshold + (1 - threshold) / 2 * (nodes + 1)  # ... and onto [threshold, 1]
    choices, errors = [], []
    for b in range(1, num_perm + 1):
        r = np.arange(1, num_perm // b + 1, dtype=np.float64)[:, None]
        false_positive = threshold / 2 * ((1 - (1 - below**r) ** b) @ weights)
        false_negative = (1 - threshold) / 2 * (((1 - above**r) ** b) @ weights)
        choices += [(b, int(rows)) for rows in r[:, 0]]
        errors += (0.5 * false_positive + 0.5 * false_negative).tolist()
    ranked = np.argsort(errors, kind="stable")  # ties: the first tried, as datasketch
    best, runner_up = errors[ranked[0]], errors[ranked[1]] if len(ranked) > 1 else np.inf
    if runner_up - best > _AMBIGUOUS:
        return choices[ranked[0]]
    from datasketch.lsh import _optimal_param

    b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return b, r
