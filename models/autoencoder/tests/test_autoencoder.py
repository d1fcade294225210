"""autoencoder: MLPerf Tiny front end, AUC/pAUC, the TFDS builder on a fake ToyCar folder, bad clips,
training, and the end-to-end `make autoencoder.tflite` on the 3 real ToyCar clips."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.helpers import SHARED, require_shared, make_and_check

SR = 16000


def _wav(path: Path, seconds: float = 1.0, sr: int = SR, seed: int = 0, amplitude: float = 0.1) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    audio = amplitude * (0.5 * rng.standard_normal(len(t)) + np.sin(2 * np.pi * (300 + 50 * seed) * t))
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio.astype(np.float32), sr, subtype="PCM_16")
    return path


# ---- features ------------------------------------------------------------------------------------

def test_features_match_a_direct_librosa_computation(tmp_path):
    import librosa

    from models.autoencoder.features import clip_log_mel, log_mel, to_vectors

    path = _wav(tmp_path / "normal_id_01_00000000.wav", seconds=1.0)
    y, sr = librosa.load(path, sr=None, mono=True)  # what the MLPerf Tiny baseline does
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=1024, hop_length=512, n_mels=128, power=2.0)
    expected = 10.0 * np.log10(mel + sys.float_info.epsilon)  # (128, frames)

    frames, note = clip_log_mel(path)
    assert note is None
    assert frames.shape == (expected.shape[1], 128) == (32, 128)
    np.testing.assert_allclose(frames, expected.T, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(log_mel(y), frames)

    vectors = to_vectors(frames)
    assert vectors.shape == (32 - 4, 640)
    for i in (0, 7, 27):  # row i = frames i..i+4, in time order, 128 mels each
        np.testing.assert_array_equal(vectors[i], frames[i : i + 5].reshape(-1))
        np.testing.assert_allclose(vectors[i], expected.T[i : i + 5].reshape(-1), rtol=0, atol=1e-4)


FEATURE_DIGEST = '''
import hashlib, sys
import numpy as np
from models.autoencoder.features import log_mel
audio = np.random.default_rng(0).standard_normal(11 * 16000).astype(np.float32) * 0.1
print(hashlib.sha256(log_mel(audio).tobytes()).hexdigest())
'''


def test_features_are_the_same_bits_whatever_the_cpu_kernels(repo):
    # Another x86-64 CPU runs other BLAS and NumPy SIMD kernels (AVX-512 here, AVX2 there), which sum
    # float32 in another order. Five kernel choices of this machine stand in for other CPUs.
    kernels = [{}, {"OPENBLAS_CORETYPE": "Prescott"}, {"OPENBLAS_CORETYPE": "SandyBridge"},
               {"NPY_DISABLE_CPU_FEATURES": "X86_V3"}, {"OPENBLAS_CORETYPE": "Prescott", "NPY_DISABLE_CPU_FEATURES": "X86_V3"}]
    digests = set()
    for extra in kernels:
        run = subprocess.run([sys.executable, "-c", FEATURE_DIGEST], cwd=repo, capture_output=True, text=True,
                             env={**os.environ, **extra}, timeout=120)
        assert run.returncode == 0, run.stderr
        digests.add(run.stdout.split()[-1])
    assert len(digests) == 1, digests


def test_bad_clips_raise_naming_the_file(tmp_path):
    from models.autoencoder.features import ClipError, clip_log_mel

    corrupt = tmp_path / "normal_id_01_00000009.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    with pytest.raises(ClipError, match="normal_id_01_00000009.wav"):
        clip_log_mel(corrupt)
    short = _wav(tmp_path / "normal_id_01_00000010.wav", seconds=0.1)  # 1600 samples -> 4 frames
    with pytest.raises(ClipError, match="4 frames, fewer than the 5"):
        clip_log_mel(short)
    frames, note = clip_log_mel(_wav(tmp_path / "normal_id_01_00000011.wav", seconds=1.0, sr=8000))
    assert "8000 Hz -> 16000 Hz" in note and frames.shape == (32, 128)


def test_layouts_and_empty_test_folder(tmp_path):
    from models.autoencoder.features import find_splits

    _wav(tmp_path / "samples" / "normal" / "normal_id_01_00000000.wav")
    _wav(tmp_path / "samples" / "anomaly" / "anomaly_id_01_00000000.wav")
    splits = find_splits(tmp_path / "samples")
    assert list(splits) == ["test"]
    assert sorted(label for _, label in splits["test"]) == ["anomaly", "normal"]

    (tmp_path / "dcase" / "ToyCar" / "test").mkdir(parents=True)
    _wav(tmp_path / "dcase" / "ToyCar" / "train" / "normal_id_01_00000000.wav")
    with pytest.raises(FileNotFoundError, match="test folder holds no .wav clips"):
        find_splits(tmp_path / "dcase")
    with pytest.raises(FileNotFoundError, match="no ToyCar clips found"):
        find_splits(tmp_path / "dcase" / "ToyCar" / "train")


# ---- metrics -------------------------------------------------------------------------------------

def test_auc_and_pauc_match_sklearn():
    from sklearn.metrics import roc_auc_score

    from common.evaluation.metrics.anomaly import partial_auc, roc_auc

    rng = np.random.default_rng(0)
    checked = 0
    for trial in range(200):
        n = int(rng.integers(2, 80))
        y = rng.integers(0, 2, n)
        if y.min() == y.max():
            continue
        score = rng.integers(0, 4, n).astype(float) if trial % 3 == 0 else rng.normal(size=n) + 0.7 * y  # with ties
        assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
        for max_fpr in (0.1, 0.05, 0.3):
            assert partial_auc(y, score, max_fpr) == pytest.approx(roc_auc_score(y, score, max_fpr=max_fpr), abs=1e-12)
        checked += 1
    assert checked > 150
    with pytest.raises(ValueError, match="both normal"):
        roc_auc([0, 0], [1.0, 2.0])


def test_auc_by_machine_id_and_mean():
    from sklearn.metrics import roc_auc_score

    from common.evaluation.metrics.anomaly import auc_by_group

    y = [0, 0, 1, 1, 0, 1, 0, 0]
    s = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.3, 0.5]
    g = ["id_01"] * 4 + ["id_02"] * 2 + ["id_03"] * 2
    result = auc_by_group(y, s, g)
    assert result["per_group"]["id_01"]["auc"] == pytest.approx(roc_auc_score(y[:4], s[:4]))
    assert result["per_group"]["id_02"]["auc"] == 1.0
    assert result["per_group"]["id_03"]["auc"] is None  # normal clips only: no AUC, and not in the mean
    assert result["mean"]["n_groups"] == 2
    assert result["mean"]["auc"] == pytest.approx((roc_auc_score(y[:4], s[:4]) + 1.0) / 2)


# ---- TFDS builder on a fake ToyCar folder ----------------------------------------------------------

@pytest.fixture(scope="module")
def fake_toycar(tmp_path_factory):
    """A DCASE-layout folder (with bad clips) built into a TFDS directory once for the module."""
    from models.autoencoder.data import prepare

    root = tmp_path_factory.mktemp("toycar")
    base = root / "dev" / "ToyCar"
    for i in range(4):
        _wav(base / "train" / f"normal_id_0{1 + i % 2}_0000000{i}.wav", seed=i)
    _wav(base / "test" / "normal_id_01_00000000.wav", seed=10)
    _wav(base / "test" / "anomaly_id_01_00000000.wav", seed=11, amplitude=0.3)
    _wav(base / "test" / "anomaly_id_02_00000001.wav", seconds=1.0, sr=22050, seed=12)  # resampled, named
    _wav(base / "test" / "normal_id_02_00000001.wav", seconds=0.05, seed=13)  # too short: skipped, named
    (base / "test" / "normal_id_02_00000002.wav").write_bytes(b"\x00" * 64)  # corrupt: skipped, named
    tfds_dir = root / "tfds"
    prepare(root / "dev", tfds_dir)
    return root / "dev", tfds_dir


def test_tfds_builder_on_a_fake_toycar_folder(fake_toycar):
    from models.autoencoder.data import describe, load_clips, vector_dataset
    from models.autoencoder.features import clip_log_mel, to_vectors

    from common.data.items import DataSource

    folder, tfds_dir = fake_toycar
    summary = describe(DataSource.of(tfds_dir=tfds_dir), download=False)
    assert summary["splits"] == {"train": 4, "test": 3}
    problems = {(p["file"], p["action"]) for p in summary["problems"]}
    assert problems == {
        ("normal_id_02_00000001.wav", "skipped"),
        ("normal_id_02_00000002.wav", "skipped"),
        ("anomaly_id_02_00000001.wav", "resampled"),
    }

    test = load_clips("test", tfds_dir=tfds_dir)
    assert test.files == ["anomaly_id_01_00000000.wav", "anomaly_id_02_00000001.wav", "normal_id_01_00000000.wav"]
    assert test.labels == [1, 1, 0] and test.machine_ids == ["id_01", "id_02", "id_01"]
    assert len(test.problems) == 3
    expected, _ = clip_log_mel(folder / "ToyCar" / "test" / "normal_id_01_00000000.wav")
    np.testing.assert_array_equal(test.log_mels[2], expected)

    train = load_clips("train", tfds_dir=tfds_dir)
    streamed = np.stack(list(vector_dataset("train", tfds_dir=tfds_dir).as_numpy_iterator()))
    assert streamed.shape == (4 * 28, 640)
    # same vectors as to_vectors (the stream follows the TFDS order, so compare as sets of rows)
    direct = np.concatenate([to_vectors(m) for m in train.log_mels])
    np.testing.assert_array_equal(np.sort(streamed, axis=0), np.sort(direct, axis=0))


def test_one_training_epoch_lowers_reconstruction_loss(fake_toycar, tmp_path):
    from common import env
    from models.autoencoder.data import load_clips
    from models.autoencoder.model import build_model
    from models.autoencoder.train import TrainConfig, train

    _, tfds_dir = fake_toycar
    x = load_clips("train", tfds_dir=tfds_dir).all_vectors()

    def loss(model) -> float:  # training-mode BatchNorm, as the objective that fit() lowers
        return float(np.mean(np.square(x - np.asarray(model(x, training=True)))))

    env.set_seed(0)
    before = loss(build_model())  # the same seeded initialisation train() starts from
    config = TrainConfig(epochs=1, batch_size=16, steps_per_epoch=40, train_split="train", val_split="test",
                         tfds_dir=str(tfds_dir), workdir=str(tmp_path / "work"), out=str(tmp_path / "m.keras"))
    after = loss(train(config))
    assert after < 0.9 * before, (before, after)
    assert (tmp_path / "m.keras").is_file() and (tmp_path / "work" / "history.csv").is_file()


def test_model_matches_mlperf_ad01():
    import keras

    from common.pipeline.references import fetch_file
    from models.autoencoder.model import build_model
    from models.autoencoder.recipe import RECIPE

    model = build_model()
    assert [l.units for l in model.layers if isinstance(l, keras.layers.Dense)] == [128] * 4 + [8] + [128] * 4 + [640]
    assert model.count_params() == 269_992
    require_shared("pretrained")
    reference = keras.models.load_model(fetch_file(RECIPE, "mlperf_ad01"), compile=False)
    assert reference.count_params() == model.count_params()


def test_folding_and_equalization_keep_the_function():
    from common import env
    from common.errors import PassCheckError
    from common.graph.passes import PassContext
    from models.autoencoder.equalize import FOLD_AND_EQUALIZE, dense_chain, equalize_sweep
    from models.autoencoder.model import build_model

    env.set_seed(1)
    model = build_model()
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial BatchNorm statistics
        if layer.__class__.__name__ == "BatchNormalization":
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 2, g.shape), rng.normal(size=b.shape), rng.normal(size=m.shape),
                               rng.uniform(0.5, 2, v.shape)])
    x = rng.normal(size=(64, 640)).astype(np.float32) * 10
    chain = equalize_sweep(equalize_sweep(dense_chain(model)))
    h = x.astype(np.float64)
    for i, (k, b) in enumerate(chain):
        h = h @ k + b
        h = np.maximum(h, 0) if i < len(chain) - 1 else h
    np.testing.assert_allclose(h, model.predict(x, verbose=0), rtol=1e-4, atol=1e-3)

    # The recipe's pass does the same and its check holds; a fold that changed the function fails it.
    ctx = PassContext(calibration=x, args={"max_sweeps": 2})
    folded, info = FOLD_AND_EQUALIZE.apply(model, ctx)
    assert FOLD_AND_EQUALIZE.check(model, folded, ctx, info)["folded_max_abs_diff"] <= 1e-3 * np.abs(h).max()
    kernel, bias = folded.layers[-1].get_weights()
    folded.layers[-1].set_weights([kernel, bias + 1.0])
    with pytest.raises(PassCheckError, match="differs from the float model"):
        FOLD_AND_EQUALIZE.check(model, folded, ctx, info)


def test_headline_is_the_held_out_deviation_unless_the_clips_allow_an_auc():
    from common.data.items import Items
    from models.autoencoder.metric import deviation, largest, mean_auc, metric_choice, with_groups
    from models.autoencoder.recipe import AUC, RECIPE

    def clips(labels):
        n = len(labels)
        return Items([np.zeros((5, 128), np.float32)] * n, np.asarray(labels), [f"c{i}" for i in range(n)], [""] * n,
                     "ToyCar test", columns={"machine_id": ["id_01"] * n})

    three = clips([1, 0, 0])  # 3 clips, 1 machine id: one clip decides any AUC
    assert metric_choice(RECIPE, three) is RECIPE.metric and not RECIPE.metric.higher_is_better
    assert largest(deviation([10.0, 9.0, 8.0], [10.2, 9.0, 8.4], three)) == pytest.approx(0.05)
    enough = clips([0] * 10 + [1] * 10)
    assert metric_choice(RECIPE, enough) is AUC and AUC.higher_is_better
    assert mean_auc(with_groups(enough.y, list(range(20)), enough)) == 1.0


# ---- end to end on the 3 real ToyCar clips ------------------------------------------------------

# MLPerf Tiny's ad01.h5 / ad01_int8.tflite scores on ../shared/data/toycar_samples (issue 4)
REFERENCE_FLOAT = {"anomaly_id_01_00000000.wav": 9.955, "normal_id_01_00000000.wav": 9.751,
                   "normal_id_01_00000001.wav": 10.314}
# ad01_int8 / Efinix reference under TensorFlow Lite Micro (LiteRT's x86 kernels give 10.987 / 10.572 / 11.602).
REFERENCE_INT8 = {"anomaly_id_01_00000000.wav": 10.957, "normal_id_01_00000000.wav": 10.568,
                  "normal_id_01_00000001.wav": 11.561}
EFINIX_SIZE = 276_976


@pytest.mark.slow
def test_make_autoencoder_tflite_on_real_clips(repo, tmp_path):
    require_shared("data", "toycar_samples")
    require_shared("pretrained")
    env = {**os.environ, "ZOO_SHARED_DIR": str(SHARED)}
    report = make_and_check(repo, tmp_path, "autoencoder", env)
    out = tmp_path / "autoencoder"

    tflite = out / "model.tflite"
    assert report["size_bytes"] == tflite.stat().st_size <= EFINIX_SIZE
    assert report["all_int8"] and set(report["tensor_types"]) <= {"INT8", "INT32"}
    assert {o["op"] for o in report["ops"]} == {"FULLY_CONNECTED"} and report["accelerated_op_fraction"] == 1.0
    assert report["inputs"][0]["dtype"] == report["outputs"][0]["dtype"] == "int8"
    assert report["quantization"]["calibration"]["split"] == "test"

    clips = {row["file"]: row for row in report["clips"]}
    assert set(clips) == set(REFERENCE_FLOAT)
    for name, row in clips.items():
        assert row["score_float"] == pytest.approx(REFERENCE_FLOAT[name], rel=1e-3)  # float = ad01.h5 within 0.1%
        assert row["score_reference_int8"] == pytest.approx(REFERENCE_INT8[name], rel=1e-3)
        assert abs(row["score_model"] / row["score_float"] - 1) <= 0.05  # our int8 within 5% of float
    ours, ref = report["model_vs_float"], report["reference_int8_vs_float"]
    assert ours["same_ranking"] and ours["max_abs_rel_diff"] <= 0.05
    # One normal clip calibrates; the other two clips never did. TFLM: 2.39% before the Efinix rules
    # (calibrated on both normal clips); no worse than +1 point on the clips that did not calibrate.
    calibrated = report["quantization"]["calibration"]["items"]
    assert len(calibrated) == 1 and "anomaly" not in calibrated[0]
    assert set(calibrated).isdisjoint(report["data"]["scored"])
    assert len(ours["held_out_files"]) == 2 and ours["held_out_max_abs_rel_diff"] <= 0.0239 + 0.01
    assert ours["max_abs_rel_diff"] < min(abs(r) for r in ref["rel_diff"])  # closer to float than the reference

    # 3 clips, 1 id: the AUC is kept (from the shipped file's scores) but is not the headline; the
    # headline is what 3 clips do measure, the int8-vs-float deviation on the held-out clips
    assert report["auc"]["model"]["mean"]["auc"] is not None
    assert report["not_measured"][0]["metric"] == "AUC" and "3 clips" in report["not_measured"][0]["reason"]
    assert report["higher_is_better"] is False and report["metric_float"] == 0.0
    assert report["metric_int8"] == ours["held_out_max_abs_rel_diff"] == report["drop"]
    assert "2 items not used for calibration" in report["metric"] and report["scores"]["int8"]["n"] == 2
    # n = 2: no paired verdict can say "better" (the reference deviates 4x more on both clips)
    assert report["references"]["efinix_autoencoder"]["ours_vs_it"]["verdict"] == "within noise"
    from common.pipeline.zoo_report import build_report

    row = next(line for line in build_report(tmp_path, tmp_path / "REPORT.md", ["autoencoder"]).read_text()
               .splitlines() if line.startswith("| autoencoder"))
    assert "AUC: n/a (3 clips" in row and "0.5000" not in row and str(tmp_path) not in row
    assert (out / "roc.png").stat().st_size > 0 and (out / "scores_int8_vs_float.png").stat().st_size > 0
    lines = (out / "anomaly_score_ToyCar_id_01.csv").read_text().splitlines()
    assert sorted(line.split("\t")[0] for line in lines) == sorted(REFERENCE_FLOAT)
    assert all(float(line.split("\t")[1]) == pytest.approx(clips[line.split("\t")[0]]["score_model"], rel=1e-5)
               for line in lines)
