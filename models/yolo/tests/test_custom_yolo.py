"""yolo on your own boxes (`make custom KIND=yolo`): a YOLO folder of any number of classes (classes.txt or
--classes), heads sized to them on the Efinix backbone, the class list beside the model, every bad folder
refused in one line (an unreadable image skipped and listed); and the proofs: three classes of generated
shapes to int8 scored on held-out generated images, and person fine-tuning on one half of coco128
scored on the other half beside the untouched zoo model."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import REPO, require_shared

ENV = {**os.environ, "EFINIX_TFLITE_BIN": "", "CI": "1"}


def _custom(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m common.custom --build tmp/build ...`."""
    return subprocess.run([sys.executable, "-m", "common.custom", "--build", str(tmp_path / "build"), *args], cwd=REPO,
                          capture_output=True, text=True, env=ENV, timeout=3000)


def _cli(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, env=ENV,
                          timeout=3000)


def _folder(root: Path, labels: dict[str, str], classes: str | None = "cat\ndog\n", size=(30, 40)) -> Path:
    """A YOLO folder: one PNG per entry of `labels` (name -> label file text; None: no label file)."""
    from PIL import Image

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for k, (name, text) in enumerate(labels.items()):
        Image.fromarray(np.full((*size, 3), 30 * k % 255, np.uint8)).save(root / "images" / f"{name}.png")
        if text is not None:
            (root / "labels" / f"{name}.txt").write_text(text)
    if classes is not None:
        (root / "classes.txt").write_text(classes)
    return root


GOOD = {"a": "0 0.5 0.5 0.4 0.4\n", "b": "1 0.3 0.3 0.2 0.2\n0 0.7 0.7 0.2 0.3\n", "c": None}


# ---- the folder: every way it can be wrong, one line each --------------------------------------

def test_a_good_folder_gives_its_classes_and_splits_by_file(tmp_path):
    from models.yolo.folder import FOLDER_SPLITS, folder_classes, folder_split, scan_folder

    folder = _folder(tmp_path / "boxes", GOOD)
    assert folder_classes(folder) == ("cat", "dog")
    data = scan_folder(folder, ("cat", "dog"))
    assert data.counts() == {"cat": 2, "dog": 1} and len(data.labels[2]) == 0  # c: no label file, no boxes
    parts = [folder_split(data, name) for name in FOLDER_SPLITS]
    assert sorted(sum(parts, [])) == [0, 1, 2] and all(parts)  # every image in exactly one part
    assert folder_split(data, "all") == [0, 1, 2]


@pytest.mark.parametrize("case, message", [
    ("no folder", "no such folder"),
    ("no images/", "no images/ folder"),
    ("empty images/", "no images"),
    ("no labels/", "no labels/ folder"),
    ("no matching label file", "no label file of any image"),
    ("not one box", "not one box in its label files"),
    ("class id too large", "b.txt:3: class id 2 is not one of the 2 classes (ids 0..1: cat, dog)"),
    ("malformed line", "b.txt:1: expected 5 fields 'class cx cy w h', got 4"),
    ("box outside the image", "a.txt:1: box 'cx cy w h' must lie in 0..1"),
    ("no classes.txt", "no classes.txt: add one with the class names, one per line"),
    ("empty classes.txt", "no class name in it"),
    ("blank class line", "class 1 has no name"),
    ("repeated class", "class name(s) cat given more than once"),
])
def test_a_bad_folder_is_refused_in_one_line(tmp_path, case, message):
    from common.errors import DataLayoutError
    from models.yolo.folder import folder_classes

    root = tmp_path / "boxes"
    if case == "no folder":
        pass
    elif case == "no images/":
        (root / "labels").mkdir(parents=True)
    elif case == "empty images/":
        (root / "images").mkdir(parents=True)
    else:
        labels = dict(GOOD)
        if case == "class id too large":
            labels["b"] += "2 0.5 0.5 0.1 0.1\n"
        elif case == "malformed line":
            labels["b"] = "1 0.3 0.3 0.2\n"
        elif case == "box outside the image":
            labels["a"] = "0 1.5 0.5 0.4 0.4\n"
        elif case == "not one box":
            labels = {"a": "", "b": "\n", "c": None}
        classes = {"no classes.txt": None, "empty classes.txt": "\n", "blank class line": "cat\n\ndog\n",
                   "repeated class": "cat\ndog\ncat\n"}.get(case, "cat\ndog\n")
        _folder(root, labels, classes)
        if case == "no labels/":
            shutil.rmtree(root / "labels")
        elif case == "no matching label file":
            for path in (root / "labels").glob("*.txt"):
                path.rename(path.with_name(f"other_{path.name}"))
    with pytest.raises(DataLayoutError) as error:
        folder_classes(root)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_classes_from_the_option_or_the_file_and_never_both_different(tmp_path):
    from common.errors import DataLayoutError
    from models.yolo.folder import folder_classes

    folder = _folder(tmp_path / "boxes", GOOD, classes=None)
    assert folder_classes(folder, "cat, dog") == ("cat", "dog")
    with pytest.raises(DataLayoutError, match="b.txt:1: class id 1 is not one of the 1 classes"):
        folder_classes(folder, "cat")
    (folder / "classes.txt").write_text("cat\ndog\n")
    assert folder_classes(folder, ["cat", "dog"]) == ("cat", "dog")
    with pytest.raises(DataLayoutError, match="--classes dog,cat differs from .*classes.txt"):
        folder_classes(folder, "dog,cat")


def test_make_custom_refuses_a_bad_folder_before_anything_is_built(tmp_path):
    folder = _folder(tmp_path / "boxes", {**GOOD, "b": "7 0.3 0.3 0.2 0.2\n"})
    run = _custom(tmp_path, "--kind", "yolo", "--name", "mine", "--data", str(folder))
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert "b.txt:1: class id 7 is not one of the 2 classes" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "build").exists()


def test_make_customs_check_reads_classes_from_the_training_args(tmp_path):
    from common.custom import check_arguments
    from common.errors import DataLayoutError

    folder = _folder(tmp_path / "boxes", GOOD, classes=None)
    with pytest.raises(DataLayoutError, match="no classes.txt: add one"):
        check_arguments("yolo", "mine", folder, ["--epochs", "3"])
    check_arguments("yolo", "mine", folder, ["--epochs", "3", "--classes", "cat,dog"])
    with pytest.raises(DataLayoutError, match="class id 1 is not one of the 1 classes"):
        check_arguments("yolo", "mine", folder, ["--classes=cat"])


def test_the_train_cli_refuses_a_bad_label_in_one_line_and_writes_nothing(tmp_path):
    folder = _folder(tmp_path / "boxes", GOOD, classes=None)
    (folder / "labels" / "a.txt").write_text("0 0.5 0.5 0.4\n")
    out = tmp_path / "model.keras"
    run = _cli("models.yolo.train", "--data-dir", str(folder), "--classes", "cat,dog", "--epochs", "0",
               "--out", str(out), "--workdir", str(tmp_path / "train"))
    assert run.returncode == 2 and run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert "a.txt:1: expected 5 fields" in run.stderr and not out.exists()


def test_an_unreadable_image_is_skipped_and_listed(tmp_path, capsys):
    from common.data.items import DataSource
    from models.yolo.data import load_dataset, load_items

    folder = _folder(tmp_path / "boxes", GOOD)
    (folder / "images" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (folder / "labels" / "broken.txt").write_text("1 0.5 0.5 0.5 0.5\n")
    items = load_items(DataSource.of(folder), "all")
    assert items.ids == ["images/a.png", "images/b.png", "images/c.png"]  # nothing relabelled, nothing shifted
    assert [s["file"] for s in items.skipped] == ["images/broken.png"] and "cannot decode" in items.skipped[0]["error"]
    np.testing.assert_allclose(items.y[1], [[0.2, 0.2, 0.4, 0.4, 1], [0.6, 0.55, 0.8, 0.85, 0]], atol=1e-6)
    batch = next(iter(load_dataset("all", data_dir=folder, batch_size=8, classes=("cat", "dog"))))
    assert batch[0].shape[0] == 3 and "skipped images/broken.png" in capsys.readouterr().out


# ---- the model: heads sized to the classes, the class list beside it ---------------------------

def test_heads_are_sized_to_the_classes_on_the_efinix_backbone(tmp_path):
    from common.graph.darknet import parse_cfg
    from models.yolo.classes import read_classes
    from models.yolo.model import CFG_PATH, head_layers, with_classes
    from models.yolo.train import TrainConfig, initial_model, train

    require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    config = TrainConfig(init="efinix", epochs=0, out=str(tmp_path / "m.keras"))
    person = initial_model(config)
    model = initial_model(config, ("a", "b", "c"))
    assert [tuple(o.shape[1:]) for o in model.outputs] == [(3, 3, 24), (6, 6, 24)]
    heads = head_layers(with_classes(parse_cfg(CFG_PATH), 3))
    for ours, theirs in zip(model.layers, person.layers):
        weights, imported = ours.get_weights(), theirs.get_weights()
        if ours.name not in heads:
            assert all(np.array_equal(a, b) for a, b in zip(weights, imported)), ours.name
            continue
        kernel, bias = (w.reshape(*w.shape[:-1], 3, -1) for w in weights)
        old_kernel, old_bias = (w.reshape(*w.shape[:-1], 3, -1) for w in imported)
        np.testing.assert_array_equal(kernel[..., :5], old_kernel[..., :5])  # x y w h objectness of each anchor
        np.testing.assert_array_equal(bias[..., :5], old_bias[..., :5])
        assert (bias[..., 5:] == 0).all() and np.abs(kernel[..., 5:]).max() > 0  # new class weights

    folder = _folder(tmp_path / "boxes", GOOD, classes=None)
    trained = train(TrainConfig(init="efinix", epochs=0, data_dir=str(folder), classes="cat,dog",
                                out=str(tmp_path / "mine" / "model.keras"), workdir=str(tmp_path / "train")))
    assert [tuple(o.shape[1:]) for o in trained.outputs] == [(3, 3, 21), (6, 6, 21)]
    assert read_classes(tmp_path / "mine" / "model.keras") == ("cat", "dog")
    assert read_classes(tmp_path / "mine" / "model.tflite") == ("cat", "dog")  # the same list for the int8 file


def test_a_model_is_scored_as_the_classes_it_was_trained_on(tmp_path):
    from common.errors import DataLayoutError, ModelFileError
    from models.yolo.classes import model_classes, recipe_for, write_classes
    from models.yolo.model import build_model
    from models.yolo.recipe import RECIPE

    folder = _folder(tmp_path / "boxes", GOOD)
    path = tmp_path / "m" / "model.keras"
    path.parent.mkdir()
    build_model(num_classes=2).save(path)
    with pytest.raises(ModelFileError, match="heads detect 2 classes, but it is scored as the person model"):
        model_classes([path], None)
    assert model_classes([path], folder) == ("cat", "dog")  # the folder's classes.txt
    write_classes(path, ("dog", "cat"))
    with pytest.raises(DataLayoutError, match=r"its classes.txt \(cat, dog\) is not the model's class list"):
        model_classes([path], folder)
    write_classes(path, ("a", "b", "c"))
    with pytest.raises(ModelFileError, match="heads detect 2 classes, but it is scored as 3 classes"):
        model_classes([path], None)
    recipe = recipe_for(("cat", "dog"))
    assert recipe.data.class_names == ("cat", "dog") and recipe.references == () and recipe.data.folder_eval_split == "test"
    assert recipe.calibration.folder_split == "train" and recipe.calibration.rule is None  # test images never calibrate
    assert recipe_for(RECIPE.data.class_names).references == RECIPE.references and recipe_for(None) is RECIPE


def test_boxes_of_several_classes_are_decoded_suppressed_and_scored_per_class():
    from models.yolo.decode import decode
    from models.yolo.metric import ImageDetections, map50, per_class_ap

    logit = lambda p: float(np.log(p / (1 - p)))  # noqa: E731
    coarse = np.full((3, 3, 3 * 7), -8.0, np.float32)  # two classes: 3 anchors x 7
    fine = np.full((6, 6, 3 * 7), -8.0, np.float32)
    # the same place, anchors 0 and 1 of one fine cell: class 1, then class 0 -> both kept (NMS per class)
    fine[2, 3, 0:7] = [0, 0, np.log(37 / 12), np.log(49 / 18), logit(0.9), -8, logit(0.8)]
    fine[2, 3, 7:14] = [0, 0, 0, 0, logit(0.8), logit(0.9), -8]
    # a weaker class-0 duplicate of the second: suppressed
    fine[2, 3, 14:21] = [0, 0, np.log(37 / 52), np.log(49 / 132), logit(0.5), logit(0.6), -8]
    rows = decode([coarse, fine])
    assert rows.shape == (2, 7) and rows[:, 6].tolist() == [1, 0]

    a, b = [0.1, 0.1, 0.3, 0.3], [0.6, 0.5, 0.9, 0.8]
    dets = np.array([[*a, 0.9, 0], [*b, 0.8, 1]])  # corners, score, class
    right = ImageDetections.of(np.array([[*a, 0], [*b, 1]]), dets, 2)
    assert per_class_ap([right]) == pytest.approx([1.0, 1.0]) and map50([right]) == pytest.approx(1.0)
    swapped = ImageDetections.of(np.array([[*a, 1], [*b, 0]]), dets, 2)  # right places, wrong classes
    assert per_class_ap([swapped]) == [0.0, 0.0] and map50([swapped]) == 0.0
    only_one = ImageDetections.of(np.array([[*b, 1]]), dets, 2)  # class 0 has no true box: out of the mean
    ap = per_class_ap([only_one])
    assert np.isnan(ap[0]) and ap[1] == pytest.approx(1.0) and map50([only_one]) == pytest.approx(1.0)
    other_ids = ImageDetections.of(np.array([[*a, 0], [*b, 5]]), dets, 2)  # ids the model has not: not its boxes
    np.testing.assert_allclose(other_ids.gt, [[*a, 0]])
    assert map50([other_ids]) == pytest.approx(1.0)


def test_the_shapes_dataset_is_the_same_every_time(tmp_path):
    from common.errors import UserError
    from models.yolo.folder import folder_classes
    from models.yolo.shapes import SHAPES, write_shapes

    first, again, other = (write_shapes(tmp_path / name, 12, seed) for name, seed in (("a", 0), ("b", 0), ("c", 1)))
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert len(files) == 25 and files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert all((first / f).read_bytes() == (again / f).read_bytes() for f in files)
    assert (first / "images" / "shapes_0000.png").read_bytes() != (other / "images" / "shapes_0000.png").read_bytes()
    assert folder_classes(first) == SHAPES
    with pytest.raises(UserError, match="not empty"):
        write_shapes(first, 3)


# ---- the proofs ----------------------------------------------------------------------------------

def _summary(report: dict) -> dict:
    keys = ("value", "low", "high", "n", "difference", "verdict")
    return {label: {k: v for k, v in s.items() if k in keys} for label, s in
            {**report["scores"], **{f"ours_vs_{k}": v for k, v in report["verdicts"].items()}}.items()}


@pytest.mark.slow
def test_three_classes_of_shapes_through_make_custom_to_int8(tmp_path):
    """300 generated images of circles, squares and triangles; `make custom KIND=yolo` fine-tunes the
    Efinix backbone with 3-class heads on the folder's train part and scores the int8 file under TFLM on
    its 60 held-out test images (never trained on, never calibrating)."""
    require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    from models.yolo.folder import folder_split, scan_folder
    from models.yolo.shapes import SHAPES, write_shapes

    data = write_shapes(tmp_path / "shapes", 300)
    run = _custom(tmp_path, "--kind", "yolo", "--name", "shapes", "--data", str(data), "--", "--epochs", "20",
                  "--learning-rate", "0.001")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = tmp_path / "build" / "shapes"
    report = json.loads((out / "report.json").read_text())
    print(json.dumps({"shapes": _summary(report), "ap50_per_class_int8": report["ap50_per_class_int8"]}))
    assert report["class_names"] == list(SHAPES) and report["custom"]["class_names"] == list(SHAPES)
    assert report["outputs"][0]["shape"][-1] == 3 * (5 + 3) and not report["references"]
    folder = scan_folder(data, SHAPES)
    test = {f"images/{folder.images[k].name}" for k in folder_split(folder, "test")}
    scored, calibrated = set(report["data"]["scored"]), set(report["quantization"]["calibration"]["items"])
    assert scored == test and len(test) == report["n_eval"] == 60 and not scored & calibrated
    assert calibrated <= {f"images/{folder.images[k].name}" for k in folder_split(folder, "train")}
    assert report["int8_runtime"].startswith("TensorFlow Lite Micro")
    assert report["metric_int8"] >= 0.6, report["scores"]  # measured 0.90 (30 epochs) when written
    assert set(report["ap50_per_class_int8"]) == set(SHAPES) and sum(report["n_boxes"].values()) > 100
    assert (out / "pr_curve.png").stat().st_size > 10_000 and (out / "kit" / "shapes_model_data.cc").is_file()
    assert (out / "model.classes.txt").read_text().split() == list(SHAPES)


def _coco_halves(root: Path) -> tuple[Path, Path]:
    """coco128_person split in two by a seeded hash of each image's path, each half a folder of one
    class, person (its labels' class-0 lines; COCO's other classes are not this model's)."""
    from common.data.class_folders import ClassFolders, split_by_file
    from models.yolo.folder import scan_folder

    source = require_shared("data", "coco128_person")
    images = scan_folder(source, None).images
    halves = split_by_file(ClassFolders(source, ("images",), tuple((p, 0) for p in images)), (0.5, 0.5), seed=0)
    for name, part in zip("AB", halves):
        (root / name / "images").mkdir(parents=True)
        (root / name / "labels").mkdir()
        (root / name / "classes.txt").write_text("person\n")
        for image, _ in part:
            shutil.copy(image, root / name / "images")
            label = source / "labels" / f"{image.stem}.txt"
            lines = label.read_text().splitlines() if label.is_file() else []
            (root / name / "labels" / f"{image.stem}.txt").write_text(
                "".join(f"{line}\n" for line in lines if line.split()[:1] == ["0"]))
    return root / "A", root / "B"


@pytest.mark.slow
def test_person_fine_tuned_on_half_of_coco128_beside_the_zoo_model_on_the_other_half(tmp_path):
    """Fine-tuned on half A of coco128 (64 images, calibrated there too), the int8 file and the untouched
    zoo int8 model (the yolo recipe's import with the Efinix file's ranges) are scored under TFLM on the
    other 64 images, with a paired verdict; the Efinix file itself beside them."""
    require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    half_a, half_b = _coco_halves(tmp_path / "coco")
    assert not {p.name for p in (half_a / "images").iterdir()} & {p.name for p in (half_b / "images").iterdir()}
    zoo, tuned = tmp_path / "zoo", tmp_path / "tuned"
    steps = [
        ("models.yolo.train", "--init", "efinix", "--epochs", "0", "--out", f"{zoo}/model.keras",
         "--workdir", f"{zoo}/train"),
        ("models.yolo.quantize", "--model", f"{zoo}/model.keras", "--out", f"{zoo}/zoo_yolo.tflite",
         "--activation-ranges", "efinix"),
        ("models.yolo.train", "--data-dir", str(half_a), "--train-split", "all", "--init", "efinix", "--epochs", "20",
         "--learning-rate", "1e-5", "--out", f"{tuned}/model.keras", "--workdir", f"{tuned}/train"),
        ("models.yolo.quantize", "--data-dir", str(half_a), "--split", "all", "--model", f"{tuned}/model.keras",
         "--out", f"{tuned}/model.tflite"),
        ("models.yolo.evaluate", "--data-dir", str(half_b), "--split", "all", "--model", f"{tuned}/model.tflite",
         "--float-model", f"{tuned}/model.keras", "--report", f"{tuned}/report.json", "--plots-dir", str(tuned),
         "--reference", f"{zoo}/zoo_yolo.tflite", "--reference", "efinix_yolo"),
    ]
    for step in steps:
        run = _cli(*step)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    report = json.loads((tuned / "report.json").read_text())
    print(json.dumps({"coco128 half B": _summary(report)}))
    assert report["class_names"] == ["person"] and report["n_eval"] == 64 and report["n_person_boxes"] > 100
    assert report["quantization"]["calibration"]["n_items"] == 64  # all of half A; nothing of B calibrates
    assert report["data"]["excluded_calibration_items"] == 0
    assert set(report["data"]["scored"]) == {f"images/{p.name}" for p in (half_b / "images").iterdir()}
    zoo_score = report["references"]["zoo_yolo.tflite"]["score"]
    assert zoo_score["n"] == report["scores"]["int8"]["n"] == 64
    assert 0.12 < zoo_score["value"] < 0.27  # the zoo model on this half (21.7 on all 128 images)
    assert report["references"]["zoo_yolo.tflite"]["ours_vs_it"]["verdict"] in ("within noise", "better", "worse")
    assert report["metric_int8"] > 0.05, report["scores"]  # it still finds persons
