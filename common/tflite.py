"""LiteRT runner and graph inspection for int8 `.tflite` files."""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

# Ops the Efinix TinyML accelerator executes; everything else falls back to the CPU.
EFINIX_ACCELERATED_OPS = frozenset(
    {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MINIMUM", "MAXIMUM", "LEAKY_RELU", "RESHAPE"}
)


def _enum_names(enum_cls: type) -> dict[int, str]:
    return {v: k for k, v in vars(enum_cls).items() if not k.startswith("_") and isinstance(v, int)}


def read_graph(path: str | os.PathLike):
    from ai_edge_litert.tools import flatbuffer_utils

    return flatbuffer_utils.read_model(str(path))


def op_names(path: str | os.PathLike) -> list[str]:
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


def tensor_types(path: str | os.PathLike) -> Counter:
    """How many tensors of each type (INT8, INT32, FLOAT32, ...) the main subgraph holds."""
    from ai_edge_litert import schema_py_generated as schema

    names = _enum_names(schema.TensorType)
    model = read_graph(path)
    return Counter(names[t.type] for t in model.subgraphs[0].tensors)


class Runner:
    """Runs a `.tflite` file on float data: inputs are quantized and outputs dequantized with the
    model's own scale/zero-point, so callers feed the same preprocessed arrays as the Keras model."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no .tflite file at {self.path}")
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"{self.path} is not a loadable .tflite model: {exc}") from exc
        self.interpreter.allocate_tensors()
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()
        # Only a model built with a dynamic batch dimension can run batches safely: a fixed-batch
        # graph may hold RESHAPEs with a hard-coded batch of 1 that would silently mix samples.
        self.dynamic_batch = all(int(d["shape_signature"][0]) == -1 for d in self.inputs)
        self._batch = 1

    @staticmethod
    def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
        dtype = detail["dtype"]
        scale, zero_point = detail["quantization"]
        if not np.issubdtype(dtype, np.integer) or scale == 0:
            return np.asarray(x, dtype=dtype)
        info = np.iinfo(dtype)
        q = np.round(np.asarray(x, np.float64) / scale) + zero_point
        return np.clip(q, info.min, info.max).astype(dtype)

    @staticmethod
    def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
        scale, zero_point = detail["quantization"]
        if not np.issubdtype(q.dtype, np.integer) or scale == 0:
            return q.astype(np.float32)
        return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)

    def _resize(self, batch: int) -> None:
        if batch == self._batch:
            return
        for d in self.inputs:
            self.interpreter.resize_tensor_input(d["index"], [batch, *d["shape"][1:]])
        self.interpreter.allocate_tensors()
        self._batch = batch

    def run_quantized(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One invocation on already-quantized inputs (batch dimension included); raw outputs."""
        self._resize(len(inputs[0]))
        for d, x in zip(self.inputs, inputs):
            self.interpreter.set_tensor(d["index"], x)
        self.interpreter.invoke()
        return [self.interpreter.get_tensor(d["index"]).copy() for d in self.outputs]

    def predict(
        self, x: np.ndarray | Sequence[np.ndarray], batch_size: int = 64, progress: bool = False
    ) -> np.ndarray | list[np.ndarray]:
        """Float in, float out, like `keras.Model.predict`; one array per output (unwrapped if one)."""
        xs = [x] if isinstance(x, np.ndarray) else list(x)
        if len(xs) != len(self.inputs):
            raise ValueError(f"{self.path.name} has {len(self.inputs)} inputs, got {len(xs)} arrays")
        for d, arr in zip(self.inputs, xs):
            if tuple(arr.shape[1:]) != tuple(d["shape"][1:]):
                raise ValueError(
                    f"{self.path.name} expects input shape (N, {', '.join(map(str, d['shape'][1:]))}), "
                    f"got {arr.shape}"
                )
        n = len(xs[0])
        step = batch_size if self.dynamic_batch else 1
        chunks: list[list[np.ndarray]] = []
        starts = range(0, n, step)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"LiteRT {self.path.name}", unit="batch")
        for start in starts:
            q_in = [self.quantize(a[start : start + step], d) for a, d in zip(xs, self.inputs)]
            outs = self.run_quantized(q_in)
            chunks.append([self.dequantize(o, d) for o, d in zip(outs, self.outputs)])
        results = [np.concatenate(parts) for parts in zip(*chunks)]
        return results[0] if len(results) == 1 else results
