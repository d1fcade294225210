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
