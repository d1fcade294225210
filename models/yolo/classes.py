"""Which classes a yolo model detects (in output order), and the recipe that scores it.

A model trained on your classes carries its class list beside it (`common.data.class_list`):
`build/N/model.keras` and `build/N/model.tflite` share `build/N/model.classes.txt`. Training writes it;
the quantize step carries it beside its `--out`. A model without one is the zoo's person
detector. The quantize and evaluate steps take the class list from `--model`'s (then
`--float-model`'s) list, else from the data folder's classes.txt, else the person model's, and refuse
a model whose heads have another number of classes, or a folder that lists other classes.

The heads are sized to the classes: 3 anchors x (5 + C) channels per head.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from common.data.class_list import classes_file, read_classes, write_classes  # noqa: F401  (yolo's API)
from common.errors import DataLayoutError, ModelFileError
from common.pipeline.recipe import Recipe
from models.yolo.folder import FOLDER_SPLITS, LAYOUT, class_names, scan_folder
from models.yolo.recipe import RECIPE

ANCHORS_PER_HEAD = 3
BOX_VALUES = 5  # x, y, w, h, objectness


def depth_classes(depth: int) -> int:
    """The number of classes of a head map with `depth` channels."""
    return depth // ANCHORS_PER_HEAD - BOX_VALUES


def head_classes(model: str | os.PathLike) -> int:
    """The number of classes a model's heads detect (its outputs' depth = 3 x (5 + C))."""
    path = Path(model)
    if path.suffix == ".tflite":
        from common.graph.tflite import read_graph

        graph = read_graph(path).subgraphs[0]
        depths = {int(graph.tensors[i].shape[-1]) for i in graph.outputs}
    else:
        from common.graph.keras_io import load_model

        depths = {int(o.shape[-1]) for o in load_model(path).outputs}
    if len(depths) != 1 or any(d % ANCHORS_PER_HEAD for d in depths):
        raise ModelFileError(f"{path}: outputs of depth {sorted(depths)}, not yolo heads of 3 anchors x (5 + classes)")
    return depth_classes(depths.pop())


def model_classes(models: Sequence[str | os.PathLike | None], data_dir: str | os.PathLike | None
                  ) -> tuple[str, ...] | None:
    """The classes the first of `models` detects (its class list, else the data folder's classes.txt;
    None: the zoo's person model), checked against its heads and the folder's labels."""
    given = [Path(m) for m in models if m]
    names, where = None, ""
    for model in given:
        names = read_classes(model)
        if names is not None:
            where = str(classes_file(model))
            break
    listed = class_names(data_dir) if data_dir and Path(data_dir).is_dir() else None
    if names is not None and listed is not None and listed != names:
        raise DataLayoutError(f"{data_dir}: its classes.txt ({', '.join(listed)}) is not the model's class list "
                              f"{where} ({', '.join(names)})")
    names = names or listed
    if given and given[0].exists():
        expected = len(names) if names is not None else len(RECIPE.data.class_names)
        found = head_classes(given[0])
        if found != expected:
            said = (f"{len(names)} classes ({', '.join(names)})" if names is not None else
                    f"the person model (no {classes_file(given[0]).name} beside it)")
            raise ModelFileError(f"{given[0]}: its heads detect {found} classes, but it is scored as {said}")
    if names is not None and data_dir and Path(data_dir).is_dir():
        scan_folder(data_dir, names)  # every label one of these classes, before anything is read
    return names


def recipe_for(classes: Sequence[str] | None) -> Recipe:
    """The yolo recipe for a model of `classes` (None: the zoo's person model, its own recipe): mAP@0.5
    averaged over the classes, a folder scored on its test images and calibrated on its train images,
    the Efinix person file as reference only for a person-only model."""
    if classes is None:
        return RECIPE
    classes = tuple(classes)
    person = classes == RECIPE.data.class_names
    split = ", ".join(f"{name} {share:.0%}" for name, share in FOLDER_SPLITS.items())
    return replace(
        RECIPE,
        task="Object detection (boxes)",
        dataset=f"your boxes ({len(classes)} classes)",
        quality_target="-",
        data=replace(RECIPE.data, folder=f"{LAYOUT}; split {split} (seeded by file)", folder_eval_split="test",
                     class_names=classes),
        calibration=replace(RECIPE.calibration, rule=None, folder_split="train",
                            description="a seeded sample of the folder's train images (its test images never "
                                        "calibrate)"),
        metric=replace(RECIPE.metric, name=f"mAP@0.5 (mean of {len(classes)} classes: {', '.join(classes)}), "
                                           "COCO 101-point"),
        references=RECIPE.references if person else (),
        max_tflite_bytes=RECIPE.max_tflite_bytes if person else None,
    )


def command_classes(argv: Sequence[str], model_options: Sequence[str]) -> tuple[str, ...] | None:
    """`model_classes` of a quantize/evaluate command line: its `model_options` (e.g. --model,
    --float-model) and --data-dir; the step's own parser reports what is missing or malformed."""
    from common.cli import option_values

    given = option_values(argv, *model_options, "--data-dir", allow_abbrev=False)
    values = [given[option] for option in model_options]
    return model_classes(values, given["--data-dir"]) if values[0] else None
