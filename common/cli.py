"""Thin-CLI plumbing: user errors become one `error: ...` line on stderr and exit status 1."""
from __future__ import annotations

import contextlib
from typing import Iterator


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions of the zoo's library that mean bad input or missing data, not a bug."""
    from common.datasets import DatasetMissingError
    from common.resume import ResumeError
    from common.weights import ChecksumError, WeightsNotFoundError

    return (ResumeError, DatasetMissingError, ChecksumError, WeightsNotFoundError, FileNotFoundError)


@contextlib.contextmanager
def cli_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn a user error (see `user_error_types`, plus `extra`) into `error: <message>`, exit 1."""
    try:
        yield
    except (*user_error_types(), *extra) as exc:
        raise SystemExit(f"error: {exc}") from None
