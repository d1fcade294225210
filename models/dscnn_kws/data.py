"""Speech Commands for the MLPerf Tiny DS-CNN: clips, labels, splits and the training pipeline.

Two sources, same 12 labels in the MLPerf Tiny / TFDS order:
  * TFDS `speech_commands` (default; `--data-dir` is then unused and $TFDS_DATA_DIR applies),
  * a folder in the standard layout `<label>/<file>.wav|flac` (`--data-dir DIR`): either the full
    v0.02 archive (35 word folders + `_background_noise_`, optional testing_list.txt /
    validation_list.txt) or the test-set layout with `_silence_` and `_unknown_` folders.
Or your own words of such a folder as the classes (`--keywords`, `models.dscnn_kws.keywords`): within
`keywords.using(...)`, `list_items`/`load_items`/`describe` read the folder that way.

Clips become 49x10x1 MFCCs with MLPerf Tiny's front end (`models.dscnn_kws.frontend`).
"""
from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from common import env  # noqa: F401
from common.data.audio import AUDIO_EXTENSIONS, AudioError, list_audio, load_audio
from common.data.tfds import DatasetMissingError, describe_tfds, to_arrays, training_pipeline
from models.dscnn_kws.frontend import CLIP_SAMPLES, SAMPLE_RATE, extract_features, mfcc, prepare_waveform
from models.dscnn_kws.frontend import FEATURE_SHAPE  # noqa: F401  (the shape of every clip's features)
from models.dscnn_kws import keywords as kw
from models.dscnn_kws.keywords import BACKGROUND_NOISE
from common.data.items import DataSource, Items, tfds_ids
from common.data.weights import sha256_of
from common.errors import DataLayoutError  # noqa: F401  (raised here; defined in the leaf module)
from common.pipeline.data import step as data_step
from models.dscnn_kws.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

DATASET = RECIPE.data.tfds
CLASS_NAMES = RECIPE.data.class_names
SILENCE, UNKNOWN = CLASS_NAMES[-2:]  # the two classes that are not a keyword
KEYWORDS = tuple(name for name in CLASS_NAMES if name not in (SILENCE, UNKNOWN))

# Training augmentation (MLPerf Tiny defaults): +-100 ms shift, noise in 80% of clips at volume <= 0.1.
TIME_SHIFT_SAMPLES = SAMPLE_RATE // 10
BACKGROUND_FREQUENCY = 0.8
BACKGROUND_VOLUME = 0.1
# Speaker-hash split for folders without testing_list.txt/validation_list.txt (percentages).
VALIDATION_PERCENT, TESTING_PERCENT = 10, 10


# ---- folder source ------------------------------------------------------------------------------

FOLDER_HINT = ("Offline, pass --data-dir with a Speech Commands folder in the <label>/<file>.wav layout "
               "(the v0.02 archive or its test set with _silence_/_unknown_ folders).")


@dataclass
class FolderData:
    root: Path
    layout: str  # "test_set" (_silence_/_unknown_ folders) or "archive" (word folders)
    files: list[Path] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    background: list[Path] = field(default_factory=list)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def label_of_folder(name: str) -> int | None:
    """Label index of a sub-folder: a keyword, _silence_, _unknown_, any other word -> _unknown_."""
    if name == BACKGROUND_NOISE or name.startswith("."):
        return None
    if name in CLASS_NAMES:
        return CLASS_NAMES.index(name)
    return CLASS_NAMES.index(UNKNOWN)


def speaker_of(path: Path) -> str:
    """Speaker id of `<speaker>_nohash_<n>.wav`; files without one (silence) are their own group."""
    return re.sub(r"_nohash_.*$", "", path.stem)


def calibration_group(item: str) -> str:
    """What calibrates together (common.data.calibration.WholeGroups): a speaker's clips, in every label
    folder; a clip without a speaker (silence) on its own."""
    path = Path(item)
    return speaker_of(path) if "_nohash_" in path.name else item


def which_set(path: Path, validation_percent: int = VALIDATION_PERCENT,
              testing_percent: int = TESTING_PERCENT) -> str:
    """The Speech Commands README's stable speaker-hash split: 'train', 'validation' or 'test'."""
    percent = kw.hash_percent(speaker_of(path))
    if percent < validation_percent:
        return "validation"
    if percent < validation_percent + testing_percent:
        return "test"
    return "train"


def folder_split(data_dir: str | os.PathLike, split: str) -> str:
    """`split` for a folder: "test"/"validation" fall back to "all" in a folder without the
    archive's testing_list.txt/validation_list.txt (the test-set layout holds test clips only)."""
    lists = {"test": "testing_list.txt", "validation": "validation_list.txt"}
    if split in lists and not (Path(data_dir) / lists[split]).is_file():
        return "all"
    return split


def scan_folder(data_dir: str | os.PathLike, split: str = "all") -> FolderData:
    """Files and labels of a Speech Commands folder (nothing is decoded yet).

    `split` is "all", or "train"/"validation"/"test" from the archive's testing_list.txt /
    validation_list.txt when present, else from the speaker hash (`which_set`)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataLayoutError(f"--data-dir {root} does not exist or is not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    names = {p.name for p in folders}
    missing = [k for k in KEYWORDS if k not in names]
    if missing:
        raise DataLayoutError(
            f"{root} is not in the Speech Commands layout <label>/<file>.wav: label folder(s) "
            f"{', '.join(missing)} do not exist (found: {', '.join(sorted(names)) or 'no folders'})")
    layout = "test_set" if {SILENCE, UNKNOWN} & names else "archive"
    if layout == "test_set" and not {SILENCE, UNKNOWN} <= names:
        gone = sorted({SILENCE, UNKNOWN} - names)
        raise DataLayoutError(f"{root}: test-set layout but label folder(s) {', '.join(gone)} do not exist")
    if split not in ("all", "train", "validation", "test"):
        raise ValueError(f"unknown split {split!r}; use all, train, validation or test")
    listed = kw.split_lists(root)
    data = FolderData(root, layout)
    for folder in folders:
        if folder.name == BACKGROUND_NOISE:
            data.background = list_audio(folder)
            continue
        label = label_of_folder(folder.name)
        if label is None:
            continue
        for path in list_audio(folder):
            if split != "all":
                rel = data.relative(path)
                in_set = listed.get(rel, "train") if listed else which_set(path)
                if in_set != split:
                    continue
            data.files.append(path)
            data.labels.append(label)
    if not data.files:
        raise DataLayoutError(f"{root}: no {'/'.join(AUDIO_EXTENSIONS)} clips in split {split!r}")
    return data


@dataclass
class Clips:
    """Loaded clips: features (N, 49, 10, 1), labels (N,), their files, and the files skipped."""
    x: np.ndarray
    y: np.ndarray
    files: list[str]
    skipped: list[dict]


def load_clips(data: FolderData, only: set[str] | None = None, exclude: set[str] | None = None) -> Clips:
    """Decode and featurise the clips of `data` (optionally only/excluding relative paths).

    A corrupt or empty file is reported on stderr by name, recorded in `skipped`, and the run goes on."""
    waves, labels, files, skipped = [], [], [], []
    for path, label in zip(data.files, data.labels):
        rel = data.relative(path)
        if (only is not None and rel not in only) or (exclude and rel in exclude):
            continue
        try:
            waves.append(load_audio(path, SAMPLE_RATE))
        except AudioError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            skipped.append({"file": rel, "error": str(exc)})
            continue
        labels.append(label)
        files.append(rel)
    if not waves:
        raise DataLayoutError(f"{data.root}: none of the selected clips could be decoded")
    return Clips(extract_features(waves), np.asarray(labels, np.int64), files, skipped)


def load_background(paths: list[Path]) -> list[np.ndarray]:
    """The `_background_noise_` recordings as 16 kHz mono float arrays (empty list if absent)."""
    noise = []
    for path in paths:
        try:
            audio = load_audio(path, SAMPLE_RATE)
        except AudioError as exc:
            print(f"skipping {exc}", file=sys.stderr)
            continue
        if len(audio) > CLIP_SAMPLES:
            noise.append(audio)
    return noise


# ---- training pipeline ----------------------------------------------------------------------------

def augment(waveform, background: np.ndarray | None, seed: int | None = None):
    """MLPerf Tiny's training distortions on a prepared 1 s waveform: random +-100 ms shift
    (zero filled), then with probability 0.8 a random 1 s slice of background noise at a random
    volume <= 0.1, clipped to [-1, 1]."""
    import tensorflow as tf

    # Distinct op seeds: ops sharing one seed would draw the same (correlated) random stream.
    seeds = [None if seed is None else 10 * seed + k for k in range(5)]
    shift = tf.random.uniform([], -TIME_SHIFT_SAMPLES, TIME_SHIFT_SAMPLES + 1, tf.int32, seed=seeds[0])
    padded = tf.pad(waveform, [[TIME_SHIFT_SAMPLES, TIME_SHIFT_SAMPLES]])
    waveform = tf.slice(padded, [TIME_SHIFT_SAMPLES - shift], [CLIP_SAMPLES])
    if background is None or len(background) == 0:
        return waveform
    noise = tf.constant(background, tf.float32)  # (K, L) all recordings cut to a common length
    index = tf.random.uniform([], 0, noise.shape[0], tf.int32, seed=seeds[1])
    offset = tf.random.uniform([], 0, noise.shape[1] - CLIP_SAMPLES, tf.int32, seed=seeds[2])
    clip = tf.slice(noise[index], [offset], [CLIP_SAMPLES])
    volume = tf.where(tf.random.uniform([], seed=seeds[3]) < BACKGROUND_FREQUENCY,
                      tf.random.uniform([], 0, BACKGROUND_VOLUME, seed=seeds[4]), 0.0)
    return tf.clip_by_value(waveform + volume * clip, -1.0, 1.0)


def _stack_background(noise: list[np.ndarray]) -> np.ndarray | None:
    if not noise:
        return None
    length = min(len(n) for n in noise)
    return np.stack([n[:length] for n in noise]).astype(np.float32)


def _silence_from_background(noise: list[np.ndarray], n: int, seed: int) -> list[np.ndarray]:
    """`_silence_` examples for an archive without that folder: 1 s slices of background noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        rec = noise[int(rng.integers(len(noise)))]
        start = int(rng.integers(0, len(rec) - CLIP_SAMPLES))
        clips.append(rec[start:start + CLIP_SAMPLES] * rng.uniform(0, 1))
    return clips


def _folder_waves(data_dir: str | os.PathLike, split: str, seed: int) -> tuple[list, list[int], list[np.ndarray]]:
    """Prepared waveforms, labels and background recordings of a folder with the zoo's classes."""
    data = scan_folder(data_dir, split)
    waves, labels = [], []
    for path, label in zip(data.files, data.labels):
        try:
            waves.append(prepare_waveform(load_audio(path, SAMPLE_RATE)).numpy())
            labels.append(label)
        except AudioError as exc:
            print(f"skipping {exc}", file=sys.stderr)
    noise = load_background(data.background)
    if data.layout == "archive" and noise and split in ("train", "all"):
        n_silence = max(1, len(waves) // 11)  # about one class's share, as the archive's own recipe
        waves += [prepare_waveform(c).numpy() for c in _silence_from_background(noise, n_silence, seed)]
        labels += [CLASS_NAMES.index(SILENCE)] * n_silence
    return waves, labels, noise


def _keyword_waves(data_dir: str | os.PathLike, keywords: Sequence[str], split: str
                   ) -> tuple[list, list[int], list[np.ndarray]]:
    """Prepared waveforms, labels (the classes of `keywords`) and background recordings of a split."""
    folder = kw.keyword_folder(data_dir, keywords, split)
    if not folder.clips:
        raise DataLayoutError(f"{folder.root}: no clip falls in split {split!r}: add clips of more speakers")
    audio, clips, _ = kw.read_waves(folder)
    labels = [c.label for c in clips]
    if folder.synthetic_silence and split in ("train", "all"):
        n = max(1, len(audio) // (len(folder.classes) - 1))  # about one class's share
        audio += kw.silent_clips(n)
        labels += [folder.classes.index(SILENCE)] * n
    if not audio:
        raise DataLayoutError(f"{folder.root}: no clip of split {split!r} could be decoded")
    return [prepare_waveform(a).numpy() for a in audio], labels, load_background(folder.background)


def load_dataset(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    batch_size: int | None = 100,
    augment_data: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    download: bool = True,
    keywords: Sequence[str] | None = None,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (49x10x1 MFCCs, int label); batched unless batch_size is None.

    With `data_dir` the folder source is used (with `keywords`: your words as the classes,
    `models.dscnn_kws.keywords`), otherwise TFDS `speech_commands` in `tfds_dir` (`split` is then a
    TFDS split name such as "train" or "validation")."""
    import tensorflow as tf

    if keywords and not data_dir:
        raise DataLayoutError("--keywords reads your words from a folder: give --data-dir too")
    if data_dir:
        waves, labels, noise = (_keyword_waves(data_dir, keywords, split) if keywords
                                else _folder_waves(data_dir, split, seed))
        ds = tf.data.Dataset.from_tensor_slices((np.stack(waves), np.asarray(labels, np.int64)))
        background = _stack_background(noise)
    else:
        from common.data.tfds import tfds_builder

        builder = tfds_builder(DATASET, tfds_dir, download=download)
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        ds = ds.map(lambda a, y: (prepare_waveform(a), y), num_parallel_calls=tf.data.AUTOTUNE)
        background = None  # TFDS does not expose _background_noise_: use --data-dir <archive> for noise mixing
    return training_pipeline(ds.cache(), batch_size=batch_size, shuffle=shuffle, seed=seed, shuffle_buffer=20_000,
                             augment=(lambda w, y: (augment(w, background, seed), y)) if augment_data else None,
                             then=lambda w, y: (mfcc(w), y))


def load_arrays(split: str = "test", *, data_dir: str | os.PathLike | None = None,
                tfds_dir: str | os.PathLike | None = None, download: bool = True) -> Clips:
    """A whole split as arrays, from TFDS or a folder. For a folder, "test" means the clips of
    testing_list.txt when the folder has one (full archive), else every clip (test-set layout)."""
    if data_dir:
        return load_clips(scan_folder(data_dir, folder_split(data_dir, split)))
    x, y = to_arrays(load_dataset(split, tfds_dir=tfds_dir, batch_size=None, download=download), f"{DATASET} split {split!r}")
    return Clips(x, y, [f"{DATASET}:{split}[{i}]" for i in range(len(x))], [])


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(the split as the folder resolves it, the ids of its clips), nothing decoded: a folder's
    "test"/"validation" without the archive's list files is every clip ("all"); with keywords in use,
    the folder's own speaker split."""
    keywords = _keywords_of(source)
    if keywords:
        return split, [c.id for c in kw.keyword_folder(source.data_dir, keywords, split).clips]
    if source.data_dir:
        split = folder_split(source.data_dir, split)
        data = scan_folder(source.data_dir, split)
        return split, [data.relative(p) for p in data.files]
    from common.data.tfds import tfds_builder

    n = tfds_builder(DATASET, source.tfds_dir).info.splits[split].num_examples
    return split, tfds_ids(DATASET, split, n)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The clips of `split` (those of `only`, when given) as MFCC items; a corrupt or empty file is
    named, listed in `skipped` and left out."""
    keywords = _keywords_of(source)
    if keywords:
        return _keyword_items(source.data_dir, keywords, split, only)
    if source.data_dir:
        split = folder_split(source.data_dir, split)
        data = scan_folder(source.data_dir, split)
        clips = load_clips(data, only=only)
        name = data.root.name + ("" if split == "all" else f" {split}")
        return Items(clips.x, clips.y, clips.files, [sha256_of(data.root / f) for f in clips.files], name,
                     skipped=clips.skipped, split=split)
    clips = load_arrays(split, tfds_dir=source.tfds_dir)
    items = Items(clips.x, clips.y, tfds_ids(DATASET, split, len(clips.y)), [""] * len(clips.y), f"{DATASET} {split}",
                  split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def _keywords_of(source: DataSource) -> tuple[str, ...] | None:
    keywords = kw.active()
    if keywords and not source.data_dir:
        raise DataLayoutError("a model trained on your --keywords reads them from a folder: give --data-dir")
    return keywords


def _keyword_items(data_dir: Path, keywords: Sequence[str], split: str, only: set[str] | None) -> Items:
    folder = kw.keyword_folder(data_dir, keywords, split)
    waves, clips, skipped = kw.read_waves(folder, only)
    if not waves:
        raise DataLayoutError(f"{folder.root}: none of the selected clips of split {split!r} could be decoded")
    hashes, digests = [], {}
    for clip in clips:
        if clip.path not in digests:
            digests[clip.path] = sha256_of(clip.path)
        hashes.append(digests[clip.path] + (f"#{clip.start // SAMPLE_RATE}" if clip.start >= 0 else ""))
    return Items(extract_features(waves), np.asarray([c.label for c in clips], np.int64), [c.id for c in clips],
                 hashes, f"{folder.root.name} {split}", skipped=skipped, split=split, class_names=folder.classes)


def describe(source: DataSource, download: bool = True) -> dict:
    """What the Make chain's data step records: source, layout and clips per label."""
    keywords = _keywords_of(source)
    if keywords:
        folder = kw.keyword_folder(source.data_dir, keywords)
        return {"dataset": DATASET, "source": "folder", "data_dir": str(Path(source.data_dir).resolve()),
                "layout": "keywords", "n_clips": len(folder.clips), "clips_per_label": folder.counts(),
                "splits": {name: len(kw.keyword_folder(source.data_dir, keywords, name).clips) for name in kw.SPLITS},
                "background_noise_files": len(folder.background), "class_names": list(folder.classes)}
    if source.data_dir:
        data = scan_folder(source.data_dir)
        counts = np.bincount(np.asarray(data.labels), minlength=len(CLASS_NAMES))
        return {
            "dataset": DATASET,
            "source": "folder",
            "data_dir": str(Path(source.data_dir).resolve()),
            "layout": data.layout,
            "n_clips": len(data.files),
            "clips_per_label": dict(zip(CLASS_NAMES, map(int, counts))),
            "background_noise_files": len(data.background),
            "class_names": list(CLASS_NAMES),
        }
    from common.data.tfds import tfds_builder

    try:
        builder = tfds_builder(DATASET, source.tfds_dir, download=download)
    except DatasetMissingError as exc:
        raise DatasetMissingError(f"{exc} {FOLDER_HINT}") from exc
    return describe_tfds(builder, CLASS_NAMES)

main = data_step("dscnn_kws")

if __name__ == "__main__":
    from common.cli import run

    run(main)
