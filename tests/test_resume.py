"""Resume state (common.training.resume): atomic backups, damaged ones reported or skipped, and a state of
another configuration refused; train option checks of every model."""
from __future__ import annotations

import csv
import importlib
import json
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import REPO, require_shared

TRAINED = ("resnet_cifar", "dscnn_kws", "autoencoder", "mobilenet_vww", "yolo")
PRETRAINED_INIT = {"yolo": "efinix"}


def fit_script(workdir, epochs: int, kill_hook: str = "") -> str:
    """A tiny model trained through common.training.fit.fit, with `kill_hook` (Python code run before
    training: it patches the save it dies in, os._exit like SIGKILL) in between."""
    prologue = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(REPO)!r})
        from common import env
        import numpy as np, keras, tensorflow as tf
        from common.training import resume
        from common.training.fit import fit
        env.set_seed(0)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
        ds = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int64"))).batch(8)
    """)
    call = textwrap.dedent(f"""
        fit(model, ds, ds, epochs={epochs}, steps_per_epoch=None, workdir={str(workdir)!r},
            config={{"init": "scratch", "lr": 0.1}})
        print("done")
    """)
    return prologue + textwrap.dedent(kill_hook) + call


def _tiny_fit_script(workdir, epochs: int, kill_in_save_of_epoch: int | None = None) -> str:
    """`fit_script` that dies (os._exit, like SIGKILL) after writing 12 KB of the backup of one epoch."""
    return fit_script(workdir, epochs, f"""
        kill_epoch = {kill_in_save_of_epoch!r}
        real_save = keras.Model.save_weights
        def save_weights(self, path, *args, **kwargs):
            if kill_epoch is not None and "epoch_%04d" % kill_epoch in os.path.basename(path):
                with open(path, "wb") as f:
                    f.write(b"\\x89HDF\\r\\n\\x1a\\n" + b"\\0" * 12_000)
                    f.flush()
                os._exit(137)
            return real_save(self, path, *args, **kwargs)
        keras.Model.save_weights = save_weights
    """)


def _run(script: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)


def _epochs_logged(workdir) -> list[int]:
    with open(workdir / "history.csv") as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def test_kill_while_saving_the_backup_resumes_from_the_previous_epoch(tmp_path):
    work = tmp_path / "work"
    killed = _run(_tiny_fit_script(work, epochs=4, kill_in_save_of_epoch=3))
    assert killed.returncode == 137, killed.stderr[-2000:]
    state = json.loads((work / "backup" / "training_metadata.json").read_text())
    assert state["epoch"] == 2  # the complete state of the epoch before the kill
    assert any(p.name.startswith(".") for p in (work / "backup").iterdir())  # the half-written file

    resumed = _run(_tiny_fit_script(work, epochs=4))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # killed in the save after the third epoch (index 2), before it was logged: that epoch is trained
    # again from the state saved after the second one
    assert _epochs_logged(work) == [0, 1, 2, 3]
    assert not (work / "backup").exists()


def test_partial_backup_without_metadata_is_ignored_with_a_warning(tmp_path):
    """The state the issue reports: a 12 KB latest.weights.h5 and no training_metadata.json."""
    work = tmp_path / "work"
    (work / "backup").mkdir(parents=True)
    (work / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 12_000)
    result = _run(_tiny_fit_script(work, epochs=2))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "warning: ignoring latest.weights.h5" in result.stderr
    assert _epochs_logged(work) == [0, 1]


def test_damaged_backup_named_by_the_metadata_is_one_line_saying_what_to_delete(tmp_path):
    from common.training.resume import ResumeError, load_weights, read_state

    work = tmp_path / "work"
    killed = _run(_tiny_fit_script(work, epochs=3, kill_in_save_of_epoch=2))
    assert killed.returncode == 137
    state = read_state(work, {"init": "scratch", "lr": 0.1})
    assert state["epoch"] == 1
    state["weights"].write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # damaged after the fact (disk, copy)
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ResumeError) as info:
        load_weights(model, state)
    message = str(info.value)
    assert "\n" not in message and f"delete {work / 'backup'}" in message and "--restart" in message
    assert state["weights"].name in message


def test_metadata_of_an_older_version_is_refused_in_one_line(tmp_path):
    from common.training.resume import ResumeError, read_state

    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    (tmp_path / "backup" / "latest.weights.h5").write_bytes(b"x")
    with pytest.raises(ResumeError, match="older version.*--restart"):
        read_state(tmp_path, {"init": "scratch"})


def _fake_state(workdir, config: dict) -> None:
    backup = workdir / "backup"
    backup.mkdir(parents=True)
    (backup / "epoch_0001.weights.h5").write_bytes(b"not read: the configuration is checked first")
    (backup / "training_metadata.json").write_text(json.dumps(
        {"format": 2, "epoch": 1, "weights": "epoch_0001.weights.h5", "config": config}))


@pytest.mark.parametrize("model", TRAINED)
def test_resume_state_of_another_init_is_refused_before_loading_anything(model, tmp_path, monkeypatch):
    from common.training.resume import ResumeError, run_config

    train = importlib.import_module(f"models.{model}.train")
    work = tmp_path / "work"
    scratch = train.parse_args(["--init", "scratch", "--epochs", "3", "--workdir", str(work)])
    _fake_state(work, run_config(scratch))
    init = PRETRAINED_INIT.get(model, "pretrained")
    config = train.parse_args(["--init", init, "--epochs", "3", "--workdir", str(work), "--out", str(tmp_path / "m.keras")])
    monkeypatch.setattr("common.env.set_seed", lambda seed: pytest.fail("got past the resume check"))
    with pytest.raises(ResumeError) as info:
        train.train(config)
    message = str(info.value)
    assert "\n" not in message and "--init 'scratch'" in message and repr(init) in message
    assert "--restart" in message
    assert not (tmp_path / "m.keras").exists()


@pytest.mark.parametrize("model", TRAINED)
def test_same_command_passes_the_resume_check_and_restart_discards(model, tmp_path):
    from common.training.fit import prepare_run

    train = importlib.import_module(f"models.{model}.train")
    work = tmp_path / "work"
    argv = ["--init", "scratch", "--epochs", "3", "--workdir", str(work)]
    _fake_state(work, importlib.import_module("common.training.resume").run_config(train.parse_args(argv)))
    assert prepare_run(train.parse_args(argv + ["--epochs", "5"])) == 1  # more epochs: same run, resumed
    assert prepare_run(train.parse_args(argv + ["--restart"])) == 0
    assert not (work / "backup").exists()


@pytest.mark.parametrize("model", TRAINED)
@pytest.mark.parametrize("argv, complaint", [
    (["--init", "scratch", "--epochs", "0"], "--epochs 0 with --init scratch would save an untrained model"),
    (["--epochs", "-1"], "--epochs must be 0 or more, not -1"),
    (["--batch-size", "0"], "--batch-size must be 1 or more, not 0"),
    (["--steps-per-epoch", "0"], "--steps-per-epoch must be 1 or more, not 0"),
])
def test_train_options_that_cannot_train_are_one_line_errors(model, argv, complaint, capsys):
    train = importlib.import_module(f"models.{model}.train")
    with pytest.raises(SystemExit) as info:
        train.parse_args(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {complaint}") and err.count("\n") == 1, err


@pytest.mark.parametrize("model", TRAINED)
def test_epochs_0_still_means_import_only(model):
    train = importlib.import_module(f"models.{model}.train")
    config = train.parse_args(["--init", PRETRAINED_INIT.get(model, "pretrained"), "--epochs", "0"])
    assert config.epochs == 0


def test_cli_refuses_another_runs_state_in_one_line(tmp_path):
    """`train --init scratch` interrupted, then `train --init pretrained` on the same --workdir."""
    from common.training.resume import run_config
    from models.resnet_cifar.train import parse_args

    work = tmp_path / "work"
    _fake_state(work, run_config(parse_args(["--init", "scratch", "--workdir", str(work)])))
    result = subprocess.run([sys.executable, "-m", "models.resnet_cifar.train", "--init", "pretrained", "--epochs", "1",
                             "--workdir", str(work), "--out", str(tmp_path / "m.keras")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "--init" in lines[0] and "--restart" in lines[0], result.stderr
    assert not (tmp_path / "m.keras").exists()


def test_interrupted_scratch_run_is_not_resumed_by_pretrained(tmp_path):
    require_shared("tensorflow_datasets", "cifar10")
    require_shared("pretrained", "mlcommons", "pretrainedResnet.h5")
    import keras

    from common.training.resume import ResumeError
    from models.resnet_cifar.train import TrainConfig, train

    class Interrupt(Exception):
        pass

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise Interrupt()

    base = dict(epochs=2, batch_size=32, train_split="train[:64]", val_split="train[64:96]", steps_per_epoch=1,
                workdir=str(tmp_path / "work"), out=str(tmp_path / "model.keras"))
    with pytest.raises(Interrupt):
        train(TrainConfig(init="scratch", **base), extra_callbacks=[StopAfterFirstEpoch()])
    with pytest.raises(ResumeError, match="--init 'scratch'"):
        train(TrainConfig(init="pretrained", **base))
    model = train(TrainConfig(init="pretrained", restart=True, **base))
    assert _epochs_logged(tmp_path / "work") == [0, 1]
    assert model is not None and (tmp_path / "model.keras").is_file()
