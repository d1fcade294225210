"""Full-int8 PTQ of yolo-pico (the pipeline's quantize step with this model's recipe).

`--activation-ranges efinix` (what `make` uses for the imported model) keeps the Efinix file's own
activation ranges (models/yolo/ranges.py): no image of ours decides any scale, and evaluation scores
every image. `calibrated` (a fine-tuned model) calibrates on a seeded half of the images of a
YOLO-layout folder (listed in the `.quant.json` sidecar; evaluation scores the other half) or on TFDS
coco/2017 train images, with the evaluation preprocessing (plain resize to 96x96, pixels / 255).

    python -m models.yolo.quantize --model build/yolo/model.keras --out build/yolo/model.tflite \\
        --data-dir ../shared/data/coco128_person --activation-ranges efinix
"""
from common.pipeline.quantize import step

main = step("yolo", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
