"""Full-int8 PTQ of the imported face detector, calibrated on real photos (the pipeline's quantize step
with this model's recipe): every 3rd photo of each folder, letterboxed, and its mirror image; those
photos are not scored.

    python -m models.face_detection.quantize --model build/face_detection/model.keras \\
        --out build/face_detection/model.tflite --data-dir ../shared/data
"""
from common.pipeline.quantize import step

main = step("face_detection", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
