"""ResNet-8 benchmark: PTQ wall time, LiteRT int8 latency (ours vs the Efinix reference) and
training throughput (tf.data pipeline vs in-memory NumPy arrays), measured in one run.

    TFDS_DATA_DIR=... ZOO_WEIGHTS_DIR=... .venv/bin/python -m benchmarks.resnet_cifar
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import latency_ms, print_table, wall_seconds
from common import env
from common.pipeline.references import fetch_file


def training_throughput(steps: int, batch_size: int) -> tuple[float, float]:
    """Images/s of one model trained for `steps` batches from tf.data and from NumPy arrays."""
    from models.resnet_cifar.data import load_arrays, load_dataset
    from models.resnet_cifar.model import build_model

    env.set_seed(0)
    model = build_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    n = steps * batch_size
    pipeline = load_dataset("train", batch_size=batch_size, augment_data=True, shuffle=True).repeat()
    x, y = load_arrays("train", limit=n)
    model.fit(pipeline, steps_per_epoch=5, epochs=1, verbose=0)  # warm up tracing and the cache
    model.fit(x[: 5 * batch_size], y[: 5 * batch_size], batch_size=batch_size, epochs=1, verbose=0)
    t_pipeline = wall_seconds(lambda: model.fit(pipeline, steps_per_epoch=steps, epochs=1, verbose=0))
    t_numpy = wall_seconds(lambda: model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True))
    return n / t_pipeline, n / t_numpy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="our .keras model (default: import the pretrained weights)")
    parser.add_argument("--runs", type=int, default=300, help="latency repetitions")
    parser.add_argument("--steps", type=int, default=60, help="training steps per throughput measurement")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    from common.pipeline.quantize import quantize
    from models.resnet_cifar.recipe import RECIPE
    from models.resnet_cifar.train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_path = args.model
        if model_path is None:
            model_path = tmp / "model.keras"
            train(TrainConfig(init="pretrained", epochs=0, out=str(model_path), workdir=str(tmp / "work")))
        ours = tmp / "model.tflite"
        ptq_s = wall_seconds(lambda: quantize(RECIPE, model_path, ours))
        ours_ms = latency_ms(ours, runs=args.runs)
        ref_ms = latency_ms(fetch_file(RECIPE, RECIPE.efinix_reference), runs=args.runs)
    pipe_ips, numpy_ips = training_throughput(args.steps, args.batch_size)
    print_table(
        [
            ("PTQ wall time (calibration data + convert + checks)", f"{ptq_s:8.2f} s"),
            ("LiteRT int8 latency, ours (1 thread, batch 1)", f"{ours_ms:8.3f} ms/image"),
            ("LiteRT int8 latency, Efinix reference", f"{ref_ms:8.3f} ms/image"),
            ("latency ratio ours / reference", f"{ours_ms / ref_ms:8.3f}"),
            ("training throughput, tf.data pipeline (augmented)", f"{pipe_ips:8.1f} images/s"),
            ("training throughput, in-memory NumPy arrays", f"{numpy_ips:8.1f} images/s"),
            ("throughput ratio tf.data / NumPy", f"{pipe_ips / numpy_ips:8.3f}"),
        ],
        "resnet_cifar benchmark",
    )


if __name__ == "__main__":
    main()
