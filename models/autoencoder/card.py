"""Model card of autoencoder (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="autoencoder",
    task="Anomaly detection",
    architecture="FC AutoEncoder (MLPerf Tiny)",
    input="640 log-mel",
    dataset="ToyADMOS ToyCar",
    metric="mean AUC over machine ids (with enough clips; else int8-vs-float score deviation on held-out clips)",
    higher_is_better=True,
    quality_target="AUC 0.842 int8 (MLPerf, full set); int8 scores within 5% of float",
    calibration="seeded 640-d vectors of normal clips (train split; else half of the normal test clips)",
    calibration_n=500,
    references=("efinix_autoencoder",),  # = MLPerf Tiny ad01_int8.tflite (same sha256)
    efinix_reference="efinix_autoencoder",
)
