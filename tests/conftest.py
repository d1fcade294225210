"""Test set-up: point TFDS and the weights registry at ../shared when it is there."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", REPO.parent / "shared")).resolve()

# Must happen before TensorFlow / TFDS are imported (TFDS reads TFDS_DATA_DIR at import time).
if (SHARED / "tensorflow_datasets").is_dir():
    os.environ.setdefault("TFDS_DATA_DIR", str(SHARED / "tensorflow_datasets"))
if (SHARED / "pretrained").is_dir():
    os.environ.setdefault("ZOO_WEIGHTS_DIR", str(SHARED / "pretrained"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def require_shared(*parts: str) -> Path:
    """The path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs real data at {path} (the ../shared folder beside the checkout), absent here")
    return path


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO
