"""TFDS access with an actionable error when data is missing (e.g. offline)."""
from __future__ import annotations

import os

from common import env  # noqa: F401
from common.errors import DatasetMissingError  # noqa: F401  (raised here; defined in the leaf module)

DATA_DIR_ENV = "TFDS_DATA_DIR"


def tfds_data_dir(data_dir: str | os.PathLike | None = None) -> str | None:
    return str(data_dir) if data_dir else os.environ.get(DATA_DIR_ENV) or None


def tfds_builder(name: str, data_dir: str | os.PathLike | None = None, download: bool = True):
    """A prepared TFDS builder for `name`; downloads and prepares it when allowed and needed."""
    import tensorflow_datasets as tfds

    data_dir = tfds_data_dir(data_dir)
    builder = tfds.builder(name, data_dir=data_dir)
    if builder.is_prepared():
        return builder
    where = data_dir or f"the default {builder.data_dir_root}"
    hint = (
        f"TFDS dataset {name!r} is not prepared in {where}. Point ${DATA_DIR_ENV} (or --tfds-dir) at a "
        f"TFDS data directory that holds {name}/{builder.version}, or run on a machine with internet "
        f"access once so that `tfds.load({name!r})` can download and prepare it."
    )
    if not download:
        raise DatasetMissingError(hint)
    try:
        builder.download_and_prepare()
    except Exception as exc:
        raise DatasetMissingError(f"{hint} (download failed: {type(exc).__name__}: {exc})") from exc
    return builder


def shard_by_data(ds):
    """Let multi-worker training shard `ds` by element: TFDS splits often live in one file, which
    the default file-based sharding cannot split between workers."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


def training_pipeline(ds, *, batch_size: int | None, shuffle: bool = False, seed: int = 0,
                      shuffle_buffer: int = 10_000, augment=None, then=None):
    """How every model's `load_dataset` ends: shuffle (seeded, anew each epoch), `augment` and `then`
    (element maps: augmentation, then what turns the element into the model's pair), batch (unless
    `batch_size` is None) and prefetch."""
    import tensorflow as tf

    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    for fn in (augment, then):
        if fn is not None:
            ds = ds.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(tf.data.AUTOTUNE)


def to_arrays(ds, name: str, limit: int | None = None):
    """An unbatched (x, label) `tf.data.Dataset` -> (stacked x, int64 labels); empty is an error."""
    import numpy as np

    if limit:
        ds = ds.take(limit)
    xs, ys = [], []
    for x, y in ds.as_numpy_iterator():
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError(f"{name} is empty")
    return np.stack(xs), np.asarray(ys, dtype=np.int64)


def describe_tfds(builder, class_names: tuple[str, ...] | None = None, label: str = "label") -> dict:
    """What a data step records of a prepared TFDS dataset: name, version, folder, split sizes (and,
    given `class_names`, the dataset's own, which must be them: a DataLayoutError otherwise)."""
    from common.errors import DataLayoutError

    info = builder.info
    summary = {"dataset": info.full_name.rsplit("/", 1)[0], "source": "tfds", "version": str(info.version),
               "data_dir": str(builder.data_dir),
               "splits": {name: split.num_examples for name, split in info.splits.items()}}
    if class_names is not None:
        names = tuple(info.features[label].names)
        if names != tuple(class_names):
            raise DataLayoutError(f"{summary['dataset']} in {builder.data_dir} has classes {names}, not {class_names}")
        summary["class_names"] = list(names)
    return summary
