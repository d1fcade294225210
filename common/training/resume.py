"""Resume state of an interrupted training run: written atomically, tied to the run's configuration.

`workdir/backup/` holds `epoch_<n>.weights.h5` (the weights after epoch n) and
`training_metadata.json` (the epoch, the weights file and the configuration of the run), each
written beside its final name, fsync'ed and renamed. The metadata is written last and names its
weights file, so a run killed while saving leaves the previous complete state in charge; the
half-written files it leaves are ignored and removed. A state saved by another configuration (say
`--init scratch` when `--init pretrained` is asked for) is refused rather than resumed.

`workdir/history.csv` has one row per finished epoch: each row is fsync'ed before the state that
records its epoch as done, and a resumed run first drops the rows of the epochs it trains again.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from common.atomic import atomic_path, write_json
from common.errors import ResumeError  # noqa: F401  (raised here; defined in the leaf module)

BACKUP_DIR = "backup"
METADATA = "training_metadata.json"
HISTORY = "history.csv"
FORMAT = 2  # 1 = Keras' BackupAndRestore (latest.weights.h5, no configuration)
# Options that may change between an interrupted run and its resumption.
NOT_PART_OF_THE_RUN = frozenset({"epochs", "out", "workdir", "restart", "early_stopping"})


def run_config(config: Any) -> dict:
    """The options that define a training run (a dataclass or dict), JSON-compatible."""
    items = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return {k: v for k, v in sorted(items.items()) if k not in NOT_PART_OF_THE_RUN}


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def backup_dir(workdir: str | os.PathLike) -> Path:
    return Path(workdir) / BACKUP_DIR


def _restart_hint(backup: Path) -> str:
    return f"delete {backup} or pass --restart to start again from epoch 0"


def read_state(workdir: str | os.PathLike, config: Any | None = None) -> dict | None:
    """The saved state `{epoch, weights, config}` of `workdir`, or None when there is none.

    Raises ResumeError (one line: what differs or what is damaged, and what to delete) when the state
    cannot be resumed by `config`. Half-written files of a killed save are removed."""
    backup = backup_dir(workdir)
    if not backup.is_dir():
        return None
    metadata_path = backup / METADATA
    if not metadata_path.is_file():
        leftovers = sorted(p.name for p in backup.iterdir())
        if leftovers:
            _warn(f"ignoring {', '.join(leftovers)} in {backup}: an interrupted save left it without "
                  f"{METADATA}; starting from epoch 0")
            shutil.rmtree(backup)
        return None
    try:
        state = json.loads(metadata_path.read_text())
        epoch, weights = int(state["epoch"]), backup / state["weights"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        if isinstance(exc, KeyError) and "format" not in _safe_json(metadata_path):
            raise ResumeError(f"{backup} holds resume state of an older version of the zoo, without its "
                              f"configuration; {_restart_hint(backup)}") from None
        raise ResumeError(f"resume state {metadata_path} is damaged ({type(exc).__name__}: {exc}); "
                          f"{_restart_hint(backup)}") from None
    _remove_leftovers(backup, keep={METADATA, weights.name})
    if not weights.is_file():
        raise ResumeError(f"resume state {metadata_path} names {weights.name}, which is missing; "
                          f"{_restart_hint(backup)}")
    if config is not None:
        saved, wanted = state.get("config", {}), run_config(config)
        differ = [k for k in sorted(set(saved) | set(wanted)) if saved.get(k) != wanted.get(k)]
        if differ:
            k = differ[0]
            raise ResumeError(f"{workdir} holds an interrupted run with {option(k)} {saved.get(k)!r}, not "
                              f"{wanted.get(k)!r}; run the same command to resume it, or pass --restart to "
                              f"discard it (or use another --workdir)")
    return {"epoch": epoch, "weights": weights, "config": state.get("config", {})}


def check_resume(config: Any) -> int:
    """Before any expensive step of `train(config)`: discard the state on `config.restart`, refuse a
    state of another configuration; returns the epoch training resumes from (0 = fresh start)."""
    from common.workers import for_this_worker

    workdir = for_this_worker(config.workdir)
    if getattr(config, "restart", False):
        discard(workdir)
        return 0
    state = read_state(workdir, config)
    if state:
        print(f"resuming {workdir} after epoch {state['epoch']}")
    return state["epoch"] if state else 0


def discard(workdir: str | os.PathLike) -> None:
    """Forget the resume state and the per-epoch log of `workdir` (--restart)."""
    shutil.rmtree(backup_dir(workdir), ignore_errors=True)
    (Path(workdir) / HISTORY).unlink(missing_ok=True)


def save_state(model, workdir: str | os.PathLike, epoch: int, config: Any) -> Path:
    """Save the weights after `epoch` then the metadata naming them, each atomically; the previous
    state stays valid until the metadata is replaced."""
    backup = backup_dir(workdir)
    weights = backup / f"epoch_{epoch:04d}.weights.h5"
    with atomic_path(weights, suffix=".weights.h5") as tmp:
        model.save_weights(str(tmp))
    write_json(backup / METADATA, {"format": FORMAT, "epoch": epoch, "weights": weights.name,
                                   "config": run_config(config)})
    _remove_leftovers(backup, keep={METADATA, weights.name})
    return weights


def load_weights(model, state: dict) -> None:
    """Load the saved weights of `state` into `model`; a damaged file is a one-line ResumeError."""
    try:
        model.load_weights(str(state["weights"]))
    except Exception as exc:  # h5py: OSError; a file of another model: ValueError
        backup = Path(state["weights"]).parent
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResumeError(f"resume state {state['weights']} cannot be loaded ({reason}); "
                          f"{_restart_hint(backup)}") from None


def _remove_leftovers(backup: Path, keep: set[str]) -> None:
    for path in backup.iterdir():
        if path.name not in keep and path.is_file():
            path.unlink(missing_ok=True)


def _safe_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
        return value if isinstance(value, dict) else {}
    except (ValueError, OSError):
        return {}


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def backup_callback(workdir: str | os.PathLike, config: Any):
    """A `keras.callbacks.BackupAndRestore` that saves through `save_state` and resumes through
    `read_state`/`load_weights`: atomic, and only for the same configuration."""
    import keras

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        def on_train_begin(self, logs=None):
            state = read_state(workdir, config)
            if state is None:
                return
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            load_weights(self.model, state)
            self.model._initial_epoch = state["epoch"]

        def _save_model(self):
            save_state(self.model, workdir, self._current_epoch, config)

    return AtomicBackupAndRestore(str(backup_dir(workdir)), delete_checkpoint=True)


def history_callback(workdir: str | os.PathLike):
    """A callback that logs each epoch's metrics to `workdir/history.csv` (the columns of Keras'
    CSVLogger), one row per epoch. It must come before `backup_callback` in the callback list, so that
    the row of an epoch is on disk before the state that records the epoch as done."""
    import keras

    path = Path(workdir) / HISTORY

    class DurableCSVLogger(keras.callbacks.Callback):
        _first_epoch = True

        def on_train_begin(self, logs=None):
            self._first_epoch = True

        def on_epoch_begin(self, epoch, logs=None):
            if self._first_epoch:  # `epoch` is where this run starts: 0, or the resumed epoch
                keep_history_before(path, epoch)
                self._first_epoch = False

        def on_epoch_end(self, epoch, logs=None):
            append_history_row(path, epoch, logs or {})

    return DurableCSVLogger()


def keep_history_before(path: Path, epoch: int) -> None:
    """Drop the rows of `epoch` and later from the history `path` (rewritten atomically): a run killed
    after logging an epoch but before saving its state trains that epoch again."""
    if not path.is_file():
        return
    with open(path, newline="") as f:
        header, *rows = list(csv.reader(f)) or [[]]
    kept = [row for row in rows if _row_epoch(header, row) < epoch]
    if not kept:
        path.unlink()
    elif len(kept) < len(rows):
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerows([header, *kept])


def _row_epoch(header: list[str], row: list[str]) -> float:
    try:
        return int(row[header.index("epoch")])
    except (ValueError, IndexError):  # a torn or foreign line: dropped
        return float("inf")


def append_history_row(path: Path, epoch: int, logs: dict) -> None:
    """Append the row of `epoch` to the history `path` and fsync it (a new file gets its header first)."""
    if not path.is_file() or path.stat().st_size == 0:
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            csv.writer(f).writerow(["epoch", *_metric_names(logs)])
    with open(path, newline="") as f:
        header = next(csv.reader(f))
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, header, restval="NA", extrasaction="ignore")
        writer.writerow({"epoch": epoch, **{k: _cell(v) for k, v in logs.items()}})
        f.flush()
        os.fsync(f.fileno())


def _metric_names(logs: dict) -> list[str]:
    names = sorted(logs)
    if not any(name.startswith("val_") for name in names):  # validation may start at a later epoch
        names += [f"val_{name}" for name in names]
    return names


def _cell(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value  # NumPy scalars and arrays
