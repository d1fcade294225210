"""Efinix TinyML Generator compatibility rules, enforced on every `.tflite` the zoo writes.

The generator's analyzer (`bin/tflite`) is a 2022 TensorFlow Lite Micro with its all-ops resolver,
and the firmware beside the accelerator is Efinix's TFLM fork. Rules:

- FULLY_CONNECTED weights per tensor: the fork computes FULLY_CONNECTED with one multiplier from
  the filter's first scale, so per-channel weights run without error and give wrong numbers;
- int8 input and output tensors (the accelerator and the firmware's pre/post-processing are int8);
- only builtin ops that 2022 TFLM's all-ops resolver registers (anything else: "Didn't find op");
- no MEAN over height and width of a 4-D tensor: AVERAGE_POOL_2D does the same job in TFLM's
  optimized int8 kernels (MEAN falls back to a slow generic reduction).
"""
from __future__ import annotations

import os

from common.errors import EfinixCompatibilityError  # noqa: F401  (raised here; defined in the leaf module)


# TensorFlow Lite Micro's AllOpsResolver as of 2022 (tensorflow/tflite-micro all_ops_resolver.cc).
EFINIX_ANALYZER_OPS = frozenset({
    "ABS", "ADD", "ADD_N", "ARG_MAX", "ARG_MIN", "ASSIGN_VARIABLE", "AVERAGE_POOL_2D", "BATCH_TO_SPACE_ND",
    "BROADCAST_ARGS", "BROADCAST_TO", "CALL_ONCE", "CAST", "CEIL", "CONCATENATION", "CONV_2D", "COS",
    "CUMSUM", "DEPTH_TO_SPACE", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DETECTION_POSTPROCESS", "DIV", "ELU",
    "EQUAL", "EXP", "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "FULLY_CONNECTED", "GATHER",
    "GATHER_ND", "GREATER", "GREATER_EQUAL", "HARD_SWISH", "IF", "L2_NORMALIZATION", "L2_POOL_2D",
    "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOG", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "LOGISTIC",
    "LOG_SOFTMAX", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MIRROR_PAD", "MUL", "NEG", "NOT_EQUAL",
    "PACK", "PAD", "PADV2", "PRELU", "QUANTIZE", "READ_VARIABLE", "REDUCE_MAX", "RELU", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "ROUND", "RSQRT", "SELECT_V2", "SHAPE", "SIN", "SLICE",
    "SOFTMAX", "SPACE_TO_BATCH_ND", "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT", "SQUARE",
    "SQUARED_DIFFERENCE", "SQUEEZE", "STRIDED_SLICE", "SUB", "SUM", "SVDF", "TANH", "TRANSPOSE",
    "TRANSPOSE_CONV", "UNIDIRECTIONAL_SEQUENCE_LSTM", "UNPACK", "VAR_HANDLE", "WHILE", "ZEROS_LIKE",
})


def _constant_or_none(model, index: int):
    from common.graph.tflite import constant

    try:
        return constant(model, index)
    except ValueError:  # a computed (non-constant) axes tensor
        return None


def efinix_violations(path: str | os.PathLike) -> list[str]:
    """Every broken rule as 'OP #k: what is wrong; the rule' (empty when the file is compatible)."""
    from ai_edge_litert import schema_py_generated as schema

    from common.graph.tflite import op_names, read_graph

    model = read_graph(path)
    graph = model.subgraphs[0]
    names = op_names(path)
    found: list[str] = []
    for k, (op, name) in enumerate(zip(graph.operators, names)):
        where = f"{name} #{k}"
        if name not in EFINIX_ANALYZER_OPS:
            found.append(f"{where}: not an op the Efinix analyzer's TFLM registers (rule: supported builtin ops only)")
        elif name == "FULLY_CONNECTED":
            scales = graph.tensors[op.inputs[1]].quantization
            n = 0 if scales is None or scales.scale is None else len(scales.scale)
            if n > 1:
                found.append(f"{where}: weights have {n} scales (rule: FULLY_CONNECTED weights per tensor; "
                             "Efinix's TFLM uses the first scale for every output)")
        elif name == "MEAN":
            shape = graph.tensors[op.inputs[0]].shape
            axes = _constant_or_none(model, op.inputs[1])
            if shape is not None and len(shape) == 4 and axes is not None and set(axes.reshape(-1).tolist()) == {1, 2}:
                found.append(f"{where}: mean over height and width (rule: use AVERAGE_POOL_2D, not MEAN)")
    for kind, indices in (("input", graph.inputs), ("output", graph.outputs)):
        for k, i in enumerate(indices):
            if graph.tensors[i].type != schema.TensorType.INT8:
                found.append(f"{kind} {k}: not int8 (rule: int8 input and output)")
    return found


def check_efinix(path: str | os.PathLike, label: str | None = None) -> None:
    """Raise EfinixCompatibilityError naming every broken rule, on one line."""
    found = efinix_violations(path)
    if found:
        raise EfinixCompatibilityError(f"{label or path} is not Efinix-compatible: {'; '.join(found)}")
