"""The MLPerf Tiny DS-CNN front end: one clip -> 49x10x1 MFCCs.

MLPerf Tiny's recipe exactly (`get_dataset.py`, feature_type "mfcc"): divide by the clip's maximum,
zero-pad/crop to 1 s at 16 kHz, |STFT| with a 30 ms Hann window and 20 ms stride (FFT 512), 40 mel
bins 20-4000 Hz, log(mel + 1e-6), first 10 MFCCs -> 49x10x1.
`extract_features` is the one function training, calibration, evaluation and firmware checks use.
"""
from __future__ import annotations

import os

import numpy as np

from common import env  # noqa: F401
from common.data.audio import load_audio

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # 1 s
WINDOW_SAMPLES = 480  # 30 ms
STRIDE_SAMPLES = 320  # 20 ms
NUM_MEL_BINS, LOWER_HZ, UPPER_HZ = 40, 20.0, 4000.0
NUM_MFCC = 10
NUM_FRAMES = 1 + (CLIP_SAMPLES - WINDOW_SAMPLES) // STRIDE_SAMPLES  # 49
FEATURE_SHAPE = (NUM_FRAMES, NUM_MFCC, 1)


def prepare_waveform(audio):
    """1-D float samples (any length) -> (16000,) float32: divided by the clip's maximum as MLPerf
    does (`wav / reduce_max(wav)`), then zero-padded at the end or cropped to 1 s.

    MLPerf divides by the signed maximum; a clip whose maximum is not positive (all-zero or
    all-negative) is divided by its largest magnitude instead, or left as is if silent."""
    import tensorflow as tf

    audio = tf.reshape(tf.cast(audio, tf.float32), [-1])
    guarded = tf.concat([audio, [0.0]], 0)  # reduce_max of an empty clip would fail
    peak = tf.reduce_max(guarded)
    peak = tf.where(peak > 0, peak, tf.reduce_max(tf.abs(guarded)))
    audio = tf.math.divide_no_nan(audio, peak)
    audio = audio[:CLIP_SAMPLES]
    return tf.pad(audio, [[0, CLIP_SAMPLES - tf.shape(audio)[0]]])


def mfcc(waveforms):
    """(..., 16000) prepared waveforms -> (..., 49, 10, 1) float32 MFCCs (MLPerf Tiny's recipe)."""
    import tensorflow as tf

    stfts = tf.signal.stft(waveforms, frame_length=WINDOW_SAMPLES, frame_step=STRIDE_SAMPLES,
                           fft_length=None, window_fn=tf.signal.hann_window)
    spectrograms = tf.abs(stfts)
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        NUM_MEL_BINS, stfts.shape[-1], SAMPLE_RATE, LOWER_HZ, UPPER_HZ)
    mel = tf.tensordot(spectrograms, mel_matrix, 1)
    log_mel = tf.math.log(mel + 1e-6)
    mfccs = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :NUM_MFCC]
    return mfccs[..., tf.newaxis]


def extract_features(audio) -> np.ndarray:
    """THE front end: one clip (1-D samples at 16 kHz, any length) -> (49, 10, 1) float32,
    or a list of clips -> (N, 49, 10, 1). Training adds its augmentation between
    `prepare_waveform` and `mfcc`; everything else calls this."""
    import tensorflow as tf

    if isinstance(audio, (list, tuple)):
        if not audio:
            return np.zeros((0, *FEATURE_SHAPE), np.float32)
        return mfcc(tf.stack([prepare_waveform(a) for a in audio])).numpy()
    return mfcc(prepare_waveform(audio)).numpy()


def features_from_file(path: str | os.PathLike) -> np.ndarray:
    """(49, 10, 1) MFCCs of one wav/flac file (resampled to 16 kHz and mixed to mono if needed)."""
    return extract_features(load_audio(path, SAMPLE_RATE))
