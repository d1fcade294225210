"""Person / no-person accuracy of a VWW model (.keras, .h5 or .tflite) on VWW-labelled images (the
pipeline's evaluate step with this model's recipe); prints one JSON line.

A 96x96x1 model gets grayscale images, a 96x96x3 one (MLPerf's `vww_96_int8.tflite`) RGB images of the
same files; both the same antialiased bilinear resize to 96x96, pixels/255, the same labels, person =
output 1. With --report, MLPerf's RGB file and the Efinix gray file are scored on the same images as
ours, each with a paired verdict.

    python -m models.mobilenet_vww.evaluate --model build/mobilenet_vww/model.tflite \\
        --data-dir ../shared/data/coco128_person
    python -m models.mobilenet_vww.evaluate --model build/mobilenet_vww/model.tflite \\
        --float-model build/mobilenet_vww/model.keras --report build/mobilenet_vww/report.json \\
        --data-dir ../shared/data/coco128_person --plots-dir build/mobilenet_vww
"""
from common.pipeline.evaluate import step

main = step("mobilenet_vww", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
