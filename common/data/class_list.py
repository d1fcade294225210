"""A list of class names, one per line in output order: a dataset's `classes.txt` (YOLO's convention),
and the classes a model trained on your data answers, kept beside it.

`build/N/model.keras` and `build/N/model.tflite` share `build/N/model.classes.txt`: training writes it,
the pipeline's quantize step copies it beside its output, and quantize and evaluate read it. A model
without one answers its recipe's own classes.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from common.errors import DataLayoutError

SUFFIX = ".classes.txt"


def parse_class_names(raw: Sequence[str], where: str) -> tuple[str, ...]:
    """Class names from the lines of a class list (or the parts of a `--classes a,b,c` value); one line
    naming `where` and the fix when they cannot be a class list (none, an unnamed class, a repeat)."""
    names = [name.strip() for name in raw]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise DataLayoutError(f"{where}: no class name in it (one name per line; line k names class id k)")
    if "" in names:
        raise DataLayoutError(f"{where}: class {names.index('')} has no name (an empty line would shift every "
                              "later class id): remove it or name the class")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataLayoutError(f"{where}: class name(s) {', '.join(repeated)} given more than once")
    return tuple(names)


def classes_file(model: str | os.PathLike) -> Path:
    """Where a model's class list lies: `build/N/model.keras` -> `build/N/model.classes.txt`."""
    model = Path(model)
    return model.with_name(model.stem + SUFFIX)


def write_classes(model: str | os.PathLike, names: Sequence[str] | None) -> Path | None:
    """Write the class list beside `model` (atomically); None: the recipe's classes, a stale list is removed."""
    from common.atomic import atomic_path

    path = classes_file(model)
    if not names:
        path.unlink(missing_ok=True)
        return None
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(f"{name}\n" for name in parse_class_names(names, str(path))))
    return path


def read_classes(model: str | os.PathLike) -> tuple[str, ...] | None:
    """The class list beside `model`, None when it has none."""
    path = classes_file(model)
    return parse_class_names(path.read_text().splitlines(), str(path)) if path.is_file() else None


def carry_classes(model: str | os.PathLike, out: str | os.PathLike) -> Path | None:
    """`out`, made from `model` (e.g. its int8 file), gets `model`'s class list (or none)."""
    if classes_file(model) == classes_file(out):
        return classes_file(out) if classes_file(out).is_file() else None
    return write_classes(out, read_classes(model))
