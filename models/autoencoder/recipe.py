"""autoencoder: MLPerf Tiny's Deep AutoEncoder for anomalous sounds (ToyCar), imported and shipped as full int8."""
from common.pipeline.recipe import (Calibration, Data, Metric, Option, PassStep, Recipe, Reference, SeededFraction,
                                    WeightFile)

_MLPERF = "https://github.com/mlcommons/tiny/raw/master/benchmark/training/anomaly_detection/trained_models"
_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"

# The headline where every machine id holds >= 10 normal and >= 10 anomalous clips (models/autoencoder/metric.py).
AUC = Metric("mean AUC over machine ids (clip score = mean squared reconstruction error)", higher_is_better=True,
             per_item="models.autoencoder.metric:with_groups", aggregate="models.autoencoder.metric:mean_auc",
             format="f4")

RECIPE = Recipe(
    name="autoencoder",
    task="Anomaly detection",
    architecture="FC AutoEncoder (MLPerf Tiny)",
    dataset="ToyADMOS ToyCar",
    quality_target="AUC 0.842 int8 (MLPerf, full set); int8 scores within 5% of float",
    input_shape=(640,),
    input_description="640-d log-mel vectors",
    preprocessing="MLPerf Tiny / DCASE 2020 T2 front end: 128 log-mel bands (n_fft 1024, hop 512, 16 kHz, dB), "
                  "5 frames concatenated (models/autoencoder/features.py)",
    data=Data(
        reader="models.autoencoder.data:load_items",
        lister="models.autoencoder.data:list_items",
        describe="models.autoencoder.data:describe",
        tfds="dcase2020_toycar",
        folder="your machine's clips: DCASE's layout [<machine>/]train/ (normal clips only, any names) + test/ "
               "(clips named normal_*.wav / anomaly_*.wav; id_NN in a name = its machine id), or normal/ + anomaly/ "
               "folders, or a folder of normal_*.wav and anomaly_*.wav; there a seeded hash of each normal clip's "
               "path puts half of them in train, the rest is scored with the anomalous clips. train trains and "
               "calibrates, test is scored (AUC where it holds both kinds); unreadable clips are skipped and "
               "listed. The data step instead builds the folder into --tfds-dir as dcase2020_toycar",
        eval_split="test",
        folder_eval_split="test",
        class_names=("normal", "anomaly"),
    ),
    calibration=Calibration(
        description="seeded 640-d vectors of normal clips: the train split's (a folder's train part), else a "
                    "seeded half of the normal test clips (left out of scoring)",
        n=500,
        rule=SeededFraction(0.5),
        split="auto",  # train where the data has it (the MLPerf Tiny recipe), else the normal clips of test
        folder_split="train",  # a folder's train part: no scored clip calibrates
        inputs="models.autoencoder.metric:calibration_vectors",
    ),
    # The headline a few clips can measure; `metric_choice` takes the AUC where the clips allow it.
    metric=Metric("max |int8/float - 1| of clip scores", higher_is_better=False, truth="float",
                  per_item="models.autoencoder.metric:deviation", aggregate="models.autoencoder.metric:largest"),
    metric_choice="models.autoencoder.metric:metric_choice",
    files=(
        WeightFile("mlperf_ad01", "ad01.h5", "651a62de1b7facd68d1269373992a2d09ffd28e6a816935d4834fcc558bde512",
                   f"{_MLPERF}/ad01.h5"),
        WeightFile("mlperf_ad01_int8", "ad01_int8.tflite",
                   "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24", f"{_MLPERF}/ad01_int8.tflite"),
        # the same bytes as MLPerf's ad01_int8.tflite, shipped by Efinix
        WeightFile("efinix_autoencoder", "deep_autoencoder_anomaly_detection.tflite",
                   "87cf24194ef93d1d9b11a591d805526b98008e351655d29883c825c9c106ba24",
                   f"{_EFINIX}/deep_autoencoder_anomaly_detection.tflite"),
    ),
    references=(Reference("efinix_autoencoder", "Efinix / MLPerf int8"),),
    efinix_reference="efinix_autoencoder",
    options=(Option("max_sweeps", 10, "cross-layer equalization sweeps to consider (0 = fold BatchNorm only)"),),
    passes=(PassStep("models.autoencoder.equalize:FOLD_AND_EQUALIZE", args={"max_sweeps": "option:max_sweeps"}),
            PassStep("compact")),
    predict="models.autoencoder.metric:clip_scores",
    golden="models.autoencoder.metric:golden",
    max_tflite_bytes=276_976,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "models.autoencoder.metric:roc",
           "models.autoencoder.metric:scores_vs_float", "models.autoencoder.metric:score_tables"),
    extras="models.autoencoder.metric:extras",
)
