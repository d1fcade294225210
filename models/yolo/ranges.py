"""yolo's own pass: adopt the activation quantization of the Efinix file for the imported graph.

The imported model (the Efinix file's weights, dequantized) keeps the activation ranges Efinix
calibrated on their own data instead of ranges calibrated here: on the few images available offline
those ranges clip what the scored images need, and calibrating on the scored images themselves is not
allowed (chosen on validation half A: ranges 23.8 mAP vs calibrated 22.0, README). Weights keep their own
per-channel scales; every activation tensor gets the published scale/zero point and each int32 bias is
re-quantized to its op's new input scale, so the file stays exact with respect to its own float
weights. The recipe names it (`models.yolo.ranges:ADOPT_ACTIVATION_RANGES`, with `--activation-ranges
efinix`); its check says what it preserves.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from common.errors import PassCheckError
from common.graph.passes import Pass, PassContext

_BIASED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}


def _activation_pairs(ours, reference, our_names, ref_names) -> list[tuple[int, int]]:
    g, r = ours.subgraphs[0], reference.subgraphs[0]
    if our_names != ref_names:
        raise PassCheckError(f"op lists differ ({len(our_names)} vs {len(ref_names)} ops)")
    pairs = list(zip(g.inputs, r.inputs))
    for a, b in zip(g.operators, r.operators):
        pairs += list(zip(a.outputs, b.outputs))
    for i, j in pairs:
        if list(g.tensors[i].shape) != list(r.tensors[j].shape):
            raise PassCheckError(f"tensor shapes differ: {list(g.tensors[i].shape)} vs {list(r.tensors[j].shape)}")
    return pairs


def adopt_activation_ranges(flatbuffer: bytes, reference: str | Path) -> bytes:
    """`flatbuffer` with every activation's scale/zero point taken from `reference` (same op list and
    shapes, in execution order) and each int32 bias re-quantized to its op's new input scale.

    A model imported from a published int8 `.tflite` (yolo from the Efinix file) keeps the activation
    ranges its authors calibrated on their own data instead of ranges calibrated here: on the few
    images available offline those ranges clip what the scored images need, and calibrating on the
    scored images themselves is not allowed. Weights keep their own per-channel scales."""
    from ai_edge_litert.tools import flatbuffer_utils

    from common.graph.tflite import op_names, read_graph

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


def _apply_adopt(flatbuffer: bytes, ctx: PassContext) -> tuple[bytes, dict]:
    reference = ctx.fetch(ctx.args["reference"])
    return adopt_activation_ranges(flatbuffer, reference), {"reference": ctx.args["reference"],
                                                            "reference_file": reference.name}


def _check_adopt(before: bytes, after: bytes, ctx: PassContext, info: dict) -> dict:
    from common.graph.tflite import constant, op_names, read_graph

    ours, ref, old = read_graph(after), read_graph(ctx.fetch(ctx.args["reference"])), read_graph(before)
    pairs = _activation_pairs(ours, ref, op_names(after), op_names(ctx.fetch(ctx.args["reference"])))
    g, r = ours.subgraphs[0], ref.subgraphs[0]
    for i, j in pairs:
        mine, theirs = g.tensors[i].quantization, r.tensors[j].quantization
        if not (np.array_equal(np.float32(mine.scale), np.float32(theirs.scale))
                and np.array_equal(np.asarray(mine.zeroPoint), np.asarray(theirs.zeroPoint))):
            raise PassCheckError(f"activation tensor {i} does not carry the reference's scale/zero point")
    weights = worst_bias = 0.0
    for op, name in zip(g.operators, op_names(after)):
        if name not in _BIASED_OPS:
            continue
        if not np.array_equal(constant(ours, op.inputs[1]), constant(old, op.inputs[1])):
            raise PassCheckError(f"{name} weights changed")
        weights += 1
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            real_before, real_after = constant(old, op.inputs[2]), constant(ours, op.inputs[2])
            step = np.asarray(g.tensors[op.inputs[2]].quantization.scale, np.float64)
            worst_bias = max(worst_bias, float(np.max(np.abs(real_after - real_before) / step)))
    if worst_bias > 0.5 + 1e-3:
        raise PassCheckError(f"a re-quantized bias moved by {worst_bias:.3f} of its step (> 0.5)")
    return {"activations_adopted": len(pairs), "weights_unchanged_ops": int(weights),
            "bias_max_error_steps": round(worst_bias, 4)}


ADOPT_ACTIVATION_RANGES = Pass(
    "adopt_activation_ranges", "flatbuffer",
    "the float weights (int8 values and scales unchanged, biases re-quantized within half a step); every "
    "activation takes the reference file's scale and zero point", _apply_adopt, _check_adopt, replaces_ranges=True)


