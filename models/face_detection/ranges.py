"""face_detection's own pass: a floor under the face logits' calibrated range.

The 8x8 grid's face logits span about -650..+2.6 on picture content: one int8 scale of 2.57 per step,
so a logit near MediaPipe's threshold (0, score 0.5) is rounded by up to +-1.3, and a face at score
0.6 can read as 0.3. Below -16 (score 1e-7) every logit means "no face" all the same: with the range
floored there, the step is 0.07. Logits below the floor saturate at it. The recipe names it
(`models.face_detection.ranges:FLOOR_FACE_LOGITS`, args `floor` and `max_values`: the outputs of at
most that many values per image, one per anchor, are the logits); its check says what it preserves.
"""
from __future__ import annotations

import numpy as np

from common.errors import PassCheckError
from common.graph.passes import Pass, PassContext, during_calibration


def _logit_outputs(model, max_values: int) -> list[int]:
    tensors = model.subgraphs[0].tensors
    return [i for i in model.subgraphs[0].outputs if int(np.prod(tensors[i].shape[1:])) <= max_values]


def floor_ranges(calibrated: bytes, floor: float, max_values: int) -> tuple[bytes, list[dict]]:
    """`calibrated` with the min of every logit output raised to `floor` (where it is below)."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(calibrated))
    tensors = model.subgraphs[0].tensors
    changed = []
    for i in _logit_outputs(model, max_values):
        q = tensors[i].quantization
        lo, hi = float(q.min[0]), float(q.max[0])
        if hi <= floor:
            raise PassCheckError(f"output {i}: calibrated logits never exceed the floor {floor} (max {hi})")
        if lo < floor:
            q.min = [floor]
            changed.append({"tensor": i, "calibrated": [lo, hi], "range": [floor, hi]})
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model)), changed


def _check(before: bytes, after: bytes, floor: float, max_values: int) -> dict:
    from ai_edge_litert.tools import flatbuffer_utils

    old_model = flatbuffer_utils.read_model_from_bytearray(bytearray(before))
    new_model = flatbuffer_utils.read_model_from_bytearray(bytearray(after))
    logits = set(_logit_outputs(new_model, max_values))
    if not logits:
        raise PassCheckError(f"no output of at most {max_values} values per image: no face logits to floor")
    for i, (a, b) in enumerate(zip(old_model.subgraphs[0].tensors, new_model.subgraphs[0].tensors)):
        qa, qb = a.quantization, b.quantization
        if qa is None or qa.min is None:
            continue
        old, new = (float(qa.min[0]), float(qa.max[0])), (float(qb.min[0]), float(qb.max[0]))
        expected = (max(old[0], floor), old[1]) if i in logits else old
        if new != expected:
            raise PassCheckError(f"tensor {i}: range {new}, expected {expected}")
    return {"logit_outputs": len(logits), "floor": floor, "score_at_floor": float(1 / (1 + np.exp(-floor)))}


def _apply(ctx: PassContext, record: dict):
    floor, max_values = float(ctx.args["floor"]), int(ctx.args["max_values"])

    def edit(calibrated: bytes) -> tuple[bytes, dict]:
        floored, changed = floor_ranges(calibrated, floor, max_values)
        return floored, {**_check(calibrated, floored, floor, max_values), "floored": changed}

    return during_calibration(edit, record)


FLOOR_FACE_LOGITS = Pass(
    "floor_face_logits", "calibration",
    "every range but the face logits' minimum, raised to the floor (a score of 1e-7): no logit above it is clipped",
    _apply, lambda *a: {})
