"""Calibration ranges for int8 MAXIMUM/MINIMUM that do not clip their inputs.

In int8, MAXIMUM and MINIMUM share one scale between their inputs and output. TF 2.x's quantizer
gives the group the *output's* calibrated range and imposes it on the producers, so in
`max(x, a * x)` (a PReLU with alpha <= 1) the residual sum `x` inherits the narrower range of the
PReLU output and is clipped for its other consumer (`a * x`): facemesh NME 1.07% instead of 0.68%.
`union_same_scale_ranges()` makes every tensor of such a group carry the union of their calibrated
ranges before the quantizer reads them, so nothing is clipped (the output's negative side gets a
slightly coarser step). Used as a context manager around `common.graph.quantize.quantize_int8`.
"""
from __future__ import annotations

import contextlib
import importlib
from typing import Iterator

SAME_SCALE_OPS = frozenset({"MAXIMUM", "MINIMUM"})


def union_ranges(calibrated: bytes) -> bytes:
    """A calibrated (float, min/max-annotated) flatbuffer with MAXIMUM/MINIMUM groups widened."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(calibrated))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = [names.get(max(c.builtinCode, c.deprecatedBuiltinCode)) for c in model.operatorCodes]
    for subgraph in model.subgraphs:
        tensors = subgraph.tensors
        groups = []
        for op in subgraph.operators:
            if codes[op.opcodeIndex] in SAME_SCALE_OPS:
                group = [i for i in [*op.inputs, *op.outputs] if i >= 0 and _has_range(tensors[i])]
                groups.append(group)
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


def _has_range(tensor) -> bool:
    q = tensor.quantization
    return q is not None and q.min is not None and q.max is not None and len(q.min) == 1


@contextlib.contextmanager
def union_same_scale_ranges() -> Iterator[None]:
    """Within the block, the TFLite converter quantizes from `union_ranges(calibration)`."""
    calibrator = importlib.import_module("tensorflow.lite.python.optimize.calibrator").Calibrator
    original = calibrator.calibrate

    def calibrate(self, dataset_gen):
        return union_ranges(original(self, dataset_gen))

    calibrator.calibrate = calibrate
    try:
        yield
    finally:
        calibrator.calibrate = original
