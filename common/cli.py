"""Thin-CLI plumbing: user errors become one `error: ...` line on stderr and exit status 1."""
from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable, Iterator, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def user_error_types() -> tuple[type[BaseException], ...]:
    """The exceptions of the zoo's library that mean bad input or missing data, not a bug."""
    from common.datasets import DatasetMissingError
    from common.evaluation import ModelFileError
    from common.images import ImageError, LabelError
    from common.resume import ResumeError
    from common.weights import ChecksumError, WeightsNotFoundError

    return (ResumeError, DatasetMissingError, ChecksumError, WeightsNotFoundError, FileNotFoundError, ModelFileError,
            ImageError, LabelError)


@contextlib.contextmanager
def cli_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn a user error (see `user_error_types`, plus `extra`) into `error: <message>`, exit 1."""
    try:
        yield
    except (*user_error_types(), *extra) as exc:
        raise SystemExit(f"error: {exc}") from None


def user_errors_as_one_line(*extra: type[BaseException]) -> Callable[[F], F]:
    """Decorate a CLI `main`: user errors (`cli_errors`) end it with one `error: ...` line."""
    def decorate(main: F) -> F:
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            with cli_errors(*extra):
                return main(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate
