"""facemesh: MediaPipe's face landmark network (192x192x3 -> 468 3D landmarks + face flag), rebuilt in Keras
from the float file and shipped as full int8."""
from common.pipeline.recipe import (Calibration, Data, EveryKth, Metric, Option, PassStep, Recipe, Reference,
                                    WeightFile)

_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"
_WHEEL = "mediapipe==0.10.14"  # the float files, exactly as shipped inside this PyPI wheel (Apache-2.0)

RECIPE = Recipe(
    name="facemesh",
    task="Face landmarks",
    architecture="MediaPipe FaceMesh",
    dataset="face crops",
    quality_target="NME int8 vs float ≤ 2.0%",
    input_shape=(192, 192, 3),
    input_description="192x192x3 RGB face crops",
    preprocessing="MediaPipe's short-range face detector, the best face's box x1.5 as a square crop (no eye-line "
                  "rotation), resized to 192x192 RGB in [0, 1]",
    data=Data(
        reader="models.facemesh.data:load_items",
        lister="models.facemesh.data:list_items",
        describe="models.facemesh.data:describe",
        tfds="lfw",
        folder="face photos, searched recursively (the photos without a face are named and skipped)",
        eval_split="train[100:400]",
        folder_eval_split="all",
    ),
    calibration=Calibration(
        description="every 3rd photo of each folder: its face crop, mirrored, jittered, and the whole photo "
                    "(TFDS lfw: train[:100]); those photos are not scored",
        n=500,
        rule=EveryKth(3),
        split="train[:100]",
        folder_split="all",
        inputs="models.facemesh.metric:calibration_images",
    ),
    # MediaPipe's float model is the truth: NME = mean landmark error / inter-ocular distance of its landmarks
    metric=Metric("NME vs MediaPipe float (inter-ocular 33-263)", higher_is_better=False, truth="mediapipe_face_landmark",
                  per_item="models.facemesh.metric:nme"),
    files=(
        WeightFile("mediapipe_face_landmark", "face_landmark.tflite",
                   "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", None,
                   wheel=_WHEEL, member="mediapipe/modules/face_landmark/face_landmark.tflite"),
        WeightFile("mediapipe_face_detection", "face_detection_short_range.tflite",
                   "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", None,
                   wheel=_WHEEL, member="mediapipe/modules/face_detection/face_detection_short_range.tflite"),
        # PReLU rewritten as MUL + MAXIMUM for the accelerator
        WeightFile("efinix_face_landmark", "mediapipe_face_landmark.tflite",
                   "4b7dd6c2e4be98a9d86307a24225a78d9f1f6f0ffc443b8b110d94a0ffb4d437",
                   f"{_EFINIX}/mediapipe_face_landmark.tflite"),
    ),
    references=(Reference("mediapipe_face_landmark", "MediaPipe float", role="truth"),
                Reference("efinix_face_landmark", "Efinix int8")),
    efinix_reference="efinix_face_landmark",
    options=(Option("mixed_prelu", "clamp",
                    "PReLU layers that mix alphas <= 1 and > 1: 'clamp' alphas > 1 to 1 and use MUL + MAXIMUM like the "
                    "Efinix reference, or 'exact' (MINIMUM + MUL + ADD, MediaPipe's function, ~2% slower under TFLM)",
                    choices=("clamp", "exact")),),
    passes=(PassStep("clamp_mixed_prelu", when={"mixed_prelu": "clamp"}),
            PassStep("union_same_scale_ranges"),  # max(x, alpha * x) must not clip x
            PassStep("compact")),
    predict="models.facemesh.metric:landmarks_and_flag",
    float_batch_size=8,
    max_tflite_bytes=768_792,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "models.facemesh.metric:landmarks_plot"),
    extras="models.facemesh.metric:extras",
)
