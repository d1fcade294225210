"""dscnn_kws: MLPerf Tiny's DS-CNN keyword spotter (49x10 MFCC, 12 classes), imported and shipped as full int8."""
from common.pipeline.recipe import Calibration, Data, Metric, Recipe, Reference, WeightFile, WholeGroups

_MLPERF = "https://github.com/mlcommons/tiny/raw/master/benchmark/training/keyword_spotting/trained_models"
_EFINIX = "https://github.com/Efinix-Inc/tinyml/raw/main/tools/tinyml_generator/model"

RECIPE = Recipe(
    name="dscnn_kws",
    task="Keyword spotting",
    architecture="DS-CNN small (MLPerf Tiny)",
    dataset="Speech Commands v0.02",
    quality_target="top-1 ≥ 92.4% (reference int8 92.47%)",
    input_shape=(49, 10, 1),
    input_description="49x10x1 MFCC features",
    preprocessing="MLPerf Tiny's MFCC front end: clip / its maximum, 1 s at 16 kHz, 30 ms Hann / 20 ms stride, "
                  "40 mel bins 20-4000 Hz, log, first 10 MFCCs (models/dscnn_kws/frontend.py)",
    data=Data(
        reader="models.dscnn_kws.data:load_items",
        lister="models.dscnn_kws.data:list_items",
        describe="models.dscnn_kws.data:describe",
        tfds="speech_commands",
        folder="Speech Commands <label>/<file>.wav|.flac: the v0.02 archive (word folders, optional "
               "testing_list.txt/validation_list.txt) or its test set with _silence_/_unknown_ folders; or any "
               "word folders (+ optional _background_noise_) with train's --keywords w1,w2 (your classes, "
               "models/dscnn_kws/keywords.py)",
        eval_split="test",
        folder_eval_split="test",  # testing_list.txt of an archive; every clip of a test-set folder
        class_names=("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "_silence_", "_unknown_"),
    ),
    calibration=Calibration(
        description="whole speakers of the scored folder in a seeded order until n clips (TFDS: its validation "
                    "split); those speakers are left out of scoring",
        n=120,  # as many clips as MLPerf Tiny's quant_cal_idxs.txt
        rule=WholeGroups("models.dscnn_kws.data:calibration_group"),
        split="validation",
        folder_split="validation",  # validation_list.txt of an archive; every clip of a test-set folder
    ),
    metric=Metric("top-1 accuracy", higher_is_better=True, per_item="common.evaluation.metrics:correct",
                  proportion=True),
    files=(
        WeightFile("mlperf_kws_saved_model_pb", "kws_ref_model/saved_model.pb",
                   "80665dd19eeb03d1152fdc098b5635261731b23478d09f6ff2166da799f98138",
                   f"{_MLPERF}/kws_ref_model/saved_model.pb"),
        WeightFile("mlperf_kws_variables_data", "kws_ref_model/variables/variables.data-00000-of-00001",
                   "5ebfddd34e85a2d35e87e27a8a803353534019bb460907b16db5fa72d757e8c5",
                   f"{_MLPERF}/kws_ref_model/variables/variables.data-00000-of-00001"),
        WeightFile("mlperf_kws_variables_index", "kws_ref_model/variables/variables.index",
                   "3f21dd9ea6736e20e70c5ed2f40ed9d8a7d12b98316ac0e4ab8f4eb7e303d738",
                   f"{_MLPERF}/kws_ref_model/variables/variables.index"),
        WeightFile("mlperf_kws_int8", "kws_ref_model.tflite",
                   "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae", f"{_MLPERF}/kws_ref_model.tflite"),
        # the same bytes as MLPerf's int8 file, shipped by Efinix
        WeightFile("efinix_dscnn", "ds_cnn_kws.tflite",
                   "aeea436800704fce17b17292e4412630ad856e9d777c044c64ef748a880bd0ae", f"{_EFINIX}/ds_cnn_kws.tflite"),
    ),
    references=(Reference("efinix_dscnn", "Efinix / MLPerf int8"),),
    efinix_reference="efinix_dscnn",
    max_tflite_bytes=53_936,  # the Efinix reference file
    plots=("common.evaluation.plots:scores", "common.evaluation.plots:confusion"),
    extras="common.evaluation.metrics:classification_extras",
)
