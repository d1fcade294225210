"""Bad labels and truncated clips are refused or skipped by name, never scored silently."""
from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest

from common.data.audio import AudioError, load_audio
from common.data.images import LabelError, read_yolo_labels
from tests.helpers import REPO, require_shared

BAD_LINES = {
    "nan": ("0 nan 0.5 0.2 0.2", "NaN"),
    "outside": ("0 0.5 1.7 0.2 0.2", "must lie in 0..1"),
    "negative_class": ("-1 0.5 0.5 0.2 0.2", "class id"),
    "three_fields": ("0 0.5 0.5", "expected 5 fields"),
    "non_numeric": ("0 0.5 abc 0.2 0.2", "non-numeric"),
    "fractional_class": ("0.5 0.5 0.5 0.2 0.2", "class id"),
    "zero_size": ("0 0.5 0.5 0 0.2", "must lie in 0..1"),
}


@pytest.mark.parametrize("kind", BAD_LINES)
def test_bad_label_line_names_file_and_line(kind, tmp_path):
    line, reason = BAD_LINES[kind]
    path = tmp_path / "img.txt"
    path.write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    with pytest.raises(LabelError, match=reason) as info:
        read_yolo_labels(path)
    assert str(info.value).startswith(f"{path}:2: ") and "\n" not in str(info.value)


def test_good_labels_still_read(tmp_path):
    path = tmp_path / "img.txt"
    path.write_text("0 0.5 0.5 0.2 0.2\n\n17 0 1 1 0.01\n")
    np.testing.assert_allclose(read_yolo_labels(path), [[0, 0.5, 0.5, 0.2, 0.2], [17, 0, 1, 1, 0.01]])


def _folder_with_bad_label(tmp_path):
    source = require_shared("data", "coco128_person")
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    for stem in ("000000000009", "000000000025"):
        shutil.copy(source / "images" / f"{stem}.jpg", folder / "images")
        shutil.copy(source / "labels" / f"{stem}.txt", folder / "labels")
    with open(folder / "labels" / "000000000025.txt", "a") as f:
        f.write("0 nan 0.5 0.2 0.2\n")
    return folder


def test_mobilenet_vww_refuses_a_bad_label_instead_of_relabelling(tmp_path):
    from models.mobilenet_vww.data import list_labelled_files

    folder = _folder_with_bad_label(tmp_path)
    with pytest.raises(LabelError, match="000000000025.txt:"):
        list_labelled_files(folder)


def test_yolo_evaluate_refuses_a_bad_label_in_one_line(tmp_path):
    reference = require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    folder = _folder_with_bad_label(tmp_path)
    result = subprocess.run([sys.executable, "-m", "models.yolo.evaluate", "--model", str(reference),
                             "--data-dir", str(folder)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "000000000025.txt:" in last and "NaN" in last, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def _truncated_wav(tmp_path):
    import soundfile

    path = tmp_path / "clip.wav"
    soundfile.write(path, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def test_wav_truncated_mid_data_is_an_audio_error(tmp_path):
    path = _truncated_wav(tmp_path)
    with pytest.raises(AudioError, match="truncated: the header declares 32000 bytes"):
        load_audio(path)


def test_dscnn_kws_skips_and_lists_a_truncated_wav(tmp_path, capsys):
    import soundfile

    from models.dscnn_kws.data import CLASS_NAMES, load_arrays

    data = tmp_path / "data"
    for label in CLASS_NAMES:
        (data / label).mkdir(parents=True)
        name = "0000.wav" if label == "_silence_" else "a_nohash_0.wav"
        soundfile.write(data / label / name, np.zeros(16000, np.float32), 16000, subtype="PCM_16")
    shutil.move(_truncated_wav(tmp_path), data / "yes" / "b_nohash_0.wav")
    clips = load_arrays("all", data_dir=data)
    assert [s["file"] for s in clips.skipped] == ["yes/b_nohash_0.wav"]
    assert "truncated" in clips.skipped[0]["error"]
    assert "yes/b_nohash_0.wav" in capsys.readouterr().err


def test_mobilenet_vww_evaluate_lists_skipped_images(tmp_path):
    from PIL import Image

    from common.data.items import DataSource
    from common.pipeline.evaluate import evaluate, summary
    from models.mobilenet_vww.model import build_model
    from models.mobilenet_vww.recipe import RECIPE

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.fromarray(np.full((40, 60, 3), 128, np.uint8)).save(tmp_path / "images" / "a.jpg")
    (tmp_path / "images" / "b_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.5 0.5\n")
    model = tmp_path / "model.keras"
    build_model().save(model)
    with pytest.warns(UserWarning, match="b_corrupt.jpg"):
        result = summary(evaluate(RECIPE, model, source=DataSource.of(tmp_path)))
    assert result["n"] == 1
    assert [s["file"].split("/")[-1] for s in result["skipped_files"]] == ["b_corrupt.jpg"]
