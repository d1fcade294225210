"""The items a model is scored or calibrated on, and what they are regardless of where they lie.

An item's identity is its path relative to the dataset folder plus the sha256 of its file (a TFDS
example: `<dataset>/<split>#<index>`), so a copy of the dataset in another folder, on another machine,
is the same data: the items that calibrated a `.tflite` (recorded in its `.quant.json`) stay out of
scoring wherever the folder is (`held_out_mask`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class DataSource:
    """Where a step reads its data: a folder dataset (`--data-dir`) or a TFDS data directory."""

    data_dir: Path | None = None
    tfds_dir: Path | None = None

    @property
    def kind(self) -> str:
        return "folder" if self.data_dir is not None else "tfds"

    @classmethod
    def of(cls, data_dir: str | os.PathLike | None = None, tfds_dir: str | os.PathLike | None = None) -> DataSource:
        return cls(Path(data_dir) if data_dir else None, Path(tfds_dir) if tfds_dir else None)


def take(values: Any, index: np.ndarray) -> Any:
    """The entries `index` (integer positions) of per-item values: an array (items first), a list (one
    entry per item), a tuple of those (a multi-output model's outputs, one per output), or None."""
    index = np.asarray(index, np.int64)
    if values is None:
        return None
    if isinstance(values, np.ndarray):
        return values[index]
    if isinstance(values, tuple):
        return tuple(take(v, index) for v in values)
    if isinstance(values, list):
        return [values[int(i)] for i in index]
    raise TypeError(f"cannot select items of a {type(values).__name__}")


@dataclass
class Items:
    """Items with their model inputs `x`, targets `y` (None when the truth comes from a model) and
    identities; `columns` holds model-specific per-item values (machine ids, whole photos, sizes)."""

    x: Any
    y: Any
    ids: list[str]
    hashes: list[str]
    source: str
    skipped: list[dict] = field(default_factory=list)
    columns: dict[str, Any] = field(default_factory=dict)
    split: str = ""  # the split they come from (as the reader resolved it)
    class_names: tuple[str, ...] = ()  # a class-folder dataset's classes (label = index); () = the recipe's

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray | Sequence[int]) -> Items:
        """The items at `keep` (a boolean mask or integer positions), in order."""
        keep = np.asarray(keep)
        index = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64)
        return replace(self, x=take(self.x, index), y=take(self.y, index), ids=[self.ids[i] for i in index],
                       hashes=[self.hashes[i] for i in index], columns={k: take(v, index) for k, v in self.columns.items()})


def relative_id(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """`path` relative to the dataset folder `root`, with forward slashes: the item's name wherever the
    folder lies."""
    return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()


def tfds_id(dataset: str, split: str, index: int) -> str:
    """The id of a TFDS example: `<dataset>/<split>#<index>`."""
    return f"{dataset}/{split}#{index}"


def tfds_ids(dataset: str, split: str, n: int) -> list[str]:
    return [tfds_id(dataset, split, i) for i in range(n)]


def calibration_record(items: Items, split: str, rule: str, seed: int, n_inputs: int, disjoint: bool) -> dict:
    """The `calibration` block of a `.quant.json`: where the calibration data came from and which items
    it used (ids and content hashes), so that evaluation can leave exactly those out."""
    return {"source": items.source, "split": split, "rule": rule, "seed": seed, "n_inputs": n_inputs,
            "n_items": len(items), "disjoint_from_evaluation": disjoint,
            "items": list(items.ids), "sha256": [h for h in items.hashes if h], "skipped": items.skipped}


def held_out_mask(items: Items, record: dict | None) -> np.ndarray:
    """True for each item that did not calibrate the file whose calibration `record` this is (by
    relative path or by content): every item when the record is missing or names none."""
    if not record:
        return np.ones(len(items), bool)
    ids, hashes = set(record.get("items", [])), set(record.get("sha256", []))
    return np.array([i not in ids and not (h and h in hashes) for i, h in zip(items.ids, items.hashes)], bool)
