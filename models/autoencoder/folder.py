"""Your own machine sounds as a `--data-dir` folder (`make custom KIND=autoencoder`, and `--data-dir` of
train / quantize / evaluate): which clips train (normal ones only), which are scored, read straight
from the folder. Layouts:

- DCASE's: `train/` (normal clips, any names) + `test/` (`normal_*.wav`, `anomaly_*.wav`), at the top of
  the folder or inside one machine folder (`ToyCar/train/`, `fan/test/`, as the DCASE archives unpack);
- `normal/` + `anomaly/` folders, or a flat folder of `normal_*.wav` and `anomaly_*.wav`: a seeded hash
  of each normal clip's path puts half of them in train; the other half is scored with the anomalous ones.

Train calibrates too, so no scored clip ever trained or calibrated. `id_NN` in a clip's name is its
machine id (one AUC per id, as DCASE; "all" without one). Every way a folder can be wrong is one line
naming it and the fix, before anything trains; a clip that does not decode (or is shorter than 5
frames) is skipped and listed when the clips are read, never relabelled.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.data.audio import AUDIO_EXTENSIONS, list_audio
from common.data.class_folders import ClassFolders, split_by_file
from common.data.items import Items, relative_id
from common.data.weights import sha256_of
from common.errors import DataLayoutError
from models.autoencoder.features import LABELS, NORMAL, ClipError, clip_log_mel

LAYOUT = ("train/ (normal clips) + test/ (normal_*.wav, anomaly_*.wav), or normal/ + anomaly/ folders, "
          "or a folder of normal_*.wav and anomaly_*.wav")
SPLITS = ("train", "test")
TRAIN_FRACTION = 0.5  # of the normal clips, where the folder does not say which train
SPLIT_SEED = 0
ALL_IDS = "all"  # the machine id of a clip whose name carries none

_LABEL = re.compile(r"^(normal|anomaly)_")
_ID = re.compile(r"(?:^|_)(id_\d+)(?:_|$)")


@dataclass(frozen=True)
class SoundFolder:
    root: Path
    machine: str  # the DCASE machine folder's name, else the folder's own
    layout: str  # "dcase", "labels" or "flat"
    parts: dict[str, tuple[tuple[Path, int], ...]]  # "train" / "test" -> (clip, 0 normal / 1 anomaly), sorted

    def counts(self) -> dict[str, dict[str, int]]:
        return {split: {name: sum(1 for _, y in clips if y == k) for k, name in enumerate(LABELS)}
                for split, clips in self.parts.items()}


def _n(paths: list[Path]) -> str:
    return f"{len(paths)} clip{'s' if len(paths) != 1 else ''}"


def _shown(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")


def _label_of(path: Path) -> int | None:
    match = _LABEL.match(path.name)
    return LABELS.index(match.group(1)) if match else None


def machine_id(path: str | os.PathLike) -> str:
    match = _ID.search(Path(path).stem)
    return match.group(1) if match else ALL_IDS


def _dcase_base(root: Path) -> Path | None:
    """The folder holding train/ or test/: `root`, or its one machine folder."""
    if (root / "train").is_dir() or (root / "test").is_dir():
        return root
    inner = [p for p in root.iterdir() if p.is_dir() and ((p / "train").is_dir() or (p / "test").is_dir())]
    if len(inner) > 1:
        raise DataLayoutError(f"{root}: {len(inner)} machine folders ({', '.join(sorted(p.name for p in inner))}): "
                              f"give one of them as the data folder")
    return inner[0] if inner else None


def _refuse_loose(folder: Path, where: str) -> None:
    loose = list_audio(folder)
    if loose:
        raise DataLayoutError(f"{folder}: {_n(loose)} outside {where} ({_shown(loose)}): move each into one "
                              f"of them")


def _clips(folder: Path, what: str) -> list[Path]:
    clips = list_audio(folder)
    if not clips:
        raise DataLayoutError(f"{folder}: the {what} folder holds no clips ({', '.join(AUDIO_EXTENSIONS)}): add "
                              f"some ({LAYOUT})")
    return clips


def _named(clips: list[Path], folder: Path) -> list[tuple[Path, int]]:
    """The clips with the label their names give; every clip must be named normal_* or anomaly_*."""
    unnamed = [p for p in clips if _label_of(p) is None]
    if unnamed:
        raise DataLayoutError(f"{folder}: {_n(unnamed)} not named normal_*.wav or anomaly_*.wav "
                              f"({_shown(unnamed)}): rename each after what it is")
    return [(p, _label_of(p)) for p in clips]


def _dcase(root: Path, base: Path) -> SoundFolder:
    _refuse_loose(base, "train/ and test/")
    mixed = [name for name in LABELS if (base / name).is_dir()]
    if mixed:
        raise DataLayoutError(f"{base}: both train/ + test/ and {'/ + '.join(mixed)}/ folders: keep one layout "
                              f"({LAYOUT})")
    for split, what in (("train", "normal clips (any names)"), ("test", "normal_*.wav and anomaly_*.wav clips")):
        if not (base / split).is_dir():
            raise DataLayoutError(f"{base}: no {split}/ folder: add one with the {what} ({LAYOUT})")
    train = _clips(base / "train", "train")
    anomalous = [p for p in train if _label_of(p) == 1]
    if anomalous:
        raise DataLayoutError(f"{base / 'train'}: {_n(anomalous)} named anomaly_* ({_shown(anomalous)}): train/ "
                              f"is for normal clips only; move them to test/")
    test = _named(_clips(base / "test", "test"), base / "test")
    machine = base.name if base != root else root.name
    return SoundFolder(root, machine, "dcase", {"train": tuple((p, 0) for p in train), "test": tuple(test)})


def _split_normal(root: Path, clips: list[tuple[Path, int]], layout: str) -> SoundFolder:
    """Half of the normal clips train (seeded by path), the rest is scored with every anomalous clip."""
    normal = [c for c in clips if c[1] == 0]
    if not normal:
        raise DataLayoutError(f"{root}: no normal clips, and the model trains on normal clips only ({LAYOUT})")
    train, held = split_by_file(ClassFolders(root, (NORMAL,), tuple(sorted(normal))),
                                (TRAIN_FRACTION, 1 - TRAIN_FRACTION), SPLIT_SEED)
    test = sorted(held + [c for c in clips if c[1] == 1])
    if not test:
        raise DataLayoutError(f"{root}: 1 normal clip and no anomalous one: it trains, nothing is left to score; "
                              f"add clips ({LAYOUT})")
    return SoundFolder(root, root.name, layout, {"train": tuple(train), "test": tuple(test)})


def _labels(root: Path) -> SoundFolder:
    _refuse_loose(root, "normal/ and anomaly/")
    clips = []
    for k, name in enumerate(LABELS):
        folder = root / name
        found = list_audio(folder) if folder.is_dir() else []
        wrong = [p for p in found if _label_of(p) not in (None, k)]
        if wrong:
            raise DataLayoutError(f"{folder}: {_n(wrong)} named after the other kind ({_shown(wrong)}): "
                                  f"move each into the folder its name says")
        clips += [(p, k) for p in found]
    return _split_normal(root, clips, "labels")


def sound_folder(data_dir: str | os.PathLike) -> SoundFolder:
    """The train and test clips of a folder of your machine's sounds (one line naming the fix if it is
    not one): `make custom`'s check of the folder."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such folder ({LAYOUT})")
    base = _dcase_base(root)
    if base is not None:
        return _dcase(root, base)
    if any((root / name).is_dir() for name in LABELS):
        return _labels(root)
    clips = list_audio(root)
    if not clips:
        raise DataLayoutError(f"{root}: no clips ({', '.join(AUDIO_EXTENSIONS)}) in it: expected {LAYOUT}")
    return _split_normal(root, _named(clips, root), "flat")


def part(folder: SoundFolder, split: str) -> tuple[tuple[Path, int], ...]:
    if split not in SPLITS:
        raise DataLayoutError(f"split {split!r} of a folder of clips: use {' or '.join(SPLITS)}")
    return folder.parts[split]


def read_part(folder: SoundFolder, split: str, only: set[str] | None = None) -> Items:
    """The clips of `split` (those of `only`): log-mel frames (x), 0 normal / 1 anomaly (y), ids relative
    to the folder, file hashes; machine ids and type as columns. Clips that do not read are skipped."""
    x, y, ids, hashes, skipped = [], [], [], [], []
    clips = [(p, label) for p, label in part(folder, split) if only is None or relative_id(p, folder.root) in only]
    for path, label in clips:
        name = relative_id(path, folder.root)
        try:
            frames, _ = clip_log_mel(path)  # resampled to 16 kHz where needed, as the zoo's TFDS data
        except ClipError as exc:
            skipped.append({"file": name, "error": str(exc)})
            continue
        x.append(frames)
        y.append(label)
        ids.append(name)
        hashes.append(sha256_of(path))
    if not x:
        raise DataLayoutError(f"{folder.root}: none of the {len(clips)} clips of its {split} part could be read "
                              f"(e.g. {skipped[0]['error'] if skipped else 'none chosen'})")
    return Items(x, np.asarray(y, np.int64), ids, hashes, f"{folder.root.name} {split}", skipped=skipped,
                 columns={"machine_id": [machine_id(i) for i in ids], "machine_type": [folder.machine] * len(ids)},
                 split=split)
