"""Files that upstream publishes only inside a PyPI wheel: download the wheel with pip (no install,
no dependency resolution) and read one member out of it (a wheel is a zip archive)."""
from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from common.atomic import write_bytes
from common.errors import WheelError  # noqa: F401  (raised here; defined in the leaf module)


def extract_member(wheel: str | os.PathLike, member: str, out_path: str | os.PathLike) -> Path:
    """Copy `member` (a path inside the archive, e.g. `pkg/data/file.bin`) out of `wheel`, atomically."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                data = archive.read(member)
            except KeyError:
                similar = [n for n in archive.namelist() if Path(n).name == Path(member).name]
                raise WheelError(f"{wheel} has no member {member!r}"
                                 + (f" (same file name at: {similar})" if similar else "")) from None
    except zipfile.BadZipFile as exc:
        raise WheelError(f"{wheel} is not a wheel/zip archive: {exc}") from exc
    return write_bytes(out_path, data)


def download_wheel(requirement: str, dest: str | os.PathLike) -> Path:
    """`pip download --no-deps <requirement>` into `dest`; returns the downloaded wheel's path."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    before = set(dest.glob("*.whl"))
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise WheelError(f"`{' '.join(cmd)}` failed (offline?):\n{result.stderr.strip()[-2000:]}")
    wheels = sorted(set(dest.glob("*.whl")) - before) or sorted(dest.glob("*.whl"))
    name = requirement.split("==")[0].replace("-", "_").lower()
    matching = [w for w in wheels if w.name.lower().startswith(name)]
    if not matching:
        raise WheelError(f"pip reported success but no {requirement} wheel is in {dest}")
    return matching[-1]
