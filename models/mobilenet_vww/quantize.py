"""Full-int8 PTQ of the grayscale MobileNetV1 VWW model (the pipeline's quantize step with this model's recipe).

Calibration images get exactly the evaluation preprocessing (grayscale, antialiased bilinear resize
to 96x96, pixels/255); labels are never read. They come from `--data-dir` (a folder dataset: a
seeded half of its images, listed in the `.quant.json` sidecar; evaluation scores the other half)
or, without it, TFDS coco/2017 `train` (evaluation: `validation`).

    python -m models.mobilenet_vww.quantize --model build/mobilenet_vww/model.keras \\
        --out build/mobilenet_vww/model.tflite --data-dir ../shared/data/coco128_person
"""
from common.pipeline.quantize import step

main = step("mobilenet_vww", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
