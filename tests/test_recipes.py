"""Recipes (common/pipeline/recipe.py): each model's facts in one place, read by the code, agreeing with
the architecture and repeated nowhere else; README measured numbers (common/pipeline/readme_numbers.py)
and the zoo report's honesty rules (no absolute paths, unmeasurable metrics shown as n/a, every score
with its interval and the reference beside ours)."""
from __future__ import annotations

import json
import re

import pytest

from tests.helpers import REPO, require_shared

MODELS = ("autoencoder", "dscnn_kws", "face_detection", "facemesh", "mobilenet_vww", "resnet_cifar", "yolo")


def _refs(recipe) -> list[str]:
    """Every `module:attribute` reference a recipe holds."""
    found = [r for r in (recipe.data.reader, recipe.data.lister, recipe.data.describe, recipe.calibration.inputs,
                         recipe.metric.per_item, recipe.metric.aggregate, recipe.predict, recipe.golden, recipe.extras,
                         recipe.metric_choice, *recipe.plots, *recipe.input_adapters.values()) if r]
    found += [r for ref in recipe.references for r in (ref.inputs, ref.prepare) if r]
    return found + [step.name for step in recipe.passes if ":" in step.name]


def test_every_model_folder_has_a_complete_recipe_whose_references_resolve():
    from common.graph.passes import get_pass
    from common.pipeline.recipe import all_recipes, resolve

    recipes = all_recipes()
    assert tuple(sorted(recipes)) == MODELS == tuple(sorted(p.parent.name for p in (REPO / "models").glob("*/evaluate.py")))
    for name, recipe in recipes.items():
        assert recipe.name == name and recipe.task and recipe.input_shape and recipe.dataset and recipe.quality_target
        assert recipe.calibration.description and recipe.calibration.n >= 1 and recipe.metric.name
        for ref in _refs(recipe):
            assert callable(resolve(ref)) or resolve(ref) is not None, ref
        for step in recipe.passes:
            get_pass(step.name)
            assert set(step.when) <= {o.name for o in recipe.options}, (name, step.name)
        names = {f.name for f in recipe.files}
        assert len(names) == len(recipe.files) and recipe.efinix_reference in names
        assert all(ref.file in names for ref in recipe.references), name
        assert recipe.competitors, f"{name} has no reference file to be compared with"


def _input_shape(name: str) -> tuple:
    """The input shape the model's own code builds."""
    if name == "facemesh":
        from models.facemesh.model import build_model

        return tuple(build_model(require_shared("pretrained", "mediapipe", "face_landmark.tflite")).input_shape[1:])
    if name == "face_detection":
        from models.face_detection.model import build_model

        return tuple(build_model(require_shared("pretrained", "mediapipe", "face_detection_short_range.tflite")).input_shape[1:])
    import importlib

    return tuple(importlib.import_module(f"models.{name}.model").build_model().input_shape[1:])


@pytest.mark.parametrize("name", MODELS)
def test_recipe_facts_agree_with_the_model_code(name):
    from common.pipeline.recipe import load_recipe

    recipe = load_recipe(name)
    assert _input_shape(name) == tuple(recipe.input_shape)
    if name == "dscnn_kws":
        from models.dscnn_kws.frontend import FEATURE_SHAPE

        assert FEATURE_SHAPE == recipe.input_shape  # the front end makes what the recipe says
    if name == "autoencoder":
        from models.autoencoder.features import DIMS

        assert (DIMS,) == recipe.input_shape
    if name == "yolo":
        from common.graph.darknet import parse_cfg
        from models.yolo.model import CFG_PATH

        assert parse_cfg(CFG_PATH).input_shape == recipe.input_shape  # the cfg's [net] size


def _constants(path) -> list:
    """The literal tuples of ints and the strings (docstrings aside) of a module's code."""
    import ast

    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Tuple) and node.elts and all(isinstance(e, ast.Constant) and type(e.value) is int
                                                             for e in node.elts):
            found.append(tuple(e.value for e in node.elts))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.append(node.value)
    return found


@pytest.mark.parametrize("name", MODELS)
def test_no_file_of_the_model_repeats_a_recipe_fact(name):
    """The input size, the class names and the published files are constants of the recipe only (the
    model's code reads them from it), and of no file of common/."""
    from common.pipeline.recipe import load_recipe

    recipe = load_recipe(name)
    facts = {tuple(recipe.input_shape), tuple(recipe.input_shape[:2]), *(f.filename for f in recipe.files),
             *(f.sha256 for f in recipe.files)} - {(recipe.input_shape[0],)}
    sources = [p for p in (REPO / "models" / name).rglob("*.py") if p.name != "recipe.py" and "tests" not in p.parts]
    for path in sources + sorted((REPO / "common").rglob("*.py")):
        own = path in sources
        repeated = (facts | (set(recipe.data.class_names) if own else set())) & set(_constants(path))
        assert not repeated, f"{path.relative_to(REPO)} repeats {sorted(map(str, repeated))} (models/{name}/recipe.py)"


def test_unknown_recipe_is_a_clear_error():
    from common.errors import RecipeError
    from common.pipeline.recipe import load_recipe

    with pytest.raises(RecipeError, match="no models/nope/recipe.py"):
        load_recipe("nope")


def test_a_reference_is_a_published_file_or_a_path(tmp_path):
    from common.pipeline.recipe import load_recipe
    from common.pipeline.references import resolve_file

    require_shared("pretrained", "efinix", "yolo_person_detect.tflite")
    yolo = load_recipe("yolo")
    assert resolve_file(yolo, "efinix_yolo").name == "yolo_person_detect.tflite"
    local = tmp_path / "ref.tflite"
    local.write_bytes(b"x")
    assert resolve_file(yolo, local) == local
    with pytest.raises(FileNotFoundError, match="neither an existing file nor a published file of yolo"):
        resolve_file(yolo, tmp_path / "missing.tflite")


def _fake_build(tmp_path, report: dict, profile: dict | None = None):
    out = tmp_path / "build" / "resnet_cifar"
    out.mkdir(parents=True)
    (out / "report.json").write_text(json.dumps(report))
    if profile is not None:
        (out / "kit").mkdir(exist_ok=True)
        (out / "kit" / "profile.json").write_text(json.dumps(profile))
    return tmp_path / "build"


def test_readme_numbers_check_and_rewrite(tmp_path):
    from common.cli import UserError
    from common.pipeline.readme_numbers import check, rewrite

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


def test_every_model_readme_marks_its_headline_with_interval_and_verdicts():
    """Each README's numbers come from the build: the size, the int8 headline with its n and 95%
    interval, and the paired verdict against every reference file of the recipe."""
    from common.pipeline.readme_numbers import MARKER, readme_path
    from common.pipeline.recipe import load_recipe, model_names

    for name in model_names():
        marked = {(m["key"], m["fmt"]) for m in MARKER.finditer(readme_path(name).read_text())}
        keys = {key for key, _ in marked}
        assert {"size_bytes", "n_eval"} <= keys, name
        assert any(key == "scores.int8" and fmt.startswith("score_") for key, fmt in marked), name
        for ref in load_recipe(name).competitors:
            assert (f"references.{ref.label}.ours_vs_it", "verdict") in marked, (name, ref.label)
            assert any(key == f"references.{ref.label}.score" and fmt.startswith("score_") for key, fmt in marked), \
                (name, ref.label)


def test_zoo_report_has_no_absolute_paths_and_shows_unmeasurable_metrics(tmp_path):
    from common.pipeline.zoo_report import build_report, strip_paths

    assert strip_paths("top1 (/work/shared/data/speech_commands)") == "top1 (speech_commands)"
    assert strip_paths("max |int8/float - 1|, C:\\data\\toy") == "max |int8/float - 1|, toy"
    build = _fake_build(tmp_path, {"metric": "top1_accuracy (/home/me/data/subset)", "metric_float": 0.0,
                                   "metric_int8": 0.024, "not_measured": [{"metric": "AUC", "reason": "3 clips"}],
                                   "size_bytes": 1})
    md = build_report(build, build / "REPORT.md").read_text()
    assert "/home/me" not in md and "top1_accuracy (subset); AUC: n/a (3 clips)" in md
    assert not re.search(r"(?<![\w.])/(home|work|tmp)/", md)


def test_zoo_report_puts_intervals_and_the_reference_in_ours_row(tmp_path):
    from common.pipeline.zoo_report import build_report

    score = lambda v, lo, hi, n: {"value": v, "low": lo, "high": hi, "n": n}  # noqa: E731
    build = _fake_build(tmp_path, {"metric": "top-1 accuracy (cifar10 test)", "n_eval": 846, "size_bytes": 92288,
                                   "max_tflite_bytes": 98496,
                                   "scores": {"int8": score(0.8794, 0.8558, 0.8997, 846),
                                              "float": score(0.8771, 0.8532, 0.8975, 846)},
                                   "references": {"efinix_resnet": {"title": "Efinix int8",
                                                                    "score": score(0.8794, 0.8558, 0.8997, 846),
                                                                    "ours_vs_it": {"verdict": "within noise",
                                                                                   "p_value": 1.0}}}})
    row = next(line for line in build_report(build, build / "REPORT.md").read_text().splitlines()
               if line.startswith("| resnet_cifar"))
    assert "| 846 |" in row and "87.94% [85.58, 89.97]" in row and "87.71% [85.32, 89.75]" in row
    assert "Efinix int8: 87.94% [85.58, 89.97]" in row and "within noise (p=1)" in row and "92,288 (≤ 98,496)" in row


def test_a_file_two_recipes_publish_is_pinned_the_same_in_both():
    """MediaPipe's face detector is face_detection's model and facemesh's cropper: one file, one pin."""
    from common.pipeline.recipe import all_recipes

    seen: dict = {}
    for recipe in all_recipes().values():
        for entry in recipe.files:
            assert seen.setdefault(entry.name, entry) == entry, f"{entry.name} pinned differently in two recipes"
    assert "mediapipe_face_detection" in seen
