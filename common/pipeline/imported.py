"""The train step of a model imported from a published float `.tflite` (no training: the weights are
the file's): build the Keras model from the file, check its outputs against the file on seeded random
inputs, save it. facemesh and face_detection (MediaPipe's networks) are such models.

    main = import_step("facemesh", "mediapipe_face_landmark", build_model, import_check,
                       {"landmarks_max_abs_diff_px": 0.05}, __doc__)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from common import env
from common.cli import ArgumentParser, output_file
from common.graph.keras_io import save_model
from common.pipeline.recipe import load_recipe


@dataclass(frozen=True)
class ImportOption:
    """A `--<name>` of the import, passed to `build` as a keyword."""

    name: str
    default: str
    choices: tuple[str, ...]
    help: str


def import_model(model: str, source: str, build: Callable, check: Callable, bounds: dict[str, float], *,
                 weights: str | None = None, out: str, check_samples: int = 4, seed: int = 0, **options):
    """Build the Keras model from the recipe's published file `source` (or `weights`), check it with
    `check(model, path, n, seed) -> {name: max abs difference}` against `bounds`, save it atomically."""
    from common.pipeline.references import fetch_file

    env.set_seed(seed)
    path = fetch_file(load_recipe(model), source, weights)
    keras_model = build(path, **options)
    found = check(keras_model, path, check_samples, seed)
    print(f"import check on {check_samples} random inputs: {found}")
    wrong = {k: found[k] for k, bound in bounds.items() if found[k] > bound}
    if wrong:
        raise RuntimeError(f"the Keras rebuild differs from {path} by {wrong} (bounds {bounds}); the graph import is wrong")
    save_model(keras_model, out)
    return keras_model


def import_step(model: str, source: str, build: Callable, check: Callable, bounds: dict[str, float],
                description: str | None = None, options: Sequence[ImportOption] = ()) -> Callable:
    """`main(argv)` of `python -m models.<model>.train` for an imported model (`import_model`)."""
    filename = load_recipe(model).file(source).filename

    def main(argv: Sequence[str] | None = None) -> None:
        parser = ArgumentParser(description=description)
        parser.add_argument("--weights", help=f"explicit path to {filename} (default: the recipe's pinned file)")
        parser.add_argument("--out", default=f"build/{model}/model.keras", type=output_file,
                            help="the imported .keras model")
        parser.add_argument("--workdir", help="unused: nothing is trained (the Makefile passes it to every train step)")
        for option in options:
            parser.add_argument(f"--{option.name}", default=option.default, choices=option.choices, help=option.help)
        parser.add_argument("--check-samples", type=int, default=4, help="random inputs the import is checked on")
        parser.add_argument("--seed", type=int, default=0)
        args = parser.parse_args(argv)
        import_model(model, source, build, check, bounds, weights=args.weights, out=args.out,
                     check_samples=args.check_samples, seed=args.seed,
                     **{o.name: getattr(args, o.name) for o in options})

    return main
