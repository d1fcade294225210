"""face_detection: tflite -> Keras graph equivalence, output layouts, weighted NMS, matching, data errors,
end-to-end int8 against MediaPipe float and the Efinix file."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from common.data.face_detector import Detection
from tests.helpers import SHARED, make_and_check, require_shared

A = 896


def _detection(box, score=0.9, keypoint_shift=0.0) -> Detection:
    x0, y0, x1, y1 = box
    points = np.array([[x0 + (x1 - x0) * f, y0 + (y1 - y0) * g] for f, g in
                       [(.3, .4), (.7, .4), (.5, .55), (.5, .75), (.1, .5), (.9, .5)]], np.float32)
    return Detection(score, tuple(box), points + keypoint_shift)


# ---- decoding ------------------------------------------------------------------------------

def test_detector_outputs_put_every_file_layout_in_anchor_order():
    """MediaPipe's (896, 16)+(896, 1), Efinix's four (512|384, 16|1) and ours (the heads before the
    reshape) give the same arrays, whatever order the outputs come in."""
    from common.data.face_detector import detector_outputs

    rng = np.random.default_rng(0)
    regressors, logits = rng.normal(size=(2, A, 16)), rng.normal(size=(2, A, 1))
    mediapipe = [regressors, logits]
    efinix = [regressors[:, :512], logits[:, :512], logits[:, 512:], regressors[:, 512:]]
    ours = [regressors[:, 512:].reshape(2, 8, 8, 96), logits[:, :512].reshape(2, 16, 16, 2),
            regressors[:, :512].reshape(2, 16, 16, 32), logits[:, 512:].reshape(2, 8, 8, 6)]
    for layout in (mediapipe, efinix, ours, ours[::-1]):
        r, c = detector_outputs(layout, A)
        np.testing.assert_array_equal(r, regressors)
        np.testing.assert_array_equal(c, logits[..., 0])
    with pytest.raises(ValueError, match="do not make 896 anchors"):
        detector_outputs([regressors[:, :512], logits[:, :512]], A)


def test_weighted_nms_blends_overlapping_faces_and_keeps_distant_ones():
    from common.data.face_detector import weighted_nms

    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8], [0.0, 0.0, 0.1, 0.1]])
    scores = np.array([0.9, 0.6, 0.7, 0.4])  # the last is below 0.5
    keypoints = np.stack([_detection(b).keypoints for b in boxes])
    found = weighted_nms(scores, boxes, keypoints)
    assert [round(d.score, 2) for d in found] == [0.9, 0.7]
    np.testing.assert_allclose(found[0].box, (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5)
    np.testing.assert_allclose(found[1].box, boxes[2])


def test_faces_match_counts_missed_and_extra_faces():
    from models.face_detection.metric import compare, keypoint_error, match

    a, b = _detection((0.1, 0.1, 0.3, 0.3)), _detection((0.6, 0.6, 0.8, 0.8))
    near_a = _detection((0.11, 0.1, 0.31, 0.3), keypoint_shift=0.02)
    assert [(t, f) for t, f, _ in match([a, b], [b, near_a])] == [(1, 0), (0, 1)]
    assert match([a], [_detection((0.5, 0.5, 0.7, 0.7))]) == []
    assert keypoint_error(a, near_a) == pytest.approx(np.hypot(0.01 + 0.02, 0.02) / 0.2, rel=1e-5)  # box moved 0.01
    truth = [[a, b], [a], []]
    found = [[near_a, b], [], [b]]  # photo 2 misses its face, photo 3 has a false one
    summary = compare(truth, found)
    assert summary["truth_faces"] == 3 and summary["recall"] == pytest.approx(2 / 3)
    assert (summary["missed_faces"], summary["false_detections"]) == (1, 1)
    assert summary["false_detections_on_photos_without_face"] == summary["photos_without_face_with_a_detection"] == 1


# ---- model ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shortcuts", ["concat", "pad"])
def test_keras_graph_matches_mediapipe_tflite(shortcuts):
    source = require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")
    from models.face_detection.model import build_model
    from models.face_detection.train import MAX_IMPORT_DIFF, import_check

    model = build_model(source, shortcuts)
    layers = {type(layer).__name__ for layer in model.layers}
    assert "Reshape" not in layers and ("ChannelPad" in layers) == (shortcuts == "pad")
    assert sorted(tuple(o.shape[1:]) for o in model.outputs) == [(8, 8, 6), (8, 8, 96), (16, 16, 2), (16, 16, 32)]
    check = import_check(model, source, n=2)
    assert max(check.values()) <= MAX_IMPORT_DIFF, check


# ---- data ----------------------------------------------------------------------------------

def test_folder_errors_are_one_line_and_unreadable_photos_are_named(tmp_path):
    from PIL import Image

    from common.data.items import DataSource
    from common.errors import UserError
    from models.face_detection.data import load_items

    with pytest.raises(UserError, match="give --data-dir"):
        load_items(DataSource(), "all")
    with pytest.raises(UserError, match="no such folder"):
        load_items(DataSource.of(tmp_path / "missing"), "all")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no images"):
        load_items(DataSource.of(tmp_path / "empty"), "all")
    photos = tmp_path / "photos" / "wide"
    photos.mkdir(parents=True)
    Image.fromarray(np.full((40, 100, 3), 255, np.uint8)).save(photos / "white.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    items = load_items(DataSource.of(tmp_path / "photos"), "all")
    assert items.ids == ["wide/white.png"] and [s["file"] for s in items.skipped] == ["wide/broken.jpg"]
    x = items.x[0]
    assert x.shape == (128, 128, 3) and x.min() == -1.0 and x.max() == pytest.approx(1.0, abs=1e-5)
    assert (x[:30] == -1).all() and (x[-30:] == -1).all()  # letterboxed: black above and below a wide photo


# ---- end to end ----------------------------------------------------------------------------

@pytest.mark.slow
def test_make_face_detection_end_to_end(tmp_path, repo):
    require_shared("data", "faces")
    require_shared("pretrained", "efinix", "mediapipe_face_detection.tflite")
    env = {**os.environ, "ZOO_SHARED_DIR": str(SHARED), "ZOO_WEIGHTS_DIR": str(SHARED / "pretrained")}
    report = make_and_check(repo, tmp_path, "face_detection", env)

    assert report["all_int8"] and all(d["dtype"] == "int8" for d in report["inputs"] + report["outputs"])
    graph = report["graph_vs_efinix_file"]
    ours, efinix = graph["ours"]["ops"], graph["efinix"]["ops"]
    # as lean as the Efinix file: no RESHAPE (the host reshapes), no PAD (the widening shortcuts are two
    # halves joined by a CONCATENATION), ReLU fused, the same convolutions
    assert "RESHAPE" not in ours and "PAD" not in ours and "RELU" not in ours
    assert (ours["CONV_2D"], ours["DEPTHWISE_CONV_2D"], ours["ADD"]) == (32, 16, 16)
    # 11 more CONV_2D ops (the split halves, the same MACs) and a CONCATENATION for each PAD: as many CPU ops
    assert ours["CONCATENATION"] == efinix["PAD"] == 11 and ours["MAX_POOL_2D"] == efinix["MAX_POOL_2D"]
    assert graph["ours"]["size_bytes"] <= graph["efinix"]["size_bytes"] == 189_512
    int8, efinix_faces = report["vs_mediapipe_float"]["ours_int8"], report["vs_mediapipe_float"]["efinix_int8"]
    assert int8["recall"] >= 0.95 and int8["mean_iou"] >= 0.9
    assert int8["false_detections"] <= efinix_faces["false_detections"]
    # 112 of 113 photos right when issue 21 was closed, the Efinix file 101: better by McNemar's test
    assert report["scores"]["int8"]["correct"] >= 110
    assert report["references"]["efinix_face_detection"]["ours_vs_it"]["verdict"] == "better"
    floor = json.loads((tmp_path / "face_detection" / "model.quant.json").read_text())["passes"][0]
    assert floor["name"] == "floor_face_logits" and floor["check"]["logit_outputs"] == 2
    # float import: the same faces as MediaPipe's file (logits differ by up to 0.03 where they reach -27,000 at
    # letterbox borders: float16-stored weights run in float32)
    assert report["float_keras_vs_mediapipe_all_photos"]["regressors_max_abs_diff_px"] <= 0.05
    float_faces = report["vs_mediapipe_float"]["ours_float"]
    assert float_faces["recall"] == 1.0 and float_faces["false_detections"] == 0 and float_faces["min_iou"] > 0.9999
    assert all(report["must_show"].values()), report["must_show"]
    sidecar = json.loads((tmp_path / "face_detection" / "model.quant.json").read_text())
    assert sidecar["calibration"]["n_items"] == report["data"]["excluded_calibration_items"]
    assert (tmp_path / "face_detection" / "detections.png").stat().st_size > 10_000
