"""The Efinix TinyML Generator's resource estimate, headless (`common.deploy.resources`), checked row
by row against Efinix's own estimator (`../shared/efinix_tinyml_generator/resource_lib.py`, driven the
way the GUI's `res_utilization` drives it) on the shipped define files and a grid of configurations;
and the generator writing the estimate, for one core and for up to four."""
from __future__ import annotations

import importlib.util
import itertools
import json
import os
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from common.deploy import efinix_generator as gen
from common.deploy import resources
from common.errors import GeneratorError
from tests.helpers import SHARED, REPO, analyzer, example_defines, require_shared

# The GUI's params keys of the accelerators, in its table order (the define files say RS_MODE).
GUI_MODULES = ("CONV_DEPTHW_MODE", "ADD_MODE", "LR_MODE", "FC_MODE", "MUL_MODE", "MIN_MAX_MODE", "RESHAPE_MODE",
               "TINYML_CACHE")


def oracle_module():
    path = require_shared("efinix_tinyml_generator", "resource_lib.py")
    spec = importlib.util.spec_from_file_location("efinix_resource_lib", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oracle():
    return oracle_module()


def oracle_table(lib, defines: dict) -> list[dict]:
    """Efinix's estimate as the GUI computes it (tinyml_generator.py:res_utilization): its params
    `p2` is one flat dict {NAME: {'val': value, ...}} (children of the tree included), AXI_DW and
    CACHE_DEPTH as the combo-box strings; every 'res' entry that is not DISABLE is priced with
    `evaluate_res(NAME, mode)` in table order, then `evaluate_common_module(modes)` (False: no row)."""
    values = {("RESHAPE_MODE" if k == "RS_MODE" else k): v for k, v in defines.items()}
    p2 = {k: {"val": str(v) if k in ("AXI_DW", "CACHE_DEPTH") else v} for k, v in values.items()}
    for key in GUI_MODULES:
        p2[key]["res"] = True
    util = lib.ResourceUtil()
    util.initialize_param(p2)
    rows, modes, total = [], [], [0] * 5
    for key in p2:
        if "res" not in p2[key] or p2[key]["val"] == "DISABLE":
            continue
        modes.append(p2[key]["val"])
        res = util.evaluate_res(key, p2[key]["val"])
        total = [t + r for t, r in zip(total, res)]
        rows.append({"module": key.replace("_MODE", ""), **dict(zip(resources.COLUMNS, res))})
    common = util.evaluate_common_module(modes)
    if common:
        total = [t + r for t, r in zip(total, common)]
        rows.append({"module": "COMMON", **dict(zip(resources.COLUMNS, common))})
    return rows + [{"module": "TINYML_ACCELERATOR", **dict(zip(resources.COLUMNS, total))}]


def ordered(defines: dict) -> dict:
    """The define entries in the GUI's params order (AXI_DW, then each module with its children)."""
    order = [name for name, _ in gen.configure(dict.fromkeys(gen.ANALYZER_KEYS, 1), gen.GeneratorOptions())]
    return {k: defines[k] for k in order}


# --- Task A: the estimate against Efinix's estimator --------------------------------------------------

def test_shipped_define_files_match_efinix_and_span_the_readme_totals(oracle):
    totals = {}
    for path in example_defines():
        defines = gen.read_defines(path)
        table = resources.estimate(defines)
        assert table == oracle_table(oracle, ordered(defines)), path.name
        assert [r["module"] for r in table][-1] == "TINYML_ACCELERATOR"
        totals[path.name] = tuple(table[-1][c] for c in resources.COLUMNS)
    assert min(totals.values()) == (14106, 9143, 2472, 59, 12)  # ../shared/efinix_tinyml_generator/README.md
    assert max(totals.values()) == (61505, 46147, 20370, 406, 175)
    assert totals["Ti180J484_mediapipe_face_landmark_demo.tinyml_core0_define.v"] == (61505, 46147, 20370, 406, 175)


def _grid(seed: int):
    """Every mode combination (RESHAPE LITE included: Efinix prices it at 0) at every AXI width, each
    with parameters drawn from edge values: parallelism 1..AXI_DW/8, FIFO depths 0/1/512/513/..., FC
    nodes, cache depths 512..16384 and a few that are not powers of two."""
    rng = random.Random(seed)
    choices = [resources.MODES[m] for m in resources.MODULES]
    depths = [0, 1, 2, 64, 224, 375, 511, 512, 513, 1024, 1404, 2049, 5000, 70000]
    for axi_dw, modes in itertools.product(resources.WIDTHS, itertools.product(*choices)):
        fc_lite = modes[3] == "LITE"
        yield {
            "AXI_DW": axi_dw,
            "CONV_DEPTHW_MODE": modes[0],
            "CONV_DEPTHW_STD_IN_PARALLEL": rng.choice([1, 2, 3, rng.randint(1, axi_dw // 8), axi_dw // 8]),
            "CONV_DEPTHW_STD_OUT_PARALLEL": rng.choice([1, 4, rng.randint(1, 128), 128]),
            "CONV_DEPTHW_STD_OUT_CH_FIFO_A": rng.choice(depths),
            "CONV_DEPTHW_STD_FILTER_FIFO_A": rng.choice(depths),
            "CONV_DEPTHW_STD_CNT_DTH": rng.choice(depths),
            "CONV_DEPTHW_LITE_PARALLEL": rng.choice([1, 4, rng.randint(1, 128)]),
            "CONV_DEPTHW_LITE_AW": rng.choice([0, 7, 9, 10, 12]),
            "ADD_MODE": modes[1], "LR_MODE": modes[2], "FC_MODE": modes[3],
            "FC_MAX_IN_NODE": rng.choice([1, 8, 9, 64, 640, 4097, 100000] + ([] if fc_lite else [0])),
            "FC_MAX_OUT_NODE": rng.choice([0, 12, 640]),
            "MUL_MODE": modes[4], "MIN_MAX_MODE": modes[5], "RS_MODE": modes[6],
            "TINYML_CACHE": modes[7],
            "CACHE_DEPTH": rng.choice([512, 1024, 2048, 4096, 8192, 16384, 1000, 3000, 1]),
        }


def test_every_mode_combination_at_every_width_matches_efinix(oracle):
    n, mismatches = 0, []
    for defines in _grid(seed=7):
        n += 1
        ours, theirs = resources.estimate(defines), oracle_table(oracle, ordered(defines))
        if ours != theirs:
            mismatches.append((defines, ours, theirs))
    assert n == 5 * 3 ** 6 * 2 * 2 and not mismatches, mismatches[:1]


@pytest.mark.parametrize("axi_dw", resources.WIDTHS)
@pytest.mark.parametrize("cache_depth", [512, 1024, 2048, 4096, 8192, 16384])
def test_parallelism_and_cache_depth_sweep_matches_efinix(oracle, axi_dw, cache_depth):
    base = dict(gen.configure({**dict.fromkeys(gen.ANALYZER_KEYS, 1), "conv_depthw_std_out_ch_fifo_a": 1404,
                               "conv_depthw_std_filter_fifo_a": 144, "fc_max_in_node": 640,
                               "cache_depth": cache_depth}, gen.GeneratorOptions(axi_dw=axi_dw, in_parallel=1)))
    for n_in in sorted({1, 2, 3, 8, axi_dw // 8}):
        for n_out in (1, 2, 4, 8, 16, 64, 128):
            defines = {**base, "CONV_DEPTHW_STD_IN_PARALLEL": n_in, "CONV_DEPTHW_STD_OUT_PARALLEL": n_out}
            assert resources.estimate(defines) == oracle_table(oracle, ordered(defines)), (n_in, n_out)


def test_configure_output_prices_without_error(oracle):
    """What the generator writes is always priceable, the GUI's cache rule included (LITE only: no
    cache, no COMMON); a LITE FC without FC nodes (the GUI fails there) takes one address bit."""
    analysis = {**dict.fromkeys(gen.ANALYZER_KEYS, 1), "fc_max_in_node": 0, "cache_depth": 700}
    lite = dict(gen.configure(analysis, gen.GeneratorOptions(modes={
        "CONV_DEPTHW": "LITE", "ADD": "LITE", "LR": "DISABLE", "FC": "LITE", "MUL": "LITE", "MIN_MAX": "LITE",
        "RS": "DISABLE"})))
    table = resources.estimate(lite)
    assert [r["module"] for r in table] == ["CONV_DEPTHW", "ADD", "FC", "MUL", "MIN_MAX", "TINYML_ACCELERATOR"]
    assert table[2] == resources.estimate({**lite, "FC_MAX_IN_NODE": 8})[2]
    with pytest.raises(ValueError):  # Efinix's estimator: math domain error
        oracle_table(oracle, ordered(lite))


def test_gui_written_reshape_key_and_bad_defines_are_one_line_errors():
    defines = gen.read_defines(example_defines()[0])
    gui = {("RESHAPE_MODE" if k == "RS_MODE" else k): v for k, v in defines.items()}
    assert resources.estimate(gui) == resources.estimate(defines)
    for bad, match in [({"AXI_DW": 100}, "AXI_DW 100"), ({"LR_MODE": "LITE"}, "LR_MODE is 'LITE'"),
                       ({"TINYML_CACHE": "STANDARD"}, "TINYML_CACHE"), ({"CACHE_DEPTH": "4096"}, "not an integer"),
                       ({"CONV_DEPTHW_STD_IN_PARALLEL": 0}, "below 1")]:
        with pytest.raises(GeneratorError, match=match):
            resources.estimate({**defines, **bad, "TINYML_CACHE": bad.get("TINYML_CACHE", "ENABLE"),
                                "CONV_DEPTHW_MODE": "STANDARD"})
    with pytest.raises(GeneratorError, match="lack ADD_MODE"):
        resources.estimate({k: v for k, v in defines.items() if k != "ADD_MODE"})


def test_sum_cores_and_markdown():
    tables = [resources.estimate(gen.read_defines(p)) for p in example_defines()[:3]]
    summed = resources.sum_cores(tables)
    assert summed[: len(tables[0])][0]["module"] == f"core0.{tables[0][0]['module']}"
    assert [r["module"] for r in summed].count("TINYML_ACCELERATOR") == 1
    assert summed[-1] == {"module": "TINYML_ACCELERATOR",
                          **{c: sum(t[-1][c] for t in tables) for c in resources.COLUMNS}}
    assert len(summed) == sum(map(len, tables)) + 1
    text = resources.markdown(summed)
    assert text.count("\n") == len(summed) + 2 and text.count("**TINYML_ACCELERATOR**") == 1
    assert text.count("**core2.TINYML_ACCELERATOR**") == 1
    with pytest.raises(GeneratorError):
        resources.sum_cores([])


# --- Task B: the generator writes the estimate; several cores in one folder ---------------------------

def efinix_file(name: str) -> Path:
    return require_shared("pretrained", "efinix", f"{name}.tflite")


def test_generate_writes_the_estimate_of_its_define_file(tmp_path):
    tflite = efinix_file("yolo_person_detect")
    options = gen.GeneratorOptions(axi_dw=256, modes={"MUL": "LITE"})
    paths = gen.generate(tflite, tmp_path / "out", "yolo", analyzer(), options)
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir()} == {"tinyml_core0_define.v", "yolo_model_data.cc", "yolo_model_data.h",
                                               "resources.json", "resources.md"}
    assert paths[:3] == [out / "tinyml_core0_define.v", out / "yolo_model_data.cc", out / "yolo_model_data.h"]
    table = json.loads((out / "resources.json").read_text())
    assert table == resources.estimate(gen.read_defines(out / "tinyml_core0_define.v"))
    assert resources.markdown(table) in (out / "resources.md").read_text()
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    os.utime(out / "resources.json", ns=(1, 1))  # an old time that stays if nothing changed
    gen.generate(tflite, out, "yolo", analyzer(), options)
    assert (out / "resources.json").stat().st_mtime_ns == 1
    assert all(p.stat().st_mtime_ns == before[p.name] for p in out.iterdir() if p.name != "resources.json")
    gen.generate(tflite, out, "yolo", analyzer(), replace(options, axi_dw=128))
    assert (out / "resources.json").stat().st_mtime_ns != 1
    assert json.loads((out / "resources.json").read_text()) != table


def test_four_cores_in_one_folder_sum_the_single_core_tables(tmp_path):
    """The Ti375 demo's shape: four cores, one model on two of them (kws twice), one folder per core
    as the GUI writes them (`<model>_core<i>/`), the summed estimate beside them."""
    yolo, kws = efinix_file("yolo_person_detect"), efinix_file("ds_cnn_kws")
    models = [("yolo_a", yolo), ("kws", kws), ("yolo_b", yolo), ("kws", kws)]
    options = gen.GeneratorOptions(axi_dw=128, in_parallel=8, out_parallel=4)
    out = tmp_path / "multi"
    paths = gen.generate_multicore(models, out, analyzer(), options)
    folders = [f"{name}_core{core}" for core, (name, _) in enumerate(models)]
    assert sorted(p.name for p in out.iterdir()) == sorted([*folders, "resources.json", "resources.md"])
    assert {p.relative_to(out).as_posix() for p in paths} == {
        *(f"{f}/tinyml_core{i}_define.v" for i, f in enumerate(folders)),
        *(f"{f}/{n}_model_data.{e}" for f, (n, _) in zip(folders, models) for e in ("cc", "h")),
        "resources.json", "resources.md"}
    singles = []
    for core, (name, tflite) in enumerate(models):
        define = out / folders[core] / f"tinyml_core{core}_define.v"
        lines = define.read_text().splitlines()
        assert len(lines) == 19 and all(line.startswith(f"`define TML_C{core}_") for line in lines)
        single = tmp_path / f"single{core}"
        gen.generate(tflite, single, name, analyzer(), replace(options, core=core))
        assert (single / f"tinyml_core{core}_define.v").read_bytes() == define.read_bytes()
        assert (single / f"{name}_model_data.cc").read_bytes() == (out / folders[core] / f"{name}_model_data.cc").read_bytes()
        singles.append(json.loads((single / "resources.json").read_text()))
    summed = json.loads((out / "resources.json").read_text())
    assert summed == resources.sum_cores(singles)
    assert summed[-1] == {"module": "TINYML_ACCELERATOR",
                          **{c: sum(t[-1][c] for t in singles) for c in resources.COLUMNS}}
    assert singles[0] == singles[2] and singles[1] == singles[3] and singles[0] != singles[1]
    assert resources.markdown(summed) in (out / "resources.md").read_text()
    gen.generate_multicore(models[:2], out, analyzer(), options)  # replaced whole: no core 2/3 left
    assert sorted(p.name for p in out.iterdir()) == sorted([*folders[:2], "resources.json", "resources.md"])


@pytest.mark.parametrize("names, match", [([], "1 to 4 models"), (["a", "b", "c", "d", "e"], "1 to 4 models"),
                                          (["a-b", "a_b"], "same C symbol")])
def test_multicore_refuses_bad_model_lists_writing_nothing(names, match, tmp_path):
    tflite = tmp_path / "m.tflite"
    tflite.write_bytes(b"x")
    models = [(n, tflite) for n in names]
    with pytest.raises(GeneratorError, match=match):
        gen.generate_multicore(models, tmp_path / "out", "/nonexistent/analyzer", gen.GeneratorOptions())
    assert not (tmp_path / "out").exists()


def test_one_name_for_two_different_files_is_refused(tmp_path):
    a, b = tmp_path / "a.tflite", tmp_path / "b.tflite"
    a.write_bytes(b"x")
    b.write_bytes(b"y")
    with pytest.raises(GeneratorError, match="same C symbol"):
        gen.generate_multicore([("m", a), ("m", b)], tmp_path / "out", "/nonexistent/analyzer", gen.GeneratorOptions())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "common.deploy.efinix_generator", *args], capture_output=True,
                          text=True, cwd=REPO, env={**os.environ, gen.ANALYZER_ENV: str(SHARED / "efinix_tinyml_generator" / "bin" / "tflite")})


def test_multicore_cli(tmp_path):
    yolo, kws = efinix_file("yolo_person_detect"), efinix_file("ds_cnn_kws")
    analyzer()
    out = tmp_path / "multi"
    result = run_cli("--multicore", f"yolo={yolo}", f"kws={kws}", "--out", str(out), "--axi-dw", "64")
    assert result.returncode == 0, result.stderr
    assert gen.read_defines(out / "kws_core1" / "tinyml_core1_define.v")["AXI_DW"] == 64
    assert json.loads((out / "resources.json").read_text())[-1]["module"] == "TINYML_ACCELERATOR"
    for args, match in [(["--multicore", f"a={yolo}", f"a={kws}"], "same C symbol"),
                        (["--multicore", *(f"m{i}={kws}" for i in range(5))], "1 to 4 models"),
                        (["--multicore", f"a={yolo}", "--core", "1"], "--core"),
                        (["--multicore", f"a={yolo}", "--tflite", str(yolo)], "not allowed with"),
                        (["--multicore", "=x.tflite"], "NAME=TFLITE")]:
        bad = run_cli(*args, "--out", str(tmp_path / "bad"))
        assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, bad.stderr
        assert match in bad.stderr, bad.stderr
        assert not (tmp_path / "bad").exists()
    assert "--multicore" in run_cli("--help").stdout
