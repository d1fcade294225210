"""Runners of int8 `.tflite` files with one interface: LiteRT (reference or optimized x86 kernels) and
TensorFlow Lite Micro (the target's runtime), plus the TFLM arena measurement."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from common.graph.tflite import read_graph

KERNELS = ("reference", "optimized")


class QuantizedRunner:
    """What every runtime shares: the model's own scale/zero-point turns float inputs into int8 and
    int8 outputs back into float, so callers feed the same preprocessed arrays as the Keras model."""

    path: Path
    inputs: list[dict]
    outputs: list[dict]
    dynamic_batch: bool = False
    label: str = "runner"

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

    def run_quantized(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:  # pragma: no cover
        raise NotImplementedError

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

            starts = tqdm(starts, desc=f"{self.label} {self.path.name}", unit="batch", disable=None)  # no bars in logs
        for start in starts:
            q_in = [self.quantize(a[start : start + step], d) for a, d in zip(xs, self.inputs)]
            outs = self.run_quantized(q_in)
            chunks.append([self.dequantize(o, d) for o, d in zip(outs, self.outputs)])
        results = [np.concatenate(parts) for parts in zip(*chunks)]
        return results[0] if len(results) == 1 else results


class Runner(QuantizedRunner):
    """LiteRT runner. `kernels="reference"` (the default) uses LiteRT's reference kernels
    (BUILTIN_REF, no delegate): identical on every CPU and thread count, and equal to TensorFlow
    Lite Micro on the conv models (tests/test_device.py) but not on every op (per-tensor
    FULLY_CONNECTED differs by 1 LSB), so int8 numbers come from `device_runner`, not from here.
    `kernels="optimized"` uses LiteRT's default x86 kernels (XNNPACK/ruy), whose int8 rounding
    differs per CPU: only for speed and the secondary `metric_int8_litert`."""

    def __init__(self, path: str | os.PathLike, num_threads: int | None = None, kernels: str = "reference"):
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        if kernels not in KERNELS:
            raise ValueError(f"kernels must be one of {KERNELS}, got {kernels!r}")
        self.path = Path(path)
        self.kernels = kernels
        self.label = "LiteRT-ref" if kernels == "reference" else "LiteRT"
        if not self.path.is_file():
            raise FileNotFoundError(f"no .tflite file at {self.path}")
        resolver = OpResolverType.BUILTIN_REF if kernels == "reference" else OpResolverType.AUTO
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=num_threads,
                                           experimental_op_resolver_type=resolver)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"{self.path} is not a loadable .tflite model: {exc}") from exc
        self.interpreter.allocate_tensors()
        self.inputs = self.interpreter.get_input_details()
        self.outputs = self.interpreter.get_output_details()
        # Only a model built with a dynamic batch dimension can run batches safely: a fixed-batch
        # graph may hold RESHAPEs with a hard-coded batch of 1 that would silently mix samples.
        self.dynamic_batch = all(int(d["shape_signature"][0]) == -1 for d in self.inputs)
        self._batch = 1

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


def _tflm_detail(raw: dict, index: int) -> dict:
    """A TFLM tensor description in LiteRT's `get_input_details()` layout."""
    q = raw["quantization_parameters"]
    scales, zero_points = np.asarray(q["scales"]), np.asarray(q["zero_points"])
    per_tensor = (float(scales[0]), int(zero_points[0])) if scales.size else (0.0, 0)
    shape = np.asarray(raw["shape"], np.int32)
    return {"index": index, "shape": shape, "shape_signature": shape, "dtype": raw["dtype"],
            "quantization": per_tensor}


class TFLMRunner(QuantizedRunner):
    """TensorFlow Lite Micro's own interpreter (pip `tflite-micro`): the runtime of the target.
    Batch 1 only, as on a microcontroller; `arena_size` defaults to a generous 4 MiB + 10x the file."""

    label = "TFLM"

    def __init__(self, path: str | os.PathLike, arena_size: int | None = None):
        from tflite_micro.python.tflite_micro import runtime

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no .tflite file at {self.path}")
        data = self.path.read_bytes()
        arena = arena_size if arena_size is not None else 4 * 2**20 + 10 * len(data)
        try:
            self.interpreter = runtime.Interpreter.from_bytes(data, arena_size=arena)
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"{self.path} does not load in TensorFlow Lite Micro (arena {arena} bytes): {exc}") from exc
        graph = read_graph(self.path).subgraphs[0]
        self.inputs = [_tflm_detail(self.interpreter.get_input_details(k), k) for k in range(len(graph.inputs))]
        self.outputs = [_tflm_detail(self.interpreter.get_output_details(k), k) for k in range(len(graph.outputs))]

    def run_quantized(self, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Batch-1 invocations on already-quantized inputs; raw outputs stacked over the batch."""
        per_sample = []
        for i in range(len(inputs[0])):
            for k, x in enumerate(inputs):
                self.interpreter.set_input(np.ascontiguousarray(x[i : i + 1]), k)
            self.interpreter.invoke()
            per_sample.append([np.array(self.interpreter.get_output(k)) for k in range(len(self.outputs))])
        return [np.concatenate([outs[k] for outs in per_sample]) for k in range(len(self.outputs))]


def tflm_recorded_arena_bytes(path: str | os.PathLike) -> int:
    """The RecordingMicroAllocator's total after one invocation (read from the C++ allocator's stderr
    report, captured at file-descriptor level). AllocateTensors can need more than this while it
    plans (see `tflm_arena_bytes`)."""
    import re
    import tempfile

    runner = TFLMRunner(path)
    runner.run_quantized([np.zeros([1, *d["shape"][1:]], d["dtype"]) for d in runner.inputs])
    with tempfile.TemporaryFile() as capture:
        with _redirected_fd(2, capture.fileno()):
            runner.interpreter.print_allocations()
        capture.seek(0)
        text = capture.read().decode(errors="replace")
    match = re.search(r"Arena allocation total (\d+) bytes", text)
    if not match:
        raise RuntimeError(f"TFLM printed no arena total for {path}: {text[:200]!r}")
    return int(match.group(1))


def _allocates(data: bytes, arena: int) -> bool:
    from tflite_micro.python.tflite_micro import runtime

    try:
        # TFLM's C++ allocator prints every failed attempt to stderr.
        with open(os.devnull, "wb") as null, _redirected_fd(2, null.fileno()):
            runtime.Interpreter.from_bytes(data, arena_size=arena)
        return True
    except RuntimeError:
        return False


@contextlib.contextmanager
def _redirected_fd(fd: int, target: int):
    """Point file descriptor `fd` at `target` for the block (C++ code writes below Python's sys.stderr)."""
    import sys

    sys.stderr.flush()
    saved = os.dup(fd)
    os.dup2(target, fd)
    try:
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def tflm_arena_bytes(path: str | os.PathLike, recorded: int | None = None) -> int:
    """The smallest tensor arena in which TensorFlow Lite Micro allocates this file: what firmware
    must reserve. Found by bisection from the recording allocator's total `recorded` (measured when
    not given), which can be smaller than what AllocateTensors needs while it plans (e.g. 3,984 vs
    4,632 bytes for the autoencoder)."""
    data = Path(path).read_bytes()
    if recorded is None:
        recorded = tflm_recorded_arena_bytes(path)
    lo, hi = max(0, recorded - 256), recorded
    while not _allocates(data, hi):
        lo, hi = hi + 1, hi * 2
    while lo > 0 and _allocates(data, lo):  # keep the invariant: lo - 1 fails, hi allocates
        lo, hi = lo // 2, lo
    while lo < hi:
        mid = (lo + hi) // 2
        if _allocates(data, mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


DEVICE_RUNTIME = "TensorFlow Lite Micro (tflite-micro Python interpreter, reference kernels)"


def device_runner(path: str | os.PathLike) -> QuantizedRunner:
    """The runner whose numbers are true on the target: TensorFlow Lite Micro for an int8 file.
    A float file (e.g. MediaPipe's float16 reference) has no int8 arithmetic to be faithful to and
    runs in LiteRT's reference kernels (the same on every CPU, unlike the optimized ones)."""
    from ai_edge_litert import schema_py_generated as schema

    if not Path(path).is_file():
        raise FileNotFoundError(f"no .tflite file at {path}")
    try:
        graph = read_graph(path).subgraphs[0]
    except Exception as exc:  # the flatbuffer parser raises whatever it meets
        raise ValueError(f"{path} is not a loadable .tflite model: {exc}") from exc
    if all(graph.tensors[i].type == schema.TensorType.INT8 for i in graph.inputs):
        return TFLMRunner(path)
    return Runner(path)


