"""The quantize step of every model: the recipe's calibration data and passes -> a full-int8 `.tflite`.

    python -m models.<name>.quantize --model build/<name>/model.keras --out build/<name>/model.tflite [--data-dir DIR]

1. calibration data: from the recipe's calibration split; where evaluation scores the same split, the
   recipe's rule picks the calibrating items (evaluation leaves them out); the recipe's `inputs` turns
   them into the converter's samples (default: `n` seeded samples);
2. "keras" passes on the float model, then conversion (int8 builtin ops only, int8 I/O, per-tensor
   FULLY_CONNECTED) under the "calibration" passes, then the "flatbuffer" passes, each checked;
3. the result must be full-int8 and pass the Efinix rules; then `.quant.json` (one schema: the
   calibration record, every pass with its check, the options) and the `.tflite` are written.
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from common import env  # noqa: F401  (quiet TF before it is imported)
from common.cli import ArgumentParser, output_file, positive_int
from common.data.calibration import DEFAULT_SEED, noise_trace, representative_dataset, select_indices
from common.data.items import DataSource, Items, calibration_record
from common.errors import UserError
from common.graph.passes import PassContext, get_pass
from common.pipeline.recipe import PassStep, Recipe
from common.pipeline.steps import add_source_args, escape, calibration_split, evaluation_split


def option_values(recipe: Recipe, given: dict | None = None) -> dict:
    """The recipe's quantize options with their defaults, overridden by `given`."""
    values = {o.name: o.default for o in recipe.options}
    values.update({k: v for k, v in (given or {}).items() if k in values})
    return values


def calibration_set(recipe: Recipe, source: DataSource, n: int, seed: int,
                    split: str | None = None) -> tuple[np.ndarray | tuple, dict]:
    """The converter's calibration samples and the `.quant.json` record of the items they come from."""
    lister, reader = recipe.resolve(recipe.data.lister), recipe.resolve(recipe.data.reader)
    split_name, ids = lister(source, calibration_split(recipe, source, split), "calibrate")
    eval_name, _ = lister(source, evaluation_split(recipe, source), "evaluate")
    disjoint = split_name != eval_name
    rule = recipe.calibration.rule
    if not disjoint and rule is None:
        raise UserError(f"{recipe.name} never calibrates on the split it scores ({split_name}); choose another "
                        f"--split (default: {calibration_split(recipe, source)})")
    chosen = ids[:recipe.calibration.candidates] if disjoint else rule.select(ids, n, seed)
    items: Items = reader(source, split_name, only=set(chosen), purpose="calibrate")
    if recipe.calibration.inputs:
        inputs, used = recipe.resolve(recipe.calibration.inputs)(items, n, seed)
    elif disjoint or rule.sample:
        index = select_indices(len(items), n, seed)
        used = items.subset(index)
        inputs = used.x
    else:
        inputs, used = items.x, items
    how = "all of the split (disjoint from the scored split)" if disjoint else rule.describe()
    record = calibration_record(used, split_name, how, seed, len(_first(inputs)), disjoint)
    return inputs, record


def _first(x):
    return x[0] if isinstance(x, tuple) else x


def quantize(recipe: Recipe, model_path: str | os.PathLike, out_path: str | os.PathLike, *,
             source: DataSource = DataSource(), n: int | None = None, seed: int = DEFAULT_SEED,
             split: str | None = None, options: dict | None = None) -> Path:
    """Calibrate, run the recipe's passes with their checks, verify and write `out_path` + sidecar."""
    from common.graph.efinix import check_efinix
    from common.graph.keras_io import load_model
    from common.data.class_list import carry_classes
    from common.graph.quantize import check_int8, convert_int8, write_quantized
    from common.pipeline.references import fetch_file

    options = option_values(recipe, options)
    steps = [(step, get_pass(step.name)) for step in recipe.passes if step.active(options)]
    model = load_model(model_path)
    start = time.perf_counter()
    if any(p.replaces_ranges for _, p in steps):
        inputs = noise_trace(recipe.input_shape, recipe.input_range, seed)
        record = {"source": "none: every activation range comes from a pass", "n_inputs": len(inputs),
                  "trace": f"{len(inputs)} seeded uniform-noise inputs in {list(recipe.input_range)}",
                  "items": [], "sha256": [], "seed": seed}
    else:
        inputs, record = calibration_set(recipe, source, n or recipe.calibration.n, seed, split)

    def context(step: PassStep) -> PassContext:
        return PassContext(calibration=inputs, fetch=lambda name: fetch_file(recipe, name),
                           args={k: options[v[7:]] if isinstance(v, str) and v.startswith("option:") else v
                                 for k, v in step.args.items()})

    done: list[dict] = []

    def run(stage: str, obj):
        """The recipe's passes of `stage` in order, each applied, then checked, then recorded."""
        for step, p in steps:
            if p.stage == stage:
                ctx = context(step)
                new, info = p.apply(obj, ctx)
                done.append({"name": p.name, "stage": p.stage, "preserves": p.preserves, **info,
                             "check": p.check(obj, new, ctx, info)})
                obj = new
        return obj

    model = run("keras", model)
    with contextlib.ExitStack() as stack:
        for step, p in steps:
            if p.stage == "calibration":  # a context around the converter's calibration; it checks inside
                entry = {"name": p.name, "stage": p.stage, "preserves": p.preserves, "check": {}}
                stack.enter_context(p.apply(context(step), entry["check"]))
                done.append(entry)
        flatbuffer = run("flatbuffer", convert_int8(model, representative_dataset(inputs)))
    out_path = Path(out_path)
    check_int8(flatbuffer)
    check_efinix(flatbuffer, label=f"{out_path.name} (not written)")
    written = write_quantized(out_path, flatbuffer, {
        "model": recipe.name, "calibration": record, "passes": done, "options": options,
        "ptq_seconds": round(time.perf_counter() - start, 2)})
    carry_classes(model_path, out_path)  # a model of your classes: its class list goes with it
    return written


def parser(recipe: Recipe, description: str | None = None) -> ArgumentParser:
    p = ArgumentParser(description=description or __doc__)
    p.add_argument("--model", required=True, help="float .keras model to quantize")
    p.add_argument("--out", required=True, type=output_file, help="int8 .tflite to write (+ its .quant.json)")
    p.add_argument("--calibration-n", type=positive_int, default=recipe.calibration.n,
                   help=escape(f"calibration samples (default {recipe.calibration.n}; {recipe.calibration.description})"))
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the calibration sample")
    p.add_argument("--split", help=escape(f"split to calibrate from (default: {recipe.calibration.split} of TFDS, "
                                          f"{recipe.calibration.folder_split} of a --data-dir folder)"))
    add_source_args(p, recipe)
    for o in recipe.options:
        p.add_argument(f"--{o.name.replace('_', '-')}", default=o.default, choices=o.choices,
                       type=type(o.default), help=escape(f"{o.help} (default: {o.default})"))
    return p


def main(recipe: Recipe, argv: Sequence[str] | None = None, description: str | None = None) -> None:
    args = parser(recipe, description).parse_args(argv)
    options = {o.name: getattr(args, o.name) for o in recipe.options}
    path = quantize(recipe, args.model, args.out, source=DataSource.of(args.data_dir, args.tfds_dir),
                    n=args.calibration_n, seed=args.seed, split=args.split, options=options)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def step(model: str, description: str | None = None) -> Callable[[Sequence[str] | None], object]:
    """`main(argv)` of `python -m models.<model>.quantize`: this step with the model's recipe."""
    from common.cli import user_errors_as_one_line
    from common.pipeline.recipe import load_recipe

    return user_errors_as_one_line()(lambda argv=None: main(load_recipe(model), argv, description))
