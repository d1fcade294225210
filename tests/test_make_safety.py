"""Make variables reach the shell as data, never as code; paths Make cannot carry are refused up front.

Every recipe runs with PY replaced by a recorder that writes its argv (and PYTEST_ADDOPTS), so the
whole `make all report` graph is exercised in seconds without building anything."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
RECORDER = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["RECORD"], "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "addopts": os.environ.get("PYTEST_ADDOPTS")}}) + "\\n")
"""
# Quotes, command separators, redirections, command substitution: each would create a PWNED file
# if the shell interpreted it. `$$` is Make's spelling of one `$`.
HOSTILE_WORD = "v'\";>PWNED1;`>PWNED2`$$(>PWNED3)\\"
HOSTILE_VALUE = 'ADD=DISABLE" ; >PWNED4 ; echo "'
VALUE_VARS = ("EFINIX_MODES", "EFINIX_AXI_DW", "EFINIX_IN_PARALLEL", "EFINIX_OUT_PARALLEL", "EFINIX_CORE",
              "AUTOENCODER_INIT", "AUTOENCODER_EPOCHS", "DSCNN_KWS_EPOCHS",
              "FACEMESH_MIXED_PRELU", "MOBILENET_VWW_EPOCHS", "RESNET_CIFAR_EPOCHS",
              "YOLO_EPOCHS", "YOLO_ACTIVATION_RANGES")
PATH_VARS = ("AUTOENCODER_DATA_DIR", "AUTOENCODER_TFDS_DIR", "DSCNN_KWS_DATA_DIR", "DSCNN_KWS_TRAIN_DATA_DIR",
             "FACEMESH_DATA_DIR", "MOBILENET_VWW_DATA_DIR", "YOLO_DATA_DIR", "EFINIX_TFLITE_BIN",
             "DSCNN_KWS_REFERENCE", "MOBILENET_VWW_REFERENCE")


def _make(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    recorder = tmp_path / "recorder"
    if not recorder.exists():
        recorder.write_text(RECORDER)
        recorder.chmod(0o755)
    env = {**os.environ, "RECORD": str(tmp_path / "record.jsonl"), **(env or {})}
    env.pop("MAKEFLAGS", None)
    return subprocess.run(["make", "-o", ".venv/.installed-stamp", f"PY={recorder}", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


def _records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "record.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _pwned(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("PWNED*")]


def test_no_make_variable_reaches_the_shell_as_code(tmp_path):
    hostile = {v: HOSTILE_VALUE for v in VALUE_VARS} | {v: HOSTILE_WORD for v in PATH_VARS}
    run = _make(tmp_path, "-B", "-k", f"BUILD={tmp_path}/build", "all", "report",
                *(f"{k}={v}" for k, v in hostile.items()))
    assert not _pwned(REPO, tmp_path), run.stdout + run.stderr
    assert "Stop." not in run.stderr, run.stderr
    records = _records(tmp_path)
    steps = {r["argv"][1] for r in records if r["argv"][:1] == ["-m"]}
    assert {"models.yolo.quantize", "common.deploy.efinix_generator", "common.pipeline.zoo_report"} <= steps, steps
    # A single-valued variable arrives as exactly one argument, a path as one argument, unchanged.
    efinix = next(r["argv"] for r in records if r["argv"][1] == "common.deploy.efinix_generator")
    assert efinix[efinix.index("--modes") + 1] == HOSTILE_VALUE.replace("$$", "$")
    assert efinix[efinix.index("--analyzer") + 1] == HOSTILE_WORD.replace("$$", "$")
    dscnn = next(r["argv"] for r in records if r["argv"][1] == "models.dscnn_kws.evaluate")
    assert dscnn[dscnn.index("--data-dir") + 1] == HOSTILE_WORD.replace("$$", "$")


def test_pytest_args_reach_pytest_as_its_own_options_not_the_shell(tmp_path):
    args = "-k 'a and b';>PWNED5"
    run = _make(tmp_path, "test", f"PYTEST_ARGS={args}")
    assert run.returncode == 0, run.stderr
    assert not _pwned(REPO, tmp_path)
    (record,) = _records(tmp_path)
    # one pytest-xdist worker per core, one test file per worker; TEST_WORKERS=0 runs in one process
    assert record["argv"] == ["-m", "pytest", "-n", "auto", "--dist", "loadfile"] and record["addopts"].strip() == args
    run = _make(tmp_path, "test", "TEST_WORKERS=0")
    assert run.returncode == 0, run.stderr
    assert _records(tmp_path)[-1]["argv"] == ["-m", "pytest", "-p", "no:xdist"]


@pytest.mark.parametrize("assignment, name", [
    ("BUILD=../b uild", "BUILD"),
    ("BUILD=b;x", "BUILD"),
    ("DSCNN_KWS_DATA_DIR=../my data", "DSCNN_KWS_DATA_DIR"),
    ("ZOO_SHARED_DIR=/sh ared", "ZOO_SHARED_DIR"),
])
def test_a_path_make_cannot_carry_is_refused_in_one_line_before_anything_runs(tmp_path, assignment, name):
    run = _make(tmp_path, assignment, "resnet_cifar.tflite", "dscnn_kws.tflite")
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and assignment.split("=", 1)[1] in lines[0], run.stderr
    assert not _records(tmp_path), "a step ran"
    assert not (REPO / "uild").exists() and not (REPO / "b").exists()


def test_a_data_dir_with_a_space_works_as_an_option(tmp_path):
    shared = os.environ.get("ZOO_SHARED_DIR")
    clips = Path(shared or "", "data", "toycar_samples")
    if not shared or not clips.is_dir():
        pytest.skip("needs ../shared/data/toycar_samples (set ZOO_SHARED_DIR)")
    data = tmp_path / "my data"
    subprocess.run(["cp", "-a", str(clips), str(data)], check=True)
    out = tmp_path / "out dir" / "data.json"
    run = subprocess.run([sys.executable, "-m", "models.autoencoder.data", "--data-dir", str(data),
                          "--tfds-dir", str(tmp_path / "tf ds"), "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert json.loads(out.read_text())
