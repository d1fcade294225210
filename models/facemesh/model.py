"""MediaPipe face landmark network (192x192x3 RGB in [0, 1] -> 468 3D landmarks + face flag) as Keras
layers, rebuilt op by op from the shipped float16 `face_landmark.tflite` (`common.graph.tflite_import`:
the padded residual shortcuts become a CONCATENATION).
"""
from __future__ import annotations

import os

NUM_LANDMARKS = 468
LEFT_EYE, RIGHT_EYE = 33, 263  # outer eye corners, the inter-ocular pair of the NME


def build_model(tflite_path: str | os.PathLike | None = None):
    """The face landmark model with MediaPipe's weights (the recipe's `face_landmark.tflite`).

    Outputs: landmarks (N, 1, 1, 1404) = 468 x (x, y, z) in input pixels and the face-flag logit
    (N, 1, 1, 1) (sigmoid > 0.5: a face is present). The int8 converter lists them the other way round;
    tell them apart by shape (`metric.split_outputs`). They stay as MediaPipe shapes them: a reshape
    would be a RESHAPE op that only relabels memory (`metric.split_outputs` does it on the host).
    """
    from common.graph.tflite_import import build_from_tflite
    from common.pipeline.references import fetch_file
    from models.facemesh.recipe import RECIPE

    return build_from_tflite(tflite_path or fetch_file(RECIPE, "mediapipe_face_landmark"), RECIPE.name)
