"""Images as MLPerf Tiny's ResNet expects them: 32x32x3, raw 0..255 float pixels.

Sources: TFDS CIFAR-10 (default), or `--data-dir`, a folder of your own classes (one sub-folder per
class, any number >= 2, images of any size and common format, resized to 32x32 RGB;
`common.data.class_folders`): its files are split per class by a seeded hash into the folder splits
"train" (70%), "val" (10%) and "test" (20%), or "all". Unreadable images are skipped and listed.
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from common.data.class_folders import ClassFolders, scan_class_folders, split_by_file
from common.data.images import IMAGE_EXTENSIONS, ImageError, read_image, resize
from common.data.items import DataSource, Items, relative_id, tfds_ids
from common.data.weights import sha256_of
from common.errors import DataLayoutError
from common.data.tfds import describe_tfds, shard_by_data, tfds_builder, to_arrays, training_pipeline
from common.pipeline.data import step as data_step
from models.resnet_cifar.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

DATASET = RECIPE.data.tfds
PAD = 4  # random-crop augmentation: pad 4 px per side, crop back to 32x32
FOLDER_SPLITS = {"train": 0.7, "val": 0.1, "test": 0.2}  # a class folder's files, per class, seeded by file path
SPLIT_SEED = 0


def folder_classes(data_dir: str | os.PathLike) -> ClassFolders:
    """The classes and images of a folder of your own classes (one line naming the fix if it is not one)."""
    return scan_class_folders(data_dir, IMAGE_EXTENSIONS, what="images")


def folder_split(data: ClassFolders, split: str) -> list[tuple[Path, int]]:
    """The (file, label) pairs of `split` ("train", "val", "test" or "all")."""
    if split == "all":
        return list(data.files)
    if split not in FOLDER_SPLITS:
        raise DataLayoutError(f"split {split!r} of a class folder: use one of {', '.join(['all', *FOLDER_SPLITS])}")
    parts = split_by_file(data, tuple(FOLDER_SPLITS.values()), SPLIT_SEED)
    return parts[list(FOLDER_SPLITS).index(split)]


def read_folder(data: ClassFolders, files: list[tuple[Path, int]], only: set[str] | None = None) -> Items:
    """The images resized to the model input (raw 0..255 float32), labels, ids; unreadable ones skipped."""
    size = RECIPE.input_shape[:2]
    x, y, ids, hashes, skipped = [], [], [], [], []
    for path, label in files:
        name = relative_id(path, data.root)
        if only is not None and name not in only:
            continue
        try:
            x.append(resize(read_image(path, "RGB"), size))
        except ImageError as exc:
            skipped.append({"file": name, "error": str(exc)})
            continue
        y.append(label)
        ids.append(name)
        hashes.append(sha256_of(path))
    if not x:
        raise DataLayoutError(f"{data.root}: none of the {len(files)} images of this split could be read")
    return Items(np.stack(x).astype(np.float32), np.asarray(y, np.int64), ids, hashes, data.root.name,
                 skipped=skipped, class_names=data.classes)


def preprocess(image, label):
    """uint8 image -> float32 0..255 (no normalisation: the model was trained on raw pixels)."""
    import tensorflow as tf

    return tf.cast(image, tf.float32), label


def augment(image, label, seed: int = 0):
    import tensorflow as tf

    padded = tf.pad(image, [[PAD, PAD], [PAD, PAD], [0, 0]], mode="REFLECT")
    image = tf.image.random_crop(padded, tf.shape(image), seed=seed)
    image = tf.image.random_flip_left_right(image, seed=seed)
    return image, label


def load_dataset(
    split: str = "train",
    *,
    data_dir: str | os.PathLike | None = None,
    tfds_dir: str | os.PathLike | None = None,
    batch_size: int | None = 32,
    augment_data: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    download: bool = True,
) -> tf.data.Dataset:
    """A cached `tf.data` pipeline of (float32 image 0..255, int label); batched unless batch_size is None.
    From TFDS CIFAR-10 (`tfds_dir`), or from a folder of your own classes (`data_dir`, folder splits)."""
    import tensorflow as tf

    if data_dir is not None:
        data = folder_classes(data_dir)
        items = read_folder(data, folder_split(data, split))
        for s in items.skipped:
            print(f"skipped {s['file']}: {s['error']}")
        ds = tf.data.Dataset.from_tensor_slices((items.x, items.y)).cache()
    else:
        builder = tfds_builder(DATASET, tfds_dir, download=download)
        ds = builder.as_dataset(split=split, as_supervised=True, shuffle_files=False)
        ds = ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).cache()
    return shard_by_data(training_pipeline(ds, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                           augment=(lambda x, y: augment(x, y, seed)) if augment_data else None))


def load_arrays(split: str = "test", *, tfds_dir: str | os.PathLike | None = None, limit: int | None = None,
                download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The whole split as NumPy arrays (x: N x 32 x 32 x 3 float32 0..255, y: N int64)."""
    ds = load_dataset(split, tfds_dir=tfds_dir, batch_size=None, download=download)
    return to_arrays(ds, f"{DATASET} split {split!r}", limit)


def list_items(source: DataSource, split: str, purpose: str = "evaluate") -> tuple[str, list[str]]:
    """(split, the ids of its examples), without decoding them."""
    if source.data_dir:
        data = folder_classes(source.data_dir)
        return split, [relative_id(p, data.root) for p, _ in folder_split(data, split)]
    builder = tfds_builder(DATASET, source.tfds_dir)
    return split, tfds_ids(DATASET, split, builder.info.splits[split].num_examples)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The examples of `split` (those of `only`, when given) as items: images 0..255, labels."""
    if source.data_dir:
        data = folder_classes(source.data_dir)
        return replace(read_folder(data, folder_split(data, split), only), split=split)
    x, y = load_arrays(split, tfds_dir=source.tfds_dir)
    items = Items(x, y, tfds_ids(DATASET, split, len(x)), [""] * len(x), f"{DATASET} {split}", split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def describe(source: DataSource, download: bool = True) -> dict:
    """Split sizes and class names of the prepared dataset (the Make chain's data step)."""
    if source.data_dir:
        data = folder_classes(source.data_dir)
        return {"dataset": "class folders", "data_dir": str(data.root.resolve()), "class_names": list(data.classes),
                "files_per_class": data.counts(),
                "splits": {name: len(folder_split(data, name)) for name in FOLDER_SPLITS}}
    return describe_tfds(tfds_builder(DATASET, source.tfds_dir, download=download), RECIPE.data.class_names)

main = data_step("resnet_cifar")

if __name__ == "__main__":
    from common.cli import run

    run(main)
