"""resnet_cifar: MLPerf Tiny's ResNet-8 on CIFAR-10, imported (or trained) and shipped as full int8."""
from common.pipeline.recipe import Calibration, Data, Metric, Recipe, Reference, WeightFile

_MLPERF = "https://github.com/mlcommons/tiny/raw/master/benchmark/training/image_classification/trained_models"
_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"

RECIPE = Recipe(
    name="resnet_cifar",
    task="Image classification",
    architecture="ResNet-8 (MLPerf Tiny)",
    dataset="CIFAR-10",
    quality_target="top-1 ≥ 87.4% (reference int8 87.47%)",
    input_shape=(32, 32, 3),
    input_description="32x32x3 CIFAR-10 images",
    preprocessing="raw 0..255 float pixels (MLPerf Tiny trained on them unnormalised)",
    input_range=(0.0, 255.0),
    data=Data(
        reader="models.resnet_cifar.data:load_items",
        lister="models.resnet_cifar.data:list_items",
        describe="models.resnet_cifar.data:describe",
        tfds="cifar10",
        folder="your own classes: one sub-folder per class (>= 2), images of any size, resized to 32x32 RGB; "
               "split per class into train 70% / val 10% / test 20% (seeded by file)",
        eval_split="test",
        folder_eval_split="test",
        class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
    ),
    calibration=Calibration(
        # N chosen on validation data (train[90%:]), never on the test split: int8-vs-float output MSE
        # grows with N under min/max calibration (rare large activations widen the ranges); mean over
        # seeds N=50: 3.3e-4, 100: 3.7e-4, 500: 4.1e-4, 2000: 5.6e-4, 4194: 6.8e-4; N=100 also had the
        # highest top-1 agreement with the float model (98.3%). `python -m benchmarks.resnet_cifar_calibration`.
        description="seeded CIFAR-10 train[:90%] images (the scored test split never calibrates)",
        n=100,
        rule=None,
        split="train[:90%]",
        folder_split="train",
    ),
    metric=Metric("top-1 accuracy", higher_is_better=True, per_item="common.evaluation.metrics:correct",
                  proportion=True),
    files=(
        WeightFile("mlperf_resnet8", "pretrainedResnet.h5",
                   "5f938a8eea605438cc7360aa13c987bc6d7bd0c8d931b2917361ae7ae4eeda2f", f"{_MLPERF}/pretrainedResnet.h5"),
        WeightFile("mlperf_resnet8_int8", "pretrainedResnet_quant.tflite",
                   "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
                   f"{_MLPERF}/pretrainedResnet_quant.tflite"),
        # the same bytes as MLPerf's int8 file, re-exported by Efinix
        WeightFile("efinix_resnet", "resnet_image_classify.tflite",
                   "3c002613d1b2475eb51dd78dfb85a546c8ae658dee71cf6ade43b022fe205415",
                   f"{_EFINIX}/resnet_image_classify.tflite"),
    ),
    references=(Reference("efinix_resnet", "Efinix / MLPerf int8"),),
    efinix_reference="efinix_resnet",
    max_tflite_bytes=98_496,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "common.evaluation.plots:confusion"),
    extras="common.evaluation.metrics:classification_extras",
)
