"""References to code by name, `"package.module:attribute"`: how a recipe names a model's functions
without importing them (the step that needs one imports it, so each step loads only its own code)."""
from __future__ import annotations

import importlib
from typing import Any

Ref = str


def resolve(ref: Ref) -> Any:
    """The object `"module:attribute"` names (the module is imported now); a dotted attribute path
    reaches into it (`"models.x.data:Reader.load"`)."""
    module, sep, attribute = ref.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"{ref!r} is not a 'module:attribute' reference")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target
