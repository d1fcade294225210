"""face_detection: MediaPipe's short-range face detector (BlazeFace, 128x128x3 -> 896 anchors: box, 6
keypoints, face score), rebuilt in Keras from the float file and shipped as full int8."""
from common.pipeline.recipe import (Calibration, Data, EveryKth, Metric, PassStep, Recipe, Reference,
                                    WeightFile)

_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"
_WHEEL = "mediapipe==0.10.14"  # the float file, exactly as shipped inside this PyPI wheel (Apache-2.0)

RECIPE = Recipe(
    name="face_detection",
    task="Face detection",
    architecture="MediaPipe BlazeFace (short range)",
    dataset="photos (faces and none)",
    quality_target="detections match MediaPipe float (IoU ≥ 0.5) on ≥ 95% of photos",
    input_shape=(128, 128, 3),
    input_range=(-1.0, 1.0),
    input_description="128x128x3 RGB in [-1, 1]",
    preprocessing="letterboxed to a square (black border) as MediaPipe's ImageToTensor, resized to 128x128, "
                  "RGB / 127.5 - 1",
    data=Data(
        reader="models.face_detection.data:load_items",
        lister="models.face_detection.data:list_items",
        describe="models.face_detection.data:describe",
        tfds=None,
        folder="photos, searched recursively, with faces and without (MediaPipe's float detector says which)",
        folder_eval_split="all",
    ),
    calibration=Calibration(
        description="every 3rd photo of each folder, and its mirror image; those photos are not scored",
        n=300,
        rule=EveryKth(3),
        folder_split="all",
        inputs="models.face_detection.metric:calibration_images",
    ),
    # MediaPipe's float model is the truth: its faces after weighted NMS (score >= 0.5)
    metric=Metric("photos whose faces match MediaPipe float (IoU ≥ 0.5, none missed, none extra)",
                  higher_is_better=True, per_item="models.face_detection.metric:faces_match", proportion=True,
                  truth="mediapipe_face_detection"),
    files=(
        WeightFile("mediapipe_face_detection", "face_detection_short_range.tflite",
                   "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", None,
                   wheel=_WHEEL, member="mediapipe/modules/face_detection/face_detection_short_range.tflite"),
        # ReLU fused, the two grids' outputs apart (4 outputs), int8
        WeightFile("efinix_face_detection", "mediapipe_face_detection.tflite",
                   "886687a6a62e7a9508f5c6cc9f0fcc0fb1462058aa2bbe54496dc570a1e22751",
                   f"{_EFINIX}/mediapipe_face_detection.tflite"),
    ),
    references=(Reference("mediapipe_face_detection", "MediaPipe float", role="truth"),
                Reference("efinix_face_detection", "Efinix int8")),
    efinix_reference="efinix_face_detection",
    # the face logits' range floored at -16 (score 1e-7): a 35x finer int8 step for the 8x8 grid's logits
    passes=(PassStep("models.face_detection.ranges:FLOOR_FACE_LOGITS", args={"floor": -16.0, "max_values": 896}),
            PassStep("compact")),
    predict="models.face_detection.metric:raw_outputs",
    float_batch_size=32,
    max_tflite_bytes=189_512,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "models.face_detection.metric:detections_plot"),
    extras="models.face_detection.metric:extras",
)
