"""A score with its n and 95% interval, and the paired verdict of two models on the same items.

The zoo's evaluation sets are small (64 VWW images, 27 face crops), so one image moves a score by
points: every score carries its uncertainty, and "ours vs the reference" is a paired test on the same
items, never a comparison of two rounded numbers.

- proportions (accuracy: per item right or wrong): Wilson interval (`scipy.stats.binomtest`), McNemar's
  exact test on the discordant items (a binomial test of b vs c);
- any other statistic (mAP, NME, AUC, a max deviation): a seeded percentile bootstrap over the items
  (`scipy.stats.bootstrap`), and for two models a paired bootstrap of the difference.

A verdict is "better", "worse" or "within noise" (the 95% test cannot tell them apart); with fewer
than MIN_PAIRED_N items a bootstrap gives no verdict beyond "within noise".
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

CONFIDENCE = 0.95
ALPHA = 1 - CONFIDENCE
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
MIN_PAIRED_N = 10  # a bootstrap over fewer items says nothing about other items

BETTER, WORSE, WITHIN_NOISE = "better", "worse", "within noise"

Statistic = Callable[[Sequence[Any]], float]


@dataclass(frozen=True)
class Score:
    """A metric value, the items it was measured on and its 95% interval."""

    value: float
    n: int
    low: float
    high: float
    method: str
    correct: int | None = None  # proportions: items right

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Verdict:
    """Ours against another model on the same items: better, worse or within noise."""

    verdict: str
    test: str
    n: int
    p_value: float | None = None  # McNemar
    ours_only: int | None = None  # McNemar: items only ours gets right
    theirs_only: int | None = None
    difference: float | None = None  # bootstrap: ours - theirs, with its interval
    low: float | None = None
    high: float | None = None
    note: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def proportion(correct: Sequence[bool] | np.ndarray) -> Score:
    """The share of items right, with its Wilson 95% interval."""
    from scipy.stats import binomtest

    correct = np.asarray(correct, bool).reshape(-1)
    n, k = len(correct), int(correct.sum())
    if n == 0:
        raise ValueError("a proportion of no items")
    ci = binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Score(k / n, n, float(ci.low), float(ci.high), "Wilson 95%", correct=k)


def _resampled(values: Sequence[Any], statistic: Statistic) -> Callable[[np.ndarray], float]:
    items = list(values)
    return lambda idx: float(statistic([items[int(i)] for i in idx]))


def bootstrap(values: Sequence[Any], statistic: Statistic, seed: int = BOOTSTRAP_SEED,
              n_resamples: int = BOOTSTRAP_RESAMPLES) -> Score:
    """`statistic(values)` with a seeded percentile-bootstrap 95% interval over the items."""
    from scipy.stats import bootstrap as scipy_bootstrap

    n = len(values)
    if n == 0:
        raise ValueError("a statistic of no items")
    value = float(statistic(list(values)))
    if n == 1:
        return Score(value, 1, value, value, "single item: no interval")
    result = scipy_bootstrap((np.arange(n),), _resampled(values, statistic), vectorized=False,
                             n_resamples=n_resamples, confidence_level=CONFIDENCE, method="percentile",
                             rng=np.random.default_rng(seed))
    ci = result.confidence_interval
    few = f"; {n} items: the interval spans little more than them" if n < MIN_PAIRED_N else ""
    return Score(value, n, float(ci.low), float(ci.high),
                 f"bootstrap 95% (percentile, {n_resamples} resamples, seed {seed}{few})")


def mcnemar(ours: Sequence[bool] | np.ndarray, theirs: Sequence[bool] | np.ndarray) -> Verdict:
    """McNemar's exact test on the items exactly one of the two models gets right."""
    from scipy.stats import binomtest

    ours, theirs = np.asarray(ours, bool).reshape(-1), np.asarray(theirs, bool).reshape(-1)
    if len(ours) != len(theirs):
        raise ValueError(f"paired test of {len(ours)} and {len(theirs)} items")
    b, c = int(np.sum(ours & ~theirs)), int(np.sum(~ours & theirs))
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
    verdict = WITHIN_NOISE if p >= ALPHA else BETTER if b > c else WORSE
    return Verdict(verdict, "McNemar exact (two-sided, 5%)", len(ours), p_value=p, ours_only=b, theirs_only=c)


def paired_bootstrap(ours: Sequence[Any], theirs: Sequence[Any], statistic: Statistic, higher_is_better: bool,
                     seed: int = BOOTSTRAP_SEED, n_resamples: int = BOOTSTRAP_RESAMPLES) -> Verdict:
    """The difference `statistic(ours) - statistic(theirs)` with a paired bootstrap 95% interval over the
    items (both resampled with the same indices): "better"/"worse" when the interval excludes 0."""
    from scipy.stats import bootstrap as scipy_bootstrap

    ours, theirs = list(ours), list(theirs)
    n = len(ours)
    if n != len(theirs):
        raise ValueError(f"paired test of {n} and {len(theirs)} items")
    test = f"paired bootstrap 95% (percentile, {n_resamples} resamples, seed {seed})"
    difference = float(statistic(ours) - statistic(theirs))
    if n < MIN_PAIRED_N:
        return Verdict(WITHIN_NOISE, test, n, difference=difference,
                       note=f"{n} items: too few for a paired test (needs {MIN_PAIRED_N})")
    mine, other = _resampled(ours, statistic), _resampled(theirs, statistic)
    result = scipy_bootstrap((np.arange(n),), lambda idx: mine(idx) - other(idx), vectorized=False,
                             n_resamples=n_resamples, confidence_level=CONFIDENCE, method="percentile",
                             rng=np.random.default_rng(seed))
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if low > 0 or high < 0:
        ahead = low > 0 if higher_is_better else high < 0
        verdict = BETTER if ahead else WORSE
    else:
        verdict = WITHIN_NOISE
    return Verdict(verdict, test, n, difference=difference, low=low, high=high)


def mean(values: Sequence[float]) -> float:
    return float(np.mean(np.asarray(values, np.float64)))
