"""facemesh: wheel extraction, tflite -> Keras graph equivalence, face crops, NME, end-to-end int8."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from common.data import weights
from common.evaluation.metrics.landmarks import interocular_distance, nme, nme_per_sample
from common.data.wheels import WheelError, extract_member
from tests.helpers import SHARED, require_shared, check_deploy_kit, check_readme_numbers
from models.facemesh import weights as fm_weights

MEMBER = fm_weights.WHEEL_MEMBERS["mediapipe_face_landmark"]


def _wheel(path: Path, members: dict[str, bytes]) -> Path:
    """A wheel-like zip: the members plus the dist-info a real wheel carries."""
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.writestr("mediapipe-0.10.14.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    return path


def _fake_entry(monkeypatch, content: bytes) -> None:
    entry = weights.WeightFile("face_landmark.tflite", hashlib.sha256(content).hexdigest(), None, "pip download")
    monkeypatch.setitem(weights.REGISTRY, "mediapipe_face_landmark", entry)


# ---- weights from a wheel ------------------------------------------------------------------

def test_extract_from_wheel_like_zip_verifies_checksum(tmp_path, monkeypatch):
    content = b"TFL3 fake face landmark model"
    _fake_entry(monkeypatch, content)
    wheel = _wheel(tmp_path / "mediapipe-0.10.14-cp311-cp311-manylinux.whl", {MEMBER: content, "mediapipe/x.py": b""})
    out = fm_weights.extract_from_wheel("mediapipe_face_landmark", wheel, tmp_path / "cache")
    assert out.read_bytes() == content
    assert out.name == "face_landmark.tflite"

    wrong = _wheel(tmp_path / "wrong.whl", {MEMBER: b"tampered"})
    with pytest.raises(weights.ChecksumError):
        fm_weights.extract_from_wheel("mediapipe_face_landmark", wrong, tmp_path / "cache2")
    assert not (tmp_path / "cache2" / "face_landmark.tflite").exists()  # a bad file is not left behind


def test_extract_member_errors_name_the_problem(tmp_path):
    wheel = _wheel(tmp_path / "w.whl", {"elsewhere/face_landmark.tflite": b"x"})
    with pytest.raises(WheelError, match="no member.*elsewhere/face_landmark.tflite"):
        extract_member(wheel, MEMBER, tmp_path / "out")
    (tmp_path / "bad.whl").write_bytes(b"not a zip")
    with pytest.raises(WheelError, match="not a wheel"):
        extract_member(tmp_path / "bad.whl", MEMBER, tmp_path / "out")


def test_mediapipe_file_falls_back_to_pip_download(tmp_path, monkeypatch):
    """Nothing local: the wheel is `pip download`ed (stubbed: no network in tests) and read."""
    content = b"TFL3 another fake"
    _fake_entry(monkeypatch, content)
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(tmp_path / "empty"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    calls = []

    def fake_download(requirement, dest):
        calls.append(requirement)
        return _wheel(Path(dest) / "mediapipe-0.10.14-py3-none-any.whl", {MEMBER: content})

    monkeypatch.setattr("common.data.wheels.download_wheel", fake_download)
    path = fm_weights.mediapipe_file("mediapipe_face_landmark")
    assert calls == ["mediapipe==0.10.14"]
    assert path == tmp_path / "keras" / weights.CACHE_SUBDIR / "face_landmark.tflite"
    assert path.read_bytes() == content
    assert fm_weights.mediapipe_file("mediapipe_face_landmark") == path and len(calls) == 1  # cached now
    with pytest.raises(weights.WeightsNotFoundError):
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras2"))
        fm_weights.mediapipe_file("mediapipe_face_landmark", allow_pip=False)


def test_real_model_round_trips_through_a_wheel(tmp_path):
    real = require_shared("pretrained", "mediapipe", "face_landmark.tflite")
    wheel = _wheel(tmp_path / "mediapipe.whl", {MEMBER: real.read_bytes()})
    out = fm_weights.extract_from_wheel("mediapipe_face_landmark", wheel, tmp_path / "cache")
    assert weights.sha256_of(out) == weights.REGISTRY["mediapipe_face_landmark"].sha256


# ---- model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alpha, form", [
    ([-1.6, -0.3, 0.0, 0.25, 1.0, 0.9], "max"),
    ([1.0, 1.37, 2.5, 1.1, 1.0, 1.2], "min"),
    ([-1.6, -0.3, 0.0, 0.25, 1.0, 1.37], "mixed"),
])
def test_accelerator_prelu_is_exact(alpha, form):
    from common.graph.layers import prelu_form
    from models.facemesh.model import AcceleratorPReLU

    alpha = np.array([[alpha]], np.float32)
    assert prelu_form(alpha) == form
    layer = AcceleratorPReLU(alpha.shape, form=form)
    layer.build((None, 2, 2, alpha.shape[-1]))
    layer.set_weights([alpha])
    x = np.random.default_rng(0).normal(0, 5, (3, 2, 2, alpha.shape[-1])).astype(np.float32)
    expected = np.where(x > 0, x, alpha * x)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, atol=1e-5)


def test_clamp_mixed_prelu_converts_to_mul_maximum(tmp_path):
    """Mixed layers become max(x, min(a, 1) * x); the other layers and weights stay as they were."""
    import keras

    from common.graph.layers import AcceleratorPReLU, clamp_mixed_prelu
    from common.graph.quantize import quantize_int8
    from common.data.calibration import representative_dataset
    from common.graph.tflite import op_names

    mixed_alpha = np.array([[[-0.5, 0.3, 1.25]]], np.float32)
    max_alpha = np.array([[[0.1, 0.2, 0.9]]], np.float32)
    inputs = keras.Input((4, 4, 3))
    conv = keras.layers.Conv2D(3, 1, name="conv")
    mixed = AcceleratorPReLU((1, 1, 3), form="mixed", name="mixed")
    plain = AcceleratorPReLU((1, 1, 3), form="max", name="plain")
    model = keras.Model(inputs, plain(mixed(conv(inputs))))
    mixed.set_weights([mixed_alpha])
    plain.set_weights([max_alpha])

    lean, clamped = clamp_mixed_prelu(model)
    assert clamped == [{"layer": "mixed", "channels": [2], "alphas": [1.25]}]
    assert lean.get_layer("mixed").form == "max" and lean.get_layer("plain").form == "max"
    np.testing.assert_array_equal(lean.get_layer("conv").get_weights()[0], conv.get_weights()[0])
    x = np.random.default_rng(0).normal(0, 3, (8, 4, 4, 3)).astype(np.float32)
    h = np.asarray(conv(x))
    h = np.where(h > 0, h, np.minimum(mixed_alpha, 1.0) * h)
    np.testing.assert_allclose(np.asarray(lean(x)), np.where(h > 0, h, max_alpha * h), atol=1e-5)
    assert not np.allclose(np.asarray(model(x)), np.asarray(lean(x)), atol=1e-3)  # the original is untouched

    ops = op_names(quantize_int8(lean, representative_dataset(x), tmp_path / "lean.tflite"))
    assert sorted(ops) == ["CONV_2D", "MAXIMUM", "MAXIMUM", "MUL", "MUL"]
    exact_ops = op_names(quantize_int8(model, representative_dataset(x), tmp_path / "exact.tflite"))
    assert "MINIMUM" in exact_ops and "ADD" in exact_ops


def test_union_same_scale_ranges_widens_maximum_groups(tmp_path):
    """max(x, a * x) after an ADD: x keeps its calibrated range (not the PReLU output's)."""
    import keras

    from common.graph.layers import AcceleratorPReLU
    from common.graph.quantize import quantize_int8
    from common.data.calibration import representative_dataset
    from common.graph.same_scale import union_same_scale_ranges
    from common.graph.tflite import op_names, read_graph

    inputs = keras.Input((4, 4, 2))
    x = keras.layers.Add()([inputs, keras.layers.Conv2D(2, 1)(inputs)])
    prelu = AcceleratorPReLU((1, 1, 2), form="max")
    model = keras.Model(inputs, keras.layers.Conv2D(2, 1)(prelu(x)))
    prelu.set_weights([np.array([[[0.1, 0.2]]], np.float32)])
    calib = np.random.default_rng(0).normal(0, 3, (32, 4, 4, 2)).astype(np.float32)

    def add_output_low(path) -> float:
        graph = read_graph(path).subgraphs[0]
        add = graph.operators[op_names(path).index("ADD")]
        q = graph.tensors[add.outputs[0]].quantization
        return float(q.scale[0] * (-128 - q.zeroPoint[0]))

    plain = quantize_int8(model, representative_dataset(calib), tmp_path / "plain.tflite")
    low_plain = add_output_low(plain)
    with union_same_scale_ranges():
        union = quantize_int8(model, representative_dataset(calib), tmp_path / "union.tflite")
    low_union = add_output_low(union)
    assert low_union < low_plain  # the residual sum is no longer clipped to the PReLU output's range


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
    from models.facemesh.detector import ssd_anchors

    anchors = ssd_anchors()
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])  # 16x16 grid, 2 anchors per cell
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])  # then 8x8 grid, 6 per cell
    assert (anchors[:512:2] == anchors[1:512:2]).all()


def test_face_crop_with_and_without_a_face(tmp_path):
    faces = require_shared("data", "faces", "face_recognition_examples")
    require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")
    from PIL import Image

    from models.facemesh.data import crop_square, load_face_crops, square_crop_box
    from models.facemesh.detector import FaceDetector

    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "face.jpg").write_bytes((faces / "obama_small.jpg").read_bytes())
    gradient = np.tile(np.linspace(40, 200, 160, dtype=np.uint8)[None, :, None], (120, 1, 3))
    Image.fromarray(gradient).save(folder / "wall.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")

    detector = FaceDetector()
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
    subprocess.run(["make", f"BUILD={tmp_path}", "facemesh.cc"], cwd=repo, check=True, env=env)
    report = json.loads((tmp_path / "facemesh" / "report.json").read_text())
    assert isinstance(report["skipped_files"], list)  # every report lists what was skipped
    tflite = tmp_path / "facemesh" / "model.tflite"
    check_deploy_kit(tmp_path, "facemesh")
    check_readme_numbers(tmp_path, "facemesh")

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
    assert sidecar["mixed_prelu"] == "clamp"
    assert sum(len(c["channels"]) for c in sidecar["clamped_alphas"]) == 8
    assert report["float_keras_vs_mediapipe_all_faces"]["landmarks_max_abs_diff_px"] <= 0.05
    assert report["float_keras_vs_mediapipe_all_faces"]["n"] == 43
    int8 = report["int8_vs_mediapipe_float"]
    assert int8["n"] == 27 and int8["nme"] == pytest.approx(report["metric_int8"])
    assert int8["nme"] <= 0.02
    assert int8["nme"] <= 0.00689  # TFLM: 0.689% when issue 14 was filed; not worse
    assert int8["face_score_agreement"] == 1.0
    orl = report["whole_image_vs_mediapipe_float"]["orl_att_faces_s1_s2"]
    assert orl["ours_int8"]["n"] == orl["efinix_int8"]["n"] == 20
    assert orl["ours_int8"]["nme"] < orl["efinix_int8"]["nme"]
    assert orl["ours_int8"]["nme"] <= 0.0061 + 0.002  # ours, absolute: 0.61% (README); the reference's 4.77%
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
        crops = data.load_face_crops("calibration", tfds_dir="fake-for-test")
    assert requested == [data.TFDS_SPLITS["calibration"]]
    assert crops.sources == ["lfw/train[:100]#0"] and crops.images.shape == (1, 192, 192, 3)
    assert crops.skipped[0]["image"] == "lfw/train[:100]#1"

    def missing(name, data_dir=None):
        raise DatasetMissingError("TFDS dataset 'lfw' is not prepared")

    monkeypatch.setattr("common.data.tfds.tfds_builder", missing)
    with pytest.raises(DatasetMissingError, match="FACEMESH_DATA_DIR"):
        data.load_face_crops("evaluation", tfds_dir="missing-for-test")
