"""CIFAR-10 from TFDS as MLPerf Tiny's ResNet expects it: raw 0..255 float pixels."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

from common.data.items import DataSource, Items, tfds_ids
from common.data.tfds import describe_tfds, shard_by_data, tfds_builder, to_arrays, training_pipeline
from common.pipeline.data import step as data_step
from models.resnet_cifar.recipe import RECIPE

if TYPE_CHECKING:
    import tensorflow as tf

DATASET = RECIPE.data.tfds
PAD = 4  # random-crop augmentation: pad 4 px per side, crop back to 32x32


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
    data_dir: None = None,
    tfds_dir: str | os.PathLike | None = None,
    batch_size: int | None = 32,
    augment_data: bool = False,
    shuffle: bool = False,
    seed: int = 0,
    download: bool = True,
) -> tf.data.Dataset:
    """A cached `tf.data` pipeline of (float32 image 0..255, int label); batched unless batch_size is None.
    CIFAR-10 comes from TFDS (`tfds_dir`); there is no folder source (`data_dir` is refused)."""
    import tensorflow as tf

    if data_dir is not None:
        raise ValueError(f"{DATASET} has no folder dataset (data_dir={str(data_dir)!r}); give a TFDS data directory "
                         "as tfds_dir (--tfds-dir)")
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
    builder = tfds_builder(DATASET, source.tfds_dir)
    return split, tfds_ids(DATASET, split, builder.info.splits[split].num_examples)


def load_items(source: DataSource, split: str, *, only: set[str] | None = None, purpose: str = "evaluate") -> Items:
    """The examples of `split` (those of `only`, when given) as items: images 0..255, labels."""
    x, y = load_arrays(split, tfds_dir=source.tfds_dir)
    items = Items(x, y, tfds_ids(DATASET, split, len(x)), [""] * len(x), f"{DATASET} {split}", split=split)
    return items if only is None else items.subset([i for i, name in enumerate(items.ids) if name in only])


def describe(source: DataSource, download: bool = True) -> dict:
    """Split sizes and class names of the prepared dataset (the Make chain's data step)."""
    return describe_tfds(tfds_builder(DATASET, source.tfds_dir, download=download), RECIPE.data.class_names)

main = data_step("resnet_cifar")

if __name__ == "__main__":
    from common.cli import run

    run(main)
