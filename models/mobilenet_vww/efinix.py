"""Score the Efinix reference `mobilenetv1_person_detect.tflite` (grayscale 96x96x1, TOCO-converted)
on the same images, for context beside our model.

LiteRT in TF 2.21 refuses the file: its 1-D bias tensors carry `quantized_dimension` 3. The repair
sets it to 0 (it has a single axis) and changes nothing else. The model expects TFLM's camera
convention, int8 = pixel - 128 (input scale 2/255, zero point -1), i.e. real inputs in [-1, 1].

    python -m models.mobilenet_vww.efinix --data-dir ../shared/data/coco128_person \\
        --repaired build/mobilenet_vww/efinix_repaired.tflite
"""
from __future__ import annotations

import json
import os

from common import env  # noqa: F401
from common.atomic import write_bytes
from common.evaluation.models import as_numpy
from common.evaluation.metrics import accuracy, confusion_matrix
from common.graph.runners import device_runner
from common.data.weights import fetch
from common.cli import ArgumentParser, add_data_args
from models.mobilenet_vww.data import CLASS_NAMES, FOLDER_HELP, TFDS_NAME, load_arrays


def repair_quantized_dimension(path: str | os.PathLike, out_path: str | os.PathLike) -> int:
    """Write a copy of `path` whose out-of-range `quantized_dimension`s are 0; returns how many."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    fixed = 0
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            q = tensor.quantization
            if q is not None and q.quantizedDimension and q.quantizedDimension >= len(tensor.shape):
                q.quantizedDimension = 0
                fixed += 1
    write_bytes(out_path, bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return fixed


def score(repaired: str | os.PathLike, *, data_dir: str | os.PathLike | None = None,
          tfds_dir: str | os.PathLike | None = None, split: str | None = None) -> dict:
    split = split or ("all" if data_dir else "validation")
    x, y = load_arrays(split, data_dir=data_dir, tfds_dir=tfds_dir, color="gray")
    pred = as_numpy(device_runner(repaired).predict(x * 2.0 - 1.0))  # [0, 1] -> the model's [-1, 1]
    cm = confusion_matrix(y, pred, len(CLASS_NAMES))
    return {"model": str(repaired), "input": "gray [-1, 1]", "n": int(len(y)), "correct": int(cm.trace()),
            "accuracy": accuracy(y, pred), "confusion_matrix": cm.tolist()}


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="the Efinix .tflite (default: fetch('efinix_mobilenet'))")
    parser.add_argument("--repaired", required=True, help="where to write the repaired copy")
    add_data_args(parser, folder=FOLDER_HELP, tfds=TFDS_NAME, tfds_help=f"holds {TFDS_NAME} (scored: validation)")
    parser.add_argument("--split")
    args = parser.parse_args(argv)
    fixed = repair_quantized_dimension(args.model or fetch("efinix_mobilenet"), args.repaired)
    result = score(args.repaired, data_dir=args.data_dir, tfds_dir=args.tfds_dir, split=args.split)
    print(json.dumps({"repaired_tensors": fixed, **result}))


if __name__ == "__main__":
    from common.cli import run

    run(main)
