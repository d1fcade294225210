"""Top-1 accuracy of a DS-CNN model (.keras, .h5 or .tflite) on Speech Commands (the pipeline's evaluate
step with this model's recipe); prints one JSON line.

    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model ../shared/pretrained/efinix/ds_cnn_kws.tflite --data-dir DIR
    python -m models.dscnn_kws.evaluate --model build/dscnn_kws/model.tflite --data-dir DIR \\
        --float-model build/dscnn_kws/model.keras --report build/dscnn_kws/report.json --plots-dir build/dscnn_kws

DIR is any folder in the Speech Commands layout (`<label>/<file>.wav|flac`): all its clips are scored,
or only those of testing_list.txt in a full v0.02 archive; without --data-dir the TFDS
speech_commands test split is used. Corrupt or empty files are reported by name, counted
("skipped") and left out; the run goes on. The clips whose speakers calibrated the .tflite are
left out of every score (`all_items` in report.json keeps the whole folder for comparison).
"""
from common.pipeline.evaluate import step

main = step("dscnn_kws", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
