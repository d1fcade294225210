"""mobilenet_vww: MLPerf Tiny's MobileNetV1-0.25 person detector (Visual Wake Words), converted exactly to a
grayscale 96x96x1 input and shipped as full int8."""
from common.pipeline.recipe import Calibration, Data, Metric, Recipe, Reference, SeededFraction, WeightFile

_MLPERF = "https://github.com/mlcommons/tiny/raw/master/benchmark/training/visual_wake_words/trained_models"
_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"

RECIPE = Recipe(
    name="mobilenet_vww",
    task="Person detection (VWW)",
    architecture="MobileNetV1 0.25",
    dataset="Visual Wake Words (COCO)",
    quality_target="accuracy ≥ 82.2% (RGB reference 85.16%)",
    input_shape=(96, 96, 1),
    input_description="96x96x1 grayscale images",
    preprocessing="grayscale, antialiased bilinear resize of the whole image to 96x96 (aspect not kept), pixels/255",
    data=Data(
        reader="models.mobilenet_vww.data:load_items",
        lister="models.mobilenet_vww.data:list_items",
        describe="models.mobilenet_vww.data:describe",
        tfds="coco/2017",
        folder="YOLO images/ + labels/ (class 0 = person; VWW label: a person box over 0.5% of the image), or "
               "two class sub-folders of images, gray or RGB, any size (person/ + non_person/, or your own two "
               "classes), split per class into train 70% / val 10% / test 20% (seeded by file)",
        eval_split="validation",
        folder_eval_split="test",  # a class folder's test part; all of a YOLO folder (it has no parts)
        class_names=("non_person", "person"),  # model output index = class id
    ),
    calibration=Calibration(
        description="a seeded half of the data folder's images (of its train part for class folders), pixels "
                    "only (TFDS coco/2017: train); the other half is scored",
        n=500,
        rule=SeededFraction(0.5),
        split="train",
        folder_split="train",  # a class folder's train part; all of a YOLO folder
        candidates=10_000,  # of TFDS coco/2017 train: its first 10,000 images
    ),
    metric=Metric("accuracy", higher_is_better=True, per_item="common.evaluation.metrics:correct", proportion=True),
    files=(
        WeightFile("mlperf_vww96", "vww_96.h5", "af9111d50e6e85b2f2123345e0316ef1c384865ebf6b06340ddac7e66017450f",
                   f"{_MLPERF}/vww_96.h5"),
        WeightFile("mlperf_vww96_int8", "vww_96_int8.tflite",
                   "597a384c8c2c8a1276f04702f25013b7838f2f814f1ca7c174d295b73e3d6b7b", f"{_MLPERF}/vww_96_int8.tflite"),
        WeightFile("efinix_mobilenet", "mobilenetv1_person_detect.tflite",
                   "808cfdfc0cf3a6fa6f6fa26bfa379ea97c16d5db7334637766e39c3408502e9d",
                   f"{_EFINIX}/mobilenetv1_person_detect.tflite"),
    ),
    references=(
        Reference("mlperf_vww96_int8", "MLPerf int8 (RGB)"),  # takes RGB: input_adapters gives it RGB images
        # does not load unrepaired in LiteRT; expects TFLM's camera convention, pixels in [-1, 1]
        Reference("efinix_mobilenet", "Efinix int8 (gray)", inputs="models.mobilenet_vww.data:minus_one_to_one",
                  prepare="models.mobilenet_vww.efinix:repair_quantized_dimension"),
    ),
    efinix_reference="efinix_mobilenet",
    input_adapters={(96, 96, 3): "models.mobilenet_vww.data:rgb_inputs"},
    max_tflite_bytes=300_568,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "common.evaluation.plots:confusion"),
    extras="common.evaluation.metrics:classification_extras",
)
