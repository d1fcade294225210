"""Your own classes (common/data/class_folders.py): every bad folder is one line naming what to do, before
anything is trained; the split is per class, seeded, and never puts a file in two parts."""
from __future__ import annotations

from pathlib import Path

import pytest

from common.data.class_folders import part_sizes, scan_class_folders, split_by_file
from common.errors import DataLayoutError

IMAGES = (".jpg", ".png")


def _folder(tmp_path: Path, layout: dict[str, int], loose: int = 0) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    for name, n in layout.items():
        (root / name).mkdir()
        for k in range(n):
            (root / name / f"{k:03d}.jpg").write_bytes(b"x")
    for k in range(loose):
        (root / f"loose{k}.png").write_bytes(b"x")
    return root


@pytest.mark.parametrize("layout, loose, message", [
    (None, 0, "no such folder"),
    ({}, 0, "no class folder in it"),
    ({"cat": 3}, 0, "1 class (cat); at least 2 classes are needed"),
    ({"cat": 3, "dog": 0, "frog": 0}, 0, "class folder(s) dog, frog hold no images"),
    ({"cat": 3, "dog": 3}, 4, "4 of its images lie outside any class folder (loose0.png, loose1.png, loose2.png and 1 more)"),
    ({}, 2, "2 of its images lie outside any class folder"),
])
def test_every_bad_folder_is_one_line_naming_the_fix(tmp_path, layout, loose, message):
    root = tmp_path / "data" if layout is None else _folder(tmp_path, layout, loose)
    with pytest.raises(DataLayoutError) as info:
        scan_class_folders(root, IMAGES, what="images")
    text = str(info.value)
    assert message in text and "\n" not in text and str(root) in text


def test_classes_are_sorted_hidden_and_set_aside_folders_are_not_classes(tmp_path):
    root = _folder(tmp_path, {"zebra": 2, "ant": 3, "_background_noise_": 1, ".cache": 2})
    (root / "ant" / "deeper").mkdir()
    (root / "ant" / "deeper" / "x.png").write_bytes(b"x")
    (root / "ant" / "notes.txt").write_text("not an image")
    found = scan_class_folders(root, IMAGES, set_aside=("_background_noise_",))
    assert found.classes == ("ant", "zebra") and found.extra_folders == ("_background_noise_",)
    assert found.counts() == {"ant": 4, "zebra": 2}


def test_split_is_per_class_disjoint_seeded_and_stable(tmp_path):
    root = _folder(tmp_path, {"a": 20, "b": 7, "c": 3})
    data = scan_class_folders(root, IMAGES)
    train, val, test = split_by_file(data, (0.7, 0.1, 0.2), seed=0)
    assert sorted(train + val + test) == sorted(data.files)
    assert not (set(train) & set(val)) and not (set(train) & set(test)) and not (set(val) & set(test))
    for label in range(3):  # every class is in every part (each has >= 3 files)
        assert all(any(y == label for _, y in part) for part in (train, val, test))
    assert split_by_file(data, (0.7, 0.1, 0.2), seed=0) == [train, val, test]
    assert split_by_file(data, (0.7, 0.1, 0.2), seed=1) != [train, val, test]
    (root / "a" / "999.jpg").write_bytes(b"x")  # a new file moves no other file
    again = split_by_file(scan_class_folders(root, IMAGES), (0.7, 0.1, 0.2), seed=0)
    moved = [f for f in data.files if [f in part for part in again] != [f in part for part in (train, val, test)]]
    assert len(moved) <= 2  # only the files at the part boundaries of class "a" can shift


def test_part_sizes():
    assert part_sizes(10, (0.7, 0.1, 0.2)) == [7, 1, 2]
    assert part_sizes(3, (0.8, 0.1, 0.1)) == [1, 1, 1]
    assert part_sizes(2, (0.8, 0.1, 0.1)) == [2, 0, 0]
    assert sum(part_sizes(7, (0.5, 0.5))) == 7
    with pytest.raises(ValueError):
        split_by_file(None, (0.5, 0.6))


def test_an_unreadable_image_is_skipped_and_listed_never_relabelled(tmp_path):
    from common.data.items import DataSource
    from models.resnet_cifar.data import load_items

    from PIL import Image

    root = _folder(tmp_path, {"cat": 0, "dog": 0})
    for name in ("cat", "dog"):
        for k in range(6):
            Image.new("RGB", (20, 16), (40 * k, 0, 0)).save(root / name / f"{k}.png")
    (root / "dog" / "broken.png").write_bytes(b"not a png")
    items = load_items(DataSource.of(str(root), None), "all")
    assert [s["file"] for s in items.skipped] == ["dog/broken.png"] and "broken.png" in items.skipped[0]["error"]
    assert len(items) == 12 and items.y.tolist() == [0] * 6 + [1] * 6
    assert "dog/broken.png" not in items.ids


def test_a_class_list_goes_beside_the_model_and_with_its_int8_file(tmp_path):
    from common.data.class_list import carry_classes, classes_file, parse_class_names, read_classes, write_classes

    model, int8 = tmp_path / "m" / "model.keras", tmp_path / "m" / "model.tflite"
    model.parent.mkdir()
    assert classes_file(model) == classes_file(int8) == tmp_path / "m" / "model.classes.txt"
    assert read_classes(model) is None and write_classes(model, None) is None
    write_classes(model, ("cat", "dog"))
    assert read_classes(int8) == ("cat", "dog") and classes_file(model).read_text() == "cat\ndog\n"
    elsewhere = tmp_path / "out" / "mine.tflite"
    elsewhere.parent.mkdir()
    carry_classes(model, elsewhere)
    assert read_classes(elsewhere) == ("cat", "dog")
    write_classes(model, None)
    carry_classes(model, elsewhere)  # a model of the recipe's classes leaves no stale list behind
    assert not classes_file(elsewhere).exists()
    for lines, message in [([], "no class name"), (["a", "", "b"], "class 1 has no name"),
                           (["a", "b", "a"], "class name.s. a given more than once")]:
        with pytest.raises(DataLayoutError, match=message):
            parse_class_names(lines, "x/classes.txt")
