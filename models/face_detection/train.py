"""Import MediaPipe's short-range face detector into Keras (no training: the weights are MediaPipe's).

Rebuilds the graph of `face_detection_short_range.tflite` as Keras layers, copies its float16 weights as
float32, checks the box regressors and face logits against the original `.tflite` on seeded random
images, and saves the model (`common.pipeline.imported`).

    python -m models.face_detection.train --out build/face_detection/model.keras [--shortcuts concat|pad]
"""
from __future__ import annotations

import numpy as np

from common.data.face_detector import detector_outputs, ssd_anchors
from common.graph.tflite_import import SHORTCUTS
from common.pipeline.imported import ImportOption, import_step
from models.face_detection.model import build_model
from models.face_detection.recipe import RECIPE

MAX_IMPORT_DIFF = 1e-3  # box offsets in input pixels and face logits: float32 vs float16-stored weights


def import_check(model, tflite_path, n: int = 4, seed: int = 0) -> dict:
    """Max abs difference of the raw box regressors (input pixels) and face logits, Keras vs the tflite."""
    from common.graph.runners import Runner

    lo, hi = RECIPE.input_range
    x = np.random.default_rng(seed).uniform(lo, hi, (n, *RECIPE.input_shape)).astype(np.float32)
    anchors = len(ssd_anchors(RECIPE.input_shape[0]))
    boxes, logits = detector_outputs(model.predict(x, verbose=0), anchors)
    ref_boxes, ref_logits = detector_outputs(Runner(tflite_path).predict(x), anchors)
    return {"regressors_max_abs_diff_px": float(np.abs(boxes - ref_boxes).max()),
            "logits_max_abs_diff": float(np.abs(logits - ref_logits).max())}


main = import_step(
    "face_detection", "mediapipe_face_detection", build_model, import_check,
    {"regressors_max_abs_diff_px": MAX_IMPORT_DIFF, "logits_max_abs_diff": MAX_IMPORT_DIFF}, __doc__,
    options=(ImportOption("shortcuts", "concat", SHORTCUTS,
                          "the widening residuals: concat (two conv halves, no PAD) or pad (MediaPipe's PAD + ADD)"),))

if __name__ == "__main__":
    from common.cli import run

    run(main)
