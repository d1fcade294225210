"""Full-int8 PTQ of the trained ResNet-8 (the pipeline's quantize step with this model's recipe).

    python -m models.resnet_cifar.quantize --model build/resnet_cifar/model.keras --out build/resnet_cifar/model.tflite
"""
from common.pipeline.quantize import step

main = step("resnet_cifar", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
