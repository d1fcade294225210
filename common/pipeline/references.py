"""The published files of a recipe (weights it imports, files it is compared with), fetched and
verified by sha256 (`common.data.weights.fetch`), and the reference files evaluation scores."""
from __future__ import annotations

import os
from pathlib import Path

from common.data.weights import WeightFile, fetch, keras_cache_dir, sha256_of
from common.errors import RecipeError
from common.pipeline.recipe import Recipe, Reference, find_file


def file_entry(recipe: Recipe, name: str) -> WeightFile:
    """The published file `name`: the recipe's own, else another recipe's of that name."""
    try:
        return recipe.file(name)
    except RecipeError:
        found = find_file(name)
        if found is None:
            raise
        return found


def fetch_file(recipe: Recipe, name: str, path: str | os.PathLike | None = None) -> Path:
    """A verified local copy of the recipe's published file `name` (`path`: use that file)."""
    return fetch(file_entry(recipe, name), path)


def resolve_file(recipe: Recipe, name_or_path: str | os.PathLike) -> Path:
    """A published file's name (fetched and verified) or the path of an existing file; anything else
    is a FileNotFoundError that says what is accepted."""
    text = str(name_or_path)
    try:
        return fetch_file(recipe, text)
    except RecipeError:
        pass
    path = Path(text)
    if path.is_file():
        return path
    names = ", ".join(f.name for f in recipe.files)
    raise FileNotFoundError(f"{text!r} is neither an existing file nor a published file of {recipe.name} ({names})")


def fetch_reference(recipe: Recipe, reference: Reference) -> Path:
    """The file a Reference scores: fetched (or the path given), repaired by its `prepare` if it has one."""
    path = resolve_file(recipe, reference.file)
    if reference.prepare:
        prepare = recipe.resolve(reference.prepare)
        out = keras_cache_dir() / "prepared" / f"{sha256_of(path)[:16]}-{path.name}"
        if not out.is_file():
            prepare(path, out)
        return out
    return path
