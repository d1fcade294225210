"""The yolo-pico person detector, built from the Darknet cfg shipped beside this file.

The network has the layer structure of the Efinix TinyML Generator's `yolo_person_detect.tflite`:
96x96x3 RGB in (float pixels / 255), two raw YOLO maps out, 3x3x18 (stride 32) and 6x6x18
(stride 16) = 3 anchors x [x, y, w, h, objectness, person]. `decode.py` turns them into boxes.
"""
from __future__ import annotations

import os
from pathlib import Path

from common import env  # noqa: F401
from common.graph.darknet import build_keras, parse_cfg, yolo_heads

CFG_PATH = Path(__file__).with_name("yolo_pico.cfg")


def build_model(cfg_path: str | os.PathLike = CFG_PATH):
    """Keras model from a Darknet cfg (default: yolo_pico.cfg); outputs in [yolo] order."""
    cfg = parse_cfg(cfg_path)
    return build_keras(cfg, name=Path(cfg_path).stem)


def heads(cfg_path: str | os.PathLike = CFG_PATH) -> list[dict]:
    """Anchors (pixels) and class count of each output, in output order."""
    return yolo_heads(parse_cfg(cfg_path))
