"""Model card of dscnn_kws (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="dscnn_kws",
    task="Keyword spotting",
    architecture="DS-CNN small (MLPerf Tiny)",
    input="49x10x1 MFCC",
    dataset="Speech Commands v0.02",
    metric="top-1 accuracy",
    higher_is_better=True,
    quality_target="top-1 ≥ 92.4% (reference int8 92.47%)",
    calibration="seeded speaker-disjoint clips of the data folder (TFDS validation without one)",
    calibration_n=120,  # at least; whole speakers are drawn until this many clips (132 on the shared subset)
    references=("efinix_dscnn",),  # = MLPerf Tiny kws_ref_model int8
    efinix_reference="efinix_dscnn",
)
