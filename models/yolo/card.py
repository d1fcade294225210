"""Model card of yolo (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="yolo",
    task="Person detection (boxes)",
    architecture="YOLO-pico (Efinix)",
    input="96x96x3",
    dataset="COCO person",
    metric="person mAP@0.5",
    higher_is_better=True,
    quality_target="mAP@0.5 20.30 (≥ 20.7 on coco128)",
    calibration="none: the Efinix file's activation ranges (fine-tuned: a seeded half of the data folder)",
    calibration_n=0,
    references=("efinix_yolo",),
    efinix_reference="efinix_yolo",
)
