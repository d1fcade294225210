"""Recipes: one per model (`models/<name>/recipe.py` defines `RECIPE`), the only home of the model's facts.

A recipe says what the model is (task, input, dataset), where its data comes from and how it is laid
out, how it is calibrated and what calibration takes out of scoring, how it is scored (metric, truth,
references), its size budget, the passes between the float model and the shipped `.tflite`, and the
plots. The pipeline (`common.pipeline`) reads nothing else: `python -m models.<name>.quantize` and
`.evaluate` are the pipeline's steps with the model's recipe.

A recipe module imports nothing but this module: a function of the model is named by reference,
`"module:attribute"` (resolved when a step needs it), so every file of the model may read the recipe's
facts (the input shape, the class names) without importing what only another step needs, and each
step's Make dependencies (the modules it actually loads) stay its own.

    from common.pipeline.recipe import load_recipe
    recipe = load_recipe("yolo")
    recipe.input_shape                 # (96, 96, 3)
    recipe.resolve(recipe.metric.per_item)
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.data.weights import WeightFile
from common.data.calibration import EveryKth, SeededFraction, WholeGroups  # noqa: F401  (the rules a recipe names)
from common.errors import RecipeError
from common.refs import Ref, resolve

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
NONE = "none"  # a CLI value meaning "no reference"


@dataclass(frozen=True)
class Data:
    """Where the data comes from and how it is read.

    `reader(source, split, *, only=None, purpose)` -> `common.data.items.Items`; `lister(source, split,
    purpose)` -> the item ids of the split in order, without decoding anything (calibration picks
    among them); `describe(source)` -> the data step's summary."""

    reader: Ref
    lister: Ref
    describe: Ref
    tfds: str | None  # the TFDS dataset (the default source), None: none
    folder: str | None  # the --data-dir layout, None: no folder source (--data-dir is refused)
    eval_split: str = "test"  # TFDS split scored
    folder_eval_split: str = "all"  # folder split scored
    class_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Calibration:
    """Which data calibrates the int8 file, and what scoring must therefore leave out.

    Items are drawn from `split` (`folder_split` for a folder source). Where that is the split
    evaluation scores, `rule` (common.data.calibration; None: the recipe never calibrates on the
    scored split) picks the calibrating items and evaluation leaves them out; from another split,
    nothing scored can have calibrated, and `n` inputs are sampled from all of it. `inputs(items, n,
    seed)` turns the chosen items into the calibration inputs (default: `n` seeded samples of
    `items.x`). `.quant.json` records what was used (a rule may give fewer than `n`: a seeded half
    of 128 images is 64)."""

    description: str
    n: int  # the default --calibration-n: at most this many inputs
    rule: Any  # a common.data.calibration rule
    split: str = "train"
    folder_split: str = "all"
    inputs: Ref | None = None
    candidates: int | None = None  # another split is read up to its first `candidates` items (None: all)


@dataclass(frozen=True)
class Metric:
    """The headline metric: `per_item(truth, predictions, items)` gives one value per item,
    `aggregate(values)` the score (default: the mean). `proportion`: the values are right/wrong, so
    the interval is Wilson's and a comparison is McNemar's; otherwise both are bootstraps over the
    items. `truth`: "labels" (the dataset's), "float" (the float model's predictions) or the label of a
    Reference with role "truth" (e.g. MediaPipe's float model)."""

    name: str
    higher_is_better: bool
    per_item: Ref
    aggregate: Ref | None = None
    proportion: bool = False
    truth: str = "labels"
    format: str = "pct"  # how REPORT.md prints it: pct, x100, f4


@dataclass(frozen=True)
class Reference:
    """A published file scored beside ours on the same items (`role="competitor"`: with a paired
    verdict), or the model whose outputs are the truth (`role="truth"`). `inputs(items, source)` makes
    its inputs when they are not ours (another colour or scale); `prepare(path)` returns a loadable
    copy of a file that needs a repair."""

    file: str  # the name of one of Recipe.files (or, on the command line, a path)
    title: str = ""  # how tables and plots name it
    role: str = "competitor"
    inputs: Ref | None = None
    prepare: Ref | None = None

    @property
    def label(self) -> str:
        """Its key in report.json: the published file's name (a path given on the command line: its file name)."""
        return Path(self.file).name


@dataclass(frozen=True)
class Option:
    """A quantize option of this recipe (`--<name>`), read by its passes' `when`."""

    name: str
    default: Any
    help: str
    choices: tuple | None = None


@dataclass(frozen=True)
class PassStep:
    """A named pass (`common.graph.passes.PASSES`, or a `"module:attribute"` reference to a Pass) with its
    arguments, applied when every `when` option has the given value."""

    name: str
    args: dict = field(default_factory=dict)
    when: dict = field(default_factory=dict)

    def active(self, options: dict) -> bool:
        return all(options.get(k) == v for k, v in self.when.items())


@dataclass(frozen=True)
class Recipe:
    name: str  # = the folder under models/
    task: str
    architecture: str
    dataset: str
    quality_target: str
    input_shape: tuple[int, ...]  # one sample, as the float model takes it
    input_description: str  # e.g. "49x10x1 MFCC"
    preprocessing: str
    data: Data
    calibration: Calibration
    metric: Metric
    files: tuple[WeightFile, ...]  # published files this model imports or is compared with
    references: tuple[Reference, ...] = ()
    efinix_reference: str | None = None  # the file of `files` the Efinix TinyML Generator ships
    passes: tuple[PassStep, ...] = (PassStep("compact"),)
    options: tuple[Option, ...] = ()
    input_range: tuple[float, float] = (0.0, 1.0)  # of the float input (conversion traces use it)
    # other input shapes a model of this kind may take (e.g. MLPerf's RGB file), and the adapter
    # `adapter(items, source) -> inputs` that makes them from the same items
    input_adapters: dict = field(default_factory=dict)
    predict: Ref | None = None  # predict(runner_predict, x, items) -> outputs; default: runner_predict(x)
    golden: Ref | None = None  # golden(items, n) -> the model inputs of the first n items; default: items.x[:n]
    float_batch_size: int = 64
    max_tflite_bytes: int | None = None
    plots: tuple[Ref, ...] = ()
    extras: Ref | None = None  # extras(evaluation) -> dict of model-specific report keys
    metric_choice: Ref | None = None  # metric_choice(recipe, items) -> the Metric the data can measure

    resolve = staticmethod(resolve)

    def file(self, name: str) -> WeightFile:
        """The published file `name` of this recipe."""
        for entry in self.files:
            if entry.name == name:
                return entry
        raise RecipeError(f"{self.name} has no published file {name!r} (it has: "
                          f"{', '.join(f.name for f in self.files)})")

    @property
    def competitors(self) -> tuple[Reference, ...]:
        return tuple(r for r in self.references if r.role == "competitor")

    @property
    def truth_reference(self) -> Reference | None:
        return next((r for r in self.references if r.role == "truth"), None)


def model_names() -> list[str]:
    """Every folder under models/ with a recipe.py, sorted."""
    return sorted(p.parent.name for p in MODELS_DIR.glob("*/recipe.py"))


def load_recipe(name: str) -> Recipe:
    """`RECIPE` of `models/<name>/recipe.py`."""
    if not (MODELS_DIR / name / "recipe.py").is_file():
        raise RecipeError(f"unknown model {name!r}: no models/{name}/recipe.py (models: {', '.join(model_names())})")
    recipe = getattr(importlib.import_module(f"models.{name}.recipe"), "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise RecipeError(f"models/{name}/recipe.py must define RECIPE = common.pipeline.recipe.Recipe(...)")
    if recipe.name != name:
        raise RecipeError(f"models/{name}/recipe.py: RECIPE.name is {recipe.name!r}, expected {name!r}")
    return recipe


def all_recipes() -> dict[str, Recipe]:
    return {name: load_recipe(name) for name in model_names()}


def find_file(name: str) -> WeightFile | None:
    """A published file of any recipe by its name (None: no recipe has one of that name)."""
    for recipe in all_recipes().values():
        for entry in recipe.files:
            if entry.name == name:
                return entry
    return None
