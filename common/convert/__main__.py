"""Your own model to the Efinix accelerator, in one command:

    python -m common.convert --model path/to/model --data path/to/folder --name mynet [--mean 0 --std 1]
    make convert MODEL=path/to/model DATA=path/to/folder NAME=mynet [CONVERT_ARGS="--mean 0 --std 1"]

--model: a .keras or .h5 file, a TensorFlow SavedModel folder, an .onnx file (as torch.onnx.export
writes it: NCHW; imported as NHWC Keras, checked against onnxruntime on your data), or a Darknet .cfg
(+ --weights, default: the .weights beside it). The format is read from the file, not its name.

--data: a folder of images (any size, resized to the model input) or of .npy arrays (one sample each),
flat or one sub-folder per class (labels: class index = sorted folder names). A seeded half calibrates
the int8 file, the other half is scored: no file does both (recorded in model.quant.json).

Writes build/<name>/: model.tflite (full int8 I/O, Efinix rules), model.quant.json, report.json (float
vs int8 under TFLM on the held-out files: top-1 agreement and accuracy with labels, output SNR and max
error; size, ops and where they run), kit/ (C array, golden vectors from TFLM, profile with the TFLM
arena), efinix/ (with $EFINIX_TFLITE_BIN) and a row in build/REPORT.md. A model the target cannot run
is refused with every problem listed, and nothing is written.
"""
from __future__ import annotations

from pathlib import Path

from common.cli import ArgumentParser, positive_int
from common.convert.data import DATA_HELP, Normalization, parse_values


def parser() -> ArgumentParser:
    p = ArgumentParser(prog="python -m common.convert", description=__doc__)
    p.add_argument("--model", required=True, type=Path, help=".keras, .h5, SavedModel folder, .onnx or Darknet .cfg")
    p.add_argument("--weights", type=Path, help="Darknet .weights (default: beside the .cfg, same name)")
    p.add_argument("--data", required=True, type=Path, help=DATA_HELP)
    p.add_argument("--name", required=True, help="output name: build/<name>/ and the C symbols (letters, digits, _ . -)")
    p.add_argument("--build", type=Path, default=Path("build"), help="the build folder (default: build)")
    p.add_argument("--mean", default="0", help="subtracted from 0..255 pixels: one value or one per channel (default 0)")
    p.add_argument("--std", default="1", help="then divided by: one value or one per channel (default 1)")
    p.add_argument("--calibration-fraction", type=float, default=0.5,
                   help="seeded fraction of the files that calibrates (default 0.5; the rest is scored)")
    p.add_argument("--calibration-n", type=positive_int, default=500, help="at most this many calibration inputs")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration split")
    return p


def main(argv: list[str] | None = None) -> None:
    from common.convert.pipeline import ConvertOptions, convert

    args = parser().parse_args(argv)
    opts = ConvertOptions(model=args.model, data=args.data, name=args.name, build=args.build, weights=args.weights,
                          normalization=Normalization(parse_values(args.mean), parse_values(args.std)),
                          calibration_fraction=args.calibration_fraction, calibration_n=args.calibration_n,
                          seed=args.seed)
    report = convert(opts)  # checks every output first
    print(f"{opts.name}: {opts.out / 'model.tflite'} ({report['size_bytes']:,} bytes), {report['metric']} "
          f"{report['metric_int8']:.4g} on {report['n_eval']} held-out files; kit in {opts.out / 'kit'}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
