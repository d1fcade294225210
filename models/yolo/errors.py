"""The input problems the yolo CLIs report as one clear line instead of a traceback."""
from __future__ import annotations

import contextlib
from typing import Iterator

from common.datasets import DatasetMissingError
from common.images import ImageError, LabelError
from common.resume import ResumeError
from common.weights import ChecksumError, WeightsNotFoundError
from models.yolo.darknet import CfgError, WeightsError
from models.yolo.tflite_import import TFLiteImportError

USER_ERRORS = (CfgError, WeightsError, TFLiteImportError, ImageError, FileNotFoundError, DatasetMissingError,
               ChecksumError, WeightsNotFoundError, ResumeError, LabelError)


@contextlib.contextmanager
def cli_errors() -> Iterator[None]:
    """Turn a bad-input exception into `error: <message>` on stderr and exit status 1."""
    try:
        yield
    except USER_ERRORS as exc:
        raise SystemExit(f"error: {exc}") from None
