"""Audio loading for the audio models: one place that handles sample rate, channels and bad files."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from common.errors import AudioError  # noqa: F401  (raised here; defined in the leaf module)

AUDIO_EXTENSIONS = (".wav", ".flac")


def load_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """Mono float32 samples in [-1, 1] at `sample_rate`.

    Stereo is mixed down; another sample rate is resampled (librosa) with a warning; a corrupt
    or empty file raises AudioError naming it.
    """
    import soundfile

    path = Path(path)
    if path.suffix.lower() == ".wav":
        check_wav_complete(path)
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


def check_wav_complete(path: str | os.PathLike) -> None:
    """AudioError if the RIFF `data` chunk of a .wav declares more bytes than the file holds: a file
    cut off mid-data (an interrupted copy or download) that libsndfile would read short, silently."""
    import struct

    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX") or header[8:12] != b"WAVE":
            return  # not a RIFF/WAVE file: soundfile reports what it is
        order = "<" if header[:4] == b"RIFF" else ">"
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, chunk_size = struct.unpack(order + "4sI", f.read(8))
            if chunk_id == b"data":
                available = size - offset - 8
                if chunk_size not in (0, 0xFFFFFFFF) and chunk_size > available:  # 0/-1: streamed, size unknown
                    raise AudioError(f"{path}: truncated: the header declares {chunk_size} bytes of samples, "
                                     f"the file holds {available}")
                return
            offset += 8 + chunk_size + (chunk_size & 1)
    raise AudioError(f"{path}: truncated: no complete 'data' chunk")


def list_audio(folder: str | os.PathLike) -> list[Path]:
    """Audio files (wav/flac) directly in `folder`, sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
