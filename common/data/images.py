"""Image and YOLO-folder reading shared by the vision models."""
from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.errors import ImageError, LabelError, UserError  # noqa: F401  (raised here; defined in the leaf module)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".gif", ".webp")


def read_image(path: str | os.PathLike, mode: str = "RGB") -> np.ndarray:
    """uint8 HxWxC array (`mode` "RGB" or "L" for grayscale HxWx1); ImageError if undecodable or
    over PIL's decompression-bomb limit (`PIL.Image.MAX_IMAGE_PIXELS`)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            # Between the limit and twice it PIL only warns and decodes anyway: refuse those too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                array = np.asarray(img.convert(mode))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"{path}: {_bomb_size(exc)} exceeds PIL's limit of {Image.MAX_IMAGE_PIXELS} pixels "
                         "(a possible decompression bomb; not decoded)") from exc
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise ImageError(f"{path}: cannot decode image ({exc})") from exc
    return array[..., None] if array.ndim == 2 else array


def _bomb_size(exc: Exception) -> str:
    """'image of N pixels', N read from PIL's message: PIL refuses before the image's size is readable."""
    match = re.search(r"\((\d+) pixels\)", str(exc))
    return f"image of {match.group(1)} pixels" if match else f"image ({exc})"


def resize(image: np.ndarray, size: tuple[int, int], antialias: bool = True) -> np.ndarray:
    """Bilinear resize of an HxWxC uint8/float image to `size` = (height, width); float32 out."""
    import tensorflow as tf

    out = tf.image.resize(image.astype(np.float32), size, method="bilinear", antialias=antialias)
    return out.numpy()


def list_images(folder: str | os.PathLike) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def images_below(folder: str | os.PathLike, what: str = "images") -> list[Path]:
    """Every image in `folder` and its sub-folders, sorted by path; a missing or image-less folder is a
    one-line error naming `what` it should hold."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder of {what} (give --data-dir)")
    found = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not found:
        raise UserError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in it or below it")
    return found


@dataclass(frozen=True)
class LabelledImage:
    image: Path
    boxes: np.ndarray  # (n, 5): class, cx, cy, w, h (normalised 0..1)


def read_yolo_labels(path: str | os.PathLike) -> np.ndarray:
    """A YOLO label file -> (n, 5) float32 [class, cx, cy, w, h]; a missing file means no boxes.

    Every line must be `class cx cy w h`: five numbers, a class id that is a whole number >= 0, and
    coordinates in 0..1 (sizes above 0). Anything else raises LabelError naming file and line, as a
    bad box would change the labels (and the metrics) without a word."""
    path = Path(path)
    if not path.is_file():
        return np.zeros((0, 5), np.float32)
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        rows.append(_parse_yolo_line(line, f"{path}:{lineno}"))
    return np.asarray(rows, np.float32).reshape(-1, 5)


def _parse_yolo_line(line: str, where: str) -> list[float]:
    parts = line.split()
    if len(parts) != 5:
        raise LabelError(f"{where}: expected 5 fields 'class cx cy w h', got {len(parts)}: {line.strip()!r}")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        raise LabelError(f"{where}: non-numeric field in {line.strip()!r}") from None
    if not all(np.isfinite(values)):
        raise LabelError(f"{where}: NaN or infinite value in {line.strip()!r}")
    class_id, cx, cy, w, h = values
    if class_id < 0 or class_id != int(class_id):
        raise LabelError(f"{where}: class id must be a whole number >= 0, got {parts[0]!r}")
    if not (0 <= cx <= 1 and 0 <= cy <= 1 and 0 < w <= 1 and 0 < h <= 1):
        raise LabelError(f"{where}: box 'cx cy w h' must lie in 0..1 (sizes above 0), got {' '.join(parts[1:])}")
    return values


def read_yolo_folder(folder: str | os.PathLike) -> list[LabelledImage]:
    """`folder/images/*.jpg` with `folder/labels/<stem>.txt` (an image without a label file has no
    boxes, as in COCO). A missing labels folder, or label files none of which match an image, is an
    error; a few orphan label files (coco128 ships two) only warn."""
    folder = Path(folder)
    images_dir, labels_dir = folder / "images", folder / "labels"
    if not images_dir.is_dir():
        raise FileNotFoundError(f"{folder}: no images/ folder (expected the YOLO layout images/ + labels/)")
    if not labels_dir.is_dir():
        raise FileNotFoundError(f"{folder}: no labels/ folder (expected the YOLO layout images/ + labels/)")
    images = list_images(images_dir)
    if not images:
        raise FileNotFoundError(f"{images_dir}: no images")
    stems = {p.stem for p in images}
    labels = sorted(labels_dir.glob("*.txt"))
    orphans = [p.name for p in labels if p.stem not in stems]
    if labels and len(orphans) == len(labels):
        raise ValueError(
            f"{labels_dir}: none of the {len(labels)} label files matches an image in {images_dir} "
            f"(e.g. {orphans[:3]}); labels/<name>.txt must share the image's file name"
        )
    if orphans:
        warnings.warn(f"{labels_dir}: {len(orphans)} label files match no image: {orphans[:5]}", stacklevel=2)
    return [LabelledImage(p, read_yolo_labels(labels_dir / f"{p.stem}.txt")) for p in images]
