"""Face detection quality against MediaPipe's own float detector (the truth), on real photos with and
without faces (the pipeline's evaluate step with this model's recipe, models/face_detection/metric.py);
prints one JSON line.

Headline: the share of photos whose faces match MediaPipe float's one to one at IoU >= 0.5 (none
missed, none extra). With --float-model and --report, report.json also has, for ours int8, the Efinix
int8 file and our float model: recall at IoU 0.5, box IoU and keypoint error (relative to the box
size) of the matched faces, and false detections on the photos where MediaPipe finds no face.

    python -m models.face_detection.evaluate --model build/face_detection/model.tflite --data-dir ../shared/data
    python -m models.face_detection.evaluate --model build/face_detection/model.tflite \\
        --float-model build/face_detection/model.keras --report build/face_detection/report.json \\
        --data-dir ../shared/data --plots-dir build/face_detection
"""
from common.pipeline.evaluate import step

main = step("face_detection", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
