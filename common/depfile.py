"""Make dependencies from what a step really loads, the way a C compiler writes `-MD` files.

When Make runs a step with `ZOO_MAKE_TARGET=<target>` in the environment, `common.cli.run` calls
`record()` before the step starts and `write()` after it succeeds: `<target>.d` then names every
source file of the project the step imported (from `sys.modules`) or opened (a Darknet cfg, say),
and the Makefile includes these files. Editing a module rebuilds exactly the targets whose steps
loaded it: `common/graph/efinix.py` is loaded from quantize onward, so `data.json` does not depend
on it. Nothing is listed by hand.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

TARGET_ENV = "ZOO_MAKE_TARGET"
DEPFILE_ENV = "ZOO_MAKE_DEPFILE"  # where to write it when not `<target>.d` (a target inside a folder swapped whole)
REPO = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("common", "models")  # where the project's sources live (not build/, not data)
_opened: set[Path] = set()


def _is_source(path: Path) -> bool:
    try:
        relative = path.relative_to(REPO)
    except ValueError:
        return False
    return bool(relative.parts) and relative.parts[0] in SOURCE_DIRS and "__pycache__" not in relative.parts


def _audit(event: str, args: tuple) -> None:
    """Note a source file opened for reading (a cfg, a data table): it is a dependency too."""
    if event != "open" or not isinstance(args[0], (str, os.PathLike)):
        return
    text, mode, flags = os.fspath(args[0]), args[1], args[2]
    reading = not any(c in mode for c in "wax+") if isinstance(mode, str) else (flags & os.O_ACCMODE) == os.O_RDONLY
    if reading and not text.endswith((".py", ".pyc")):
        path = Path(text).resolve()
        if _is_source(path):
            _opened.add(path)


def record() -> None:
    """Start noting the source files this process opens (only when Make asked for a dependency file)."""
    if os.environ.get(TARGET_ENV):
        sys.addaudithook(_audit)


def sources() -> list[str]:
    """The project's source files this process has loaded or opened, relative to the repository."""
    found = set(_opened)
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py"):
            path = Path(file).resolve()
            if _is_source(path):
                found.add(path)
    return sorted(p.relative_to(REPO).as_posix() for p in found)


def write() -> Path | None:
    """`<target>.d` for the target in $ZOO_MAKE_TARGET: `target: sources`, plus an empty rule per
    source so that a deleted module does not stop Make (as `gcc -MP` does)."""
    from common.atomic import write_bytes

    target = os.environ.get(TARGET_ENV)
    if not target:
        return None
    files = sources()
    text = f"{target}: {' '.join(files)}\n" + "".join(f"{f}:\n" for f in files)
    return write_bytes(os.environ.get(DEPFILE_ENV) or f"{target}.d", text.encode())
