"""The zoo-wide report: `build/REPORT.md` from each model's report.json, kit/profile.json and plots.

    python -m common.pipeline.zoo_report --build build --out build/REPORT.md
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from common.atomic import atomic_path
from common.cli import ArgumentParser, output_file
from common.errors import RecipeError
from common.evaluation.formats import score_text, verdict_text
from common.pipeline.recipe import load_recipe

COLUMNS = ("application", "model", "input size", "dataset", "quality target", "metric", "n", "float", "int8 (TFLM)",
           "reference file (TFLM), same items", "ours vs reference", "int8 (LiteRT x86)", "size (bytes)", "MACs",
           "TFLM arena (bytes)", "accelerator ops", "LiteRT latency (ms)", "TFLM invoke (ms)")


def _fmt(value, spec: str = "") -> str:
    if value is None or value == "":
        return "n/a"
    return format(value, spec) if spec else str(value)


# An absolute POSIX or Windows path inside a text (up to the next space, quote, parenthesis or comma).
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/|[A-Za-z]:[\\/])[^\s,;()'\"`|]*")


def strip_paths(text: str) -> str:
    """`text` with every absolute path replaced by its last component (the report is shared: it
    must not show where a file lay on the building machine)."""
    return _ABSOLUTE_PATH.sub(lambda m: re.split(r"[\\/]", m.group(0).rstrip("/\\"))[-1] or m.group(0), text)


def metric_cell(report: dict) -> str:
    """The metric's name, plus each metric that could not be measured meaningfully and why."""
    text = str(report.get("metric", "n/a"))
    for item in report.get("not_measured", []):
        text += f"; {item['metric']}: n/a ({item['reason']})"
    return strip_paths(text)


def _recipe_columns(name: str, report: dict) -> tuple[list[str], str]:
    """The description columns: the recipe's, or a converted or custom model's own card (`common.convert`,
    `common.custom`)."""
    card = report.get("card")
    if card:
        fmt = "pct" if report.get("scores") else "f4"
        return [card["application"], card["model"], card["input"], card["dataset"], card["quality target"]], fmt
    try:
        recipe = load_recipe(name)
    except RecipeError:
        return [name, name, "?", "?", "?"], "f4"
    return ([recipe.task, recipe.architecture, "x".join(map(str, recipe.input_shape)), recipe.dataset,
             recipe.quality_target], recipe.metric.format)


def model_row(name: str, build: Path) -> list[str]:
    report = json.loads((build / name / "report.json").read_text())
    profile_path = build / name / "kit" / "profile.json"
    profile = json.loads(profile_path.read_text()) if profile_path.is_file() else {}
    accel = report.get("accelerated_op_fraction")
    columns, fmt = _recipe_columns(name, report)
    scores, references = report.get("scores", {}), report.get("references", {})
    ref_cells = [f"{row.get('title', label)}: {score_text(row.get('score'), fmt)}" for label, row in references.items()]
    verdicts = [verdict_text(row.get("ours_vs_it")) for row in references.values()]
    size = _fmt(report.get("size_bytes"), ",")
    if report.get("max_tflite_bytes"):
        size += f" (≤ {report['max_tflite_bytes']:,})"
    return [
        *columns,
        metric_cell(report), _fmt(report.get("n_eval")), score_text(scores.get("float"), fmt),
        score_text(scores.get("int8"), fmt), "; ".join(ref_cells) or "n/a", "; ".join(verdicts) or "n/a",
        score_text(scores.get("int8_litert"), fmt), size, _fmt(profile.get("macs"), ","),
        _fmt(profile.get("tflm_arena_bytes"), ","),
        f"{accel:.0%}" if isinstance(accel, float) else "n/a",
        _fmt(profile.get("latency_ms"), ".3f"), _fmt(profile.get("tflm_invoke_ms"), ".3f"),
    ]


def resources_section(build: Path, models: list[str]) -> list[str]:
    """The accelerator's FPGA resources for each generated configuration (the GUI's estimate, written
    by the Efinix step as resources.json; the last row is the total), and the multi-core design."""
    from common.deploy.resources import COLUMNS

    found = [(name, build / name / "efinix" / "resources.json") for name in models]
    found.append(("multi-core design", build / "efinix_multicore" / "resources.json"))
    rows = []
    for name, path in found:
        try:
            total = json.loads(path.read_text())[-1]
        except (OSError, ValueError, IndexError):
            continue
        rows.append(f"| [{name}]({os.path.relpath(path.with_suffix('.md'), build)}) | "
                    + " | ".join(f"{total[c]:,}" for c in COLUMNS) + " |")
    if not rows:
        return []
    return ["", "### Efinix accelerator resources (estimate)", "",
            "The Efinix TinyML Generator's estimate for the configuration written (its formulas, before "
            "synthesis: not measured on an FPGA); per-module rows in each resources.md.", "",
            "| design | LUTs | FFs | ADDs | RAM blocks | DSP blocks |", "|---|---|---|---|---|---|", *rows]


def generator_section(build: Path, models: list[str]) -> list[str]:
    """The Efinix TinyML Generator configuration of each model (`make <model>.efinix`), if built."""
    from common.deploy.efinix_generator import ANALYZER_MODE_KEYS, read_defines

    rows = []
    for name in models:
        for define in sorted((build / name / "efinix").glob("tinyml_core*_define.v")):
            d = read_defines(define)
            modes = " ".join(f"{m}={str(d.get(m + '_MODE', '?'))[:3]}" for m in ANALYZER_MODE_KEYS)
            rows.append(f"| {name} | {define.name} | {modes} | {d.get('CONV_DEPTHW_STD_OUT_CH_FIFO_A')} / "
                        f"{d.get('CONV_DEPTHW_STD_FILTER_FIFO_A')} / {d.get('CONV_DEPTHW_STD_CNT_DTH')} | "
                        f"{d.get('FC_MAX_IN_NODE')} / {d.get('FC_MAX_OUT_NODE')} | {d.get('TINYML_CACHE')} "
                        f"{d.get('CACHE_DEPTH')} | {d.get('AXI_DW')} |")
    if not rows:
        return ["", "Efinix TinyML Generator configuration: not generated (`make <model>.efinix` with EFINIX_TFLITE_BIN)."]
    return ["", "### Efinix TinyML Generator configuration", "",
            "From `build/<model>/efinix/` (`make <model>.efinix`); modes STA(NDARD)/LIT(E)/DIS(ABLE).", "",
            "| model | file | modes | out-ch FIFO / filter FIFO / count depth | FC in / out nodes | cache | AXI_DW |",
            "|---|---|---|---|---|---|---|", *rows]


def converted_models(build: Path) -> list[str]:
    """The models `common.convert` or `common.custom` built into `build` (their report.json says so), sorted."""
    found = []
    for path in sorted(build.glob("*/report.json")):
        try:
            report = json.loads(path.read_text())
            if report.get("converted") or report.get("custom"):
                found.append(path.parent.name)
        except (OSError, ValueError):
            continue
    return found


def build_report(build: str | os.PathLike, out: str | os.PathLike, models: list[str] | None = None) -> Path:
    build, out = Path(build), Path(out)
    models = list(models or sorted(p.parent.name for p in build.glob("*/report.json")))
    models += [name for name in converted_models(build) if name not in models]
    lines = ["# TinyML Model Zoo — measured report", "",
             "Every number is read from `build/<model>/report.json` (float Keras, the shipped int8 `.tflite` and the "
             "reference files on the same preprocessed items, none of which calibrated ours) and `profile.json`. "
             "**int8 (TFLM)** is computed by TensorFlow Lite Micro, the target's runtime (the same on every CPU); "
             "int8 (LiteRT x86) by LiteRT's optimized kernels on the building machine (secondary: their int8 rounding "
             "differs per CPU). Every score is given with its 95% interval over the n scored items (Wilson for an "
             "accuracy, a seeded bootstrap over the items otherwise), and **ours vs reference** is a paired test on "
             "the same items (McNemar's exact test for an accuracy, a paired bootstrap otherwise): *better*, *worse*, "
             "or *within noise* when the test cannot tell them apart. TFLM arena is the smallest tensor arena TFLM "
             "allocates the file in; latency and invoke time are medians on this CPU.",
             "", "| " + " | ".join(["name", *COLUMNS]) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    missing = []
    for name in models:
        if not (build / name / "report.json").is_file():
            missing.append(name)
            continue
        lines.append("| " + " | ".join([name, *(c.replace("|", "\\|") for c in model_row(name, build))]) + " |")
    if missing:
        lines += ["", f"Not built: {', '.join(missing)} (run `make <model>.tflite`)."]
    lines += ["", "## Plots", ""]
    for name in models:
        pngs = sorted((build / name).glob("*.png"))
        if pngs:
            lines.append(f"### {name}")
            lines += [f"![{p.stem}]({os.path.relpath(p, out.parent)})" for p in pngs]
            lines.append("")
    lines += ["## Accelerator coverage", ""]
    for name in models:
        md = build / name / "kit" / "accelerator.md"
        if md.is_file():
            lines.append(f"- [{name}]({os.path.relpath(md, out.parent)})")
    lines += generator_section(build, models)
    lines += resources_section(build, models)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="build/REPORT.md", type=output_file)
    parser.add_argument("models", nargs="*", help="model names (default: every build/<model>/report.json)")
    args = parser.parse_args(argv)
    print(f"wrote {build_report(args.build, args.out, args.models or None)}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
