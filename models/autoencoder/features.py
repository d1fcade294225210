"""MLPerf Tiny / DCASE 2020 Task 2 baseline front end and the ToyCar folder layouts.

Features: librosa mel spectrogram (n_fft 1024, hop 512, 128 mels, power 2), `10*log10(mel + eps)`,
5 consecutive frames concatenated -> 640-d vectors (`common.file_to_vector_array` upstream).
"""
from __future__ import annotations

import os
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.data.audio import AudioError, list_audio, load_audio
from models.autoencoder.recipe import RECIPE

SAMPLE_RATE = 16000
N_FFT = 1024
HOP_LENGTH = 512
N_MELS = 128
POWER = 2.0
FRAMES = 5
DIMS = N_MELS * FRAMES  # 640
LABELS = RECIPE.data.class_names  # clip labels, in class-id order: normal 0, anomaly 1
NORMAL = LABELS[0]
MACHINE_TYPE = "ToyCar"

_NAME = re.compile(r"^(normal|anomaly)_(id_\d+)_")


class ClipError(ValueError):
    """A clip cannot be turned into feature vectors (too short, corrupt, empty); names the file."""


def log_mel(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(frames, 128) float32 log-mel energies in dB: the MLPerf Tiny baseline's features, computed in
    float64 and rounded to float32 once at the end. In float32 the STFT and the mel projection sum in
    the order of the CPU's BLAS and SIMD kernels, so the last bits (and hence int8 inputs, calibrated
    ranges and clip scores) differ between x86-64 CPUs; float64 sums round to the same float32 on all
    of them (tests/test_autoencoder.py checks it under five kernel choices)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, np.float64), sr=sample_rate, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, power=POWER
    )
    return (20.0 / POWER * np.log10(mel + sys.float_info.epsilon)).T.astype(np.float32)


def to_vectors(log_mel_frames: np.ndarray, frames: int = FRAMES) -> np.ndarray:
    """(frames, n_mels) -> (frames - 4, 5 * n_mels): row i = frames i..i+4 concatenated in time order."""
    n = len(log_mel_frames) - frames + 1
    if n < 1:
        return np.zeros((0, log_mel_frames.shape[1] * frames), np.float32)
    return np.concatenate([log_mel_frames[t : t + n] for t in range(frames)], axis=1)


def clip_log_mel(path: str | os.PathLike) -> tuple[np.ndarray, str | None]:
    """Log-mel frames of one clip and a note when it had to be resampled to 16 kHz.

    ClipError when the file is corrupt/empty or gives fewer than 5 frames (no feature vector)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            audio = load_audio(path, SAMPLE_RATE)
        except AudioError as exc:
            raise ClipError(str(exc)) from exc
    note = next((str(w.message) for w in caught if "resampling" in str(w.message)), None)
    frames = log_mel(audio)
    if len(frames) < FRAMES:
        raise ClipError(
            f"{path}: {len(audio)} samples give {len(frames)} frames, fewer than the {FRAMES} a feature "
            f"vector needs (clip shorter than ~{(FRAMES - 1) * HOP_LENGTH / SAMPLE_RATE:.2f} s)"
        )
    return frames, note


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str  # "normal" or "anomaly"
    machine_id: str  # "id_01"


def parse_name(path: Path, folder_label: str | None = None) -> Clip:
    """`normal_id_01_00000000.wav` -> Clip(label normal, id_01); a label folder must agree."""
    match = _NAME.match(path.name)
    if not match:
        raise ClipError(f"{path}: name does not follow <normal|anomaly>_id_XX_<n>.wav")
    label, machine_id = match.groups()
    if folder_label and folder_label != label:
        raise ClipError(f"{path}: file name says {label} but it lies in a {folder_label}/ folder")
    return Clip(path, label, machine_id)


def find_splits(root: str | os.PathLike) -> dict[str, list[Path | tuple[Path, str]]]:
    """The clips of each split present under `root`, for either layout:

    - DCASE 2020 Task 2 (`dev_data_ToyCar.zip` extracted): `[ToyCar/]train/*.wav`, `[ToyCar/]test/*.wav`,
      labels from the file names;
    - label folders (e.g. ../shared/data/toycar_samples): `normal/*.wav`, `anomaly/*.wav`, read as
      the `test` split.
    A split folder that exists but holds no audio is an error (nothing to score)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ToyCar data folder {root} does not exist")
    base = root / MACHINE_TYPE if (root / MACHINE_TYPE).is_dir() else root
    splits: dict[str, list] = {}
    for split in ("train", "test"):
        folder = base / split
        if folder.is_dir():
            files = list_audio(folder)
            if not files:
                raise FileNotFoundError(f"{folder}: the {split} folder holds no .wav clips")
            splits[split] = files
    if not splits:
        label_dirs = [(base / label, label) for label in LABELS if (base / label).is_dir()]
        if label_dirs:
            files = [(f, label) for folder, label in label_dirs for f in list_audio(folder)]
            if not files:
                raise FileNotFoundError(f"{base}: the {'/, '.join(LABELS)}/ folders hold no .wav clips")
            splits["test"] = files
    if not splits:
        raise FileNotFoundError(
            f"{root}: no ToyCar clips found; expected the DCASE layout [ToyCar/]train/, [ToyCar/]test/ "
            f"(from dev_data_ToyCar.zip) or label folders normal/ and anomaly/"
        )
    return splits
