"""facemesh: wheel extraction, tflite -> Keras graph equivalence, face crops, NME, end-to-end int8."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from common.evaluation.metrics.landmarks import interocular_distance, nme, nme_per_sample
from tests.helpers import SHARED, require_shared, make_and_check



# ---- model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha, form", [
    ([-1.6, -0.3, 0.0, 0.25, 1.0, 0.9], "max"),
    ([1.0, 1.37, 2.5, 1.1, 1.0, 1.2], "min"),
    ([-1.6, -0.3, 0.0, 0.25, 1.0, 1.37], "mixed"),
])
def test_accelerator_prelu_is_exact(alpha, form):
    from common.graph.layers import prelu_form
    from common.graph.layers import AcceleratorPReLU

    alpha = np.array([[alpha]], np.float32)
    assert prelu_form(alpha) == form
    layer = AcceleratorPReLU(alpha.shape, form=form)
    layer.build((None, 2, 2, alpha.shape[-1]))
    layer.set_weights([alpha])
    x = np.random.default_rng(0).normal(0, 5, (3, 2, 2, alpha.shape[-1])).astype(np.float32)
    expected = np.where(x > 0, x, alpha * x)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)


@pytest.fixture(scope="module")
def keras_facemesh():
    path = require_shared("pretrained", "mediapipe", "face_landmark.tflite")
    from models.facemesh.model import build_model

    return build_model(path), path


def test_keras_graph_matches_mediapipe_tflite(keras_facemesh):
    from models.facemesh.train import import_check

    model, path = keras_facemesh
    assert [tuple(o.shape[1:]) for o in model.outputs] == [(1, 1, 1404), (1, 1, 1)]  # no RESHAPE ops
    layer_types = [type(layer).__name__ for layer in model.layers]
    assert "PReLU" not in layer_types and "AcceleratorPReLU" in layer_types
    # the 3 zero-padded shortcuts are rebuilt as ADD on the shortcut's channels + CONCATENATION
    assert "ChannelPad" not in layer_types and layer_types.count("Concatenate") == 3
    check = import_check(model, path, n=2, seed=1)
    assert check["landmarks_max_abs_diff_px"] <= 0.05
    assert check["flag_max_abs_diff"] <= 1e-3


# ---- face crops ----------------------------------------------------------------------------

def test_ssd_anchors_layout():
    from common.data.face_detector import ssd_anchors

    anchors = ssd_anchors(128)
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])  # 16x16 grid, 2 anchors per cell
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])  # then 8x8 grid, 6 per cell
    assert (anchors[:512:2] == anchors[1:512:2]).all()


def test_face_crop_with_and_without_a_face(tmp_path):
    faces = require_shared("data", "faces", "face_recognition_examples")
    require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")
    from PIL import Image

    from models.facemesh.data import crop_square, load_face_crops, square_crop_box
    from common.data.face_detector import FaceDetector

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "face.jpg").write_bytes((faces / "obama_small.jpg").read_bytes())
    gradient = np.tile(np.linspace(40, 200, 160, dtype=np.uint8)[None, :, None], (120, 1, 3))
    Image.fromarray(gradient).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")

    detector = FaceDetector(require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite"))
    from common.data.images import read_image

    image = read_image(folder / "face.jpg")
    detection = detector.detect(image)
    assert detection is not None and detection.score > 0.5
    x0, y0, x1, y1 = detection.box
    h, w = image.shape[:2]
    assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
    assert detector.detect(gradient) is None
    crop = crop_square(image, *square_crop_box(detection.box))
    assert crop.shape == (192, 192, 3) and crop.dtype == np.float32 and 0 <= crop.min() and crop.max() <= 1

    with pytest.warns(UserWarning, match="skipped"):
        crops = load_face_crops("all", data_dir=folder)
    assert [Path(s).name for s in crops.sources] == ["face.jpg"]
    reasons = {Path(s["image"]).name: s["reason"] for s in crops.skipped}
    assert set(reasons) == {"wall.png", "broken.jpg"}
    assert "no face" in reasons["wall.png"] and "cannot decode" in reasons["broken.jpg"]


def test_crop_square_pads_outside_the_image():
    from models.facemesh.data import crop_square

    image = np.full((10, 10, 3), 255, np.uint8)
    crop = crop_square(image, -10, -10, 20, size=20)  # image fills the bottom-right quarter
    assert crop[:8, :8].max() == 0 and crop[12:, 12:].min() == pytest.approx(1.0)


# ---- NME -----------------------------------------------------------------------------------

def test_nme_on_hand_made_points():
    ref = np.zeros((2, 4, 3))
    ref[:, 1, :2] = [0, 0]
    ref[:, 3, :2] = [10, 0]  # "eyes" 10 px apart
    ref[1, 3, :2] = [20, 0]  # second face: 20 px apart
    pred = ref.copy()
    pred[..., 0] += 3
    pred[..., 1] += 4  # every point off by 5 px
    pred[..., 2] += 100  # depth is ignored by the 2D NME
    np.testing.assert_allclose(interocular_distance(ref, 1, 3), [10, 20])
    np.testing.assert_allclose(nme_per_sample(pred, ref, 1, 3), [0.5, 0.25])
    assert nme(pred, ref, 1, 3) == pytest.approx(0.375)
    assert nme(ref, ref, 1, 3) == 0.0
    assert nme(pred, ref, 1, 3, dims=3) > nme(pred, ref, 1, 3)
    with pytest.raises(ValueError, match="same shape"):
        nme(pred[:, :3], ref, 1, 3)
    with pytest.raises(ValueError, match="zero inter-ocular"):
        nme(pred, np.zeros_like(ref), 1, 3)


# ---- end to end ----------------------------------------------------------------------------

@pytest.mark.slow
def test_make_facemesh_tflite_end_to_end(tmp_path, repo):
    require_shared("data", "faces")
    require_shared("pretrained", "efinix", "mediapipe_face_landmark.tflite")
    env = {**os.environ, "ZOO_SHARED_DIR": str(SHARED), "ZOO_WEIGHTS_DIR": str(SHARED / "pretrained")}
    report = make_and_check(repo, tmp_path, "facemesh", env)
    tflite = tmp_path / "facemesh" / "model.tflite"

    assert report["size_bytes"] == tflite.stat().st_size <= 768_792
    assert set(report["tensor_types"]) <= {"INT8", "INT32"}
    assert all(d["dtype"] == "int8" for d in report["inputs"] + report["outputs"])
    assert set(report["cpu_ops"]) == {"MAX_POOL_2D", "CONCATENATION"}
    ops = {o["op"]: o["count"] for o in report["ops"]}
    assert "PRELU" not in ops and "RESHAPE" not in ops and "PAD" not in ops and "MINIMUM" not in ops
    # as lean as the Efinix file: 23 PReLUs as MUL + MAXIMUM (--mixed-prelu clamp), 20 residual ADDs, of
    # which the 3 widening ones add only the shortcut's channels and a CONCATENATION replaces the PAD
    assert (ops["ADD"], ops["MUL"], ops["MAXIMUM"], ops["CONCATENATION"]) == (20, 23, 23, 3)
    sidecar = json.loads((tmp_path / "facemesh" / "model.quant.json").read_text())
    assert sidecar["options"]["mixed_prelu"] == "clamp"
    clamp, union, compact = sidecar["passes"]
    assert (clamp["name"], union["name"], compact["name"]) == ("clamp_mixed_prelu", "union_same_scale_ranges", "compact")
    assert sum(len(c["channels"]) for c in clamp["clamped"]) == clamp["check"]["channels_clamped"] == 8
    assert union["check"]["groups"] == 23 and compact["check"]["tflm_bit_exact_samples"] == 2
    # every 3rd photo of each folder calibrates (16 of 43); the other 27 are scored
    assert sidecar["calibration"]["n_items"] == 16 and report["data"]["excluded_calibration_items"] == 16
    assert report["float_keras_vs_mediapipe_all_faces"]["landmarks_max_abs_diff_px"] <= 0.05
    assert report["float_keras_vs_mediapipe_all_faces"]["n"] == 43
    int8 = report["int8_vs_mediapipe_float"]
    assert int8["n"] == 27 and int8["nme"] == pytest.approx(report["metric_int8"])
    assert int8["nme"] <= 0.02
    assert int8["nme"] <= 0.00689  # TFLM: 0.689% when issue 14 was filed; not worse
    assert int8["face_score_agreement"] == 1.0
    # the whole photos not used for calibration: 12 of ORL's 20
    orl = report["whole_image_vs_mediapipe_float"]["orl_att_faces_s1_s2"]
    assert orl["ours_int8"]["n"] == orl["efinix_int8"]["n"] == 12
    assert orl["ours_int8"]["nme"] < orl["efinix_int8"]["nme"]
    assert orl["ours_int8"]["nme"] <= 0.0059 + 0.002  # ours, absolute: 0.59% (README); the reference's 4.59%
    # the Efinix file on the same 27 crops: ours is better by a paired bootstrap over the crops
    efinix = report["references"]["efinix_face_landmark"]
    assert efinix["score"]["n"] == 27 and efinix["ours_vs_it"]["verdict"] == "better"
    assert all(report["must_show"].values()), report["must_show"]
    flag = next(d for d in report["outputs"] if np.prod(d["shape"]) == 1)
    assert (-128 - flag["zero_point"]) * flag["scale"] < -5  # int8 flag can say "no face" (negative logit)
    assert (tmp_path / "facemesh" / "landmarks.png").stat().st_size > 10_000


def test_tfds_source_when_no_folder_is_given(monkeypatch):
    """Without --data-dir the photos come from TFDS (lfw): same detection and cropping."""
    faces = require_shared("data", "faces", "face_recognition_examples")
    require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")
    import tensorflow as tf
    from PIL import Image

    from common.data.tfds import DatasetMissingError
    from models.facemesh import data

    face = np.asarray(Image.open(faces / "obama_small.jpg").convert("RGB").resize((250, 250)))
    blank = np.full((250, 250, 3), 128, np.uint8)
    requested = []

    class FakeBuilder:
        def as_dataset(self, split, shuffle_files):
            requested.append(split)
            return tf.data.Dataset.from_tensor_slices({"image": np.stack([face, blank]), "label": ["a", "b"]})

    monkeypatch.setattr("common.data.tfds.tfds_builder", lambda name, data_dir=None: FakeBuilder())
    with pytest.warns(UserWarning, match="no face"):
        crops = data.load_face_crops("train[:100]", tfds_dir="fake-for-test")
    assert requested == ["train[:100]"]
    assert crops.sources == ["lfw/train[:100]#0"] and crops.images.shape == (1, 192, 192, 3)
    assert crops.skipped[0]["image"] == "lfw/train[:100]#1"

    def missing(name, data_dir=None):
        raise DatasetMissingError("TFDS dataset 'lfw' is not prepared")

    monkeypatch.setattr("common.data.tfds.tfds_builder", missing)
    with pytest.raises(DatasetMissingError, match="FACEMESH_DATA_DIR"):
        data.load_face_crops("train[100:400]", tfds_dir="missing-for-test")
