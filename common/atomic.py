"""Write artifacts atomically: a temp file (or folder) beside the target, then one rename.

Temp names carry the writer's pid (`.<name>.tmp-<pid>-<random>`), so that the leftovers of a killed
run are recognised and removed by the next write of the same target, and only a regular file (or a
folder the writer owns) is ever replaced: never a device, a pipe or a socket."""
from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

from common.errors import UserError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds.

    The file gets the mode a plain `open()` would give it (0666 less the umask; `mkstemp` alone
    makes it 0600) and is fsync'ed before the rename, so that a kill or power loss leaves either the
    old file or the complete new one under `path`, never a truncated one."""
    path = Path(path)
    check_replaceable_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=suffix or path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
        except OSError as exc:  # a full disk mid-write: name the file the user asked for
            if exc.filename is None and exc.errno:
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
            raise
        os.chmod(tmp_path, (0o777 if tmp_path.is_dir() else 0o666) & ~current_umask())
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_replaceable_file(path: str | os.PathLike) -> None:
    """Refuse to replace anything but a regular file (or a link to one): a device such as /dev/null,
    a pipe, a socket or a folder named as an output is a mistake, and as root a rename would
    silently put a regular file in its place."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # nothing there to replace (the folder is checked apart)
        return
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
        raise UserError(f"{path} is {kind}: an output must be a regular file; give a file path")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}.tmp-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(path: str | os.PathLike) -> list[Path]:
    """Remove the temp files/folders an earlier, killed writer of `path` left beside it (those whose
    pid no longer runs); returns what was removed."""
    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for entry in path.parent.glob(f".{path.name}.tmp-*"):
        pid = entry.name[len(f".{path.name}.tmp-"):].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


@contextlib.contextmanager
def atomic_files(paths: list[str | os.PathLike]) -> Iterator[list[Path]]:
    """Temp paths for several files that are renamed into place only when all of them are written,
    in the order given (the last one is what readers and Make look at)."""
    with contextlib.ExitStack() as stack:
        tmps = [stack.enter_context(atomic_path(p)) for p in reversed(paths)]  # exits rename in reverse
        try:
            yield list(reversed(tmps))
        except OSError as exc:  # which of the files failed is unknown here: name their folder
            if exc.filename is None and exc.errno:
                raise OSError(exc.errno, exc.strerror, str(Path(paths[-1]).parent)) from exc
            raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, owned: Callable[[Path], bool] = lambda p: False) -> Iterator[Path]:
    """Yield a fresh temp folder beside `path`; when the block succeeds it takes the place of `path`
    in one step (Linux's renameat2 RENAME_EXCHANGE; elsewhere two renames with no moment where a mix
    of old and new files is visible), and the old folder is removed. A kill at any instant leaves the
    old folder or the new one, whole; leftovers are removed by the next write.

    An existing `path` is replaced only if every entry in it is one the writer owns (`owned(entry)`):
    never a folder the user filled."""
    path = Path(path)
    check_replaceable_dir(path, owned)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), dir=path.parent))
    try:
        yield tmp
        mask = current_umask()
        os.chmod(tmp, 0o777 & ~mask)
        for entry in tmp.rglob("*"):
            _fsync(entry)
        _fsync(tmp)
        _swap_in(tmp, path)
        _fsync(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # after a swap: the old folder


def check_replaceable_dir(path: str | os.PathLike, owned: Callable[[Path], bool] = lambda p: False) -> None:
    """Refuse an output folder that is a file, or holds an entry `owned` does not recognise."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{path} exists and is not a folder: give a new folder (or the one this step wrote)")
    if path.is_dir():
        foreign = sorted(e.name for e in path.iterdir() if not owned(e))
        if foreign:
            raise UserError(f"{path} holds files this step did not write ({', '.join(foreign[:3])}"
                            f"{', ...' if len(foreign) > 3 else ''}): give a new folder, or empty it")


def _swap_in(new: Path, path: Path) -> None:
    """Put folder `new` at `path`; the previous `path` (if any) ends up at `new`."""
    if not path.exists():
        os.rename(new, path)
        return
    if _exchange(new, path):
        return
    old = Path(tempfile.mkdtemp(prefix=_temp_prefix(path), dir=path.parent))
    os.rename(path, old / "old")
    os.rename(new, path)
    os.rename(old, new)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where the OS lacks it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def current_umask() -> int:
    """The process umask (read without changing it where /proc allows)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: Path) -> None:
    if path.is_symlink():
        return
    if path.is_dir():
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:  # some platforms cannot open directories
            return
    else:
        fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # directories on some filesystems cannot be synced
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def json_text(obj: Any) -> str:
    """The zoo's JSON artifact format: indented, sorted keys, NumPy/Path values converted."""
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(json_text(obj))
    return Path(path)


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Lay out a matplotlib figure, write it as a PNG atomically and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    return Path(path)
