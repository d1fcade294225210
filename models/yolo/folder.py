"""Your own boxes: a YOLO-layout folder with a class list, the layout `make custom KIND=yolo` reads.

    my_boxes/
      classes.txt              one class name per line; line k names class id k (= the output order)
      images/<name>.jpg ...    any size and common format (resized to the model input)
      labels/<name>.txt        one box per line, `class cx cy w h` normalised 0..1; no file: no boxes

Every way such a folder can be wrong is one line naming the folder (or the file and line) and the fix,
before anything is trained: no such folder, no images/ (or no image in it), no labels/ (or no label file
of an image, or not one box), no classes.txt and no --classes, an empty or repeated class name, a
malformed label line, a class id that is not one of the classes. An image that does not decode is
skipped and listed when the images are read (it is given no boxes of another).

Its images are split by a seeded hash of their path (`common.data.class_folders.split_by_file`):
train 70%, val 10%, test 20% (`FOLDER_SPLITS`); the test images are never trained on nor calibrate.

The zoo's own person folders (e.g. coco128_person: COCO-80 class ids, no classes.txt) are read by the
person model only, class 0 = person (`models.yolo.data`); they are not folders of your classes.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from common.data.class_list import parse_class_names
from common.data.class_folders import ClassFolders, split_by_file
from common.data.images import IMAGE_EXTENSIONS, read_yolo_labels
from common.errors import DataLayoutError, LabelError

CLASSES_FILE = "classes.txt"
LAYOUT = f"images/ + labels/ (YOLO boxes 'class cx cy w h') + {CLASSES_FILE} (one class name per line)"
FOLDER_SPLITS = {"train": 0.7, "val": 0.1, "test": 0.2}  # of the images, seeded by file path
SPLIT_SEED = 0


@dataclass(frozen=True)
class YoloFolder:
    root: Path
    classes: tuple[str, ...] | None  # None: the zoo's person folder (COCO class ids, class 0 = person)
    images: tuple[Path, ...]  # sorted
    labels: tuple[np.ndarray, ...]  # per image (n, 5): class, cx, cy, w, h

    def counts(self) -> dict[str, int]:
        """Boxes per class (a folder of your classes)."""
        ids = np.concatenate([b[:, 0] for b in self.labels]) if self.labels else np.zeros(0)
        return {name: int((ids == k).sum()) for k, name in enumerate(self.classes or ())}


def class_names(data_dir: str | os.PathLike, classes: str | Sequence[str] | None = None) -> tuple[str, ...] | None:
    """The classes of a folder: `classes` (a `--classes a,b,c` value or names) when given, which must
    agree with its classes.txt where it has one; else its classes.txt; None when it has neither."""
    listed = Path(data_dir) / CLASSES_FILE
    from_file = parse_class_names(listed.read_text().splitlines(), str(listed)) if listed.is_file() else None
    if not classes:
        return from_file
    given = parse_class_names(classes.split(",") if isinstance(classes, str) else classes, "--classes")
    if from_file is not None and from_file != given:
        raise DataLayoutError(f"--classes {','.join(given)} differs from {listed} ({','.join(from_file)}): "
                              "give one of the two")
    return given


def scan_folder(data_dir: str | os.PathLike, classes: Sequence[str] | None) -> YoloFolder:
    """The images and boxes of a YOLO folder, every label checked (`classes` None: the zoo's person
    folder, whose class ids are COCO's and are not checked against a list)."""
    root = Path(data_dir)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such folder (expected {LAYOUT})")
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir():
        raise DataLayoutError(f"{root}: no images/ folder (expected {LAYOUT}; a TFDS data directory goes to "
                              "--tfds-dir)")
    images = sorted(p for p in images_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                    and not p.name.startswith("."))
    if not images:
        raise DataLayoutError(f"{images_dir}: no images ({', '.join(IMAGE_EXTENSIONS)}) in it")
    if not labels_dir.is_dir():
        raise DataLayoutError(f"{root}: no labels/ folder: give each image a labels/<image name>.txt with its "
                              f"boxes, one 'class cx cy w h' line each (expected {LAYOUT})")
    stems = {p.stem for p in images}
    label_files = sorted(labels_dir.glob("*.txt"))
    matching = [p for p in label_files if p.stem in stems]
    if not matching:
        shown = f" (e.g. {', '.join(p.name for p in label_files[:3])})" if label_files else ""
        raise DataLayoutError(f"{labels_dir}: no label file of any image in {images_dir}{shown}: labels/<name>.txt "
                              "must share its image's file name")
    orphans = len(label_files) - len(matching)
    if orphans:
        warnings.warn(f"{labels_dir}: {orphans} label files match no image (not read)", stacklevel=2)
    labels = tuple(_read_labels(labels_dir / f"{p.stem}.txt", classes) for p in images)
    if classes is not None and not any(len(b) for b in labels):
        raise DataLayoutError(f"{labels_dir}: not one box in its label files: nothing to detect")
    return YoloFolder(root, tuple(classes) if classes is not None else None, tuple(images), labels)


def _read_labels(path: Path, classes: Sequence[str] | None) -> np.ndarray:
    try:
        rows = read_yolo_labels(path)
    except LabelError as exc:
        raise DataLayoutError(str(exc)) from None
    if classes is not None:
        bad = np.flatnonzero(rows[:, 0] >= len(classes))
        if len(bad):
            line = [k for k, text in enumerate(path.read_text().splitlines(), 1) if text.strip()][bad[0]]
            raise DataLayoutError(f"{path}:{line}: class id {int(rows[bad[0], 0])} is not one of the "
                                  f"{len(classes)} classes (ids 0..{len(classes) - 1}: {', '.join(classes)}): "
                                  "fix the label or add the class")
    return rows


def folder_split(data: YoloFolder, split: str) -> list[int]:
    """The positions (in `data.images`) of the images of `split`: "all" or one of FOLDER_SPLITS."""
    if split == "all":
        return list(range(len(data.images)))
    if split not in FOLDER_SPLITS:
        raise DataLayoutError(f"split {split!r} of a YOLO folder: use one of {', '.join(['all', *FOLDER_SPLITS])}")
    every = ClassFolders(data.root, ("images",), tuple((p, 0) for p in data.images))
    part = split_by_file(every, tuple(FOLDER_SPLITS.values()), SPLIT_SEED)[list(FOLDER_SPLITS).index(split)]
    position = {p: k for k, p in enumerate(data.images)}
    return sorted(position[p] for p, _ in part)


def folder_classes(data_dir: str | os.PathLike, classes: str | Sequence[str] | None = None) -> tuple[str, ...]:
    """The check of a folder of your boxes before anything is trained (`make custom KIND=yolo`): its
    class names, or one line naming what is wrong and the fix."""
    names = class_names(data_dir, classes) if Path(data_dir).is_dir() else None
    if names is None:
        scan_folder(data_dir, None)  # what is wrong with the layout first
        raise DataLayoutError(f"{data_dir}: no {CLASSES_FILE}: add one with the class names, one per line (line k "
                              "names class id k), or give them with --classes a,b,c")
    scan_folder(data_dir, names)
    return names
