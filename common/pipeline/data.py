"""The data step of every model: check (or prepare) the recipe's data source and record its summary.

    python -m models.<name>.data --out build/<name>/data.json [--data-dir DIR | --tfds-dir DIR]
"""
from __future__ import annotations

import json
from typing import Callable, Sequence

from common.atomic import write_json
from common.cli import ArgumentParser, output_file
from common.data.items import DataSource
from common.pipeline.recipe import Recipe
from common.pipeline.steps import add_source_args


def main(recipe: Recipe, argv: Sequence[str] | None = None, description: str | None = None) -> dict:
    parser = ArgumentParser(description=description or f"Check (or prepare) the data of {recipe.name} "
                                                       f"({recipe.dataset}) and record its summary.")
    add_source_args(parser, recipe)
    parser.add_argument("--out", type=output_file, help="write the summary JSON here (atomically)")
    parser.add_argument("--no-download", action="store_true", help="fail instead of downloading a TFDS dataset")
    args = parser.parse_args(argv)
    describe = recipe.resolve(recipe.data.describe)
    summary = describe(DataSource.of(args.data_dir, args.tfds_dir), download=not args.no_download)
    if args.out:
        write_json(args.out, summary)
    print(json.dumps(summary, default=str)[:2000])
    return summary


def step(model: str, description: str | None = None) -> Callable[[Sequence[str] | None], object]:
    """`main(argv)` of `python -m models.<model>.data`: this step with the model's recipe."""
    from common.cli import user_errors_as_one_line
    from common.pipeline.recipe import load_recipe

    return user_errors_as_one_line()(lambda argv=None: main(load_recipe(model), argv, description))
