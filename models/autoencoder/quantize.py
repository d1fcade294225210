"""Full-int8 PTQ of the autoencoder, calibrated on 640-d vectors of normal clips (the pipeline's quantize
step with this model's recipe: BatchNorm folded and the Dense chain equalized first,
models/autoencoder/equalize.py).

    python -m models.autoencoder.quantize --model build/autoencoder/model.keras --out build/autoencoder/model.tflite \\
        --tfds-dir build/autoencoder/tfds
"""
from common.pipeline.quantize import step

main = step("autoencoder", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
