"""Audio loading for the audio models: one place that handles sample rate, channels and bad files."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

AUDIO_EXTENSIONS = (".wav", ".flac")


class AudioError(ValueError):
    """An audio file is unreadable, corrupt or empty; the message names the file."""


def load_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at `sample_rate`.

    Stereo is mixed down; another sample rate is resampled (librosa) with a warning; a corrupt
    or empty file raises AudioError naming it.
    """
    import soundfile

    path = Path(path)
    try:
        audio, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError for corrupt files
        raise AudioError(f"{path}: cannot decode audio ({exc})") from exc
    if audio.size == 0:
        raise AudioError(f"{path}: file holds no samples")
    audio = audio.mean(axis=1) if audio.shape[1] > 1 else audio[:, 0]
    if file_rate != sample_rate:
        import librosa

        warnings.warn(f"{path}: resampling {file_rate} Hz -> {sample_rate} Hz", stacklevel=2)
        audio = librosa.resample(audio, orig_sr=file_rate, target_sr=sample_rate).astype(np.float32)
    return audio


def list_audio(folder: str | os.PathLike) -> list[Path]:
    """Audio files (wav/flac) directly in `folder`, sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
