"""Model card of resnet_cifar (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="resnet_cifar",
    task="Image classification",
    architecture="ResNet-8 (MLPerf Tiny)",
    input="32x32x3",
    dataset="CIFAR-10",
    metric="top-1 accuracy",
    higher_is_better=True,
    quality_target="top-1 ≥ 87.4% (reference int8 87.47%)",
    calibration="seeded CIFAR-10 train[:90%] images",
    calibration_n=100,
    references=("efinix_resnet",),  # = MLPerf Tiny pretrainedResnet_quant.tflite, re-exported by Efinix
    efinix_reference="efinix_resnet",
)
