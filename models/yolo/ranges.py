"""Adopt the activation quantization of a published int8 file for a graph with the same ops.

A model imported from a published int8 `.tflite` (yolo from the Efinix file) can keep the
activation ranges its authors calibrated on their own data instead of ranges calibrated here: on
the few images available offline those ranges clip what the scored images need, and calibrating on
the scored images themselves is not allowed. Weights keep their own per-channel scales; every
activation tensor gets the published scale/zero point and each int32 bias is re-quantized to the new
input scale, so the file stays exact with respect to its own float weights.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from common.graph.tflite import op_names, read_graph

_BIASED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


class GraphMismatchError(ValueError):
    """The two graphs do not have the same ops and activation shapes."""


def _activation_pairs(ours, reference, our_names, ref_names) -> list[tuple[int, int]]:
    g, r = ours.subgraphs[0], reference.subgraphs[0]
    if our_names != ref_names:
        raise GraphMismatchError(f"op lists differ ({len(our_names)} vs {len(ref_names)} ops)")
    pairs = list(zip(g.inputs, r.inputs))
    for a, b in zip(g.operators, r.operators):
        pairs += list(zip(a.outputs, b.outputs))
    for i, j in pairs:
        if list(g.tensors[i].shape) != list(r.tensors[j].shape):
            raise GraphMismatchError(f"tensor shapes differ: {list(g.tensors[i].shape)} vs {list(r.tensors[j].shape)}")
    return pairs


def adopt_activation_ranges(flatbuffer: bytes, reference: str | os.PathLike) -> bytes:
    """`flatbuffer` with every activation's scale/zero point taken from `reference` (same op list
    and shapes, in execution order) and its biases re-quantized accordingly."""
    from ai_edge_litert.tools import flatbuffer_utils

    ours = read_graph(flatbuffer)
    ref = read_graph(Path(reference))
    names = op_names(flatbuffer)
    pairs = _activation_pairs(ours, ref, names, op_names(Path(reference)))
    g, r = ours.subgraphs[0], ref.subgraphs[0]
    for i, j in pairs:
        g.tensors[i].quantization.scale = np.array(r.tensors[j].quantization.scale, np.float32)
        g.tensors[i].quantization.zeroPoint = np.array(r.tensors[j].quantization.zeroPoint, np.int64)
    for op, name in zip(g.operators, names):
        if name not in _BIASED_OPS or len(op.inputs) < 3 or op.inputs[2] < 0:
            continue
        in_scale = float(g.tensors[op.inputs[0]].quantization.scale[0])
        w_scales = np.asarray(g.tensors[op.inputs[1]].quantization.scale, np.float64)
        bias = g.tensors[op.inputs[2]]
        buffer = ours.buffers[bias.buffer]
        old = np.frombuffer(bytes(bytearray(buffer.data)), np.int32).astype(np.float64)
        real = old * np.asarray(bias.quantization.scale, np.float64)
        new_scales = in_scale * w_scales
        q = np.clip(np.round(real / new_scales), -(2**31), 2**31 - 1).astype(np.int32)
        buffer.data = np.frombuffer(q.tobytes(), np.uint8)
        bias.quantization.scale = new_scales.astype(np.float32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(ours))
