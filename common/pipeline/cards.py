"""Model cards: what each model is, in one place (`models/<name>/card.py` defines `CARD`).

The zoo report, `benchmarks/zoo.py` and every `evaluate.py` default read the cards; adding a model
is one folder under `models/` with its `card.py`.

    from common.pipeline.cards import all_cards, load_card, resolve_reference
    load_card("yolo").efinix_reference          # "efinix_yolo"
    resolve_reference("efinix_yolo")            # registry name -> verified local file
    resolve_reference("my/other.tflite")        # a path -> that file (must exist)
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
NONE = "none"  # a CLI value meaning "no reference"


@dataclass(frozen=True)
class ModelCard:
    name: str  # = the folder under models/
    task: str  # e.g. "Image classification"
    architecture: str  # e.g. "ResNet-8 (MLPerf Tiny)"
    input: str  # e.g. "32x32x3"
    dataset: str  # e.g. "CIFAR-10"
    metric: str  # the headline metric, e.g. "top-1 accuracy"
    higher_is_better: bool
    quality_target: str
    calibration: str  # where the int8 calibration data comes from
    calibration_n: int  # how many calibration samples (0: ranges taken from another file)
    references: tuple[str, ...] = ()  # registry names (common.data.weights) of reference models, main one first
    efinix_reference: str | None = None  # registry name of the Efinix TinyML Generator's file

    @property
    def reference(self) -> str | None:
        """The main reference file's registry name (the evaluate `--reference` default)."""
        return self.references[0] if self.references else None


class CardError(LookupError):
    """No such model, or its card is malformed."""


def model_names() -> list[str]:
    """Every folder under models/ that has a card.py, sorted."""
    return sorted(p.parent.name for p in MODELS_DIR.glob("*/card.py"))


def load_card(name: str) -> ModelCard:
    """The card of `models/<name>/card.py`."""
    if not (MODELS_DIR / name / "card.py").is_file():
        raise CardError(f"unknown model {name!r}: no models/{name}/card.py (models: {', '.join(model_names())})")
    card = getattr(importlib.import_module(f"models.{name}.card"), "CARD", None)
    if not isinstance(card, ModelCard):
        raise CardError(f"models/{name}/card.py must define CARD = common.pipeline.cards.ModelCard(...)")
    if card.name != name:
        raise CardError(f"models/{name}/card.py: CARD.name is {card.name!r}, expected {name!r}")
    return card


def all_cards() -> dict[str, ModelCard]:
    """name -> card for every model folder with a card.py."""
    return {name: load_card(name) for name in model_names()}


def resolve_reference(name_or_path: str | os.PathLike) -> Path:
    """A registered weights name (`common.data.weights.REGISTRY`, fetched and sha256-checked) or the path
    of an existing file. Anything else is a FileNotFoundError that says what is accepted."""
    from common.data.weights import REGISTRY, fetch

    text = str(name_or_path)
    if text in REGISTRY:
        return fetch(text)
    path = Path(text)
    if path.is_file():
        return path
    raise FileNotFoundError(f"{text!r} is neither an existing file nor a registered weights name "
                            f"(e.g. {', '.join(sorted(n for n in REGISTRY if n.startswith('efinix_'))[:3])}, ...)")
