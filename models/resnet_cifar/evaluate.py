"""Top-1 accuracy of a ResNet-8 model (.keras, .h5 or .tflite) on CIFAR-10 (the pipeline's evaluate step
with this model's recipe); prints one JSON line.

    python -m models.resnet_cifar.evaluate --model build/resnet_cifar/model.tflite
    python -m models.resnet_cifar.evaluate --model ../shared/pretrained/efinix/resnet_image_classify.tflite
    python -m models.resnet_cifar.evaluate --model build/resnet_cifar/model.tflite \\
        --float-model build/resnet_cifar/model.keras --report build/resnet_cifar/report.json --plots-dir build/resnet_cifar
"""
from common.pipeline.evaluate import step

main = step("resnet_cifar", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
