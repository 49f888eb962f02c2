"""Distribution drift between a baseline (the training set) and a sample (served values):
population stability index and the two-sample Kolmogorov-Smirnov test, in numpy."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Values = npt.ArrayLike

#: Conventional PSI reading: under 0.1 stable, up to 0.25 moderate, above that a shift.
PSI_MODERATE, PSI_SHIFT = 0.1, 0.25


def psi(baseline: Values, sample: Values, bins: int = 10) -> float:
    """Population stability index over the baseline's quantile bins.

    Bins are the baseline's deciles (fewer when values repeat, so a feature with three
    distinct values gets three bins); empty bins count as 0.01% so the log stays finite.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = rng.normal(size=10_000)
        >>> round(psi(base, rng.normal(size=10_000)), 2), psi(base, base + 1) > 0.25
        (0.0, True)
    """
    expected, actual = np.asarray(baseline, float), np.asarray(sample, float)
    if expected.size == 0 or actual.size == 0:
        return math.nan
    inner = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))[1:-1]
    # Bin i holds values in (edge[i-1], edge[i]]; a repeated value gets its own bin.
    e = np.bincount(np.searchsorted(inner, expected, "left"), minlength=inner.size + 1)
    a = np.bincount(np.searchsorted(inner, actual, "left"), minlength=inner.size + 1)
    e_share = np.clip(e / expected.size, 1e-4, None)
    a_share = np.clip(a / actual.size, 1e-4, None)
    return float(np.sum((a_share - e_share) * np.log(a_share / e_share)))


def ks(baseline: Values, sample: Values) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value.

    Example:
        >>> stat, p = ks([1, 2, 3, 4, 5] * 50, [3, 4, 5, 6, 7] * 50)
        >>> round(stat, 2), p < 0.001
        (0.4, True)
    """
    x, y = np.sort(np.asarray(baseline, float)), np.sort(np.asarray(sample, float))
    if x.size == 0 or y.size == 0:
        return math.nan, math.nan
    grid = np.concatenate([x, y])
    gap = np.abs(
        np.searchsorted(x, grid, "right") / x.size - np.searchsorted(y, grid, "right") / y.size
    )
    stat = float(gap.max())
    n = math.sqrt(x.size * y.size / (x.size + y.size))
    return stat, _kolmogorov_survival((n + 0.12 + 0.11 / n) * stat)


def _kolmogorov_survival(lam: float) -> float:
    """P(K > lam) for the Kolmogorov distribution (Numerical Recipes' series)."""
    if lam < 1e-3:
        return 1.0
    k = np.arange(1, 101)
    terms = 2 * (-1.0) ** (k - 1) * np.exp(-2 * k**2 * lam**2)
    return float(min(1.0, max(0.0, terms.sum())))
