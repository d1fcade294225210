"""Model card of mobilenet_vww (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="mobilenet_vww",
    task="Person detection (VWW)",
    architecture="MobileNetV1 0.25",
    input="96x96x1",
    dataset="Visual Wake Words (COCO)",
    metric="accuracy",
    higher_is_better=True,
    quality_target="accuracy ≥ 82.2% (RGB reference 85.16%)",
    calibration="seeded half of the data folder's images (TFDS coco/2017 train without one)",
    calibration_n=64,
    references=("mlperf_vww96_int8",),  # RGB input; the Efinix file needs a repair to load (efinix.py)
    efinix_reference="efinix_mobilenet",
)
