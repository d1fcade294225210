"""Deployment kit: C arrays that compile, bit-exact golden vectors, profile, zoo report."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from common.deploy.kit import accelerator_report, deploy, write_c_array, write_golden_vectors
from common.deploy.profile import profile_tflite
from common.pipeline.zoo_report import COLUMNS, build_report


def _gxx():
    gxx = shutil.which("g++")
    if gxx is None:
        pytest.skip("g++ is not installed")
    return gxx


def test_c_array_and_golden_headers_compile(tiny, tmp_path):
    _, tflite, calib = tiny
    header, source = write_c_array(tflite, tmp_path, "tiny_net")
    data = tflite.read_bytes()
    text = source.read_text()
    assert "alignas(16) const unsigned char g_tiny_net_model_data[]" in text
    assert f"g_tiny_net_model_data_len = {len(data)};" in text
    assert "#ifndef TINY_NET_MODEL_DATA_H_" in header.read_text()
    write_golden_vectors(tflite, [calib[:3]], tmp_path, "tiny_net")
    main = tmp_path / "main.cc"
    main.write_text('#include "tiny_net_model_data.h"\n#include "quant_tiny_net_input.h"\n'
                    '#include "quant_tiny_net_output.h"\n'
                    "int checksum() { int s = 0; for (unsigned i = 0; i < g_tiny_net_model_data_len; ++i) "
                    "s += g_tiny_net_model_data[i]; return s + quant_tiny_net_input[0][0][0][0] "
                    "+ quant_tiny_net_output[2][4] + QUANT_TINY_NET_OUTPUT_COUNT; }\n")
    for src in (source, main):
        subprocess.run([_gxx(), "-std=c++11", "-Wall", "-Werror", "-c", str(src), "-o", str(src.with_suffix(".o"))],
                       cwd=tmp_path, check=True)
    # The bytes in the array are exactly the file.
    hex_bytes = [int(tok, 16) for tok in text.split("{", 1)[1].split("}", 1)[0].replace(",", " ").split()]
    assert bytes(hex_bytes) == data


def test_golden_vectors_rerun_bit_exact(tiny, tmp_path):
    """Golden outputs are TensorFlow Lite Micro's: the target reproduces them bit for bit."""
    from common.graph.runners import TFLMRunner

    _, tflite, calib = tiny
    files = write_golden_vectors(tflite, [calib[:5]], tmp_path, "tiny_net")
    q_in = np.load(files["inputs"][0])
    q_out = np.load(files["outputs"][0])
    runner = TFLMRunner(tflite)
    assert q_in.dtype == np.int8 and np.array_equal(q_in, runner.quantize(calib[:5], runner.inputs[0]))
    for i in range(5):
        assert np.array_equal(runner.run_quantized([q_in[i : i + 1]])[0], q_out[i : i + 1])


def test_profile_counts_macs_and_peak_memory(tiny):
    _, tflite, _ = tiny
    profile = profile_tflite(tflite)
    by_op = {}
    for layer in profile["layers"]:
        by_op.setdefault(layer["op"], []).append(layer["macs"])
    assert sorted(by_op["CONV_2D"]) == [8 * 8 * 4 * 1 * 1 * 3, 8 * 8 * 4 * 3 * 3 * 3]
    assert by_op["DEPTHWISE_CONV_2D"] == [8 * 8 * 4 * 3 * 3]
    assert by_op["FULLY_CONNECTED"] == [256 * 5]
    # Peak: at least the int8 input plus one 8x8x4 activation live together.
    assert 8 * 8 * 3 + 8 * 8 * 4 <= profile["peak_activation_bytes"] <= 8 * 8 * (3 + 4 * 4)


def test_accelerator_report_lists_every_op(tiny):
    accel, markdown = accelerator_report(tiny[1], "tiny_net")
    assert accel["total"] == sum(o["count"] for o in accel["ops"])
    assert "| SOFTMAX | 1 | CPU |" in markdown and "| CONV_2D | 2 | accelerator |" in markdown


def test_deploy_and_zoo_report_have_no_empty_cells(tiny, tmp_path):
    from common.evaluation.report import tflite_summary
    from common.pipeline.evaluate import save_golden_inputs

    model, tflite, calib = tiny
    out = tmp_path / "build" / "resnet_cifar"
    out.mkdir(parents=True)
    save_golden_inputs([calib[:16]], out / "golden_inputs.npz")
    keras_path = tmp_path / "tiny.keras"
    model.save(keras_path)
    result = deploy(tflite, "resnet_cifar", out / "kit", golden=out / "golden_inputs.npz", float_model=keras_path,
                    latency_runs=5)
    assert result["profile"]["params"] == model.count_params()
    score = {"value": 0.5, "low": 0.4, "high": 0.6, "n": 64}
    report = {"metric": "top1", "n_eval": 64, "metric_float": 0.5, "metric_int8": 0.5, "metric_int8_litert": 0.5,
              "scores": {"int8": score, "float": score, "int8_litert": score},
              "references": {"ref": {"title": "ref", "score": score, "ours_vs_it": {"verdict": "within noise"}}},
              **tflite_summary(tflite)}
    (out / "report.json").write_text(json.dumps(report))
    md = build_report(tmp_path / "build", tmp_path / "build" / "REPORT.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| resnet_cifar"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert len(cells) == len(COLUMNS) + 1 and all(c and c != "n/a" for c in cells)


def _deploy_cli(tmp_path, *args):
    import os
    import sys

    return subprocess.run([sys.executable, "-m", "common.deploy.kit", *args], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(__file__)))


def test_deploy_refuses_bad_input_before_writing_anything(tiny, tmp_path):
    """Junk instead of a .tflite, golden inputs of another model, --golden-n/--latency-runs < 1:
    one error line, exit 2, and the output folder stays empty."""
    model, tflite, calib = tiny
    junk = tmp_path / "x.tflite"
    junk.write_bytes(b"not a flatbuffer at all" * 10)
    other = tmp_path / "other_golden.npz"
    np.savez(other, input_0=np.zeros((4, 32, 32, 3), np.float32))
    good = tmp_path / "golden.npz"
    np.savez(good, input_0=calib[:4])
    cases = [
        ["--tflite", str(junk), "--name", "x"],
        ["--tflite", str(tflite), "--name", "x", "--golden", str(other)],
        ["--tflite", str(tflite), "--name", "x", "--golden", str(good), "--golden-n", "-1"],
        ["--tflite", str(tflite), "--name", "x", "--latency-runs", "0"],
    ]
    for k, args in enumerate(cases):
        out = tmp_path / f"kit{k}"
        run = _deploy_cli(tmp_path, *args, "--out", str(out))
        assert run.returncode == 2, (args, run.stderr)
        assert run.stderr.strip().count("\n") == 0 and "error" in run.stderr and "Traceback" not in run.stderr
        assert not out.exists() or not list(out.iterdir()), args


def test_deploy_kit_is_all_or_nothing(tiny, tmp_path, monkeypatch):
    import common.deploy.kit as deploy_module

    model, tflite, calib = tiny
    good = tmp_path / "golden.npz"
    np.savez(good, input_0=calib[:4])
    out = tmp_path / "kit"

    def broken(*_args, **_kwargs):
        raise RuntimeError("killed while profiling")

    monkeypatch.setattr("common.deploy.profile.tflm_invoke_ms", broken)
    with pytest.raises(RuntimeError):
        deploy_module.deploy(tflite, "tiny", out, golden=good, latency_runs=2)
    assert not out.exists() or not list(out.iterdir())  # no C array without its profile
    monkeypatch.undo()
    deploy_module.deploy(tflite, "tiny", out, golden=good, latency_runs=2, golden_n=3)
    names = {p.name for p in out.iterdir()}
    assert {"tiny_model_data.cc", "tiny_model_data.h", "profile.json", "accelerator.md", "accelerator.json",
            "quant_tiny_input.h", "quant_tiny_output.h", "golden_input.npy", "golden_output.npy"} == names
    assert len(np.load(out / "golden_input.npy")) == 3
