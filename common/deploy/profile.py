"""Static and measured profile of an int8 `.tflite`: MACs per layer, peak activation memory
(tensor lifetimes in execution order; an estimate, the TFLM arena is measured in common.graph.tflite),
size, LiteRT latency and TFLM invoke time."""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from common.graph.tflite import op_names, read_graph

_BYTES = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8}  # TensorType -> bytes per element


def _elements(shape) -> int:
    return int(np.prod([max(int(d), 1) for d in shape])) if shape is not None and len(shape) else 1


def _macs(op_name: str, inputs: list, outputs: list) -> int:
    """Multiply-accumulates of one op from its tensor shapes (batch 1)."""
    out = outputs[0].shape if outputs else None
    if op_name == "CONV_2D":  # weights: [out_c, kh, kw, in_c]
        _, kh, kw, in_c = inputs[1].shape
        return _elements(out) * int(kh) * int(kw) * int(in_c)
    if op_name == "DEPTHWISE_CONV_2D":  # weights: [1, kh, kw, out_c]
        _, kh, kw, _ = inputs[1].shape
        return _elements(out) * int(kh) * int(kw)
    if op_name == "TRANSPOSE_CONV":
        _, kh, kw, in_c = inputs[1].shape
        return _elements(inputs[2].shape) * int(kh) * int(kw) * int(outputs[0].shape[-1])
    if op_name == "FULLY_CONNECTED":  # weights: [out, in]
        return _elements(out) * int(inputs[1].shape[-1])
    if op_name in ("ADD", "MUL", "SUB", "AVERAGE_POOL_2D", "MEAN", "PRELU", "LEAKY_RELU"):
        return _elements(out)
    return 0


def profile_tflite(path: str | os.PathLike) -> dict[str, Any]:
    """Per-op MACs and the peak of live activation bytes (batch 1)."""
    model = read_graph(path)
    graph = model.subgraphs[0]
    names = op_names(path)

    def is_constant(index: int) -> bool:
        buffer = model.buffers[graph.tensors[index].buffer]
        return buffer.data is not None and len(buffer.data) > 0

    def nbytes(index: int) -> int:
        t = graph.tensors[index]
        return _elements(t.shape) * _BYTES.get(t.type, 4)

    activations = {i for op in graph.operators for i in [*op.inputs, *op.outputs] if i >= 0 and not is_constant(i)}
    activations |= {i for i in graph.inputs}
    first_use: dict[int, int] = {i: 0 for i in graph.inputs}
    last_use: dict[int, int] = {i: len(graph.operators) for i in graph.outputs}
    layers = []
    for step, op in enumerate(graph.operators):
        for i in op.outputs:
            first_use.setdefault(i, step)
        for i in op.inputs:
            if i in activations:
                last_use[i] = max(last_use.get(i, step), step)
        tensors_in = [graph.tensors[i] for i in op.inputs if i >= 0]
        tensors_out = [graph.tensors[i] for i in op.outputs]
        layers.append({"op": names[step], "macs": _macs(names[step], tensors_in, tensors_out),
                       "output_shape": [int(d) for d in tensors_out[0].shape] if tensors_out else []})
    peak, peak_step = 0, 0
    for step in range(len(graph.operators)):
        live = sum(nbytes(i) for i in activations if first_use.get(i, 0) <= step <= last_use.get(i, step))
        if live > peak:
            peak, peak_step = live, step
    return {
        "size_bytes": Path(path).stat().st_size,
        "macs": sum(layer["macs"] for layer in layers),
        "layers": layers,
        "peak_activation_bytes": peak,
        "peak_at_op": f"{peak_step}:{names[peak_step]}" if names else None,
    }


def litert_runner(path: str | os.PathLike, threads: int = 1):
    """LiteRT with its default optimized kernels (XNNPACK where it applies): what x86/ARM hosts run."""
    from common.graph.runners import Runner

    return Runner(path, num_threads=threads, kernels="optimized")


def tflm_runner(path: str | os.PathLike):
    """TensorFlow Lite Micro (reference kernels, on this CPU): the closest proxy for microcontroller cycles."""
    from common.graph.runners import TFLMRunner

    return TFLMRunner(path)


def interleaved_invoke_ms(runners: list, runs: int, warmup: int = 3, min_sample_ms: float = 2.0) -> list[float]:
    """Median time (ms) of one batch-1 invocation on random int8 input, per runner, measured round-robin
    (one sample of each in turn, the order reversed every other round) so that load drifting on the
    machine, and whatever the previous invocation left in the caches, hit every runner alike: how two
    models' times are compared. A sample times enough back-to-back invocations to last `min_sample_ms`
    (microsecond models are otherwise at the timer's and the scheduler's mercy)."""
    rng = np.random.default_rng(0)
    inputs = [[rng.integers(-128, 128, size=[1, *d["shape"][1:]]).astype(d["dtype"]) for d in runner.inputs]
              for runner in runners]
    repeats = []
    for runner, x in zip(runners, inputs):
        start = time.perf_counter()
        for _ in range(max(1, warmup)):
            runner.run_quantized(x)
        once_ms = 1000 * (time.perf_counter() - start) / max(1, warmup)
        repeats.append(max(1, int(np.ceil(min_sample_ms / max(once_ms, 1e-6)))))
    times: list[list[float]] = [[] for _ in runners]
    order = list(range(len(runners)))
    for _ in range(runs):
        for k in order:
            start = time.perf_counter()
            for _ in range(repeats[k]):
                runners[k].run_quantized(inputs[k])
            times[k].append((time.perf_counter() - start) / repeats[k])
        order.reverse()
    return [1000 * statistics.median(t) for t in times]


def latency_ms(path: str | os.PathLike, runs: int = 300, warmup: int = 20, threads: int = 1) -> float:
    """Median LiteRT latency (default optimized kernels) of one batch-1 invocation on random int8
    input, in milliseconds."""
    return interleaved_invoke_ms([litert_runner(path, threads)], runs, warmup)[0]


def tflm_invoke_ms(path: str | os.PathLike, runs: int = 50, warmup: int = 3) -> float:
    """Median TensorFlow Lite Micro invoke time (its reference kernels, on this CPU) of one batch-1
    invocation: the closest proxy for microcontroller cycles that runs here."""
    return interleaved_invoke_ms([tflm_runner(path)], runs, warmup)[0]
