"""Model cards (common/pipeline/cards.py), README measured numbers (common/evaluation/readme_numbers.py) and the zoo
report's honesty rules (no absolute paths, metrics that cannot be measured shown as n/a)."""
from __future__ import annotations

import json
import re

import pytest

from tests.helpers import REPO, require_shared


def test_every_model_folder_has_a_complete_card():
    from common.pipeline.cards import all_cards
    from common.data.weights import REGISTRY

    pipelines = sorted(p.parent.name for p in (REPO / "models").glob("*/evaluate.py"))
    cards = all_cards()
    assert sorted(cards) == pipelines
    for name, card in cards.items():
        assert card.name == name and card.task and card.input and card.dataset and card.metric
        assert card.quality_target and card.calibration and card.calibration_n >= 0
        assert card.references and all(r in REGISTRY for r in card.references), name
        assert card.efinix_reference is None or card.efinix_reference in REGISTRY


def test_evaluate_defaults_come_from_the_card():
    from common.pipeline.cards import load_card
    from models.autoencoder import evaluate as autoencoder
    from models.facemesh import evaluate as facemesh
    from models.yolo import evaluate as yolo

    assert autoencoder.REFERENCE == load_card("autoencoder").reference == "efinix_autoencoder"
    assert yolo.REFERENCE == load_card("yolo").reference == "efinix_yolo"
    assert facemesh.EFINIX_REFERENCE == load_card("facemesh").efinix_reference


def test_unknown_model_card_is_a_clear_error():
    from common.pipeline.cards import CardError, load_card

    with pytest.raises(CardError, match="no models/nope/card.py"):
        load_card("nope")


def test_resolve_reference_by_name_or_path(tmp_path):
    from common.pipeline.cards import resolve_reference

    require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    assert resolve_reference("efinix_yolo").name == "yolo_person_detect.tflite"
    local = tmp_path / "ref.tflite"
    local.write_bytes(b"x")
    assert resolve_reference(local) == local
    with pytest.raises(FileNotFoundError, match="neither an existing file nor a registered weights name"):
        resolve_reference(tmp_path / "missing.tflite")


def _fake_build(tmp_path, report: dict, profile: dict | None = None):
    out = tmp_path / "build" / "resnet_cifar"
    out.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps(report))
    if profile is not None:
        (out / "profile.json").write_text(json.dumps(profile))
    return tmp_path / "build"


def test_readme_numbers_check_and_rewrite(tmp_path):
    from common.cli import UserError
    from common.evaluation.readme_numbers import check, rewrite

    build = _fake_build(tmp_path, {"metric_int8": 0.87943, "size_bytes": 92288, "clips": [{"s": 0.024}]},
                        {"tflm_arena_bytes": 55984})
    readme = tmp_path / "README.md"
    readme.write_text("| <!-- measured:report:metric_int8:pct -->87.00%<!-- /measured --> | "
                      "<!-- measured:report:size_bytes:int -->92,288<!-- /measured --> |\n"
                      "arena <!-- measured:profile:tflm_arena_bytes:int -->1<!-- /measured -->, "
                      "<!-- measured:report:clips.0.s:signed_pct -->+2.40%<!-- /measured -->\n")
    drift = check("resnet_cifar", build, readme)
    assert len(drift) == 2 and "87.94%" in drift[0] and "55,984" in drift[1]
    assert rewrite("resnet_cifar", build, readme) == 2
    assert check("resnet_cifar", build, readme) == []
    assert "-->87.94%<!--" in readme.read_text()
    # A figure that depends on the CPU by design names how far it may move, and no further.
    readme.write_text("<!-- measured:report:metric_int8:pct:abs=0.02 -->86.00%<!-- /measured --> "
                      "<!-- measured:report:clips.0.s:signed_pct:rel=0.01 -->+2.42%<!-- /measured -->\n")
    assert check("resnet_cifar", build, readme) == []
    readme.write_text("<!-- measured:report:metric_int8:pct:abs=0.01 -->86.00%<!-- /measured -->\n")
    (drift,) = check("resnet_cifar", build, readme)
    assert "87.94%, README says 86.00% (allowed: abs=0.01)" in drift
    readme.write_text("<!-- measured:report:no_such_key:pct -->1<!-- /measured -->\n")
    with pytest.raises(UserError, match="has no 'no_such_key'"):
        check("resnet_cifar", build, readme)


def test_every_model_readme_marks_its_headline_numbers():
    from common.pipeline.cards import model_names
    from common.evaluation.readme_numbers import MARKER, readme_path

    for name in model_names():
        keys = {m["key"] for m in MARKER.finditer(readme_path(name).read_text())}
        assert "size_bytes" in keys, name
        assert keys & {"metric_int8", "int8_vs_mediapipe_float.nme", "model_vs_float.held_out_max_abs_rel_diff"}, name


def test_zoo_report_has_no_absolute_paths_and_shows_unmeasurable_metrics(tmp_path):
    from common.evaluation.zoo_report import build_report, strip_paths

    assert strip_paths("top1 (/work/shared/data/speech_commands)") == "top1 (speech_commands)"
    assert strip_paths("max |int8/float - 1|, C:\\data\\toy") == "max |int8/float - 1|, toy"
    build = _fake_build(tmp_path, {"metric": "top1_accuracy (/home/me/data/subset)", "metric_float": 0.0,
                                   "metric_int8": 0.024, "not_measured": [{"metric": "AUC", "reason": "3 clips"}],
                                   "size_bytes": 1})
    md = build_report(build, build / "REPORT.md").read_text()
    assert "/home/me" not in md and "top1_accuracy (subset); AUC: n/a (3 clips)" in md
    assert not re.search(r"(?<![\w.])/(home|work|tmp)/", md)
