"""The autoencoder's own pass: fold BatchNorm and equalize the Dense chain before int8 PTQ.

Dense weights are quantized per tensor (one scale per layer, as the Efinix reference: per-channel
scales would cost ~40 KB and break the 276,976-byte budget). To keep per-tensor weights accurate,
the float model is first rewritten into an equivalent one: BatchNorm folded into the Dense layers,
then cross-layer equalization (Nagel et al., 2019) rescales each hidden ReLU channel so that the
weight ranges of consecutive layers are balanced (exact in float since relu(x/s) = relu(x)/s, s > 0).
The number of equalization sweeps is picked by the simulated int8 reconstruction error on the
calibration vectors (never on evaluation data). The recipe names the pass
(`models.autoencoder.equalize:FOLD_AND_EQUALIZE`); its check is that the folded model computes the
float model's function (to 1e-3 of its output range) on the calibration vectors.
"""
from __future__ import annotations

import numpy as np

from common.errors import PassCheckError
from common.graph.passes import Pass, PassContext

MAX_SWEEPS = 10
FOLD_TOLERANCE = 1e-3  # of the largest output magnitude


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
    return folded, {"equalization_sweeps": sweeps, "simulated_int8_error": [round(e, 5) for e in errors]}


def _apply(model, ctx: PassContext):
    return equalized_model(model, np.asarray(ctx.calibration), int(ctx.args.get("max_sweeps", MAX_SWEEPS)))


def _check(before, after, ctx: PassContext, info: dict) -> dict:
    x = np.asarray(ctx.calibration)
    ref, got = before.predict(x, verbose=0), after.predict(x, verbose=0)
    max_diff = float(np.abs(ref - got).max())
    allowed = FOLD_TOLERANCE * max(1.0, float(np.abs(ref).max()))
    if max_diff > allowed:
        raise PassCheckError(f"the folded autoencoder differs from the float model by {max_diff:.3g} (> {allowed:.3g})")
    return {"folded_max_abs_diff": max_diff, "tolerance": allowed, "n": int(len(x))}


FOLD_AND_EQUALIZE = Pass(
    "fold_and_equalize", "keras",
    "the float model's function (BatchNorm folded, ReLU channels rescaled; to 1e-3 of the output range on the "
    "calibration vectors)", _apply, _check)
