"""ToyCar (DCASE 2020 Task 2) as 640-d MLPerf Tiny log-mel vectors, through the TFDS builder
`dcase2020_toycar` (toycar_tfds.py).

    # build the TFDS dataset from an extracted folder (DCASE layout or normal/ + anomaly/ folders)
    python -m models.autoencoder.data --data-dir ../shared/data/toycar_samples \\
        --tfds-dir build/autoencoder/tfds --out build/autoencoder/data.json
    # or from the upstream dev_data_ToyCar.zip (needs internet), into $TFDS_DATA_DIR
    python -m models.autoencoder.data --out build/autoencoder/data.json

`--data-dir` of train / quantize / evaluate (`make custom`) reads the folder's clips directly, split
into a train part (normal clips: training and calibration) and a scored test part (folder.py); this
data step builds a folder into TFDS for the zoo's own chain, whose steps read `--tfds-dir`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common import env  # noqa: F401
from common.data.items import DataSource, Items, relative_id
from common.data.tfds import DatasetMissingError, tfds_builder, tfds_data_dir
from common.pipeline.data import step as data_step
from models.autoencoder.features import (  # noqa: F401  (re-exported: the model's data API)
    DIMS, FRAMES, LABELS, NORMAL, SAMPLE_RATE, ClipError, clip_log_mel, find_splits, log_mel, to_vectors,
)
from models.autoencoder.folder import part, read_part, sound_folder
from models.autoencoder.toycar_tfds import NAME as DATASET
from models.autoencoder.toycar_tfds import Dcase2020Toycar  # noqa: F401  (registers the builder)

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass
class Clips:
    """The clips of one split: per-clip log-mel frames and metadata, plus the clips left out."""

    files: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)  # 0 normal, 1 anomaly
    machine_ids: list[str] = field(default_factory=list)
    log_mels: list[np.ndarray] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)  # skipped / resampled clips of this split

    def __len__(self) -> int:
        return len(self.files)

    def vectors(self, i: int) -> np.ndarray:
        return to_vectors(self.log_mels[i])

    def all_vectors(self) -> np.ndarray:
        return np.concatenate([self.vectors(i) for i in range(len(self))]) if len(self) else np.zeros((0, DIMS), np.float32)

    def subset(self, label: int | None) -> "Clips":
        keep = [i for i in range(len(self)) if label is None or self.labels[i] == label]
        return Clips([self.files[i] for i in keep], [self.labels[i] for i in keep],
                     [self.machine_ids[i] for i in keep], [self.log_mels[i] for i in keep], self.problems)


def builder(tfds_dir: str | os.PathLike | None = None, download: bool = False):
    """The prepared `dcase2020_toycar` builder in `tfds_dir` (default $TFDS_DATA_DIR)."""
    return tfds_builder(DATASET, tfds_dir, download=download)


def prepare(data_dir: str | os.PathLike | None = None, tfds_dir: str | os.PathLike | None = None):
    """Build the TFDS dataset: from the extracted folder `data_dir` when given (its splits only),
    else from the upstream archive. Rebuilds when `data_dir` is given, so that the data follows it."""
    import tensorflow_datasets as tfds

    if data_dir is None:
        return builder(tfds_dir, download=True)
    find_splits(data_dir)  # fail early with a clear message on a wrong or empty folder
    b = tfds.builder(DATASET, data_dir=tfds_data_dir(tfds_dir))
    b.download_and_prepare(
        download_config=tfds.download.DownloadConfig(
            manual_dir=str(Path(data_dir).resolve()),
            download_mode=tfds.download.GenerateMode.REUSE_CACHE_IF_EXISTS,
        )
    )
    return b


def _split_builder(split: str, data_dir, tfds_dir):
    """The builder holding `split` (rebuilt from `data_dir` first when given); a clear error otherwise."""
    b = prepare(data_dir, tfds_dir) if data_dir is not None else builder(tfds_dir)
    if split.split("[")[0] not in b.info.splits:
        raise DatasetMissingError(
            f"{DATASET} in {b.data_dir} has no {split!r} split (it has {', '.join(b.info.splits)}); "
            "the data folder it was built from holds no such folder"
        )
    return b


def load_clips(
    split: str = "test", *, data_dir: str | os.PathLike | None = None, tfds_dir: str | os.PathLike | None = None,
    label: str | None = None
) -> Clips:
    """All clips of `split` (optionally only `label` "normal"/"anomaly"), in file-name order, from
    TFDS dcase2020_toycar in `tfds_dir`; with `data_dir` (a ToyCar folder) that is (re)built first.
    The rich per-clip structure that evaluation and calibration use; `load_dataset` is the tf.data view."""
    b = _split_builder(split, data_dir, tfds_dir)
    clips = Clips(problems=[p for p in b.info.metadata.get("problems", []) if p["split"] == split.split("[")[0]])
    rows = sorted(b.as_dataset(split=split, shuffle_files=False).as_numpy_iterator(), key=lambda r: r["file"])
    for row in rows:
        clips.files.append(row["file"].decode())
        clips.labels.append(int(row["label"]))
        clips.machine_ids.append(row["machine_id"].decode())
        clips.log_mels.append(row["log_mel"])
    if label is not None:
        clips = clips.subset(LABELS.index(label))
    return clips


def _vectors(b, split: str, label: str | None):
    """The 640-d vectors (MLPerf Tiny framing, like `to_vectors`) of the clips of `split` in TFDS order."""
    import tensorflow as tf

    ds = b.as_dataset(split=split, shuffle_files=False)
    if label is not None:
        if label not in LABELS:
            raise ValueError(f"label must be one of {LABELS} or None, got {label!r}")
        ds = ds.filter(lambda r: r["label"] == LABELS.index(label))

    def frames(r):
        v = tf.signal.frame(r["log_mel"], FRAMES, 1, axis=0)  # (n, 5, 128), frame-major like to_vectors
        return tf.reshape(v, (-1, DIMS))

    return ds.map(frames, num_parallel_calls=tf.data.AUTOTUNE).unbatch()


def load_dataset(
    split: str = "train", *, data_dir: str | os.PathLike | None = None, tfds_dir: str | os.PathLike | None = None,
    batch_size: int | None = 512, label: str | None = None
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (640-d float32 vector, the same vector): the autoencoder's training input.

    The vectors of the clips of `split` (TFDS order; only `label` "normal"/"anomaly" clips, all with
    None), from TFDS dcase2020_toycar in `tfds_dir`; with `data_dir` (a ToyCar folder) that is
    (re)built first. Batched unless batch_size is None. Per-clip data (labels, machine ids, files) is
    in `load_clips`."""
    vectors = _vectors(_split_builder(split, data_dir, tfds_dir), split, label)
    ds = vectors.map(lambda v: (v, v))
    return ds.batch(batch_size) if batch_size else ds


def vector_dataset(split: str = "train", *, tfds_dir: str | os.PathLike | None = None):
    """A `tf.data` stream of the 640-d vectors of the normal clips of `split` (training input)."""
    return _vectors(builder(tfds_dir), split, NORMAL)


def resolve_split(split: str, b) -> str:
    """"auto": the train split where the data has one (the MLPerf Tiny recipe), else test."""
    if split != "auto":
        return split
    return "train" if "train" in b.info.splits else "test"


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(the split, its clips' file names in order); calibration reads normal clips only. A folder
    (`source.data_dir`): its train or test part (folder.py), "auto" being train."""
    if source.data_dir:
        folder, split = sound_folder(source.data_dir), _folder_split(split)
        return split, [relative_id(p, folder.root) for p, label in part(folder, split)
                       if purpose != "calibrate" or label == 0]
    b = builder(source.tfds_dir)
    split = resolve_split(split, b)
    clips = load_clips(split, tfds_dir=source.tfds_dir, label=NORMAL if purpose == "calibrate" else None)
    return split, list(clips.files)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The clips of `split` (those of `only`) as items: per clip its log-mel frames (x), 0 normal / 1
    anomaly (y), its machine id; the content hash is of the frames (the TFDS store keeps no audio), of
    the file for a folder's clips."""
    import hashlib

    if source.data_dir:
        items = read_part(sound_folder(source.data_dir), _folder_split(split), only)
        return items.subset(items.y == 0) if purpose == "calibrate" else items
    b = builder(source.tfds_dir)
    split = resolve_split(split, b)
    clips = load_clips(split, tfds_dir=source.tfds_dir, label=NORMAL if purpose == "calibrate" else None)
    keep = [i for i, f in enumerate(clips.files) if only is None or f in only]
    return Items([clips.log_mels[i] for i in keep], np.asarray([clips.labels[i] for i in keep], np.int64),
                 [clips.files[i] for i in keep],
                 [hashlib.sha256(np.ascontiguousarray(clips.log_mels[i]).tobytes()).hexdigest() for i in keep],
                 f"ToyCar {split}", skipped=[{"file": p["file"], "error": p["reason"]} for p in clips.problems
                                             if p.get("action") == "skipped"],
                 columns={"machine_id": [clips.machine_ids[i] for i in keep]}, split=split)


def _folder_split(split: str) -> str:
    return "train" if split == "auto" else split


def describe(source: DataSource, download: bool = True) -> dict:
    """Build the TFDS dataset (from the folder when one is given) and summarise it."""
    b = prepare(source.data_dir, source.tfds_dir) if source.data_dir or download else builder(source.tfds_dir)
    summary = {
        "dataset": DATASET,
        "version": str(b.info.version),
        "data_dir": str(b.data_dir),
        "splits": {name: s.num_examples for name, s in b.info.splits.items()},
        "problems": list(b.info.metadata.get("problems", [])),
    }
    for problem in summary["problems"]:
        print(f"{problem['split']}/{problem['file']}: {problem['action']} ({problem['reason']})")
    return summary


main = data_step("autoencoder")


if __name__ == "__main__":
    from common.cli import run

    run(main)
