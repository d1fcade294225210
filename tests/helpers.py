"""What the tests of every model and of common/ share: where ../shared is, the checks every
end-to-end build goes through (deploy kit, README numbers, Efinix generator output)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from common.deploy import efinix_generator as gen

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", REPO.parent / "shared")).resolve()
LINE = re.compile(r'`define TML_C(\d+)_([A-Z_]+)\t("[A-Z]+"|\d+)')


def require_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs real data at {path} (the ../shared folder beside the checkout), absent here")
    return path


def check_deploy_kit(build: Path, name: str) -> dict:
    """What `make <name>.cc` wrote holds on the target: every golden sample reproduces its golden
    output bit for bit under TensorFlow Lite Micro, the measured TFLM arena is enough to run the file,
    every FULLY_CONNECTED has one weight scale and the file passes the Efinix rules."""
    import json

    import numpy as np

    from common.graph.efinix import efinix_violations
    from common.graph.tflite import op_names, read_graph
    from common.graph.runners import TFLMRunner

    tflite = build / name / "model.tflite"
    out = build / name / "kit"
    profile = json.loads((out / "profile.json").read_text())
    runner = TFLMRunner(tflite, arena_size=profile["tflm_arena_bytes"])
    suffixes = [""] if (out / "golden_input.npy").is_file() else [f"_{k}" for k in range(len(runner.inputs))]
    inputs = [np.load(out / f"golden_input{s}.npy") for s in suffixes]
    outputs = [np.load(out / f"golden_output{s}.npy") for s in
               ([""] if (out / "golden_output.npy").is_file() else [f"_{k}" for k in range(len(runner.outputs))])]
    n = len(inputs[0])
    exact = sum(all(np.array_equal(a, b[i : i + 1]) for a, b in zip(runner.run_quantized([x[i : i + 1] for x in inputs]), outputs))
                for i in range(n))
    graph = read_graph(tflite).subgraphs[0]
    fc_scales = [len(graph.tensors[op.inputs[1]].quantization.scale)
                 for op, op_name in zip(graph.operators, op_names(tflite)) if op_name == "FULLY_CONNECTED"]
    assert n == 8 and exact == n, f"{name}: {exact}/{n} golden samples bit-exact under TFLM"
    assert all(s == 1 for s in fc_scales), f"{name}: FULLY_CONNECTED weight scales {fc_scales}"
    assert efinix_violations(tflite) == []
    assert f"quant_{name}_output.h" in {p.name for p in out.iterdir()}
    result = {"golden_exact": exact, "n": n, "fc_scales": fc_scales, "tflm_arena_bytes": profile["tflm_arena_bytes"]}
    if (SHARED / "efinix_tinyml_generator" / "bin" / "tflite").is_file():  # the Efinix generator on this build
        result["efinix_modes"] = check_our_model(tflite, name, build / name / "efinix_check")
    return result


def make_and_check(repo: Path, build: Path, name: str, env: dict | None = None) -> dict:
    """`make <name>.cc` into `build`, then what every fresh build must hold: the deployment kit on the
    target (`check_deploy_kit`), the README's numbers (`check_readme_numbers`), a report that lists
    what it skipped. Returns report.json."""
    import json
    import subprocess

    from common.pipeline.recipe import load_recipe

    run = subprocess.run(["make", f"BUILD={build}", f"{name}.cc"], cwd=repo, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    check_deploy_kit(build, name)
    check_readme_numbers(build, name)
    report = json.loads((build / name / "report.json").read_text())
    assert isinstance(report["skipped_files"], list)  # every report lists what was skipped
    budget = load_recipe(name).max_tflite_bytes
    assert budget is None or report["size_bytes"] == (build / name / "model.tflite").stat().st_size <= budget
    return report


def check_readme_numbers(build: Path, name: str) -> None:
    """The measured numbers marked in models/<name>/README.md are the ones this fresh build gives
    (`python -m common.pipeline.readme_numbers --build <build> --write` regenerates them)."""
    from common.pipeline.readme_numbers import check

    drift = check(name, build)
    assert not drift, "README numbers drifted from a fresh build:\n" + "\n".join(drift)


def analyzer() -> Path:
    return require_shared("efinix_tinyml_generator", "bin", "tflite")


def example_defines() -> list[Path]:
    return sorted(require_shared("efinix_tinyml_generator", "example_defines").glob("*.v"))


def example_keys(path: Path) -> list[str]:
    return [re.match(r"`define TML_C0_(\w+)", line).group(1) for line in path.read_text().splitlines()]


def c_array_bytes(source: Path) -> bytes:
    body = source.read_text().split("{", 1)[1].split("}", 1)[0]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def check_define_file(path: Path, analysis: dict[str, int], options: gen.GeneratorOptions) -> dict:
    """Format of example_defines (order, tabs, quoting) and the GUI's rules against `analysis`."""
    lines = path.read_text().splitlines()
    assert path.read_text().endswith("\n")
    for line in lines:
        m = LINE.fullmatch(line)
        assert m, f"malformed line {line!r}"
        assert int(m.group(1)) == options.core
    keys = [LINE.fullmatch(line).group(2) for line in lines]
    for example in example_defines():
        assert keys == example_keys(example), f"key order differs from {example.name}"
    values = gen.read_defines(path)
    for name, key in gen.ANALYZER_MODE_KEYS.items():
        expected = options.modes.get(name, "STANDARD" if analysis[key] else "DISABLE")
        assert values[f"{name}_MODE"] == expected, name
    for key in ("conv_depthw_std_out_ch_fifo_a", "conv_depthw_std_filter_fifo_a", "conv_depthw_std_cnt_dth",
                "fc_max_in_node", "fc_max_out_node"):
        assert values[key.upper()] == analysis[key]
    depth = values["CACHE_DEPTH"]
    assert 512 <= depth <= 16384 and depth & (depth - 1) == 0
    if 512 <= analysis["cache_depth"] <= 16384:
        assert depth / 2 ** 0.5 <= analysis["cache_depth"] <= depth * 2 ** 0.5  # nearest power of two
    assert values["AXI_DW"] == options.axi_dw
    assert values["CONV_DEPTHW_STD_IN_PARALLEL"] == options.in_parallel
    assert values["CONV_DEPTHW_STD_OUT_PARALLEL"] == options.out_parallel
    assert "RESHAPE_MODE" not in values and "RS_MODE" in values
    return values


def check_our_model(tflite: Path, model: str, out: Path) -> dict:
    """The generator output for one of our files: format and rules against the analyzer, the same
    accelerator modes as the Efinix reference file or a module it needs disabled (mobilenet_vww's FC
    aside: the reference ends in a 1x1 CONV_2D), and the C array holds the file's bytes. Called by
    every end-to-end test."""
    options = gen.GeneratorOptions()
    gen.generate(tflite, out, model, analyzer(), options)
    ours = check_define_file(out / "tinyml_core0_define.v", gen.run_analyzer(analyzer(), tflite, options), options)
    from common.pipeline.recipe import load_recipe
    from common.pipeline.references import fetch_file

    recipe = load_recipe(model)
    efinix = fetch_file(recipe, recipe.efinix_reference)
    reference = dict(gen.configure(gen.run_analyzer(analyzer(), efinix, options), options))
    # a module the reference needs and ours does not (face_detection: no RESHAPE, no RS module) costs no LUTs
    differs = {k for k in ours if k.endswith("_MODE") and ours[k] != reference[k] and ours[k].strip('"') != "DISABLE"}
    assert differs <= ({"FC_MODE"} if model == "mobilenet_vww" else set()), differs
    assert c_array_bytes(out / f"{model}_model_data.cc") == tflite.read_bytes()
    return ours
