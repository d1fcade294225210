"""Face landmark quality against MediaPipe's own float model (the reference), on real face crops (the
pipeline's evaluate step with this model's recipe, models/facemesh/metric.py); prints one JSON line.

NME = mean landmark error (x, y) / inter-ocular distance (landmarks 33 and 263) of the reference. With
--float-model and --report it also writes report.json: float Keras vs MediaPipe's float tflite (import
fidelity), int8 vs float NME, face-score agreement, the Efinix int8 file on the same crops, every
model on the whole photos, and a PNG of landmarks drawn on a face.

    python -m models.facemesh.evaluate --model build/facemesh/model.tflite --data-dir ../shared/data/faces
    python -m models.facemesh.evaluate --model build/facemesh/model.tflite --float-model build/facemesh/model.keras \\
        --report build/facemesh/report.json --data-dir ../shared/data/faces --plots-dir build/facemesh
"""
from common.pipeline.evaluate import step

main = step("facemesh", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
