"""Full-int8 PTQ of yolo-pico (the pipeline's quantize step with this model's recipe).

`--activation-ranges efinix` (what `make` uses for the imported model) keeps the Efinix file's own
activation ranges (models/yolo/ranges.py): no image of ours decides any scale, and evaluation scores
every image. `calibrated` (a fine-tuned model) calibrates on a seeded half of the images of a
YOLO-layout folder (listed in the `.quant.json` sidecar; evaluation scores the other half) or on TFDS
coco/2017 train images, with the evaluation preprocessing (plain resize to 96x96, pixels / 255).

A model of your classes (its `<model>.classes.txt`, or the folder's classes.txt; `models.yolo.classes`)
is calibrated on a seeded sample of the folder's train images (its test images are scored), and its
class list goes beside `--out` (`common.data.class_list`).

    python -m models.yolo.quantize --model build/yolo/model.keras --out build/yolo/model.tflite \\
        --data-dir ../shared/data/coco128_person --activation-ranges efinix
    python -m models.yolo.quantize --model build/mine/model.keras --out build/mine/model.tflite --data-dir my_boxes
"""
from __future__ import annotations

import sys
from typing import Sequence

from common.cli import user_errors_as_one_line


@user_errors_as_one_line()
def main(argv: Sequence[str] | None = None) -> None:
    """The pipeline's quantize step with the recipe of the model's classes."""
    from common.pipeline import quantize
    from models.yolo.classes import command_classes, recipe_for

    argv = list(sys.argv[1:] if argv is None else argv)
    quantize.main(recipe_for(command_classes(argv, ["--model"])), argv, __doc__)


if __name__ == "__main__":
    from common.cli import run

    run(main)
