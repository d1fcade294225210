"""Outputs: only regular files (or folders a step owns) are replaced, kits and generator output are
all-or-nothing under a kill, leftovers of a killed run are removed, and every OS error is one line."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common import atomic
from common.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def _cli(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, **(env or {})}, timeout=600)


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    return lines[0]


def test_a_pipe_or_device_named_as_output_is_refused_and_left_alone(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):
        atomic.write_bytes(fifo, b"x")
    with pytest.raises(UserError, match="not a regular file"):
        atomic.check_replaceable_file("/dev/null")
    assert fifo.is_fifo()
    from common.cli import output_file

    with pytest.raises(Exception, match="not a regular file"):
        output_file(str(fifo))


def test_leftovers_of_a_killed_writer_are_removed_by_the_next_write(tmp_path):
    target = tmp_path / "model.tflite"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    leftover = tmp_path / f".model.tflite.tmp-{dead}-abc.tflite"
    leftover.write_bytes(b"half")
    mine = tmp_path / f".model.tflite.tmp-{os.getpid()}-xyz.tflite"  # a live writer's: kept
    mine.write_bytes(b"busy")
    atomic.write_bytes(target, b"new")
    assert not leftover.exists() and mine.exists() and target.read_bytes() == b"new"


def test_a_folder_is_swapped_whole_and_a_kill_before_the_swap_keeps_the_old_one(tmp_path):
    out = tmp_path / "kit"
    with atomic.atomic_dir(out) as tmp:
        (tmp / "a.h").write_text("old a")
        (tmp / "b.cc").write_text("old b")
    owned = lambda p: p.name in {"a.h", "b.cc"}  # noqa: E731
    code = ("import os, common.atomic as a\n"
            "a._swap_in = lambda new, path: os._exit(9)\n"  # SIGKILL-like: no finally, no cleanup
            f"with a.atomic_dir({str(out)!r}, owned=lambda p: True) as tmp:\n"
            "    (tmp / 'a.h').write_text('new a'); (tmp / 'b.cc').write_text('new b')\n")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 9
    assert (out / "a.h").read_text() == "old a" and (out / "b.cc").read_text() == "old b"
    assert list(tmp_path.glob(".kit.tmp-*")), "the killed writer's temp folder"
    with atomic.atomic_dir(out, owned=owned) as tmp:
        (tmp / "a.h").write_text("new a")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kit"]  # leftovers gone, old folder gone
    assert sorted(p.name for p in out.iterdir()) == ["a.h"]


def test_a_folder_holding_other_files_is_not_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    with pytest.raises(UserError, match="thesis.tex"):
        with atomic.atomic_dir(out, owned=lambda p: p.suffix == ".h"):
            pass
    assert (out / "thesis.tex").read_text() == "keep"


def test_the_exchange_fallback_never_shows_a_mix(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = tmp_path / "efinix"
    for version in ("old", "new"):
        with atomic.atomic_dir(out, owned=lambda p: True) as tmp:
            (tmp / "define.v").write_text(version)
    assert (out / "define.v").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["efinix"]


def test_deploy_kit_survives_a_kill_and_refuses_bad_outputs(tiny, tmp_path):
    _, tflite, calib = tiny
    golden = tmp_path / "golden.npz"
    np.savez(golden, input_0=calib[:4])
    kit = tmp_path / "kit"
    args = ["--tflite", str(tflite), "--golden", str(golden), "--latency-runs", "2"]
    assert _cli("common.deploy.kit", *args, "--name", "tiny", "--out", str(kit)).returncode == 0
    before = {p.name: p.read_bytes() for p in kit.iterdir()}
    # killed just before the swap: the old kit stays whole
    code = ("import os, sys, common.atomic as a\n"
            "a._swap_in = lambda new, path: os._exit(9)\n"
            "from common.deploy.kit import main\n"
            f"main({[*args, '--name', 'tiny', '--out', str(kit), '--golden-n', '2']!r})\n")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 9
    assert {p.name: p.read_bytes() for p in kit.iterdir()} == before
    assert _cli("common.deploy.kit", *args, "--name", "tiny", "--out", str(kit), "--golden-n", "2").returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert len(np.load(kit / "golden_input.npy")) == 2

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert "not a directory" in _one_error_line(_cli("common.deploy.kit", *args, "--name", "t", "--out", str(a_file)))
    line = _one_error_line(_cli("common.deploy.kit", *args, "--name", "../escape", "--out", str(tmp_path / "k2")))
    assert "--name" in line and not (tmp_path / "escape_model_data.cc").exists()
    assert not (tmp_path / "k2").exists()
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    assert "notes.txt" in _one_error_line(_cli("common.deploy.kit", *args, "--name", "t", "--out", str(user)))
    assert (user / "notes.txt").read_text() == "keep"


@pytest.mark.parametrize("option", [["--name", "a/b"], ["--name", ".."], ["--core", "4"]])
def test_efinix_step_refuses_escaping_names_and_core_ids_it_cannot_have(tiny, tmp_path, option):
    _, tflite, _ = tiny
    fake = tmp_path / "analyzer"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    _one_error_line(_cli("common.deploy.efinix_generator", "--tflite", str(tflite), "--out", str(out),
                         "--analyzer", str(fake), *option))
    assert not out.exists() and not (tmp_path / "a").exists()


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_is_one_line_and_leaves_no_orphan_sidecar(tiny, tmp_path, err, monkeypatch,
                                                                           capsys):
    """write_quantized writes both files to temps first: a disk that fills up on the second leaves
    neither (before: an orphan .quant.json); the CLI boundary prints the OS error as one line."""
    from common.cli import cli_errors
    from common.graph.quantize import write_quantized

    _, tflite, _ = tiny
    real = Path.write_bytes

    def full(self, data):
        if self.suffix == ".tflite":
            raise OSError(err, os.strerror(err))  # as a write() that fails: no file name
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", full)
    out = tmp_path / "m.tflite"
    with pytest.raises(SystemExit) as stop, cli_errors():
        write_quantized(out, Path(tflite).read_bytes(), {"model": "tiny"})
    assert stop.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and line == f"error: {tmp_path}: {os.strerror(err)}"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
