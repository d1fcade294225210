"""Calibration-size sweep for resnet_cifar on VALIDATION data (train[90%:]), never the test split:
int8-vs-float softmax MSE and top-1 agreement for each calibration N and seed.

    .venv/bin/python -m benchmarks.resnet_cifar_calibration --model build/resnet_cifar/model.keras
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from common.graph.quantize import quantize_int8
from common.data.calibration import representative_dataset, sample_features
from common.graph.runners import Runner
from common.graph.keras_io import load_model
from models.resnet_cifar.data import load_arrays
from models.resnet_cifar.recipe import RECIPE


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="build/resnet_cifar/model.keras")
    parser.add_argument("--sizes", default="50,100,200,500,2000,4194")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--val-split", default="train[90%:]")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    x_train, _ = load_arrays(RECIPE.calibration.split)
    x_val, _ = load_arrays(args.val_split)
    float_out = model.predict(x_val, verbose=0)
    print(f"{'N':>6} {'seeds':>5} {'MSE x1e-4':>10} {'agreement':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            seeds = range(1 if n >= len(x_train) else args.seeds)
            mse, agree = [], []
            for seed in seeds:
                (calibration,) = sample_features(x_train, n, seed)
                path = quantize_int8(model, representative_dataset(calibration), Path(tmp) / f"{n}_{seed}.tflite")
                int8_out = Runner(path).predict(x_val)
                mse.append(float(np.mean((int8_out - float_out) ** 2)))
                agree.append(float(np.mean(int8_out.argmax(1) == float_out.argmax(1))))
            print(f"{n:>6} {len(mse):>5} {1e4 * np.mean(mse):>10.2f} {np.mean(agree):>10.2%}", flush=True)


if __name__ == "__main__":
    main()
