"""Model card of facemesh (read by REPORT.md, benchmarks/zoo.py and evaluate.py)."""
from common.pipeline.cards import ModelCard

CARD = ModelCard(
    name="facemesh",
    task="Face landmarks",
    architecture="MediaPipe FaceMesh",
    input="192x192x3",
    dataset="face crops",
    metric="NME vs MediaPipe float (inter-ocular)",
    higher_is_better=False,
    quality_target="NME int8 vs float ≤ 2.0%",
    calibration="every 3rd photo per folder: crops, mirrored, jittered, + whole photos",
    calibration_n=80,
    # MediaPipe's float face_landmark.tflite is what NME is measured against; Efinix's int8 file beside ours
    references=("mediapipe_face_landmark", "efinix_face_landmark"),
    efinix_reference="efinix_face_landmark",
)
