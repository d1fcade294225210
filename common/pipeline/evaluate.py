"""The evaluate step of every model: score a model file on the recipe's data, or with `--report` the
shipped int8 file beside its float model and the reference files, into report.json.

    python -m models.<name>.evaluate --model build/<name>/model.tflite [--data-dir DIR]
    python -m models.<name>.evaluate --model build/<name>/model.tflite --float-model build/<name>/model.keras \\
        --report build/<name>/report.json --plots-dir build/<name> [--reference NAME|PATH|none ...]

Everything is checked before the data is read (model files, input shapes, references, outputs). The
items are read once; the ones that calibrated the file (its `.quant.json`) are left out of every
score. Each model (ours int8 under TensorFlow Lite Micro, ours under LiteRT's x86 kernels, the float
model, each reference) predicts every item once; the metric, its 95% interval, the paired verdicts,
the plots, the golden samples and the model's own report keys all read those predictions.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from common import env  # noqa: F401
from common.atomic import atomic_path, write_json
from common.cli import ArgumentParser, option_values, output_dir, output_file
from common.data.items import DataSource, Items, held_out_mask, take
from common.errors import UserError
from common.evaluation import stats
from common.evaluation.models import load_predictor, require_input_shape, require_int8_tflite
from common.evaluation.report import FLOAT, INT8, LITERT, build_report, tflite_summary
from common.pipeline.recipe import NONE, Metric, Recipe, Reference
from common.pipeline.steps import add_source_args, escape, evaluation_split

GOLDEN_INPUTS = "golden_inputs.npz"
GOLDEN_N = 16


@dataclass
class Evaluation:
    """One evaluation: the items (all read; `keep` marks the scored ones), each model's outputs on
    every item, and what was measured from them. The model's extras and plots read it."""

    recipe: Recipe
    source: DataSource
    items: Items
    keep: np.ndarray
    metric: Metric
    paths: dict[str, Path]
    competitors: list[Reference] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    per_item: dict[str, list] = field(default_factory=dict)
    scores: dict[str, stats.Score] = field(default_factory=dict)
    verdicts: dict[str, stats.Verdict] = field(default_factory=dict)
    predictors: dict[str, Callable] = field(default_factory=dict)

    @functools.cached_property
    def tflite(self) -> dict:
        """What report.json says of our `.tflite` (size, hash, ops, I/O)."""
        return tflite_summary(self.paths[INT8])

    @property
    def scored(self) -> Items:
        return self.items.subset(self.keep)

    def held_out(self, label: str) -> Any:
        """`label`'s outputs on the scored items."""
        return take(self.outputs[label], np.flatnonzero(self.keep))

    def truth(self, keep: np.ndarray | None = None) -> Any:
        """What the metric compares with: the labels, or the outputs of the float or a truth model."""
        source = self.metric.truth
        values = self.items.y if source == "labels" else self.outputs[FLOAT if source == "float" else source]
        return values if keep is None else take(values, np.flatnonzero(keep))

    def per_item_values(self, label: str, keep: np.ndarray | None = None) -> list:
        """The metric's per-item values of `label` on the items `keep` (default: the scored ones)."""
        keep = self.keep if keep is None else keep
        index = np.flatnonzero(keep)
        return list(self.recipe.resolve(self.metric.per_item)(
            self.truth(keep), take(self.outputs[label], index), self.items.subset(index)))

    def aggregate(self, values: Sequence) -> float:
        return aggregate_of(self.recipe, self.metric)(values)

    @property
    def class_names(self) -> tuple[str, ...]:
        """The classes in output order: the data's own (a folder of your classes), else the recipe's."""
        return tuple(self.items.class_names or self.recipe.data.class_names)

    def display_name(self, label: str) -> str:
        names = {INT8: "ours int8 (TFLM)", FLOAT: "ours float", LITERT: "ours int8 (LiteRT x86)"}
        names.update({r.label: r.title or r.label for r in self.recipe.references + tuple(self.competitors)})
        return names.get(label, label)


def aggregate_of(recipe: Recipe, metric: Metric) -> Callable[[Sequence], float]:
    return recipe.resolve(metric.aggregate) if metric.aggregate else stats.mean


def score_of(ev: Evaluation, values: list) -> stats.Score:
    return stats.proportion(values) if ev.metric.proportion else stats.bootstrap(values, ev.aggregate)


def verdict_of(ev: Evaluation, ours: list, theirs: list) -> stats.Verdict:
    if ev.metric.proportion:
        return stats.mcnemar(ours, theirs)
    return stats.paired_bootstrap(ours, theirs, ev.aggregate, ev.metric.higher_is_better)


def competitor_references(recipe: Recipe, names: Sequence[str] | None) -> list[Reference]:
    """The references to score beside ours: the recipe's, or the names/paths given (`none`: none)."""
    if names is None:
        return list(recipe.competitors)
    if list(names) == [NONE]:
        return []
    known = {r.file: r for r in recipe.competitors}
    return [known.get(str(n), Reference(str(n))) for n in names]


def run_model(recipe: Recipe, predict: Callable, x: Any, items: Items) -> Any:
    """A model's outputs on the items: the recipe's `predict(predict, x, items)` hook, or `predict(x)`;
    several outputs become a tuple (one array per output, items first)."""
    out = recipe.resolve(recipe.predict)(predict, x, items) if recipe.predict else predict(x)
    return tuple(out) if isinstance(out, list) else out


def read_calibration_record(model: Path) -> dict | None:
    from common.graph.quantize import read_quantization_metadata

    return read_quantization_metadata(model).get("calibration") if model.suffix == ".tflite" else None


def check_model_files(recipe: Recipe, model: str | os.PathLike, float_model: str | os.PathLike | None = None, *,
                      report: bool = True) -> dict[str, tuple[int, ...]]:
    """The checks of the model files before anything is read (int8 with a report, an input the recipe's
    data fits): their input shapes, by label. A kind's own checks of the files (e.g. its classes) come after."""
    if report:
        require_int8_tflite(model, "--model")
    accepted = (recipe.input_shape, *recipe.input_adapters)
    shapes = {INT8: require_input_shape(model, *accepted, data=recipe.input_description)}
    if float_model:
        shapes[FLOAT] = require_input_shape(float_model, *accepted, data=recipe.input_description)
    return shapes


def check_command_models(recipe: Recipe, argv: Sequence[str]) -> None:
    """`check_model_files` of an evaluate command line (its --model, --float-model, --report); what is
    missing or malformed there is left to the step's own parser."""
    given = option_values(argv, "--model", "--float-model", "--report", allow_abbrev=False)
    if given["--model"]:
        check_model_files(recipe, given["--model"], given["--float-model"], report=bool(given["--report"]))


def evaluate(recipe: Recipe, model: str | os.PathLike, *, source: DataSource = DataSource(),
             split: str | None = None, float_model: str | os.PathLike | None = None,
             references: Sequence[str] | None = None, report: str | os.PathLike | None = None,
             plots_dir: str | os.PathLike | None = None) -> Evaluation:
    """Check, read, predict once, score; with `report` also write report.json, the plots and the
    golden samples of the deployment kit."""
    from common.pipeline.references import fetch_reference

    model = Path(model)
    shapes = check_model_files(recipe, model, float_model, report=bool(report))
    accepted = (recipe.input_shape, *recipe.input_adapters)
    competitors = competitor_references(recipe, references) if report else []
    paths = {INT8: model}
    for ref in competitors:
        paths[ref.label] = require_int8_tflite(fetch_reference(recipe, ref), "--reference")
        if not ref.inputs:
            shapes[ref.label] = require_input_shape(paths[ref.label], *accepted, data=recipe.input_description)
    truth_ref = recipe.truth_reference
    if truth_ref is not None:
        paths[truth_ref.label] = fetch_reference(recipe, truth_ref)

    reader = recipe.resolve(recipe.data.reader)
    items: Items = reader(source, split or evaluation_split(recipe, source), only=None, purpose="evaluate")
    if not len(items):
        raise UserError(f"no usable items in {items.source} (skipped: {items.skipped[:3]})")
    if items.class_names and tuple(items.class_names) != tuple(recipe.data.class_names) and references is None:
        competitors = []  # the recipe's published files know other classes than this folder's
    metric = recipe.resolve(recipe.metric_choice)(recipe, items) if recipe.metric_choice else recipe.metric
    ev = Evaluation(recipe, source, items, held_out_mask(items, read_calibration_record(model)), metric, paths,
                    competitors)
    if not ev.keep.any():
        raise UserError(f"every item of {items.source} calibrated {model.name}: nothing is left to score")

    ev.predictors[INT8] = load_predictor(model)
    if float_model:
        ev.paths[FLOAT] = Path(float_model)
        ev.predictors[FLOAT] = load_predictor(float_model, batch_size=recipe.float_batch_size)
    if report:
        ev.paths[LITERT] = model
        ev.predictors[LITERT] = load_predictor(model, runtime="litert")
    for label in [r.label for r in competitors] + ([truth_ref.label] if truth_ref else []):
        ev.predictors[label] = load_predictor(paths[label])
    adapters = {r.label: recipe.resolve(r.inputs) for r in competitors if r.inputs}
    adapters.update({label: recipe.resolve(recipe.input_adapters[shape]) for label, shape in shapes.items()
                     if shape != tuple(recipe.input_shape)})
    if report and shapes.get(INT8, recipe.input_shape) != tuple(recipe.input_shape):
        adapters[LITERT] = adapters[INT8]
    cache = ReferenceCache(Path(report).parent / ".references") if report else None
    for label, predict in ev.predictors.items():
        x = adapters[label](items, source) if label in adapters else items.x
        compute = lambda p=predict, x=x: run_model(recipe, p, x, items)  # noqa: E731
        published = label not in (INT8, FLOAT, LITERT)
        ev.outputs[label] = cache.get(paths[label], x, compute) if cache and published else compute()

    scorable = [label for label in ev.outputs if not (truth_ref and label == truth_ref.label)]
    if metric.truth == FLOAT and FLOAT not in ev.outputs:
        scorable = []  # a deviation from the float model needs the float model
    for label in scorable:
        ev.per_item[label] = ev.per_item_values(label)
        ev.scores[label] = score_of(ev, ev.per_item[label])
    if INT8 in ev.scores:
        against = [r.label for r in competitors]
        if FLOAT in ev.scores and metric.truth != FLOAT:
            against.append(FLOAT)
        for label in against:
            ev.verdicts[label] = verdict_of(ev, ev.per_item[INT8], ev.per_item[label])
    if report:
        write_report(ev, Path(report), Path(plots_dir) if plots_dir else None)
    return ev


class ReferenceCache:
    """Outputs of published reference files, kept by the file's sha256 and the inputs' digest: a
    reference is scored once per data set, not again at every rebuild of ours."""

    def __init__(self, folder: Path):
        self.folder = folder

    def get(self, path: Path, x: Any, compute: Callable[[], Any]) -> Any:
        from common.data.weights import sha256_of

        cached = self.folder / f"{sha256_of(path)[:20]}-{_digest(x)[:20]}.npz"
        if cached.is_file():
            try:
                with np.load(cached) as saved:
                    parts = [saved[f"output_{k}"] for k in range(len(saved.files))]
                return tuple(parts) if len(parts) > 1 else parts[0]
            except (OSError, ValueError, KeyError, zipfile.BadZipFile):
                pass  # a damaged cache entry: score the file again and replace it
        out = compute()
        parts = out if isinstance(out, tuple) else (out,)
        if all(isinstance(p, np.ndarray) for p in parts):
            with atomic_path(cached) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **{f"output_{k}": p for k, p in enumerate(parts)})
        return out


def _digest(x: Any) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for a in (x if isinstance(x, (list, tuple)) else [x]):
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}{a.dtype}".encode())
        digest.update(a.data)
    return digest.hexdigest()


def golden_inputs(ev: Evaluation, n: int = GOLDEN_N) -> list[np.ndarray]:
    """The model inputs of the first `n` scored items (the recipe's `golden` hook where an item is not
    one input), one array per model input."""
    if ev.recipe.golden:
        x = ev.recipe.resolve(ev.recipe.golden)(ev.scored, n)
    else:
        x = take(ev.items.x, np.flatnonzero(ev.keep)[:n])
    return [np.asarray(a, np.float32) for a in (x if isinstance(x, tuple) else (x,))]


def save_golden_inputs(arrays: list[np.ndarray], path: Path) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **{f"input_{k}": a for k, a in enumerate(arrays)})
    return path


def metric_title(ev: Evaluation) -> str:
    excluded = int((~ev.keep).sum())
    held = f", {int(ev.keep.sum())} items not used for calibration" if excluded else ""
    return f"{ev.metric.name} ({ev.items.source}{held})"


def write_report(ev: Evaluation, report: Path, plots_dir: Path | None) -> dict:
    save_golden_inputs(golden_inputs(ev), report.with_name(GOLDEN_INPUTS))
    extras = ev.recipe.resolve(ev.recipe.extras)(ev) if ev.recipe.extras else {}
    plots: dict[str, str] = {}
    if plots_dir is not None:
        for ref in ev.recipe.plots:
            plots.update({k: str(v) for k, v in ev.recipe.resolve(ref)(ev, plots_dir).items()})
    data = build_report(ev, metric_title(ev), extras, plots)
    write_json(report, data)
    return data


def summary(ev: Evaluation) -> dict:
    """What evaluate prints: the score of --model on the scored items with its interval, what was left
    out and skipped, and (with --report) every other model's score and the verdicts."""
    out: dict[str, Any] = {"model": str(ev.paths[INT8]), "metric": metric_title(ev), "n": int(ev.keep.sum()),
                           "excluded_calibration_items": int((~ev.keep).sum()), "skipped": len(ev.items.skipped),
                           "skipped_files": ev.items.skipped}
    if INT8 in ev.scores:
        out["score"] = ev.scores[INT8].as_dict()
    out.update({label: score.as_dict() for label, score in ev.scores.items() if label != INT8})
    out.update({f"ours_vs_{label}": v.as_dict() for label, v in ev.verdicts.items()})
    return out


def parser(recipe: Recipe, description: str | None = None) -> ArgumentParser:
    d = recipe.data
    p = ArgumentParser(description=description or __doc__)
    p.add_argument("--model", required=True, help=escape(f".keras, .h5 or .tflite model taking {recipe.input_description}"))
    add_source_args(p, recipe)
    p.add_argument("--split", help=escape(f"split to score (default: {d.eval_split} of TFDS, {d.folder_eval_split} "
                                          "of a --data-dir folder)"))
    p.add_argument("--float-model", help="also score this float .keras model ...")
    p.add_argument("--report", type=output_file, help="... and write report.json here (--model: the int8 .tflite)")
    names = ", ".join(r.file for r in recipe.competitors) or NONE
    p.add_argument("--reference", action="append",
                   help=f"with --report: a reference .tflite (a published file's name or a path) scored on the same "
                        f"items, with a paired verdict; repeatable (default: {names}; '{NONE}' for none)")
    p.add_argument("--plots-dir", type=output_dir, help="with --report: write the plots (PNG) here")
    return p


def main(recipe: Recipe, argv: Sequence[str] | None = None, description: str | None = None) -> Evaluation:
    p = parser(recipe, description)
    args = p.parse_args(argv)
    if bool(args.float_model) != bool(args.report):
        p.error("--float-model and --report go together")
    ev = evaluate(recipe, args.model, source=DataSource.of(args.data_dir, args.tfds_dir), split=args.split,
                  float_model=args.float_model, references=args.reference, report=args.report,
                  plots_dir=args.plots_dir)
    print(json.dumps(summary(ev)))
    return ev


def step(model: str, description: str | None = None) -> Callable[[Sequence[str] | None], object]:
    """`main(argv)` of `python -m models.<model>.evaluate`: this step with the model's recipe."""
    from common.cli import user_errors_as_one_line
    from common.pipeline.recipe import load_recipe

    return user_errors_as_one_line()(lambda argv=None: main(load_recipe(model), argv, description))
