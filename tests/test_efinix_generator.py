"""Headless Efinix TinyML Generator: define files for the six Efinix reference files and our models,
checked against the analyzer's own values, the GUI's rules and the shipped define files' format."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.deploy import efinix_generator as gen
from common.pipeline.recipe import all_recipes
from common.pipeline.references import fetch_file
from tests.helpers import SHARED, analyzer, c_array_bytes, check_define_file, check_our_model, example_defines, example_keys

# Our model -> its recipe's Efinix reference file (the file the Efinix TinyML Generator ships).
RECIPES = all_recipes()
REFERENCES = {name: r.efinix_reference for name, r in RECIPES.items() if r.efinix_reference}


def fetch(model_or_file: str) -> Path:
    """The Efinix file of a model (by the model's name or the file's)."""
    model = next(m for m, f in REFERENCES.items() if model_or_file in (m, f))
    return fetch_file(RECIPES[model], REFERENCES[model])
def test_example_defines_parse_and_share_one_key_order():
    examples = example_defines()
    assert len(examples) == 6
    orders = {tuple(example_keys(p)) for p in examples}
    assert len(orders) == 1
    ours = [name for name, _ in gen.configure(dict.fromkeys(gen.ANALYZER_KEYS, 1), gen.GeneratorOptions())]
    assert list(orders.pop()) == ours
    for path in examples:
        values = gen.read_defines(path)
        assert values["AXI_DW"] in gen.AXI_DW_CHOICES and isinstance(values["RS_MODE"], str)


@pytest.mark.parametrize("cache, expected", [(25294, 16384), (4146, 4096), (2338, 2048), (1190, 1024),
                                             (700, 512), (100, 512), (0, 512), (12000, 16384)])
def test_cache_depth_rounding(cache, expected):
    assert gen.cache_depth(cache) == expected


def test_unused_disabled_used_standard_overrides_and_cache_rule():
    analysis = {**dict.fromkeys(gen.ANALYZER_KEYS, 0), "conv_depthw_mode": 1, "reshape_mode": 2,
                "tinyml_cache": 1, "cache_depth": 3000}
    values = dict(gen.configure(analysis, gen.GeneratorOptions()))
    assert values["CONV_DEPTHW_MODE"] == "STANDARD" and values["RS_MODE"] == "STANDARD"
    assert values["ADD_MODE"] == values["FC_MODE"] == "DISABLE"
    assert values["TINYML_CACHE"] == "ENABLE" and values["CACHE_DEPTH"] == 4096
    lite = dict(gen.configure(analysis, gen.GeneratorOptions(modes={"CONV_DEPTHW": "LITE", "RS": "DISABLE"})))
    assert lite["CONV_DEPTHW_MODE"] == "LITE" and lite["TINYML_CACHE"] == "DISABLE"  # GUI: no STANDARD, no cache
    assert gen.parse_modes("add=disable, MUL_MODE=LITE reshape=DISABLE") == {"ADD": "DISABLE", "MUL": "LITE",
                                                                              "RS": "DISABLE"}


@pytest.mark.parametrize("reference", sorted(set(REFERENCES.values())))
def test_reference_files_define_and_c_array(reference, tmp_path):
    tflite = fetch(reference) if (SHARED / "pretrained").is_dir() else pytest.skip("needs ../shared/pretrained")
    options = gen.GeneratorOptions()
    paths = gen.generate(tflite, tmp_path, tflite.stem, analyzer(), options)
    analysis = gen.run_analyzer(analyzer(), tflite, options)
    check_define_file(tmp_path / "tinyml_core0_define.v", analysis, options)
    source = tmp_path / f"{tflite.stem}_model_data.cc"
    assert source in paths and c_array_bytes(source) == tflite.read_bytes()
    assert f"const unsigned char {tflite.stem}_model_data[]" in source.read_text()


def test_reference_settings_on_the_ti180_board(tmp_path):
    """Face landmark with the Ti180 demo's AXI_DW/parallelism: the define keeps those, core 1 renames keys."""
    tflite = fetch("efinix_face_landmark") if (SHARED / "pretrained").is_dir() else pytest.skip("needs ../shared")
    options = gen.GeneratorOptions(axi_dw=512, in_parallel=16, out_parallel=8, core=1, modes={"MUL": "LITE"})
    gen.generate(tflite, tmp_path, "face", analyzer(), options)
    define = tmp_path / "tinyml_core1_define.v"
    analysis = gen.run_analyzer(analyzer(), tflite, options)
    values = check_define_file(define, analysis, options)
    assert values["MUL_MODE"] == "LITE" and values["RS_MODE"] == "DISABLE"
    assert all(line.startswith("`define TML_C1_") for line in define.read_text().splitlines())


@pytest.mark.parametrize("model", sorted(REFERENCES))
def test_our_built_models_match_their_reference_settings(model, repo, tmp_path):
    """Our shipped files in build/ (the end-to-end tests check every fresh build the same way)."""
    tflite = repo / "build" / model / "model.tflite"
    if not tflite.is_file():
        pytest.skip(f"{tflite} not built (make {model}.tflite); the end-to-end tests check their own builds")
    check_our_model(tflite, model, tmp_path)


def test_one_writer_for_both_c_arrays(tiny, tmp_path):
    from common.deploy.kit import write_c_array

    _, tflite, _ = tiny
    _, ours = write_c_array(tflite, tmp_path / "zoo", "tiny")
    _, efinix = write_c_array(tflite, tmp_path / "efinix", "tiny", symbol_prefix="")
    assert c_array_bytes(ours) == c_array_bytes(efinix) == Path(tflite).read_bytes()
    assert "g_tiny_model_data[]" in ours.read_text() and " tiny_model_data[]" in efinix.read_text()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "common.deploy.efinix_generator", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("option", [
    ["--axi-dw", "100"], ["--in-parallel", "0"], ["--out-parallel", "0"], ["--in-parallel", "32"],
    ["--modes", "LR=LITE"], ["--modes", "RS=LITE"], ["--modes", "FOO=STANDARD"], ["--modes", "ADD"],
    ["--axi-dw", "wide"], ["--core", "-1"],
])
def test_invalid_options_one_line_error_nothing_written(option, tiny, tmp_path):
    _, tflite, _ = tiny
    out = tmp_path / "out"
    result = run_cli("--tflite", str(tflite), "--out", str(out), "--analyzer", str(analyzer()), *option)
    assert result.returncode != 0
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert not out.exists()


def test_missing_analyzer_is_one_line_naming_the_variable(tiny, tmp_path):
    _, tflite, _ = tiny
    env = {k: v for k, v in os.environ.items() if k != gen.ANALYZER_ENV}
    result = subprocess.run([sys.executable, "-m", "common.deploy.efinix_generator", "--tflite", str(tflite),
                             "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode != 0 and result.stderr.count("\n") == 1 and gen.ANALYZER_ENV in result.stderr
    assert not (tmp_path / "out").exists()


def test_analyzer_failure_fails_with_its_message(tiny, tmp_path):
    """A fake analyzer that behaves like the real one on an op its TFLM lacks (exit status 255)."""
    _, tflite, _ = tiny
    fake = tmp_path / "tflite"
    fake.write_text("#!/bin/sh\necho 'CONV_2D:3' >&2\n"
                    "echo \"Didn't find op for builtin opcode 'GELU' version '1'\" >&2\nexit 255\n")
    fake.chmod(0o755)
    result = run_cli("--tflite", str(tflite), "--out", str(tmp_path / "out"), "--analyzer", str(fake))
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert "exit status 255" in result.stderr and "Didn't find op for builtin opcode 'GELU'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_real_analyzer_rejects_an_op_it_lacks(tmp_path):
    """GELU is newer than the analyzer's 2022 TFLM: exit 255, and the generator says so."""
    import keras

    from common.graph.quantize import convert_int8
    from common.data.calibration import representative_dataset

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Activation("gelu")(keras.layers.Dense(4)(inputs)))
    calib = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    tflite = tmp_path / "gelu.tflite"  # quantize_int8 refuses it (common.graph.efinix); the analyzer must too
    tflite.write_bytes(convert_int8(model, representative_dataset(calib)))
    if "GELU" not in {op for op in __import__("common.graph.tflite", fromlist=["op_names"]).op_names(tflite)}:
        pytest.skip("the converter did not emit a GELU op")
    with pytest.raises(gen.GeneratorError, match="exit status 255.*(find op|GELU)"):
        gen.generate(tflite, tmp_path / "out", "gelu", analyzer())
    assert not (tmp_path / "out").exists()


def test_make_efinix_target(repo, tmp_path):
    """`make <model>.efinix` without EFINIX_TFLITE_BIN: one line naming it; `make all` only notes it."""
    env = {k: v for k, v in os.environ.items() if k != gen.ANALYZER_ENV}
    result = subprocess.run(["make", "-o", ".venv/.installed-stamp", f"BUILD={tmp_path}", "facemesh.efinix"],
                            cwd=repo, capture_output=True, text=True, env=env)
    assert result.returncode != 0 and gen.ANALYZER_ENV in result.stderr and result.stderr.count("\n") == 1
    dry = subprocess.run(["make", "-n", "-o", ".venv/.installed-stamp", f"BUILD={tmp_path}", "all"],
                         cwd=repo, capture_output=True, text=True, env=env)
    assert dry.returncode == 0 and "skipping the Efinix generator step" in dry.stdout
    assert "common.deploy.efinix_generator" not in dry.stdout
    dry = subprocess.run(["make", "-n", "-o", ".venv/.installed-stamp", f"BUILD={tmp_path}", "all",
                          f"EFINIX_TFLITE_BIN={tmp_path / 'bin'}", "EFINIX_AXI_DW=256", "EFINIX_MODES=ADD=DISABLE"],
                         cwd=repo, capture_output=True, text=True, env=env)
    assert dry.stdout.count("common.deploy.efinix_generator") == len(REFERENCES)
    assert "--axi-dw '256'" in dry.stdout and "--modes 'ADD=DISABLE'" in dry.stdout
