"""The yolo-pico detector, built from the Darknet cfg shipped beside this file.

The network has the layer structure of the Efinix TinyML Generator's `yolo_person_detect.tflite`:
96x96x3 RGB in (float pixels / 255), two raw YOLO maps out, 3x3 (stride 32) and 6x6 (stride 16), each
3 anchors x [x, y, w, h, objectness, class...]: 18 channels for the person model, 3 x (5 + C) for C
classes (`build_model(num_classes=C)`). `decode.py` turns them into boxes.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

from common import env  # noqa: F401
from common.graph.darknet import Cfg, build_keras, parse_cfg, yolo_heads

CFG_PATH = Path(__file__).with_name("yolo_pico.cfg")


def with_classes(cfg: Cfg, num_classes: int) -> Cfg:
    """`cfg` with every [yolo] section detecting `num_classes` classes: its `classes` and the filters of
    the convolution feeding it (anchors x (5 + classes))."""
    cfg = copy.deepcopy(cfg)
    for i, section in enumerate(cfg.layers):
        if section.kind == "yolo":
            feeding = cfg.layers[i - 1]
            if feeding.kind != "convolutional":
                raise ValueError(f"{cfg.source}: the layer before [yolo] at line {section.line} is no convolution")
            feeding.options["filters"] = str(len(section.get_ints("mask")) * (5 + num_classes))
            section.options["classes"] = str(num_classes)
    return cfg


def head_layers(cfg: Cfg) -> list[str]:
    """The Keras names of the convolutions feeding the [yolo] sections (the class-sized layers)."""
    return [f"conv_{i - 1}" for i, section in enumerate(cfg.layers) if section.kind == "yolo"]


def build_model(cfg_path: str | os.PathLike = CFG_PATH, num_classes: int | None = None):
    """Keras model from a Darknet cfg (default: yolo_pico.cfg), its heads sized to `num_classes` (default:
    the cfg's); outputs in [yolo] order."""
    cfg = parse_cfg(cfg_path)
    if num_classes is not None:
        cfg = with_classes(cfg, num_classes)
    return build_keras(cfg, name=Path(cfg_path).stem)


def heads(cfg_path: str | os.PathLike = CFG_PATH) -> list[dict]:
    """Anchors (pixels) and class count of each output, in output order."""
    return yolo_heads(parse_cfg(cfg_path))
