"""Calibration data: which items calibrate (the held-out rules) and the seeded samples the converter sees.

A rule picks the calibrating items among the ids of the split that evaluation also scores, so that
the rest stays to be scored (`common.data.items.held_out_mask` leaves the picked ones out):

- `SeededFraction(0.5)`: a seeded half of the items (at least one picked, at least one left);
- `WholeGroups(group)`: whole groups (e.g. a speaker's clips) in a seeded order until `n` items;
- `EveryKth(3)`: in each folder, every 3rd item by name, starting with the first.

Selection is seeded, so the same data, N and seed always give the same calibration set and hence a
byte-identical `.tflite`. Sampling works on any model's data: a NumPy array, a tuple of arrays
(multi-input models) or any iterable of samples (a `tf.data.Dataset`, a generator).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

DEFAULT_N = 500
DEFAULT_SEED = 0

Samples = np.ndarray | tuple[np.ndarray, ...]


def select_indices(n_total: int, n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> np.ndarray:
    """Sorted indices of `min(n, n_total)` distinct samples drawn with `seed`."""
    if n_total <= 0:
        raise ValueError("cannot calibrate on an empty dataset")
    n = min(n, n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def calibration_subset(names: Sequence[str], fraction: float = 0.5, seed: int = DEFAULT_SEED) -> list[str]:
    """The seeded `fraction` of `names` that calibrates (at least one; with two or more at least one
    is left out), sorted."""
    if not 0 < fraction < 1:
        raise ValueError(f"calibration fraction must be in (0, 1), got {fraction}")
    names = sorted(names)
    if not names:
        raise ValueError("cannot calibrate on an empty dataset")
    k = min(max(1, round(fraction * len(names))), max(1, len(names) - 1))
    picked = np.random.default_rng(seed).choice(len(names), size=k, replace=False)
    return sorted(names[i] for i in picked)


@dataclass(frozen=True)
class SeededFraction:
    """A seeded `fraction` of the items calibrates; `n` inputs are then sampled from them."""

    fraction: float = 0.5
    sample: bool = True

    def select(self, ids: Sequence[str], n: int, seed: int) -> list[str]:
        return calibration_subset(ids, self.fraction, seed)

    def describe(self) -> str:
        return f"a seeded {self.fraction:.0%} of the items"


@dataclass(frozen=True)
class WholeGroups:
    """Whole groups (`group(id)`, a "module:attribute" reference: e.g. the speaker of a clip) drawn in a
    seeded order until at least `n` items; all their items calibrate (no further sampling)."""

    group: str
    sample: bool = False

    def select(self, ids: Sequence[str], n: int, seed: int) -> list[str]:
        from common.refs import resolve

        key_of = resolve(self.group)
        groups: dict[str, list[str]] = {}
        for item in ids:
            groups.setdefault(key_of(item), []).append(item)
        keys = sorted(groups)
        chosen: list[str] = []
        for i in np.random.default_rng(seed).permutation(len(keys)):
            if len(chosen) >= n:
                break
            chosen += groups[keys[i]]
        return sorted(chosen)

    def describe(self) -> str:
        return f"whole groups ({self.group.rpartition(':')[2]}) in a seeded order until n items"


@dataclass(frozen=True)
class EveryKth:
    """In each folder, every `k`-th item by name (the first, the (k+1)-th, ...) calibrates."""

    k: int = 3
    sample: bool = True

    def select(self, ids: Sequence[str], n: int, seed: int) -> list[str]:
        by_folder: dict[PurePosixPath, list[str]] = {}
        for item in ids:
            by_folder.setdefault(PurePosixPath(item).parent, []).append(item)
        return sorted(item for items in by_folder.values() for i, item in enumerate(sorted(items)) if i % self.k == 0)

    def describe(self) -> str:
        return f"every {self.k}th item of each folder by name"


def _as_features(sample: Any) -> tuple[np.ndarray, ...]:
    """A dataset element -> the model inputs: `x`, `(x, y)` -> x, `((x1, x2), y)` -> (x1, x2)."""
    if isinstance(sample, dict):
        raise TypeError("dict elements are ambiguous; map the dataset to features first")
    if isinstance(sample, (tuple, list)):
        sample = sample[0] if len(sample) == 2 else sample
    if isinstance(sample, (tuple, list)):
        return tuple(np.asarray(s) for s in sample)
    return (np.asarray(sample),)


def sample_features(data: Samples | Iterable[Any], n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, ...]:
    """Pick `n` calibration samples from `data`; returns one stacked array per model input."""
    if isinstance(data, np.ndarray):
        data = (data,)
    if isinstance(data, tuple) and all(isinstance(a, np.ndarray) for a in data):
        idx = select_indices(len(data[0]), n, seed)
        return tuple(a[idx] for a in data)
    # Single pass reservoir sampling keeps memory at n samples whatever the dataset size.
    rng = np.random.default_rng(seed)
    reservoir: list[tuple[np.ndarray, ...]] = []
    for i, element in enumerate(_iterate(data)):
        features = _as_features(element)
        if i < n:
            reservoir.append(features)
        else:
            j = int(rng.integers(0, i + 1))
            if j < n:
                reservoir[j] = features
    if not reservoir:
        raise ValueError("cannot calibrate on an empty dataset")
    return tuple(np.stack(parts) for parts in zip(*reservoir))


def _iterate(data: Iterable[Any]) -> Iterator[Any]:
    try:
        import tensorflow as tf

        if isinstance(data, tf.data.Dataset):
            return iter(data.as_numpy_iterator())
    except ImportError:  # pragma: no cover
        pass
    return iter(data)


def representative_dataset(features: Samples | Sequence[np.ndarray]) -> Callable[[], Iterator[list[np.ndarray]]]:
    """The callable the TFLite converter wants: yields `[input_0, input_1, ...]` with batch 1."""
    if isinstance(features, np.ndarray):
        features = (features,)
    features = tuple(np.asarray(f, dtype=np.float32) for f in features)

    def generator() -> Iterator[list[np.ndarray]]:
        for i in range(len(features[0])):
            yield [f[i : i + 1] for f in features]

    return generator


def noise_trace(input_shape: Sequence[int], input_range: tuple[float, float], seed: int = DEFAULT_SEED,
                n: int = 8) -> np.ndarray:
    """Seeded uniform noise over the input range: what the converter traces the graph with when a pass
    replaces every calibrated range afterwards (no data decides any scale)."""
    low, high = input_range
    return np.random.default_rng(seed).uniform(low, high, (n, *input_shape)).astype(np.float32)
