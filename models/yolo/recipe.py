"""yolo: the Efinix yolo-pico person detector (96x96x3, heads 3x3 and 6x6), rebuilt from its Darknet cfg,
imported from the Efinix int8 file and shipped as full int8."""
from common.pipeline.recipe import (Calibration, Data, Metric, Option, PassStep, Recipe, Reference, SeededFraction,
                                    WeightFile)

_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"

RECIPE = Recipe(
    name="yolo",
    task="Person detection (boxes)",
    architecture="YOLO-pico (Efinix)",
    dataset="COCO person",
    quality_target="mAP@0.5 20.30 (≥ 20.7 on coco128)",
    input_shape=(96, 96, 3),  # = [net] height/width/channels of yolo_pico.cfg (tested)
    input_description="96x96x3 RGB images",
    preprocessing="RGB, plain bilinear resize of the whole image to 96x96 (no letterbox, no antialias), pixels/255: "
                  "the Efinix file's input quantization (scale 1/255, zero point -128) makes that q = pixel - 128",
    input_range=(0.0, 1.0),
    data=Data(
        reader="models.yolo.data:load_items",
        lister="models.yolo.data:list_items",
        describe="models.yolo.data:describe",
        tfds="coco/2017",
        folder="YOLO layout images/ + labels/: with classes.txt (or train's --classes) your classes "
               "(models/yolo/folder.py), without it the zoo's person folders (COCO ids, class 0 = person)",
        eval_split="validation",
        folder_eval_split="all",
        class_names=("person",),
    ),
    calibration=Calibration(
        description="none for the imported model (the Efinix file's activation ranges); calibrated "
                    "(--activation-ranges calibrated): a seeded half of the data folder, the other half scored",
        n=500,
        rule=SeededFraction(0.5),
        split="train",
        folder_split="all",
        candidates=2_000,  # of TFDS coco/2017 train: its first 2,000 images
    ),
    metric=Metric("person mAP@0.5, COCO 101-point", higher_is_better=True, format="x100",
                  per_item="models.yolo.metric:detections", aggregate="models.yolo.metric:map50"),
    files=(
        WeightFile("efinix_yolo", "yolo_person_detect.tflite",
                   "0d74e3ef5c32dbc08fd3ae06eb705afb58d9bdd89562370c83de91d1d8e831ab",
                   f"{_EFINIX}/yolo_person_detect.tflite"),
    ),
    references=(Reference("efinix_yolo", "Efinix int8"),),
    efinix_reference="efinix_yolo",
    options=(Option("activation_ranges", "calibrated",
                    "calibrated: min/max on the calibration images; efinix: the published Efinix file's activation "
                    "ranges (for the imported, not fine-tuned model; chosen on validation images, see README)",
                    choices=("calibrated", "efinix")),),
    passes=(PassStep("compact"),
            PassStep("models.yolo.ranges:ADOPT_ACTIVATION_RANGES", args={"reference": "efinix_yolo"},
                     when={"activation_ranges": "efinix"})),
    predict="models.yolo.metric:heads_in_order",
    max_tflite_bytes=227_600,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "models.yolo.metric:pr_curves"),
    extras="models.yolo.metric:extras",
)
