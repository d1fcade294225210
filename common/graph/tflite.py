"""Reading a `.tflite` graph: ops, tensor types, constants, and which ops the Efinix accelerator runs."""
from __future__ import annotations

import os
from collections import Counter

import numpy as np

# Ops the Efinix TinyML accelerator executes; everything else falls back to the CPU.
EFINIX_ACCELERATED_OPS = frozenset(
    {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MINIMUM", "MAXIMUM", "LEAKY_RELU", "RESHAPE"}
)


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def read_graph(path: str | os.PathLike | bytes):
    """The flatbuffer as a mutable object tree, from a file or from bytes already in memory."""
    from ai_edge_litert.tools import flatbuffer_utils

    if isinstance(path, (bytes, bytearray)):
        return flatbuffer_utils.read_model_from_bytearray(bytearray(path))
    return flatbuffer_utils.read_model(str(path))


def op_names(path: str | os.PathLike | bytes) -> list[str]:
    """Builtin op names of the main subgraph in execution order (custom ops as CUSTOM:<name>)."""
    from ai_edge_litert import schema_py_generated as schema

    names = _enum_names(schema.BuiltinOperator)
    model = read_graph(path)
    codes = []
    for code in model.operatorCodes:
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode.decode() if isinstance(code.customCode, bytes) else code.customCode
            codes.append(f"CUSTOM:{custom}")
        else:
            codes.append(names[builtin])
    return [codes[op.opcodeIndex] for op in model.subgraphs[0].operators]


def list_ops(path: str | os.PathLike) -> list[dict]:
    """Each op type with its count and whether the Efinix accelerator runs it."""
    counts = Counter(op_names(path))
    return [
        {"op": op, "count": n, "accelerated": op in EFINIX_ACCELERATED_OPS}
        for op, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def tensor_types(path: str | os.PathLike | bytes) -> Counter:
    """How many tensors of each type (INT8, INT32, FLOAT32, ...) the main subgraph holds."""
    from ai_edge_litert import schema_py_generated as schema

    names = _enum_names(schema.TensorType)
    model = read_graph(path)
    return Counter(names[t.type] for t in model.subgraphs[0].tensors)


def constant(model, tensor_index: int) -> np.ndarray:
    """Constant tensor `tensor_index` of the main subgraph of `model` (from `read_graph`) as NumPy in
    its own shape: quantized int8/int32 values dequantized to float32 with their (per-axis) scales,
    float16/float32 as float32, an integer tensor without quantization (e.g. paddings) as stored."""
    from ai_edge_litert import schema_py_generated as schema

    tensor = model.subgraphs[0].tensors[tensor_index]
    data = model.buffers[tensor.buffer].data
    if data is None or len(data) == 0:
        name = tensor.name.decode() if isinstance(tensor.name, bytes) else str(tensor.name)
        raise ValueError(f"tensor {tensor_index} ({name}) is not a constant")
    dtype = {schema.TensorType.FLOAT16: np.float16, schema.TensorType.FLOAT32: np.float32,
             schema.TensorType.INT8: np.int8, schema.TensorType.INT32: np.int32}[tensor.type]
    raw = np.frombuffer(bytes(bytearray(data)), dtype=dtype).reshape(tensor.shape)
    if np.issubdtype(dtype, np.floating):
        return raw.astype(np.float32)
    q = tensor.quantization
    if q is None or q.scale is None or len(q.scale) == 0:
        return raw
    scale = np.asarray(q.scale, np.float64)
    zero = np.asarray(q.zeroPoint if q.zeroPoint is not None else np.zeros_like(scale), np.float64)
    shape = [1] * raw.ndim
    if scale.size > 1:
        shape[q.quantizedDimension] = -1
    return ((raw.astype(np.float64) - zero.reshape(shape)) * scale.reshape(shape)).astype(np.float32)
