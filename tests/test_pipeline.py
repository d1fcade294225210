"""The pipeline every model runs (common/pipeline), on a tiny recipe of its own: calibration picked by the
recipe's rule and recorded, passes checked, the calibrating items left out of scoring wherever the
folder lies, every model predicting each item once, scores with n and 95% interval, paired verdicts,
one report.json, plots and golden samples."""
from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from common.data.items import DataSource, Items, relative_id
from common.data.weights import sha256_of
from common.graph.passes import Pass
from common.pipeline.recipe import Calibration, Data, Metric, PassStep, Recipe, SeededFraction

N_ITEMS, CLASSES = 24, 5


def listing(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    return "all", [relative_id(p, source.data_dir) for p in sorted(source.data_dir.rglob("*.npy"))]


def read(source: DataSource, split: str, *, only=None, purpose: str = "evaluate") -> Items:
    paths = [p for p in sorted(source.data_dir.rglob("*.npy")) if only is None or relative_id(p, source.data_dir) in only]
    return Items(np.stack([np.load(p) for p in paths]), np.array([int(p.stem.split("_")[0][1:]) for p in paths]),
                 [relative_id(p, source.data_dir) for p in paths], [sha256_of(p) for p in paths],
                 source.data_dir.name, split="all")


def describe(source: DataSource, download: bool = True) -> dict:
    return {"items": len(listing(source, "all")[1])}


RECIPE = Recipe(
    name="tiny", task="test", architecture="tiny", dataset="npy files", quality_target="-",
    input_shape=(8, 8, 3), input_description="8x8x3 arrays", preprocessing="none",
    data=Data(reader="tests.test_pipeline:read", lister="tests.test_pipeline:listing",
              describe="tests.test_pipeline:describe", tfds=None, folder="c<label>_<k>.npy files",
              class_names=tuple(f"c{k}" for k in range(CLASSES))),
    calibration=Calibration(description="a seeded half", n=8, rule=SeededFraction(0.5), folder_split="all"),
    metric=Metric("top-1 accuracy", higher_is_better=True, per_item="common.evaluation.metrics:correct",
                  proportion=True),
    files=(),
    plots=("common.evaluation.plots:scores", "common.evaluation.plots:confusion"),
    extras="common.evaluation.metrics:classification_extras",
)


@pytest.fixture(scope="module")
def built(tiny, tmp_path_factory):
    """A folder of 24 items, the tiny model quantized by the pipeline, and a second int8 file to compare."""
    from common.graph.keras_io import save_model
    from common.pipeline.quantize import quantize

    model, _, _ = tiny
    root = tmp_path_factory.mktemp("pipeline")
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (N_ITEMS, 8, 8, 3)).astype(np.float32)
    labels = model.predict(x, verbose=0).argmax(-1)
    labels[::4] = (labels[::4] + 1) % CLASSES  # a model that is right on about 3/4 of the items
    for i in range(N_ITEMS):
        np.save(data / ("sub" if i % 2 else ".") / f"c{labels[i]}_{i:02d}.npy", x[i])
    keras_path = save_model(model, root / "model.keras")
    ours = quantize(RECIPE, keras_path, root / "ours.tflite", source=DataSource.of(data), n=RECIPE.calibration.n)
    other = quantize(RECIPE, keras_path, root / "other.tflite", source=DataSource.of(data), n=4, seed=7)
    return root, data, keras_path, ours, other


def test_quantize_records_the_calibration_the_rule_picked_and_each_pass_with_its_check(built):
    from common.graph.quantize import read_quantization_metadata

    _, data, _, ours, _ = built
    meta = read_quantization_metadata(ours)
    record = meta["calibration"]
    from common.data.calibration import select_indices

    chosen = SeededFraction(0.5).select(listing(DataSource.of(data), "all")[1], 8, 0)  # half the items ...
    used = [chosen[i] for i in select_indices(len(chosen), 8, 0)]  # ... of which 8 calibrate: those are left out
    assert len(chosen) == N_ITEMS // 2 and record["items"] == used and record["n_items"] == record["n_inputs"] == 8
    assert not record["disjoint_from_evaluation"]
    assert record["sha256"] == [sha256_of(data / i) for i in record["items"]]
    (compact,) = meta["passes"]
    assert compact["name"] == "compact" and compact["check"]["tflm_bit_exact_samples"] == 2


def _refuse(before, after, ctx, info) -> dict:
    from common.errors import PassCheckError

    raise PassCheckError("refused by its check")


REFUSED = Pass("refused", "flatbuffer", "nothing", lambda flatbuffer, ctx: (flatbuffer, {}), _refuse)


def test_a_pass_whose_check_fails_stops_the_step_and_writes_nothing(built, tmp_path):
    from common.errors import PassCheckError
    from common.pipeline.quantize import quantize

    _, data, keras_path, _, _ = built
    recipe = dataclasses.replace(RECIPE, passes=(PassStep("tests.test_pipeline:REFUSED"),))
    with pytest.raises(PassCheckError, match="refused by its check"):
        quantize(recipe, keras_path, tmp_path / "model.tflite", source=DataSource.of(data), n=4)
    assert list(tmp_path.iterdir()) == []


def test_evaluate_scores_each_model_once_on_the_items_that_did_not_calibrate(built, monkeypatch, tmp_path):
    from common.graph.runners import Runner, TFLMRunner
    from common.pipeline.evaluate import evaluate

    root, data, keras_path, ours, other = built
    calls: list[str] = []
    for runner in (Runner, TFLMRunner):
        original = runner.predict

        def counting(self, x, *args, _original=original, **kwargs):
            calls.append(f"{self.label} {self.path.name}")
            return _original(self, x, *args, **kwargs)

        monkeypatch.setattr(runner, "predict", counting)
    report_path = tmp_path / "report.json"
    ev = evaluate(RECIPE, ours, source=DataSource.of(data), float_model=keras_path, references=[str(other)],
                  report=report_path, plots_dir=tmp_path / "plots")
    assert sorted(calls) == ["LiteRT ours.tflite", "TFLM other.tflite", "TFLM ours.tflite"]  # once each

    report = json.loads(report_path.read_text())
    calibrated = report["quantization"]["calibration"]["items"]
    assert report["n_eval"] == N_ITEMS - len(calibrated) == int(ev.keep.sum())
    assert not set(calibrated) & set(report["data"]["scored"])
    int8 = report["scores"]["int8"]
    assert int8["n"] == report["n_eval"] and int8["method"] == "Wilson 95%"
    assert int8["low"] <= int8["value"] == report["metric_int8"] <= int8["high"]
    assert report["all_items"]["n"] == N_ITEMS
    other_row = report["references"]["other.tflite"]
    assert other_row["ours_vs_it"]["test"].startswith("McNemar")
    assert other_row["ours_vs_it"]["verdict"] in ("better", "worse", "within noise")
    assert report["verdicts"]["float"]["n"] == report["n_eval"]
    assert set(report["plots"]) == {"scores", "confusion_int8", "confusion_other.tflite"}
    assert all((tmp_path / "plots" / f"{name}.png").stat().st_size > 0 for name in report["plots"])
    with np.load(tmp_path / "golden_inputs.npz") as golden:
        np.testing.assert_array_equal(golden["input_0"], ev.scored.x[:16])
    assert report["classes"]["int8"]["confusion_matrix"]


def test_a_reference_file_is_scored_once_and_reused_by_its_sha256(built, monkeypatch, tmp_path):
    """A rebuild of ours does not run the published file again: its outputs are kept by the file's
    sha256 and the inputs' digest next to the report; a copy of it under another name hits the same
    entry, and a damaged entry is scored again and replaced."""
    from common.graph.runners import TFLMRunner
    from common.pipeline.evaluate import evaluate

    root, data, keras_path, ours, other = built
    calls: list[str] = []
    original = TFLMRunner.predict

    def counting(self, x, *args, **kwargs):
        calls.append(self.path.name)
        return original(self, x, *args, **kwargs)

    monkeypatch.setattr(TFLMRunner, "predict", counting)
    renamed = shutil.copy(other, tmp_path / "same_bytes.tflite")

    def run(reference) -> dict:
        calls.clear()
        ev = evaluate(RECIPE, ours, source=DataSource.of(data), float_model=keras_path, references=[str(reference)],
                      report=tmp_path / "report.json")
        return {"calls": sorted(calls), "score": ev.scores[reference.name].as_dict()}

    first = run(other)
    assert first["calls"] == ["other.tflite", "ours.tflite"]
    again = run(other)
    assert again["calls"] == ["ours.tflite"] and again["score"] == first["score"]
    assert run(renamed)["calls"] == ["ours.tflite"]
    (entry,) = (tmp_path / ".references").iterdir()
    entry.write_bytes(b"damaged")
    assert sorted(run(other)["calls"]) == ["other.tflite", "ours.tflite"]
    assert run(other)["calls"] == ["ours.tflite"]


def test_the_calibration_items_are_known_wherever_the_folder_lies(built, tmp_path):
    """A copy of the data elsewhere (another machine, a moved folder) still leaves the same items out;
    a renamed copy of a calibration file too, by its content."""
    from common.pipeline.evaluate import evaluate

    _, data, _, ours, _ = built
    moved = shutil.copytree(data, tmp_path / "a copy, elsewhere")
    ev = evaluate(RECIPE, ours, source=DataSource.of(moved))
    assert int((~ev.keep).sum()) == 8
    calibrated = sorted(i for i, k in zip(ev.items.ids, ev.keep) if not k)
    (moved / calibrated[0]).rename(moved / "sub" / "c0_99.npy")
    again = evaluate(RECIPE, ours, source=DataSource.of(moved))
    assert int((~again.keep).sum()) == 8 and "sub/c0_99.npy" not in set(again.scored.ids)
