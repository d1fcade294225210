"""One data API for every model (issue 13): `load_dataset(split, *, data_dir, tfds_dir, batch_size, ...)`
returns a `tf.data.Dataset` of (model input, target) in all six models; the rich per-model structures
have their own names (autoencoder `load_clips`, facemesh `load_face_crops`)."""
from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.helpers import require_shared  # noqa: E402

MODELS = sorted(p.parent.name for p in (REPO / "models").glob("*/data.py"))


def test_all_seven_models_are_checked():
    assert MODELS == sorted(["resnet_cifar", "dscnn_kws", "autoencoder", "mobilenet_vww", "yolo", "facemesh",
                             "face_detection"])


@pytest.mark.parametrize("model", MODELS)
def test_load_dataset_signature_and_return_type(model):
    signature = inspect.signature(importlib.import_module(f"models.{model}.data").load_dataset)
    params = list(signature.parameters.values())
    assert params[0].name == "split" and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD)
    for name in ("data_dir", "tfds_dir", "batch_size"):
        assert name in signature.parameters, f"{model}: load_dataset has no {name}"
        assert signature.parameters[name].kind is inspect.Parameter.KEYWORD_ONLY, f"{model}: {name} not keyword-only"
    annotation = signature.return_annotation
    assert annotation in ("tf.data.Dataset", "tensorflow.data.Dataset") or (
        not isinstance(annotation, str) and annotation.__name__ in ("Dataset", "DatasetV2")), f"{model}: {annotation!r}"


@pytest.mark.parametrize("model", MODELS)
def test_the_pipeline_reads_every_model_through_its_recipe(model):
    """The recipe names the reader (`load_items(source, split, *, only, purpose) -> Items`), the lister
    (ids without decoding) and the data step's summary, all in the model's data.py."""
    from common.pipeline.recipe import load_recipe, resolve

    data = load_recipe(model).data
    assert {ref.split(":")[0] for ref in (data.reader, data.lister, data.describe)} == {f"models.{model}.data"}
    reader = inspect.signature(resolve(data.reader)).parameters
    assert list(reader)[:2] == ["source", "split"] and reader["only"].kind is inspect.Parameter.KEYWORD_ONLY
    assert list(inspect.signature(resolve(data.lister)).parameters)[:3] == ["source", "split", "purpose"]
    assert list(inspect.signature(resolve(data.describe)).parameters)[:2] == ["source", "download"]


def test_rich_structures_keep_their_own_names():
    from models.autoencoder.data import Clips, load_clips
    from models.facemesh.data import FaceCrops, load_face_crops

    assert inspect.signature(load_clips).return_annotation in ("Clips", Clips)
    assert inspect.signature(load_face_crops).return_annotation in ("FaceCrops", FaceCrops)


def test_autoencoder_load_dataset_on_real_toycar(tmp_path):
    folder = require_shared("data", "toycar_samples")
    import tensorflow as tf

    from models.autoencoder.data import DIMS, load_clips, load_dataset

    tfds_dir = tmp_path / "tfds"
    ds = load_dataset("test", data_dir=folder, tfds_dir=tfds_dir, batch_size=None)  # normal/ + anomaly/ -> test
    assert isinstance(ds, tf.data.Dataset)
    x, y = ds.element_spec
    assert x.shape == y.shape == (DIMS,) == (640,) and x.dtype == tf.float32
    vectors = np.stack([v for v, _ in ds.as_numpy_iterator()])
    clips = load_clips("test", tfds_dir=tfds_dir)
    assert vectors.shape == clips.all_vectors().shape
    np.testing.assert_array_equal(np.sort(vectors, axis=0), np.sort(clips.all_vectors(), axis=0))
    first_x, first_y = next(iter(ds))
    np.testing.assert_array_equal(first_x, first_y)  # the autoencoder reconstructs its input

    normal = load_dataset("test", tfds_dir=tfds_dir, batch_size=None, label="normal")
    n_normal = load_clips("test", tfds_dir=tfds_dir, label="normal").all_vectors().shape[0]
    assert 0 < sum(1 for _ in normal) == n_normal < len(vectors)

    batch_x, batch_y = next(iter(load_dataset("test", tfds_dir=tfds_dir, batch_size=16)))
    assert batch_x.shape == batch_y.shape == (16, 640)


def test_facemesh_load_dataset_on_real_faces(tmp_path):
    faces = require_shared("data", "faces", "face_recognition_examples")
    require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")
    import tensorflow as tf

    from models.facemesh.data import load_dataset, load_face_crops

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("obama_small.jpg", "biden.jpg"):
        (folder / name).write_bytes((faces / name).read_bytes())
    ds = load_dataset("all", data_dir=folder, batch_size=None)
    assert isinstance(ds, tf.data.Dataset)
    x, index = ds.element_spec
    assert x.shape == (192, 192, 3) and x.dtype == tf.float32
    assert index.shape == () and index.dtype == tf.int32
    crops = load_face_crops("all", data_dir=folder)
    elements = list(ds.as_numpy_iterator())
    assert [int(i) for _, i in elements] == list(range(len(crops))) and len(crops) == 2
    for image, i in elements:
        np.testing.assert_array_equal(image, crops.images[i])
        assert 0 <= image.min() and image.max() <= 1
    batch_x, batch_i = next(iter(load_dataset("all", data_dir=folder, batch_size=2)))
    assert batch_x.shape == (2, 192, 192, 3) and batch_i.shape == (2,)
