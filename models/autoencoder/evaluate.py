"""Anomaly scores of an autoencoder (.keras, .h5 or .tflite) on ToyCar clips, and with --report the
shipped int8 file beside its float model and the Efinix/MLPerf file (the pipeline's evaluate step with
this model's recipe, models/autoencoder/metric.py).

A clip's score is the mean squared reconstruction error averaged over its 640-d vectors; AUC and
pAUC (FPR <= 0.1) are computed per machine id and averaged (DCASE 2020 Task 2 / MLPerf Tiny). With
too few clips for an AUC to mean anything, the headline is the int8-vs-float deviation of clip scores.

    python -m models.autoencoder.evaluate --model build/autoencoder/model.tflite --tfds-dir build/autoencoder/tfds
    python -m models.autoencoder.evaluate --model build/autoencoder/model.tflite \\
        --float-model build/autoencoder/model.keras --report build/autoencoder/report.json \\
        --tfds-dir build/autoencoder/tfds --plots-dir build/autoencoder
"""
from common.pipeline.evaluate import step

main = step("autoencoder", __doc__)

if __name__ == "__main__":
    from common.cli import run

    run(main)
