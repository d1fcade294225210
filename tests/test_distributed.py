"""Scale-out: two local MultiWorkerMirroredStrategy workers train resnet_cifar and agree."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import require_shared


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_and_agree_on_weights(repo, tmp_path):
    require_shared("tensorflow_datasets", "cifar10")
    from common.graph.keras_io import load_model

    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = {**os.environ, "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "models.resnet_cifar.train", "--strategy", "multiworker", "--init", "scratch",
               "--epochs", "1", "--steps-per-epoch", "3", "--batch-size", "16",
               "--train-split", "train[:96]", "--val-split", "train[96:128]",
               "--out", str(tmp_path / "model.keras"), "--workdir", str(tmp_path / "work")]
        procs.append(subprocess.Popen(cmd, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
    chief = load_model(tmp_path / "model.keras")
    other = load_model(tmp_path / "worker_1" / "model.keras")
    start = __import__("models.resnet_cifar.model", fromlist=["build_model"]).build_model()
    trained = [w for w in chief.get_weights()]
    assert any(not np.allclose(a, b) for a, b in zip(trained, start.get_weights()))  # it did train
    for a, b in zip(trained, other.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
