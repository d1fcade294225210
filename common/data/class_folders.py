"""Your own classes: a folder with one sub-folder per class (the folder name is the class name; the
output order is the sorted names), the layout every "your own data" flow reads (`make custom`).

Every way such a folder can be wrong is one line naming the folder and what to do, before anything is
trained: no such folder, no class folder, one class, a class folder without files, files lying outside
the class folders (they are never given a class). A file that does not decode is skipped and listed
when the files are read, never relabelled.

    classes = scan_class_folders("photos", IMAGE_EXTENSIONS)
    train, val, test = split_by_file(classes, (0.8, 0.1, 0.1), seed=0)
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from common.errors import DataLayoutError

LAYOUT = "one sub-folder per class, named after it"


@dataclass(frozen=True)
class ClassFolders:
    root: Path
    classes: tuple[str, ...]  # sorted: class index = output index
    files: tuple[tuple[Path, int], ...]  # (file, class index), sorted by path
    extra_folders: tuple[str, ...] = ()  # sub-folders the caller set aside (e.g. _background_noise_)

    def counts(self) -> dict[str, int]:
        return {name: sum(1 for _, label in self.files if label == k) for k, name in enumerate(self.classes)}


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def scan_class_folders(root: str | os.PathLike, extensions: Sequence[str], *, what: str = "files",
                       min_classes: int = 2, set_aside: Sequence[str] = ()) -> ClassFolders:
    """The classes and files of `root` (files of `extensions`, any depth below their class folder;
    hidden files and folders ignored; the folders named in `set_aside` are not classes)."""
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(f"{root}: no such folder ({LAYOUT}, holding {what})")
    extensions = tuple(e.lower() for e in extensions)
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    aside = tuple(f for f in folders if f in set_aside)
    classes = [f for f in folders if f not in set_aside]
    loose = sorted(p.name for p in root.iterdir() if p.is_file() and _visible(p, root)
                   and p.suffix.lower() in extensions)
    if loose:
        shown = ", ".join(loose[:3]) + (f" and {len(loose) - 3} more" if len(loose) > 3 else "")
        raise DataLayoutError(f"{root}: {len(loose)} of its {what} lie outside any class folder ({shown}): "
                              f"move each into the folder of its class ({LAYOUT})")
    if not classes:
        raise DataLayoutError(f"{root}: no class folder in it ({LAYOUT}, holding {what})")
    files = []
    empty = []
    for label, name in enumerate(classes):
        found = sorted(p for p in (root / name).rglob("*") if p.is_file() and p.suffix.lower() in extensions
                       and _visible(p, root))
        if not found:
            empty.append(name)
        files += [(p, label) for p in found]
    if empty:
        raise DataLayoutError(f"{root}: class folder(s) {', '.join(empty)} hold no {what} "
                              f"({', '.join(extensions)}): add some or remove the folder")
    if len(classes) < min_classes:
        raise DataLayoutError(f"{root}: {len(classes)} class ({', '.join(classes)}); at least {min_classes} "
                              f"classes are needed ({LAYOUT})")
    return ClassFolders(root, tuple(classes), tuple(sorted(files)), aside)


def _unit_interval(name: str, seed: int) -> float:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def part_sizes(n: int, fractions: Sequence[float]) -> list[int]:
    """`n` split by `fractions` (largest remainders); every part asked for gets at least one item when
    there are enough, taken from the largest part."""
    sizes = [int(f * n) for f in fractions]
    by_remainder = sorted(range(len(fractions)), key=lambda k: -(fractions[k] * n - sizes[k]))
    for k in by_remainder[:n - sum(sizes)]:
        sizes[k] += 1
    wanted = [k for k, f in enumerate(fractions) if f > 0]
    if n >= len(wanted):
        for k in wanted:
            if sizes[k] == 0:
                donor = max(range(len(sizes)), key=lambda j: sizes[j])
                sizes[donor] -= 1
                sizes[k] += 1
    return sizes


def split_by_file(data: ClassFolders, fractions: Sequence[float], seed: int = 0) -> list[list[tuple[Path, int]]]:
    """The files in len(fractions) parts (e.g. train/val/test), class by class, ordered by a seeded hash
    of each file's path inside the folder (no file in two parts; the same data and seed give the same
    parts). Each class is split by `part_sizes`."""
    if abs(sum(fractions) - 1.0) > 1e-9 or any(f < 0 for f in fractions):
        raise ValueError(f"fractions {list(fractions)} must be >= 0 and sum to 1")
    parts: list[list[tuple[Path, int]]] = [[] for _ in fractions]
    for label in range(len(data.classes)):
        files = sorted((f for f in data.files if f[1] == label),
                       key=lambda f: _unit_interval(f[0].relative_to(data.root).as_posix(), seed))
        start = 0
        for k, size in enumerate(part_sizes(len(files), fractions)):
            parts[k] += files[start:start + size]
            start += size
    return [sorted(p) for p in parts]
