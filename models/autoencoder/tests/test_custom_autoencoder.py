"""Your own machine's sounds (`make custom KIND=autoencoder`, models/autoencoder/folder.py): every bad
folder refused in one line before anything trains, bad clips skipped and listed, the AUC "n/a" with its
reason where the scored clips cannot give one; and the proof end to end on ../shared's three ToyCar clips."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.errors import DataLayoutError
from tests.helpers import REPO, require_shared

from models.autoencoder.tests.test_autoencoder import _wav as _tone


def _wav(path: Path, seconds: float = 0.5, seed: int = 0, amplitude: float = 0.1) -> Path:
    return _tone(path, seconds, seed=seed, amplitude=amplitude)


def _clips(root: Path, names: list[str]) -> Path:
    for seed, name in enumerate(names):
        _wav(root / name, seed=seed, amplitude=0.3 if "anomaly" in Path(name).name else 0.1)
    root.mkdir(parents=True, exist_ok=True)
    return root


# ---- layouts ------------------------------------------------------------------------------------

def test_the_three_layouts(tmp_path):
    from models.autoencoder.folder import sound_folder

    dcase = sound_folder(_clips(tmp_path / "d", ["fan/train/a.wav", "fan/train/normal_id_03_1.wav",
                                                 "fan/test/normal_id_03_7.wav", "fan/test/anomaly_id_03_2.wav"]))
    assert (dcase.layout, dcase.machine) == ("dcase", "fan")
    assert dcase.counts() == {"train": {"normal": 2, "anomaly": 0}, "test": {"normal": 1, "anomaly": 1}}

    names = [f"normal/n{k}.wav" for k in range(10)] + ["anomaly/x.wav", "anomaly/y.wav"]
    labels = sound_folder(_clips(tmp_path / "l", names))
    train, test = ({p.name for p, _ in labels.parts[s]} for s in ("train", "test"))
    assert labels.layout == "labels" and len(train) == 5 and not train & test
    assert labels.counts()["test"] == {"normal": 5, "anomaly": 2}
    assert sound_folder(tmp_path / "l") == labels  # the split is seeded by path: the same every time

    flat = sound_folder(_clips(tmp_path / "f", ["normal_a.wav", "normal_b.wav", "anomaly_c.wav"]))
    assert flat.layout == "flat" and flat.counts() == {"train": {"normal": 1, "anomaly": 0},
                                                      "test": {"normal": 1, "anomaly": 1}}


@pytest.mark.parametrize("names, message", [
    (None, "no such folder"),
    ([], "no clips (.wav, .flac) in it"),
    (["notes.txt"], "no clips (.wav, .flac) in it"),
    (["normal_a.wav", "clip_b.wav", "anomaly_c.wav"], "1 clip not named normal_*.wav or anomaly_*.wav (clip_b.wav)"),
    (["train/a.wav", "test/normal_1.wav", "test/car_2.wav"], "1 clip not named normal_*.wav or anomaly_*.wav (car_2.wav)"),
    (["train/a.wav", "train/anomaly_3.wav", "test/normal_1.wav"], "1 clip named anomaly_* (anomaly_3.wav): train/ is for normal clips only"),
    (["train/a.wav"], "no test/ folder"),
    (["test/normal_1.wav"], "no train/ folder"),
    (["train/a.wav", "test/readme.txt"], "the test folder holds no clips"),
    (["train/a.wav", "test/normal_1.wav", "stray.wav"], "1 clip outside train/ and test/ (stray.wav)"),
    (["anomaly/a.wav", "anomaly/b.wav"], "no normal clips"),
    (["normal/a.wav"], "1 normal clip and no anomalous one: it trains, nothing is left to score"),
    (["normal/a.wav", "normal/anomaly_2.wav", "anomaly/b.wav"], "named after the other kind (anomaly_2.wav)"),
    (["a/train/x.wav", "a/test/normal_1.wav", "b/train/y.wav", "b/test/normal_2.wav"], "2 machine folders (a, b)"),
], ids=["missing", "empty", "no-audio", "flat-unnamed", "test-unnamed", "anomaly-in-train", "no-test", "no-train",
        "empty-test", "loose", "no-normal", "nothing-to-score", "wrong-folder", "two-machines"])
def test_a_bad_folder_is_one_line_naming_it_and_the_fix(tmp_path, names, message):
    from common import custom

    root = tmp_path / "mine"
    if names is not None:
        root.mkdir()
        for name in names:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            _wav(root / name) if name.endswith(".wav") else (root / name).write_text("x")
    with pytest.raises(DataLayoutError) as info:
        custom.check_arguments("autoencoder", "mine", root)  # what `make custom` checks before any step
    text = str(info.value)
    assert message in text and str(root) in text and "\n" not in text, text


def test_the_training_cli_refuses_a_bad_folder_before_training(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    run = subprocess.run([sys.executable, "-m", "models.autoencoder.train", "--data-dir", str(empty), "--epochs", "1",
                          "--out", str(tmp_path / "m.keras"), "--workdir", str(tmp_path / "work")],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "no clips" in run.stderr and not (tmp_path / "m.keras").exists()


# ---- reading, skipping, steps --------------------------------------------------------------------

def test_corrupt_and_short_clips_are_skipped_and_listed(tmp_path):
    from common.data.items import DataSource
    from models.autoencoder.data import list_items, load_items

    root = _clips(tmp_path / "mine", ["train/normal_id_01_0.wav", "train/normal_id_01_1.wav",
                                      "test/normal_id_01_2.wav", "test/anomaly_id_01_3.wav", "test/anomaly_4.wav"])
    (root / "test" / "normal_id_01_5.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    _wav(root / "test" / "anomaly_id_01_6.wav", seconds=0.05)  # 800 samples: fewer than 5 frames
    source = DataSource.of(root)

    assert list_items(source, "auto", "calibrate") == ("train", ["train/normal_id_01_0.wav",
                                                                 "train/normal_id_01_1.wav"])
    split, ids = list_items(source, "test")
    assert split == "test" and len(ids) == 5  # listed without decoding
    items = load_items(source, "test")
    assert items.ids == ["test/anomaly_4.wav", "test/anomaly_id_01_3.wav", "test/normal_id_01_2.wav"]
    assert items.y.tolist() == [1, 1, 0] and items.columns["machine_id"] == ["all", "id_01", "id_01"]
    assert [s["file"] for s in items.skipped] == ["test/anomaly_id_01_6.wav", "test/normal_id_01_5.wav"]
    assert "fewer than the 5" in items.skipped[0]["error"] and "normal_id_01_5.wav" in items.skipped[1]["error"]
    assert items.x[0].shape == (16, 128)  # 0.5 s: 16 log-mel frames

    (root / "train" / "normal_id_01_0.wav").write_bytes(b"")
    (root / "train" / "normal_id_01_1.wav").write_bytes(b"")
    with pytest.raises(DataLayoutError, match="none of the 2 clips of its train part could be read"):
        load_items(source, "train", purpose="calibrate")


def test_only_normal_test_clips_give_a_report_with_the_auc_n_a_and_why(tmp_path):
    """train/ calibrates, test/ (normal clips only, one corrupt) is scored: report.json says AUC n/a and why."""
    from common.data.items import DataSource
    from common.graph.keras_io import save_model
    from common.pipeline.evaluate import evaluate
    from common.pipeline.quantize import quantize
    from common.pipeline.recipe import load_recipe
    from models.autoencoder.model import build_model

    root = _clips(tmp_path / "mine", ["train/a.wav", "train/b.wav", "test/normal_1.wav", "test/normal_2.wav"])
    (root / "test" / "normal_3.wav").write_bytes(b"\x00" * 64)
    recipe, source = load_recipe("autoencoder"), DataSource.of(root)
    save_model(build_model(), tmp_path / "m.keras")
    tflite = quantize(recipe, tmp_path / "m.keras", tmp_path / "m.tflite", source=source)
    ev = evaluate(recipe, tflite, source=source, float_model=tmp_path / "m.keras", references=["none"],
                  report=tmp_path / "report.json", plots_dir=tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["quantization"]["calibration"]["items"] == ["train/a.wav", "train/b.wav"]
    assert report["data"]["scored"] == ["test/normal_1.wav", "test/normal_2.wav"] and ev.keep.all()
    assert report["skipped_files"][0]["file"] == "test/normal_3.wav"
    assert report["auc"]["model"]["mean"]["auc"] is None
    assert report["not_measured"] == [{"metric": "AUC", "reason": "the scored clips are 2 normal and 0 anomalous: "
                                                                  "an AUC needs both"}]
    assert report["metric"].startswith("max |int8/float - 1|") and report["n_eval"] == 2
    assert (tmp_path / "anomaly_score_mine_all.csv").read_text().count("\n") == 2
    assert (tmp_path / "scores_int8_vs_float.png").stat().st_size > 0 and not (tmp_path / "roc.png").exists()


def test_training_fits_the_train_part_and_validates_from_ten_clips(tmp_path):
    from models.autoencoder.folder import sound_folder
    from models.autoencoder.train import folder_fit_val

    few = sound_folder(_clips(tmp_path / "few", ["train/a.wav", "train/b.wav", "test/normal_1.wav"]))
    assert folder_fit_val(few) == ({"train/a.wav", "train/b.wav"}, set())
    many = sound_folder(_clips(tmp_path / "many", [f"train/{k}.wav" for k in range(20)] + ["test/anomaly_1.wav"]))
    fit_part, val_part = folder_fit_val(many)
    assert len(fit_part) == 18 and len(val_part) == 2 and not fit_part & val_part


# ---- the proof on real clips -------------------------------------------------------------------

@pytest.mark.slow
def test_three_toycar_clips_to_int8_through_make_custom(tmp_path):
    """../shared's 3 ToyCar clips (normal/ + anomaly/): one normal clip fine-tunes MLPerf's ad01 and
    calibrates, the other normal and the anomalous clip are scored under TFLM; 2 clips give no AUC
    worth a number: report.json says so, and the headline is the int8 deviation from float."""
    data = require_shared("data", "toycar_samples")
    require_shared("pretrained")
    env = {**os.environ, "EFINIX_TFLITE_BIN": ""}
    run = subprocess.run([sys.executable, "-m", "common.custom", "--build", str(tmp_path / "build"), "--kind", "autoencoder",
                          "--name", "toy", "--data", str(data), "--", "--init", "pretrained", "--epochs", "3",
                          "--learning-rate", "1e-4"], cwd=REPO, capture_output=True, text=True, env=env, timeout=1200)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    out = tmp_path / "build" / "toy"
    report = json.loads((out / "report.json").read_text())

    calibrated = report["quantization"]["calibration"]
    assert calibrated["split"] == "train" and calibrated["disjoint_from_evaluation"]
    assert calibrated["items"] == ["normal/normal_id_01_00000001.wav"]  # the seeded half of the 2 normal clips
    assert report["data"]["scored"] == ["anomaly/anomaly_id_01_00000000.wav", "normal/normal_id_01_00000000.wav"]
    assert report["n_eval"] == report["scores"]["int8"]["n"] == 2 and report["int8_runtime"].startswith("TensorFlow Lite Micro")
    assert report["all_int8"] and report["accelerated_op_fraction"] == 1.0 and not report["references"]

    clips = {row["file"]: row for row in report["clips"]}
    for row in clips.values():
        assert 5 < row["score_float"] < 20 and abs(row["score_model"] / row["score_float"] - 1) <= 0.05
    assert report["metric_int8"] == report["model_vs_float"]["max_abs_rel_diff"] <= 0.05
    assert report["auc"]["model"]["mean"]["auc"] in (0.0, 1.0)  # one normal, one anomalous clip: a number...
    reason = report["not_measured"][0]["reason"]  # ... that says nothing yet
    assert report["not_measured"][0]["metric"] == "AUC" and reason.startswith("2 clips (1 normal, 1 anomalous)")

    assert report["custom"]["kind"] == "autoencoder" and (out / "kit" / "toy_model_data.cc").is_file()
    assert {Path(p).name for p in report["plots"].values()} >= {"roc.png", "scores.png", "scores_int8_vs_float.png",
                                                                  "anomaly_score_toycar_samples_id_01.csv"}
    from common.pipeline.zoo_report import build_report

    row = next(line for line in build_report(tmp_path / "build", tmp_path / "REPORT.md").read_text().splitlines()
               if line.startswith("| toy |"))
    assert "your data" in row and "AUC: n/a (2 clips" in row
