"""Full-int8 PTQ of the autoencoder, calibrated on 640-d vectors of normal clips (MLPerf Tiny recipe).

    python -m models.autoencoder.quantize --model build/autoencoder/model.keras --out build/autoencoder/model.tflite

Dense weights are quantized per tensor (one scale per layer, as the Efinix reference: per-channel
scales would cost ~40 KB and break the 276,976-byte budget). To keep per-tensor weights accurate,
the float model is first rewritten into an equivalent one: BatchNorm folded into the Dense layers,
then cross-layer equalization (Nagel et al., 2019) rescales each hidden ReLU channel so that the
weight ranges of consecutive layers are balanced (exact in float since relu(x/s) = relu(x)/s, s > 0).
The number of equalization sweeps is picked by the simulated int8 reconstruction error on the
calibration vectors (never on evaluation data).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common import env  # noqa: F401
from common.cli import add_data_args, quantize_cli
from common.graph.quantize import quantize_int8
from common.data.calibration import (DEFAULT_N, DEFAULT_SEED, calibration_subset, representative_dataset,
                                   sample_features)
from common.graph.keras_io import load_model

# "auto": the normal clips of `train` when the data has that split (the MLPerf Tiny recipe), else the
# normal clips of `test` (a folder of a few labelled clips, e.g. ../shared/data/toycar_samples).
CALIBRATION_SPLIT = "auto"
EVAL_SPLIT = "test"  # what evaluate.py scores
CALIBRATION_FRACTION = 0.5  # of the normal clips, when calibration has to use the evaluation split
MAX_SWEEPS = 10


def dense_chain(model) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kernel, bias) of each Dense layer with the following BatchNorm folded in (float64)."""
    import keras

    layers = [l for l in model.layers if not isinstance(l, keras.layers.InputLayer)]
    chain: list[tuple[np.ndarray, np.ndarray]] = []
    for i, layer in enumerate(layers):
        if isinstance(layer, keras.layers.Dense):
            kernel, bias = (w.astype(np.float64) for w in layer.get_weights())
            chain.append((kernel, bias))
        elif isinstance(layer, keras.layers.BatchNormalization):
            if not isinstance(layers[i - 1], keras.layers.Dense):
                raise ValueError(f"{layer.name}: expected BatchNorm right after a Dense layer")
            gamma, beta, mean, var = (w.astype(np.float64) for w in layer.get_weights())
            k = gamma / np.sqrt(var + layer.epsilon)
            kernel, bias = chain[-1]
            chain[-1] = (kernel * k, (bias - mean) * k + beta)
        elif isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"] == "relu":
            continue
        else:
            raise ValueError(f"{layer.name}: only Dense/BatchNorm/ReLU chains can be folded")
    return chain


def equalize_sweep(chain: list[tuple[np.ndarray, np.ndarray]]) -> list[tuple[np.ndarray, np.ndarray]]:
    """One cross-layer equalization pass over every pair of consecutive layers."""
    chain = list(chain)
    for j in range(len(chain) - 1):
        (k1, b1), (k2, b2) = chain[j], chain[j + 1]
        r1, r2 = np.abs(k1).max(axis=0), np.abs(k2).max(axis=1)
        scale = np.where((r1 > 0) & (r2 > 0), np.sqrt(r1 / np.where(r2 > 0, r2, 1)), 1.0)
        chain[j] = (k1 / scale, b1 / scale)
        chain[j + 1] = (k2 * scale[:, None], b2)
    return chain


def _fake_quant(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    step = (hi - lo) / 255 or 1.0
    return np.round((x - lo) / step) * step + lo


def simulated_int8_error(chain, x: np.ndarray) -> float:
    """Relative increase of the mean squared reconstruction error when weights are int8 per tensor
    (symmetric) and activations int8 per tensor (min/max): a cheap stand-in for the converter."""
    def run(quant: bool) -> float:
        h = _fake_quant(x, x.min(), x.max()) if quant else x
        for i, (k, b) in enumerate(chain):
            if quant:
                step = np.abs(k).max() / 127
                k = np.round(k / step) * step
            h = h @ k + b
            if i < len(chain) - 1:
                h = np.maximum(h, 0)
            if quant:
                h = _fake_quant(h, h.min(), h.max())
        return float(np.mean((x - h) ** 2))

    return run(True) / run(False) - 1


def equalized_model(model, calibration: np.ndarray, max_sweeps: int = MAX_SWEEPS):
    """A plain Dense(+ReLU) Keras model computing the same function as `model`, with the
    equalization that minimises the simulated int8 error on `calibration`; and a summary."""
    import keras

    x = calibration.astype(np.float64)
    chain = dense_chain(model)
    errors = []
    best = (np.inf, 0, chain)
    for sweep in range(max_sweeps + 1):
        errors.append(simulated_int8_error(chain, x))
        if errors[-1] < best[0]:
            best = (errors[-1], sweep, chain)
        chain = equalize_sweep(chain)
    _, sweeps, chain = best
    inputs = keras.Input(shape=(chain[0][0].shape[0],), name="input")
    h = inputs
    for i, (k, _) in enumerate(chain):
        h = keras.layers.Dense(k.shape[1], activation="relu" if i < len(chain) - 1 else None)(h)
    folded = keras.Model(inputs, h, name=f"{model.name}_folded")
    folded.set_weights([w.astype(np.float32) for pair in chain for w in pair])
    ref, got = model.predict(calibration, verbose=0), folded.predict(calibration, verbose=0)
    max_diff = float(np.abs(ref - got).max())
    if max_diff > 1e-3 * max(1.0, float(np.abs(ref).max())):
        raise RuntimeError(f"folded model differs from the float model by {max_diff}")
    return folded, {"equalization_sweeps": sweeps, "simulated_int8_error": [round(e, 5) for e in errors],
                    "folded_max_abs_diff": max_diff}


def resolve_split(split: str, tfds_dir: str | os.PathLike | None) -> str:
    if split != "auto":
        return split
    from models.autoencoder.data import builder

    splits = builder(tfds_dir).info.splits
    if "train" in splits:
        return "train"
    print("calibration: the data has no train split; using the normal clips of the test split")
    return "test"


def calibration_vectors(split: str, tfds_dir: str | os.PathLike | None, n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """`n` seeded 640-d vectors of the normal clips of `split`, and the clips they come from when
    `split` is also the evaluation split: then only a seeded half of its normal clips calibrates
    (at least one clip is left out), so evaluation can score clips that never calibrated."""
    from models.autoencoder.data import load_clips, vector_dataset

    try:
        if split != EVAL_SPLIT:
            (vectors,) = sample_features(vector_dataset(split, tfds_dir=tfds_dir), n, seed)
            return vectors.astype(np.float32), []
        normal = load_clips(split, tfds_dir=tfds_dir, label="normal")
        chosen = calibration_subset(normal.files, CALIBRATION_FRACTION, seed)
        picked = np.concatenate([normal.vectors(normal.files.index(f)) for f in chosen])
        (vectors,) = sample_features(picked, n, seed)
    except ValueError as exc:  # no normal clip in the split
        raise ValueError(f"split {split!r} holds no normal clips to calibrate on ({exc})") from exc
    return vectors.astype(np.float32), chosen


def quantize(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    n: int = DEFAULT_N,
    seed: int = DEFAULT_SEED,
    split: str = CALIBRATION_SPLIT,
    tfds_dir: str | os.PathLike | None = None,
    max_sweeps: int = MAX_SWEEPS,
) -> Path:
    model = load_model(model_path)
    split = resolve_split(split, tfds_dir)
    calibration, clips = calibration_vectors(split, tfds_dir, n, seed)
    folded, summary = equalized_model(model, calibration, max_sweeps)
    return quantize_int8(
        folded, representative_dataset(calibration), out_path,
        metadata={"calibration_n": len(calibration), "calibration_seed": seed,
                  "calibration_split": f"{split} (normal clips)", "calibration_files": clips, **summary},
    )


def main(argv: list[str] | None = None) -> None:
    from models.autoencoder.data import DATASET, FOLDER_HELP, prepare

    parser = quantize_cli(__doc__, DEFAULT_N, "640-d vectors to calibrate on")
    parser.add_argument("--split", default=CALIBRATION_SPLIT,
                        help="split whose normal clips calibrate (default auto: train if present, else test)")
    add_data_args(parser, folder=FOLDER_HELP, tfds=DATASET)
    parser.add_argument("--max-sweeps", type=int, default=MAX_SWEEPS,
                        help="cross-layer equalization sweeps to consider (0 = fold BatchNorm only)")
    args = parser.parse_args(argv)
    if args.data_dir:
        prepare(args.data_dir, args.tfds_dir)
    path = quantize(args.model, args.out, n=args.calibration_n, seed=args.seed, split=args.split,
                    tfds_dir=args.tfds_dir, max_sweeps=args.max_sweeps)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    from common.cli import run

    run(main)
