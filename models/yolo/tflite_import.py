"""Import float weights from an int8 `.tflite` (e.g. the Efinix reference) into a cfg-built model.

Per-channel int8 weights and int32 biases are dequantized with their own scales. The reference
graph already has each BatchNormalization folded into its conv (that is what the converter does,
and what our own export does again); nothing else is folded, so the imported model has the same
ops as the reference file. A conv followed by BN in our model gets the folded kernel, and a BN set
to identity that carries the folded bias.
"""
from __future__ import annotations

import os

import numpy as np

from common import env  # noqa: F401
from common.graph.tflite import constant, op_names, read_graph
from common.graph.darknet import BN_EPSILON, Cfg, _conv_layers


class TFLiteImportError(ValueError):
    """The `.tflite` graph does not match the cfg."""


def read_conv_weights(tflite_path: str | os.PathLike) -> list[dict]:
    """Every CONV_2D / DEPTHWISE_CONV_2D in execution order: float kernel (Keras layout) and bias."""
    model = read_graph(tflite_path)
    graph = model.subgraphs[0]
    convs = []
    for op, name in zip(graph.operators, op_names(tflite_path)):
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        kernel = constant(model, op.inputs[1])
        bias = constant(model, op.inputs[2]) if len(op.inputs) > 2 and op.inputs[2] >= 0 \
            else np.zeros(kernel.shape[0 if name == "CONV_2D" else 3], np.float32)
        # CONV_2D [out, kh, kw, in] and DEPTHWISE [1, kh, kw, ch] -> Keras [kh, kw, in, out] / [kh, kw, ch, 1]
        convs.append({"depthwise": name == "DEPTHWISE_CONV_2D", "kernel": kernel.transpose(1, 2, 3, 0), "bias": bias})
    return convs


def import_tflite_weights(model, cfg: Cfg, tflite_path: str | os.PathLike) -> None:
    """Set `model`'s conv/BN weights from the `.tflite`; TFLiteImportError (nothing set) on any mismatch."""
    source = read_conv_weights(tflite_path)
    targets = _conv_layers(model, cfg)
    if len(source) != len(targets):
        raise TFLiteImportError(f"{tflite_path} has {len(source)} conv layers, {cfg.source} has {len(targets)}")
    assignments = []
    for (i, _, conv, bn), src in zip(targets, source):
        depthwise = conv.__class__.__name__ == "DepthwiseConv2D"
        if depthwise != src["depthwise"] or tuple(conv.kernel.shape) != src["kernel"].shape:
            raise TFLiteImportError(
                f"layer {i} of {cfg.source}: {'depthwise ' if depthwise else ''}kernel {tuple(conv.kernel.shape)} "
                f"!= {'depthwise ' if src['depthwise'] else ''}kernel {src['kernel'].shape} in {tflite_path}"
            )
        n = src["bias"].shape[0]
        if bn is not None:
            assignments.append((conv, [src["kernel"]]))
            # identity BN: gamma / sqrt(var + eps) == 1, beta = folded bias
            gamma = np.full(n, np.sqrt(1.0 + BN_EPSILON), np.float32)
            assignments.append((bn, [gamma, src["bias"], np.zeros(n, np.float32), np.ones(n, np.float32)]))
        else:
            assignments.append((conv, [src["kernel"], src["bias"]]))
    for layer, weights in assignments:
        layer.set_weights(weights)
