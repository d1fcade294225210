"""What every CLI of the zoo shares: the parser, the data options, argument types and the error
boundary that turns a user error into one `error: ...` line and exit status 2 (`--debug` anywhere on
the command line, or ZOO_DEBUG=1, shows the traceback instead).

The CLI contract, the same for every model and step (tests/test_cli_contract.py checks it):
- `--data-dir DIR` is always a *folder* dataset (its layout is the model's; a model without a
  folder source refuses it naming `--tfds-dir`);
- `--tfds-dir DIR` is always a TFDS data directory (default: $TFDS_DATA_DIR, else TFDS's own);
- an entry point is `run(main)`: a user error is one `error: ...` line on stderr and exit status 2,
  `--debug` (documented in every --help) shows the traceback."""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from common.errors import USER_ERRORS, UserError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2


DATA_DIR_HELP = "folder dataset: {layout}"
NO_FOLDER_HELP = "folder dataset: none for this model (refused: {dataset} comes from TFDS, see --tfds-dir)"
TFDS_DIR_HELP = "TFDS data directory (default: $TFDS_DATA_DIR, else TFDS's ~/tensorflow_datasets)"
DEBUG_HELP = "on an error, show the Python traceback instead of one `error:` line (also ZOO_DEBUG=1)"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the zoo's error format: one `error: ...` line (no usage block), exit status 2;
    `--debug` (handled by `run`) is listed in --help."""

    def __init__(self, *args, debug: bool = True, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        if debug:
            add_debug_arg(self)

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"error: {message} (see {self.prog} --help)\n")


def option_values(argv: Sequence[str], *names: str, allow_abbrev: bool = True) -> dict[str, str | None]:
    """The values of the options `names` (e.g. "--model") in a command line meant for another parser,
    read ahead of it (None where absent); everything else is left to that parser, which reports it."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=allow_abbrev)
    for name in names:
        parser.add_argument(name, dest=name)
    known, _ = parser.parse_known_args(list(argv))
    return {name: getattr(known, name) for name in names}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add_debug_arg(parser: argparse.ArgumentParser) -> None:
    """`--debug`: `run` strips it from the command line; it is declared so that --help lists it."""
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)


def refuse_folder(dataset: str) -> Callable[[str], str]:
    def refuse(text: str) -> str:
        raise argparse.ArgumentTypeError(
            f"{text!r}: this model has no folder dataset ({dataset} is read from TFDS); "
            "give a TFDS data directory with --tfds-dir")
    return refuse


def add_data_args(parser: argparse.ArgumentParser, *, folder: str | None, tfds: str,
                  tfds_help: str | None = None) -> None:
    """The data options of every CLI: `--data-dir` (a folder dataset whose layout `folder` describes;
    `folder=None`: the model has none and the option is refused naming --tfds-dir) and `--tfds-dir`
    (a TFDS data directory holding `tfds`; `tfds_help` says what the step does with it)."""
    if folder is None:
        parser.add_argument("--data-dir", type=refuse_folder(tfds), help=NO_FOLDER_HELP.format(dataset=tfds))
    else:
        parser.add_argument("--data-dir", help=DATA_DIR_HELP.format(layout=folder))
    parser.add_argument("--tfds-dir", help=TFDS_DIR_HELP + (f"; {tfds_help}" if tfds_help else f"; holds {tfds}"))


def writable_file(path: str | os.PathLike) -> Path:
    """`path` if a file can be created there (its folder exists or can be made, and is writable);
    checked before any expensive work so that a bad --out fails in the first second."""
    from common.atomic import check_replaceable_file

    path = Path(path)
    check_replaceable_file(path)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"cannot write {path}: {folder} is not a writable directory")
    if path.exists() and not os.access(path.parent, os.W_OK):
        raise UserError(f"cannot replace {path}: {path.parent} is not writable")
    return path


def output_file(text: str) -> Path:
    """argparse type for an output path: refused at parse time if it cannot be written."""
    try:
        return writable_file(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:  # "[Errno 28] ...: 'x'" -> "x: ..."
        return f"{exc.filename}: {exc.strerror}" + (f" ({exc.filename2})" if exc.filename2 else "")
    return " ".join(str(exc).split()) or type(exc).__name__


def _debug(argv: Sequence[str] | None = None) -> bool:
    return "--debug" in (sys.argv[1:] if argv is None else argv) or os.environ.get("ZOO_DEBUG") == "1"


@contextlib.contextmanager
def cli_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Turn a user error (`common.errors.USER_ERRORS`, plus `extra`) into `error: <message>`, exit 2."""
    try:
        yield
    except (*USER_ERRORS, *extra) as exc:
        if _debug():
            raise
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        raise SystemExit(EXIT_USER_ERROR) from None


def output_dir(text: str) -> Path:
    """argparse type for an output folder: refused at parse time if it cannot be created or written."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} exists and is not a directory")
    folder = path
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write into {path}: {folder} is not a writable directory")
    return path


def user_errors_as_one_line(*extra: type[BaseException]) -> Callable[[F], F]:
    """Decorate a CLI `main`: user errors (`cli_errors`) end it with one `error: ...` line."""
    def decorate(main: F) -> F:
        @functools.wraps(main)
        def wrapper(*args, **kwargs):
            with cli_errors(*extra):
                return main(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def run(main: Callable[[Sequence[str] | None], object], argv: Sequence[str] | None = None) -> None:
    """The entry point of every CLI (`if __name__ == "__main__": run(main)`): call `main(argv)`; a
    user error (or a ValueError from bad data) becomes `error: <message>` on stderr and exit status 2."""
    from common import depfile

    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--debug"]
    if _debug(argv):
        os.environ["ZOO_DEBUG"] = "1"
    depfile.record()
    with cli_errors(ValueError):
        main(args)
    depfile.write()  # under Make: <target>.d, the sources this step loaded (common.depfile)
