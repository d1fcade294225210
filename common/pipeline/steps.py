"""What the pipeline's steps share: the data options of a recipe and which split each step reads."""
from __future__ import annotations

import argparse

from common.cli import add_data_args
from common.data.items import DataSource
from common.pipeline.recipe import Recipe


def add_source_args(parser: argparse.ArgumentParser, recipe: Recipe) -> None:
    """`--data-dir` (the recipe's folder layout, or refused) and `--tfds-dir`, as in every CLI."""
    add_data_args(parser, folder=recipe.data.folder and escape(recipe.data.folder),
                  tfds=recipe.data.tfds or "no TFDS dataset")


def evaluation_split(recipe: Recipe, source: DataSource) -> str:
    """The split evaluation scores by default for this kind of source."""
    return recipe.data.folder_eval_split if source.kind == "folder" else recipe.data.eval_split


def calibration_split(recipe: Recipe, source: DataSource, split: str | None = None) -> str:
    """The split calibration draws from (`split` when given)."""
    c = recipe.calibration
    return split or (c.folder_split if source.kind == "folder" else c.split)


def escape(text: str) -> str:
    """A help text for argparse, which reads `%` as a format (splits like `train[:90%]`)."""
    return text.replace("%", "%%")
