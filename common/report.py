"""The zoo-wide report: `build/REPORT.md` from each model's report.json, profile.json and plots.

    python -m common.report --build build --out build/REPORT.md
"""
from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

from common.atomic import atomic_path


@dataclass(frozen=True)
class ModelCard:
    application: str
    model: str
    input_size: str
    dataset: str
    quality_target: str


# The seed's table: what each model is and the quality it has to reach.
CARDS: dict[str, ModelCard] = {
    "resnet_cifar": ModelCard("Image classification", "ResNet-8 (MLPerf Tiny)", "32x32x3", "CIFAR-10",
                              "top-1 ≥ 87.4% (reference int8 87.47%)"),
    "dscnn_kws": ModelCard("Keyword spotting", "DS-CNN small (MLPerf Tiny)", "49x10x1 MFCC", "Speech Commands v0.02",
                           "top-1 ≥ 92.4% (reference int8 92.47%)"),
    "autoencoder": ModelCard("Anomaly detection", "FC AutoEncoder (MLPerf Tiny)", "640 log-mel", "ToyADMOS ToyCar",
                             "AUC 0.842 int8 (MLPerf, full set); int8 scores within 5% of float"),
    "mobilenet_vww": ModelCard("Person detection (VWW)", "MobileNetV1 0.25", "96x96x1", "Visual Wake Words (COCO)",
                               "accuracy ≥ 82.2% (RGB reference 85.16%)"),
    "yolo": ModelCard("Person detection (boxes)", "YOLO-pico (Efinix)", "96x96x3", "COCO person",
                      "mAP@0.5 20.30 (≥ 20.7 on coco128)"),
    "facemesh": ModelCard("Face landmarks", "MediaPipe FaceMesh", "192x192x3", "face crops",
                          "NME int8 vs float ≤ 2.0%"),
}

COLUMNS = ("application", "model", "input size", "dataset", "quality target", "metric", "float", "int8 (TFLM)",
           "int8 (LiteRT x86)", "size (bytes)", "MACs", "TFLM arena (bytes)", "accelerator ops",
           "LiteRT latency (ms)", "TFLM invoke (ms)")


def _fmt(value, spec: str = "") -> str:
    if value is None or value == "":
        return "n/a"
    return format(value, spec) if spec else str(value)


def _metric(value) -> str:
    if isinstance(value, (int, float)):
        return f"{value:.4f}"
    return _fmt(value)


def model_row(name: str, build: Path) -> list[str]:
    card = CARDS.get(name, ModelCard(name, name, "?", "?", "?"))
    report = json.loads((build / name / "report.json").read_text())
    profile_path = build / name / "profile.json"
    profile = json.loads(profile_path.read_text()) if profile_path.is_file() else {}
    accel = report.get("accelerated_op_fraction")
    return [
        card.application, card.model, card.input_size, card.dataset, card.quality_target,
        report.get("metric", "n/a"), _metric(report.get("metric_float")), _metric(report.get("metric_int8")),
        _metric(report.get("metric_int8_litert")),
        _fmt(report.get("size_bytes"), ","), _fmt(profile.get("macs"), ","),
        _fmt(profile.get("tflm_arena_bytes"), ","),
        f"{accel:.0%}" if isinstance(accel, float) else "n/a",
        _fmt(profile.get("latency_ms"), ".3f"), _fmt(profile.get("tflm_invoke_ms"), ".3f"),
    ]


GENERATOR_MODES = ("CONV_DEPTHW", "ADD", "LR", "FC", "MUL", "MIN_MAX", "RS")


def generator_section(build: Path, models: list[str]) -> list[str]:
    """The Efinix TinyML Generator configuration of each model (`make <model>.efinix`), if built."""
    from common.efinix_generator import read_defines

    rows = []
    for name in models:
        for define in sorted((build / name / "efinix").glob("tinyml_core*_define.v")):
            d = read_defines(define)
            modes = " ".join(f"{m}={str(d.get(m + '_MODE', '?'))[:3]}" for m in GENERATOR_MODES)
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


def build_report(build: str | os.PathLike, out: str | os.PathLike, models: list[str] | None = None) -> Path:
    build, out = Path(build), Path(out)
    models = models or sorted(p.parent.name for p in build.glob("*/report.json"))
    lines = ["# TinyML Model Zoo — measured report", "",
             "Every number is read from `build/<model>/report.json` (float Keras vs the shipped int8 `.tflite`, "
             "same preprocessed data) and `profile.json`. **int8 (TFLM)** is computed by TensorFlow Lite Micro, the "
             "target's runtime (the same on every CPU); int8 (LiteRT x86) by LiteRT's optimized kernels on the "
             "building machine (secondary: their int8 rounding differs per CPU). TFLM arena is the tensor arena "
             "TFLM's recording allocator measured; latency and invoke time are medians on this CPU.",
             "", "| " + " | ".join(["name", *COLUMNS]) + " |", "|" + "---|" * (len(COLUMNS) + 1)]
    missing = []
    for name in models:
        if not (build / name / "report.json").is_file():
            missing.append(name)
            continue
        lines.append("| " + " | ".join([name, *model_row(name, build)]) + " |")
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
        md = build / name / "accelerator.md"
        if md.is_file():
            lines.append(f"- [{name}]({os.path.relpath(md, out.parent)})")
    lines += generator_section(build, models)
    with atomic_path(out) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="build/REPORT.md")
    parser.add_argument("models", nargs="*", help="model names (default: every build/<model>/report.json)")
    args = parser.parse_args(argv)
    print(f"wrote {build_report(args.build, args.out, args.models or None)}")


if __name__ == "__main__":
    main()
