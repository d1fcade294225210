"""Visual Wake Words (person / no person) images as the model expects them: 96x96, pixels/255.

Sources:
  * default: TFDS `coco/2017`, labelled with the VWW rule (`vww_label`);
  * `--data-dir` with the YOLO layout `images/*.jpg` + `labels/*.txt` (class 0 = person,
    normalised cx cy w h), e.g. ../shared/data/coco128_person, labelled with the same rule;
  * `--data-dir` with two class sub-folders, e.g. `person/` + `non_person/`, or any two classes of your
    own (`make custom KIND=mobilenet_vww`): the folder names are the classes, output 0 and 1 in sorted
    order (non_person = 0, person = 1). Their images are split per class by a seeded hash of the file
    into train 70% / val 10% / test 20% (`FOLDER_SPLITS`); a YOLO folder has no such parts (the zoo's
    imported model never trained on it), its named splits are all of it.

Grayscale (96x96x1) is the model's input; RGB (96x96x3) is read only to score the MLPerf reference.
Every image is resized (bilinear, antialiased, aspect ratio not kept) straight to 96x96, so
non-square and tiny images are accepted; an undecodable image is named in a warning and skipped.
"""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common import env  # noqa: F401
from common.data.class_folders import ClassFolders, scan_class_folders, split_by_file
from common.data.images import IMAGE_EXTENSIONS, ImageError, read_image, read_yolo_folder, resize
from common.data.items import DataSource, Items, relative_id, tfds_ids
from common.data.weights import sha256_of
from common.errors import DataLayoutError
from common.data.tfds import describe_tfds, to_arrays, training_pipeline
from common.pipeline.data import step as data_step
from models.mobilenet_vww.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

IMAGE_SIZE = RECIPE.input_shape[:2]
CLASS_NAMES = RECIPE.data.class_names  # model output index = class id; person = 1
PERSON_CLASS = 0  # COCO-80 / YOLO class id of "person" (also TFDS coco's label 0)
MIN_PERSON_AREA = 0.005  # VWW: "person" if a person box covers more than 0.5% of the image
TFDS_NAME = RECIPE.data.tfds
FOLDER_SPLITS = {"train": 0.7, "val": 0.1, "test": 0.2}  # a class folder's images, per class, seeded by file
SPLIT_ALIASES = {"validation": "val"}  # the training CLI's default --val-split
SPLIT_SEED = 0
CROP_MIN_FRACTION = 0.8  # augmentation: random crop keeps 80..100% of each side
BRIGHTNESS_DELTA = 0.2  # augmentation: +-0.2 on the 0..1 pixel scale


def vww_label(boxes: np.ndarray, min_area: float = MIN_PERSON_AREA, person_class: int = PERSON_CLASS) -> int:
    """1 if any person box of `boxes` ((n, 5): class, cx, cy, w, h, normalised) covers more than
    `min_area` of the image, else 0."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 5)
    person = boxes[:, 0].astype(int) == person_class
    area = np.clip(boxes[:, 3], 0, 1) * np.clip(boxes[:, 4], 0, 1)
    return int(np.any(person & (area > min_area)))


def channels_of(color: str) -> tuple[str, int]:
    """`"gray"`/`"rgb"` -> (PIL mode, channels)."""
    modes = {"gray": ("L", 1), "rgb": ("RGB", 3)}
    if color not in modes:
        raise ValueError(f"color must be 'gray' or 'rgb', got {color!r}")
    return modes[color]


def to_model_input(image: np.ndarray) -> np.ndarray:
    """uint8 HxWxC image of any size -> float32 96x96xC in [0, 1] (the calibration preprocessing)."""
    return np.clip(resize(image, IMAGE_SIZE, antialias=True), 0, 255).astype(np.float32) / 255.0


@dataclass
class FolderData:
    """A folder dataset in memory: model-ready images, labels and the files they came from."""

    x: np.ndarray  # (N, 96, 96, C) float32 0..1
    y: np.ndarray  # (N,) int64, output index (1 = person for the VWW layouts)
    files: list[str]
    layout: str
    skipped: list[str] = field(default_factory=list)  # undecodable images (named, not fatal)
    classes: tuple[str, ...] = CLASS_NAMES


def folder_layout(data_dir: str | os.PathLike) -> str:
    """"yolo" (images/ + labels/) or "class_folders" (two class sub-folders, checked as they are read:
    `folder_classes`); a one-line error for no folder."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataLayoutError(f"--data-dir {data_dir} is not a directory")
    if (data_dir / "images").is_dir():
        return "yolo"  # read_yolo_folder explains a missing or mismatched labels/ folder
    return "class_folders"


def folder_classes(data_dir: str | os.PathLike) -> ClassFolders:
    """The two classes and their images of a class-folder dataset (`make custom`'s check)."""
    data_dir = Path(data_dir)
    if (data_dir / "images").is_dir():
        raise DataLayoutError(f"{data_dir}: a YOLO folder (images/ + labels/) is the zoo's person layout; "
                              "for your own two classes give one sub-folder per class")
    if data_dir.is_dir() and not any(p.is_dir() and not p.name.startswith(".") for p in data_dir.iterdir()):
        raise DataLayoutError(f"{data_dir}: unknown layout; expected images/ + labels/ (YOLO boxes, class 0 = "
                              "person) or two class sub-folders of images (e.g. person/ + non_person/)")
    data = scan_class_folders(data_dir, IMAGE_EXTENSIONS, what="images")
    if len(data.classes) != 2:
        raise DataLayoutError(f"{data_dir}: {len(data.classes)} class folders ({', '.join(data.classes)}); this "
                              "model tells two classes apart: keep exactly two sub-folders (e.g. person/ and "
                              "non_person/)")
    return data


def _named_split(split: str) -> str | None:
    """The folder part a split names (train/val/test), None for "all" or a percent slice."""
    split = SPLIT_ALIASES.get(split, split)
    return split if split in FOLDER_SPLITS else None


def resolve_split(data_dir: str | os.PathLike, split: str) -> str:
    """`split` as the folder reads it: a YOLO folder has no train/val/test parts, each is all of it."""
    if _named_split(split) and (Path(data_dir) / "images").is_dir():
        return "all"
    return SPLIT_ALIASES.get(split, split)


def list_labelled_files(data_dir: str | os.PathLike, split: str = "all"
                        ) -> tuple[str, list[tuple[Path, int]], tuple[str, ...]]:
    """(layout, [(image path, label)] of `split`, class names) of a folder dataset, in a deterministic order."""
    if folder_layout(data_dir) == "yolo":
        items = [(item.image, vww_label(item.boxes)) for item in read_yolo_folder(data_dir)]
        return "yolo", items[_slice(len(items), resolve_split(data_dir, split))], CLASS_NAMES
    data = folder_classes(data_dir)
    part = _named_split(split)
    if part:
        items = split_by_file(data, tuple(FOLDER_SPLITS.values()), SPLIT_SEED)[list(FOLDER_SPLITS).index(part)]
        return "class_folders", sorted(items), data.classes
    items = list(data.files)
    return "class_folders", items[_slice(len(items), split)], data.classes


def _slice(n: int, split: str) -> slice:
    """A TFDS-style percent slice `name[a%:b%]` over a folder's sorted files ("all" = everything)."""
    match = re.fullmatch(r"\w+(?:\[(-?\d*)%?:(-?\d*)%?\])?", split)
    if not match:
        raise DataLayoutError(f"split {split!r}: expected e.g. 'all', 'all[:90%]', 'all[90%:]' or a folder part "
                              f"({', '.join(FOLDER_SPLITS)})")
    start, stop = (None if not v else round(n * int(v) / 100) for v in match.groups())
    return slice(start, stop)


def load_folder(data_dir: str | os.PathLike, color: str = "gray", split: str = "all",
                only: set[str] | None = None) -> FolderData:
    """Read, label and preprocess every image of a folder dataset (those of `only`, relative paths, when
    given); corrupt images are skipped."""
    mode, _ = channels_of(color)
    layout, items, classes = list_labelled_files(data_dir, split)
    if only is not None:
        items = [(path, label) for path, label in items if relative_id(path, data_dir) in only]
    xs, ys, files, skipped = [], [], [], []
    for path, label in items:
        try:
            image = read_image(path, mode)
        except ImageError as exc:
            warnings.warn(f"skipping unreadable image: {exc}", stacklevel=2)
            skipped.append(str(path))
            continue
        xs.append(to_model_input(image))
        ys.append(label)
        files.append(str(path))
    if not xs:
        raise DataLayoutError(f"{data_dir}: no readable images in split {split!r} (skipped: {skipped[:5]})")
    return FolderData(np.stack(xs), np.asarray(ys, np.int64), files, layout, skipped, classes)


# ---- TFDS coco/2017 ------------------------------------------------------------------------------


def coco_builder(tfds_dir: str | os.PathLike | None = None, download: bool = True):
    """The prepared TFDS coco/2017 builder; the error also names the folder alternative."""
    from common.data.tfds import DatasetMissingError, tfds_builder

    try:
        return tfds_builder(TFDS_NAME, tfds_dir, download=download)
    except DatasetMissingError as exc:
        raise DatasetMissingError(
            f"{exc} (In this model's CLIs the TFDS directory is --tfds-dir.) Or use a folder dataset "
            "instead: --data-dir <folder> with images/ + labels/ (YOLO boxes, class 0 = person) or "
            "person/ + non_person/ sub-folders."
        ) from exc


def _tfds_example(example, color: str):
    """A TFDS coco example -> (96x96xC float 0..1, VWW label); TFDS boxes are ymin, xmin, ymax, xmax."""
    import tensorflow as tf

    objects = example["objects"]
    bbox = objects["bbox"]
    area = (bbox[:, 2] - bbox[:, 0]) * (bbox[:, 3] - bbox[:, 1])
    person = tf.equal(objects["label"], PERSON_CLASS) & (area > MIN_PERSON_AREA)
    label = tf.cast(tf.reduce_any(person), tf.int64)
    image = example["image"]
    if color == "gray":
        image = tf.image.rgb_to_grayscale(image)
    image = tf.image.resize(tf.cast(image, tf.float32), IMAGE_SIZE, method="bilinear", antialias=True)
    return tf.clip_by_value(image, 0.0, 255.0) / 255.0, label


def augment(image, label, seed: int = 0):
    """Random horizontal flip, crop (80-100% of each side, resized back) and brightness."""
    import tensorflow as tf

    image = tf.image.random_flip_left_right(image, seed=seed)
    fraction = tf.random.uniform([], CROP_MIN_FRACTION, 1.0, seed=seed)
    size = tf.cast(tf.round(fraction * IMAGE_SIZE[0]), tf.int32)
    channels = tf.shape(image)[-1]
    image = tf.image.random_crop(image, tf.stack([size, size, channels]), seed=seed)
    image = tf.image.resize(image, IMAGE_SIZE, method="bilinear", antialias=True)
    image = tf.image.random_brightness(image, BRIGHTNESS_DELTA, seed=seed)
    return tf.clip_by_value(image, 0.0, 1.0), label


def load_dataset(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    color: str = "gray",
    batch_size: int | None = 32,
    augment_data: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    download: bool = True,
) -> tf.data.Dataset:
    """A `tf.data` pipeline of (96x96xC float32 0..1, label), batched unless batch_size is None.

    With `data_dir` the folder dataset is read (split: "all" or a percent slice such as
    "all[:90%]"); without it TFDS `coco/2017` (split: "train" / "validation")."""
    import tensorflow as tf

    if data_dir:
        data = load_folder(data_dir, color, split)
        ds = tf.data.Dataset.from_tensor_slices((data.x, data.y))
    else:
        builder = coco_builder(tfds_dir, download)
        ds = builder.as_dataset(split=split, shuffle_files=False)
        ds = ds.map(lambda ex: _tfds_example(ex, color), num_parallel_calls=tf.data.AUTOTUNE)
    return training_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                             augment=(lambda x, y: augment(x, y, seed)) if augment_data else None)


def load_arrays(
    split: str = "all",
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    color: str = "gray",
    limit: int | None = None,
    download: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as NumPy arrays: x (N, 96, 96, C) float32 0..1, y (N,) int64 (1 = person)."""
    if data_dir:
        data = load_folder(data_dir, color, split)
        return (data.x[:limit], data.y[:limit]) if limit else (data.x, data.y)
    ds = load_dataset(split, tfds_dir=tfds_dir, color=color, batch_size=None, download=download)
    return to_arrays(ds, f"{TFDS_NAME} split {split!r}", limit)


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the ids of its images: paths relative to the folder, or TFDS example ids), nothing decoded."""
    if source.data_dir:
        _, items, _ = list_labelled_files(source.data_dir, split)
        return resolve_split(source.data_dir, split), [relative_id(path, source.data_dir) for path, _ in items]
    builder = coco_builder(source.tfds_dir)
    return split, tfds_ids(TFDS_NAME, split, builder.info.splits[split].num_examples)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate",
               color: str = "gray") -> Items:
    """The images of `split` (those of `only`) with their VWW labels; unreadable images are skipped and named."""
    if source.data_dir:
        split = resolve_split(source.data_dir, split)
        data = load_folder(source.data_dir, color, split, only)
        ids = [relative_id(f, source.data_dir) for f in data.files]
        name = Path(source.data_dir).name + ("" if split == "all" else f" {split}")
        return Items(data.x, data.y, ids, [sha256_of(f) for f in data.files], name,
                     skipped=[{"file": relative_id(f, source.data_dir), "error": "unreadable image"}
                              for f in data.skipped], split=split,
                     class_names=data.classes if data.layout == "class_folders" else ())
    wanted = None if only is None else sorted(int(i.rsplit("#", 1)[1]) for i in only)
    x, y = load_arrays(split, tfds_dir=source.tfds_dir, color=color, limit=None if wanted is None else wanted[-1] + 1)
    items = Items(x, y, tfds_ids(TFDS_NAME, split, len(x)), [""] * len(x), f"{TFDS_NAME} {split}", split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def rgb_inputs(items: Items, source: DataSource) -> np.ndarray:
    """The same items as RGB images (for a model with a 96x96x3 input, e.g. MLPerf's reference)."""
    rgb = load_items(source, items.split, only=set(items.ids), color="rgb")
    if rgb.ids != items.ids:
        raise ValueError("the RGB images are not the gray ones' (unreadable in one colour only?)")
    return rgb.x


def minus_one_to_one(items: Items, source: DataSource) -> np.ndarray:
    """The gray images in [-1, 1]: the Efinix file's input (TFLM's camera convention, int8 = pixel - 128)."""
    return items.x * 2.0 - 1.0


def describe(source: DataSource, download: bool = True) -> dict:
    """What the data step records: source, image and label counts, skipped files."""
    if source.data_dir:
        data = load_folder(source.data_dir, "gray")
        counts = np.bincount(data.y, minlength=len(data.classes))
        summary = {
            "dataset": "folder",
            "data_dir": str(Path(source.data_dir).resolve()),
            "layout": data.layout,
            "n_images": len(data.y),
            "label_counts": {name: int(c) for name, c in zip(data.classes, counts)},
            "skipped_unreadable": data.skipped,
            "class_names": list(data.classes),
        }
        if data.layout == "yolo":
            return {**summary, "vww_min_person_area": MIN_PERSON_AREA}
        return {**summary, "splits": {name: len(list_labelled_files(source.data_dir, name)[1])
                                      for name in FOLDER_SPLITS}}
    summary = describe_tfds(coco_builder(source.tfds_dir, download))
    return {**summary, "class_names": list(CLASS_NAMES), "vww_min_person_area": MIN_PERSON_AREA}

main = data_step("mobilenet_vww")

if __name__ == "__main__":
    from common.cli import run

    run(main)
