"""Your own data, trained to a deployable int8 model of one of the zoo's kinds, with the zoo's artifacts
(report.json, kit, Efinix step) in `build/<NAME>/`, without touching the zoo's own builds:

    make custom KIND=resnet_cifar NAME=mine DATA=my_photos ARGS="--init pretrained --epochs 30"
    python -m common.custom --kind resnet_cifar --name mine --data my_photos -- --init scratch --epochs 60

The steps are the kind's own (`python -m models.<KIND>.train / quantize / evaluate` with `--data-dir
DATA`), then the deployment kit and, with $EFINIX_TFLITE_BIN, the Efinix generator output. ARGS go to
the training step. The kind, the name and the folder are checked before anything runs. Kinds that read
your own data so far: those listed in KINDS (the others say so).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

from common.cli import ArgumentParser, option_values
from common.deploy.kit import check_name
from common.errors import UserError
from common.pipeline.recipe import model_names

# kind -> its check of a data folder (raises a one-line DataLayoutError before anything is trained)
KINDS: dict[str, str] = {
    "resnet_cifar": "models.resnet_cifar.data:folder_classes",
    "mobilenet_vww": "models.mobilenet_vww.data:folder_classes",
    "autoencoder": "models.autoencoder.folder:sound_folder",
    "dscnn_kws": "models.dscnn_kws.keywords:word_folders",
    "yolo": "models.yolo.folder:folder_classes",
}
# training options a kind's folder check also reads (option -> the check's keyword argument)
CHECK_OPTIONS: dict[str, dict[str, str]] = {"yolo": {"--classes": "classes"}}


def check_arguments(kind: str, name: str, data: Path, train_args: Sequence[str] = ()) -> None:
    """Every argument error before the first step: unknown or unsupported kind, a bad or zoo name, a
    data folder that is not of the kind's layout (with the training options it depends on, e.g. yolo's
    `--classes` for a folder without classes.txt)."""
    from common.refs import resolve

    if kind not in model_names():
        raise UserError(f"KIND={kind!r} is not a model of the zoo ({', '.join(model_names())})")
    if kind not in KINDS:
        raise UserError(f"KIND={kind}: training on your own data is not there yet for this kind "
                        f"(it is for: {', '.join(KINDS)})")
    check_name(name)
    if name in model_names():
        raise UserError(f"NAME={name!r} is a zoo model's own build folder: choose another name")
    resolve(KINDS[kind])(data, **check_options(kind, train_args))


def check_options(kind: str, train_args: Sequence[str]) -> dict[str, str]:
    """The values of the kind's CHECK_OPTIONS given among `train_args`."""
    options = CHECK_OPTIONS.get(kind, {})
    given = option_values(train_args, *options)
    return {keyword: given[option] for option, keyword in options.items() if given[option] is not None}


def steps(kind: str, name: str, data: Path, build: Path, train_args: Sequence[str]) -> list[list[str]]:
    """The commands, in order (each a `python -m` argument list)."""
    out = build / name
    model, tflite = out / "model.keras", out / "model.tflite"
    commands = [
        ["-m", f"models.{kind}.train", "--data-dir", str(data), "--out", str(model), "--workdir", str(out / "train"),
         *train_args],
        ["-m", f"models.{kind}.quantize", "--data-dir", str(data), "--model", str(model), "--out", str(tflite)],
        ["-m", f"models.{kind}.evaluate", "--data-dir", str(data), "--model", str(tflite), "--float-model", str(model),
         "--report", str(out / "report.json"), "--plots-dir", str(out), "--reference", "none"],
        ["-m", "common.deploy", "--tflite", str(tflite), "--name", name, "--out", str(out / "kit"),
         "--golden", str(out / "golden_inputs.npz"), "--float-model", str(model)],
    ]
    if os.environ.get("EFINIX_TFLITE_BIN"):
        commands.append(["-m", "common.deploy.efinix_generator", "--tflite", str(tflite), "--name", name,
                         "--out", str(out / "efinix")])
    return commands


def add_card(kind: str, name: str, data: Path, build: Path) -> dict:
    """Mark build/<name>/report.json as a model trained on your data (`custom`), with the card the zoo
    report's row shows (`common.pipeline.zoo_report`): what it is, of which kind, on which data."""
    import json

    from common.atomic import write_json
    from common.pipeline.recipe import load_recipe

    recipe = load_recipe(kind)
    path = build / name / "report.json"
    report = json.loads(path.read_text())
    classes = report.get("class_names") or []
    report["custom"] = {"kind": kind, "data": str(data), "class_names": classes}
    report["card"] = {"application": f"{recipe.task}: your data", "model": f"{recipe.architecture} ({kind} kind)",
                      "input": "x".join(map(str, recipe.input_shape)),
                      "dataset": f"{Path(data).name} ({len(classes)} classes)" if classes else Path(data).name,
                      "quality target": "-"}
    write_json(path, report)
    return report


def run_steps(commands: list[list[str]], runner: Callable = subprocess.run) -> None:
    for command in commands:
        print(f"==> python {' '.join(command)}", flush=True)
        done = runner([sys.executable, *command])
        if done.returncode:
            raise SystemExit(done.returncode)  # the step printed its own one-line error


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m common.custom", description=__doc__)
    p.add_argument("--kind", required=True, help=f"the zoo model whose recipe you train ({', '.join(KINDS)})")
    p.add_argument("--name", required=True, help="build/<name>/ and the C symbols (letters, digits, _ . -)")
    p.add_argument("--data", required=True, type=Path, help="your data folder, in the kind's layout")
    p.add_argument("--build", type=Path, default=Path("build"), help="the build folder (default: build)")
    p.add_argument("train_args", nargs="*", help="after --: options of python -m models.<kind>.train")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    check_arguments(args.kind, args.name, args.data, args.train_args)
    run_steps(steps(args.kind, args.name, args.data, args.build, args.train_args))
    add_card(args.kind, args.name, args.data, args.build)
    print(f"{args.name}: {args.build / args.name / 'model.tflite'} (report: {args.build / args.name / 'report.json'})")


if __name__ == "__main__":
    from common.cli import run

    run(main)
