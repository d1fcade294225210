"""Named passes between the float Keras model and the shipped `.tflite`, each followed by its check.

As in tflite-micro's model transforms, every edit of the model or of the flatbuffer is a named pass
whose check says what it preserves, and a pass whose check fails stops the build (PassCheckError:
nothing is written). A recipe lists its passes (`Recipe.passes`); the pipeline runs them in stage
order and records each with its check in the `.quant.json`:

- stage "keras": the float model before conversion -> an equivalent (or declared) float model;
- stage "calibration": the calibrated float flatbuffer inside the converter (ranges, before the
  int8 values are computed);
- stage "flatbuffer": the converted int8 flatbuffer.

    compact                    flatbuffer   the int8 function, bit for bit under TFLM
    union_same_scale_ranges    calibration  no MAXIMUM/MINIMUM input is clipped by its group's range
    clamp_mixed_prelu          keras        every layer but the clamped PReLU alphas (> 1 -> 1)

A model's own pass lives in its folder and its recipe names it as `"models.<name>.<module>:<PASS>"`
(e.g. yolo's adoption of the Efinix file's activation ranges).
"""
from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from common.errors import PassCheckError

STAGES = ("keras", "calibration", "flatbuffer")


@dataclass
class PassContext:
    """What a pass may need: the calibration inputs, the recipe's published files by name, its args."""

    calibration: np.ndarray | tuple[np.ndarray, ...] | None = None
    fetch: Callable[[str], Path] | None = None  # file name -> verified local path
    args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pass:
    """`apply(obj, ctx) -> (obj, info)`; `check(before, after, ctx, info) -> dict` raises PassCheckError
    when what the pass promises (`preserves`) does not hold. A "calibration" pass is a context manager
    factory `apply(ctx, record)` under which the converter calibrates; its check runs inside it.
    `replaces_ranges`: every activation range comes from elsewhere, so calibration data decides
    nothing (the converter traces the graph on noise)."""

    name: str
    stage: str
    preserves: str
    apply: Callable[..., Any]
    check: Callable[..., dict]
    replaces_ranges: bool = False


# ---- compact --------------------------------------------------------------------------------------

def _compact(flatbuffer: bytes, ctx: PassContext) -> tuple[bytes, dict]:
    """Drop strings the runtimes never read: long fused tensor names become `t<i>` (I/O tensors keep
    readable `input_<k>`/`output_<k>` names), signature defs and conversion metadata go.
    Microcontroller flash is the budget; the Efinix reference files carry none of these either."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(flatbuffer))
    model.description = None
    model.signatureDefs = None
    model.metadata = [m for m in model.metadata or [] if m.name in (b"min_runtime_version", "min_runtime_version")]
    for subgraph in model.subgraphs:
        subgraph.name = None
        io_names = {i: f"input_{k}" for k, i in enumerate(subgraph.inputs)}
        io_names.update({o: f"output_{k}" for k, o in enumerate(subgraph.outputs)})
        for i, tensor in enumerate(subgraph.tensors):
            tensor.name = io_names.get(i, f"t{i}")
    out = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    return out, {"bytes_before": len(flatbuffer), "bytes_after": len(out)}


def _graph_signature(flatbuffer: bytes) -> list:
    """Everything of the main subgraph but names: ops with their operands, tensor types, shapes,
    quantization and constant bytes."""
    from common.graph.tflite import op_names, read_graph

    model = read_graph(flatbuffer)
    graph = model.subgraphs[0]

    def tensor(t):
        q = t.quantization
        data = model.buffers[t.buffer].data
        return (t.type, tuple(t.shape) if t.shape is not None else None,
                None if q is None or q.scale is None else (tuple(np.asarray(q.scale).tolist()),
                                                           tuple(np.asarray(q.zeroPoint).tolist())),
                None if data is None else bytes(bytearray(data)))

    return [op_names(flatbuffer), [list(op.inputs) + list(op.outputs) for op in graph.operators],
            list(graph.inputs), list(graph.outputs), [tensor(t) for t in graph.tensors]]


def same_outputs_under_tflm(before: bytes, after: bytes, inputs, n: int = 2) -> int:
    """How many of the first `n` inputs give bit-identical int8 outputs under TFLM in both files
    (PassCheckError naming the first that does not)."""
    import tempfile

    from common.graph.runners import TFLMRunner

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for name, data in (("before", before), ("after", after)):
            path = Path(tmp) / f"{name}.tflite"
            path.write_bytes(data)
            paths.append(path)
        runners = [TFLMRunner(p) for p in paths]
        xs = inputs if isinstance(inputs, tuple) else (inputs,)
        count = min(n, len(xs[0]))
        for i in range(count):
            q = [runners[0].quantize(x[i : i + 1], d) for x, d in zip(xs, runners[0].inputs)]
            a, b = runners[0].run_quantized(q), runners[1].run_quantized(q)
            if not all(np.array_equal(u, v) for u, v in zip(a, b)):
                raise PassCheckError(f"calibration sample {i}: int8 outputs differ under TFLM")
    return count


def _check_compact(before: bytes, after: bytes, ctx: PassContext, info: dict) -> dict:
    if _graph_signature(before) != _graph_signature(after):
        raise PassCheckError("compact changed an op, a tensor's type, shape or quantization, or a constant")
    checked = same_outputs_under_tflm(before, after, ctx.calibration) if ctx.calibration is not None else 0
    return {"graph_equal_but_names": True, "tflm_bit_exact_samples": checked}


COMPACT = Pass("compact", "flatbuffer", "the int8 function, bit for bit under TFLM (only names and metadata go)",
               _compact, _check_compact)


# ---- union_same_scale_ranges -------------------------------------------------------------------------

SAME_SCALE_OPS = frozenset({"MAXIMUM", "MINIMUM"})


def _has_range(tensor) -> bool:
    q = tensor.quantization
    return q is not None and q.min is not None and q.max is not None and len(q.min) == 1


def _same_scale_groups(model) -> list[list[int]]:
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in model.operatorCodes]
    tensors = model.subgraphs[0].tensors
    return [[i for i in [*op.inputs, *op.outputs] if i >= 0 and _has_range(tensors[i])]
            for op in model.subgraphs[0].operators if codes[op.opcodeIndex] in SAME_SCALE_OPS]


def union_ranges(calibrated: bytes) -> bytes:
    """A calibrated (float, min/max-annotated) flatbuffer with every MAXIMUM/MINIMUM group's tensors
    carrying the union of their ranges.

    In int8, MAXIMUM and MINIMUM share one scale between their inputs and output. TF 2.x's quantizer
    gives the group the *output's* calibrated range and imposes it on the producers, so in
    `max(x, a * x)` (a PReLU with alpha <= 1) the residual sum `x` inherits the narrower range of the
    PReLU output and is clipped for its other consumer (`a * x`): facemesh NME 1.07% instead of 0.68%."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(calibrated))
    tensors = model.subgraphs[0].tensors
    groups = _same_scale_groups(model)
    changed = True
    while changed:  # groups can chain (one's output feeding another); iterate to a fixed point
        changed = False
        for group in groups:
            lo = min(float(tensors[i].quantization.min[0]) for i in group)
            hi = max(float(tensors[i].quantization.max[0]) for i in group)
            for i in group:
                q = tensors[i].quantization
                if float(q.min[0]) != lo or float(q.max[0]) != hi:
                    q.min, q.max = [lo], [hi]
                    changed = True
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _check_union(before: bytes, after: bytes, ctx: PassContext, info: dict) -> dict:
    from ai_edge_litert.tools import flatbuffer_utils

    old = flatbuffer_utils.read_model_from_bytearray(bytearray(before)).subgraphs[0].tensors
    new_model = flatbuffer_utils.read_model_from_bytearray(bytearray(after))
    new = new_model.subgraphs[0].tensors
    groups = _same_scale_groups(new_model)
    for group in groups:
        ranges = {(float(new[i].quantization.min[0]), float(new[i].quantization.max[0])) for i in group}
        if len(ranges) != 1:
            raise PassCheckError("a MAXIMUM/MINIMUM group still holds more than one range")
        (lo, hi), = ranges
        for i in group:
            if float(old[i].quantization.min[0]) < lo or float(old[i].quantization.max[0]) > hi:
                raise PassCheckError(f"tensor {i}: its calibrated range is not inside its group's range")
    return {"groups": len(groups), "tensors": len({i for g in groups for i in g})}


@contextlib.contextmanager
def during_calibration(edit: Callable[[bytes], tuple[bytes, dict]], record: dict) -> Iterator[None]:
    """Within the block, the TFLite converter quantizes from `edit(calibrated)[0]`: the calibrated float
    flatbuffer (every activation's min/max) as `edit` changes it; what `edit` returns besides (its
    check's result) lands in `record`. The frame of every "calibration" pass."""
    calibrator = importlib.import_module("tensorflow.lite.python.optimize.calibrator").Calibrator
    original = calibrator.calibrate

    def calibrate(self, dataset_gen):
        edited, result = edit(original(self, dataset_gen))
        record.update(result)
        return edited

    calibrator.calibrate = calibrate
    try:
        yield
    finally:
        calibrator.calibrate = original


def _union_during_calibration(ctx: PassContext, record: dict):
    def edit(calibrated: bytes) -> tuple[bytes, dict]:
        widened = union_ranges(calibrated)
        return widened, _check_union(calibrated, widened, ctx, {})

    return during_calibration(edit, record)


UNION_SAME_SCALE_RANGES = Pass(
    "union_same_scale_ranges", "calibration",
    "no tensor of a MAXIMUM/MINIMUM group is clipped: one range per group, containing each member's calibrated range",
    _union_during_calibration, lambda *a: {})


# ---- clamp_mixed_prelu ---------------------------------------------------------------------------------

def _clamp(model, ctx: PassContext):
    from common.graph.layers import clamp_mixed_prelu

    copy, clamped = clamp_mixed_prelu(model)
    return copy, {"clamped": clamped}


def _check_clamp(before, after, ctx: PassContext, info: dict) -> dict:
    import keras

    from common.graph.layers import AcceleratorPReLU

    clamped = {c["layer"] for c in info["clamped"]}
    for layer in before.layers:
        weights = layer.get_weights()
        if not weights:  # inputs (renamed by the copy), adds, pools
            continue
        new = after.get_layer(layer.name).get_weights()
        if layer.name in clamped:
            alpha, new_alpha = weights[0], new[0]
            if not np.array_equal(new_alpha, np.minimum(alpha, 1.0)):
                raise PassCheckError(f"{layer.name}: alphas are not min(alpha, 1)")
            probe = np.random.default_rng(0).normal(size=(2, *layer.input.shape[1:])).astype(np.float32)
            got = np.asarray(after.get_layer(layer.name)(keras.ops.convert_to_tensor(probe)))
            want = np.maximum(probe, probe * np.minimum(alpha, 1.0))
            if not np.allclose(got, want, rtol=0, atol=1e-6):
                raise PassCheckError(f"{layer.name}: does not compute max(x, min(alpha, 1) * x)")
        elif len(weights) != len(new) or not all(np.array_equal(a, b) for a, b in zip(weights, new)):
            raise PassCheckError(f"{layer.name}: weights changed but the layer is not a clamped PReLU")
        elif isinstance(layer, AcceleratorPReLU) and after.get_layer(layer.name).form != layer.form:
            raise PassCheckError(f"{layer.name}: form changed")
    return {"layers_clamped": len(clamped), "channels_clamped": sum(len(c["channels"]) for c in info["clamped"])}


CLAMP_MIXED_PRELU = Pass(
    "clamp_mixed_prelu", "keras",
    "every layer but the PReLU layers that mix alphas <= 1 and > 1; those compute max(x, min(alpha, 1) * x) "
    "(MUL + MAXIMUM, as the Efinix reference)", _clamp, _check_clamp)


# ---- accelerator_friendly_layers ------------------------------------------------------------------------

def _friendly(model, ctx: PassContext):
    from common.graph.layers import accelerator_friendly_copy

    copy, replaced = accelerator_friendly_copy(model)
    return copy, {"replaced": replaced}


def _check_friendly(before, after, ctx: PassContext, info: dict) -> dict:
    if not info["replaced"]:
        return {"replaced": 0}
    if ctx.calibration is None:
        raise PassCheckError("accelerator_friendly_layers needs calibration inputs to check its copy")
    x = ctx.calibration[:8]
    outs_before, outs_after = before.predict(x, verbose=0), after.predict(x, verbose=0)
    if not isinstance(outs_before, list):
        outs_before, outs_after = [outs_before], [outs_after]
    diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in zip(outs_before, outs_after))
    scale = max(1.0, max(float(np.max(np.abs(np.asarray(a)))) for a in outs_before))
    if diff > 1e-5 * scale:
        raise PassCheckError(f"accelerator_friendly_layers changed the outputs by {diff:.3g}")
    return {"replaced": len(info["replaced"]), "max_abs_diff": diff}


ACCELERATOR_FRIENDLY_LAYERS = Pass(
    "accelerator_friendly_layers", "keras",
    "the float function (outputs within 1e-5 on calibration inputs): GlobalAveragePooling2D becomes one "
    "AVERAGE_POOL_2D (not MEAN), Flatten/Reshape one RESHAPE (not SHAPE/STRIDED_SLICE/PACK)", _friendly, _check_friendly)


PASSES: dict[str, Pass] = {p.name: p for p in (COMPACT, UNION_SAME_SCALE_RANGES, CLAMP_MIXED_PRELU,
                                               ACCELERATOR_FRIENDLY_LAYERS)}


def get_pass(name: str) -> Pass:
    """A registered pass by name, or a Pass object a `"module:attribute"` reference names."""
    if ":" in name:
        from common.refs import resolve

        found = resolve(name)
    else:
        found = PASSES.get(name)
    if not isinstance(found, Pass):
        raise ValueError(f"unknown pass {name!r}; registered: {', '.join(PASSES)} (or a 'module:attribute' Pass)")
    return found
