"""MediaPipe's short-range face detector (BlazeFace: 128x128x3 RGB in [-1, 1] -> per anchor a box, 6
keypoints and a face logit) as Keras layers, rebuilt op by op from the float16
`face_detection_short_range.tflite` (`common.graph.tflite_import`).

Outputs: the four head tensors before MediaPipe's RESHAPE + CONCATENATION, (N, 16, 16, 32) and
(N, 8, 8, 96) box regressors, (N, 16, 16, 2) and (N, 8, 8, 6) face logits: reshaping only relabels
memory, so the host does it (`common.data.face_detector.detector_outputs`, which reads any file of
this detector). ReLU is fused by the converter.
"""
from __future__ import annotations

import os


def build_model(tflite_path: str | os.PathLike | None = None, shortcuts: str = "concat"):
    """The detector with MediaPipe's weights (the recipe's `face_detection_short_range.tflite`);
    `shortcuts`: the widening residuals as CONCATENATION of two halves ("concat", no PAD) or as
    MediaPipe's PAD + ADD ("pad")."""
    from common.graph.tflite_import import build_from_tflite
    from common.pipeline.references import fetch_file
    from models.face_detection.recipe import RECIPE

    return build_from_tflite(tflite_path or fetch_file(RECIPE, "mediapipe_face_detection"), RECIPE.name,
                             shortcuts=shortcuts)
