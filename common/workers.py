"""Where each process of a multi-worker run writes (TF_CONFIG), so that no two write the same file."""
from __future__ import annotations

import json
import os
from pathlib import Path


def for_this_worker(path: str | os.PathLike) -> Path:
    """Where this process writes `path`.

    In multi-worker training (TF_CONFIG set) every worker runs the same command; the chief
    (worker 0) writes the requested path, the others `<parent>/worker_<i>/<name>`, so that no two
    processes write the same file. Without TF_CONFIG the path is unchanged."""
    path = Path(path)
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    if kind == "chief" or (kind == "worker" and index == 0):
        return path
    return path.parent / f"{kind}_{index}" / path.name
