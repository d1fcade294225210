"""Deterministic calibration-sample selection for post-training quantization.

Works on any model's data: a NumPy array, a tuple of arrays (multi-input models), or any iterable
of samples (a `tf.data.Dataset`, a generator). Selection is seeded, so the same data, N and seed
always give the same calibration set and hence a byte-identical `.tflite`.
"""
from __future__ import annotations

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


def calibration_subset(names: Sequence[str], fraction: float = 0.5, seed: int = DEFAULT_SEED) -> list[str]:
    """The seeded `fraction` of a folder dataset's files that calibrates (at least one; with two or
    more files at least one is left out): the rest is what evaluation scores, so the scored data
    never calibrated the file."""
    if not 0 < fraction < 1:
        raise ValueError(f"calibration fraction must be in (0, 1), got {fraction}")
    names = sorted(names)
    if not names:
        raise ValueError("cannot calibrate on an empty dataset")
    k = min(max(1, round(fraction * len(names))), max(1, len(names) - 1))
    picked = np.random.default_rng(seed).choice(len(names), size=k, replace=False)
    return sorted(names[i] for i in picked)
