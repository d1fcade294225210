"""A detection dataset to try your own boxes on: circles, squares and triangles of random colours and
sizes on textured backgrounds, written as a YOLO folder with classes.txt (`models.yolo.folder`).
The same arguments write the same files, byte for byte.

    python -m models.yolo.shapes --out shapes --images 300
    make custom KIND=yolo NAME=shapes DATA=shapes ARGS="--epochs 40 --learning-rate 1e-3"
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from common.errors import UserError
from models.yolo.folder import CLASSES_FILE

SHAPES = ("circle", "square", "triangle")
SIZE = (128, 128)  # (height, width) of the images written
SIDE = (0.15, 0.45)  # a shape's side, as a fraction of the image's shorter side
MAX_OBJECTS = 3


def background(rng: np.random.Generator, size: tuple[int, int] = SIZE) -> np.ndarray:
    """A textured float HxWx3 background: two random colours mixed by a random grating, plus noise."""
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    angle, frequency, phase = rng.uniform(0, np.pi), rng.uniform(2, 10), rng.uniform(0, 2 * np.pi)
    grating = 0.5 + 0.5 * np.sin(2 * np.pi * frequency * (xx * np.cos(angle) + yy * np.sin(angle)) + phase)
    low, high = rng.uniform(0, 255, (2, 3))
    return low * (1 - grating[..., None]) + high * grating[..., None] + rng.normal(0, 10, (h, w, 3))


def _overlaps(box: np.ndarray, boxes: list[np.ndarray]) -> bool:
    return any(min(box[2], b[2]) > max(box[0], b[0]) and min(box[3], b[3]) > max(box[1], b[1]) for b in boxes)


def draw_image(rng: np.random.Generator, size: tuple[int, int] = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One uint8 image and its YOLO rows (class, cx, cy, w, h normalised): 1 to 3 shapes that do not overlap."""
    from PIL import Image, ImageDraw

    h, w = size
    canvas = Image.fromarray(np.clip(background(rng, size), 0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(canvas)
    boxes: list[np.ndarray] = []
    rows = []
    for _ in range(int(rng.integers(1, MAX_OBJECTS + 1))):
        kind = int(rng.integers(len(SHAPES)))
        side = rng.uniform(*SIDE) * min(h, w)
        for _ in range(20):  # a place that overlaps no other shape
            x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
            box = np.array([x0, y0, x0 + side, y0 + side])
            if not _overlaps(box, boxes):
                break
        else:
            continue
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0, x1, y1 = box
        if SHAPES[kind] == "circle":
            pen.ellipse([x0, y0, x1, y1], fill=colour)
        elif SHAPES[kind] == "square":
            pen.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            pen.polygon([(x0, y1), (x1, y1), ((x0 + x1) / 2, y0)], fill=colour)
        boxes.append(box)
        rows.append([kind, (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h])
    image = np.asarray(canvas, np.float64) + rng.normal(0, 6, (h, w, 3))
    return np.clip(image, 0, 255).astype(np.uint8), np.asarray(rows, np.float64).reshape(-1, 5)


def write_shapes(out: str | os.PathLike, n_images: int = 300, seed: int = 0,
                 size: tuple[int, int] = SIZE) -> Path:
    """Write `n_images` images of shapes (PNG) with their labels and classes.txt into the new folder `out`."""
    from PIL import Image

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: exists and is not empty (the shapes dataset goes into a new folder)")
    if n_images < 1:
        raise UserError(f"--images must be 1 or more, not {n_images}")
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    (out / CLASSES_FILE).write_text("".join(f"{name}\n" for name in SHAPES))
    for i in range(n_images):
        image, rows = draw_image(np.random.default_rng([seed, i]), size)
        Image.fromarray(image).save(out / "images" / f"shapes_{i:04d}.png")
        (out / "labels" / f"shapes_{i:04d}.txt").write_text(
            "".join(f"{int(r[0])} {r[1]:.6f} {r[2]:.6f} {r[3]:.6f} {r[4]:.6f}\n" for r in rows))
    return out


def main(argv: Sequence[str] | None = None) -> None:
    from common.cli import ArgumentParser

    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="the new folder to write (images/, labels/, classes.txt)")
    parser.add_argument("--images", type=int, default=300, help="how many images (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every random choice (default 0)")
    args = parser.parse_args(argv)
    print(f"wrote {write_shapes(args.out, args.images, args.seed)} ({args.images} images, classes: "
          f"{', '.join(SHAPES)})")


if __name__ == "__main__":
    from common.cli import run

    run(main)
