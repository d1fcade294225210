"""The pins in pyproject.toml must install everything the zoo imports, download paths included.

The development venv holds more packages than the pins install, so a missing pin would go
unnoticed here; these tests hide every installed distribution the pins do not pull in."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib

import pytest

from tests.helpers import REPO


def pinned_distributions() -> set[str]:
    """Normalised names of the pinned distributions and everything they require, transitively."""
    from importlib import metadata

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    closure: set[str] = {canonicalize_name(project["name"])}
    todo = [(Requirement(line), "") for line in project["dependencies"]]
    seen: set[tuple[str, str]] = set()
    while todo:
        req, extra = todo.pop()
        if req.marker and not req.marker.evaluate({**default_environment(), "extra": extra}):
            continue
        name = canonicalize_name(req.name)
        closure.add(name)
        for wanted in sorted(req.extras) or [""]:
            if (name, wanted) in seen:
                continue
            seen.add((name, wanted))
            try:
                requires = metadata.requires(req.name) or []
            except metadata.PackageNotFoundError:
                continue  # not installed here: nothing to follow
            todo += [(Requirement(r), wanted) for r in requires]
    return closure


# Run in a fresh interpreter: a finder hides unpinned distributions, sockets fail at once
# (no network), and TFDS does not retry for minutes.
_OFFLINE_PINNED_ONLY = textwrap.dedent("""
    import importlib.abc, importlib.metadata, json, socket, sys
    from packaging.utils import canonicalize_name

    allowed = set(json.loads(sys.argv[1]))
    owners = importlib.metadata.packages_distributions()

    class HideUnpinned(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.partition(".")[0]
            dists = {canonicalize_name(d) for d in owners.get(top, ())}
            if dists and not dists & allowed:
                raise ModuleNotFoundError(f"No module named {top!r} (installed here, but not by the pins)",
                                          name=top)
            return None

    sys.meta_path.insert(0, HideUnpinned())

    def no_network(*args, **kwargs):
        raise OSError(101, "Network is unreachable (blocked by the test)")

    socket.socket.connect = socket.create_connection = socket.getaddrinfo = no_network
""")


def test_pinned_closure_follows_requirements_and_markers():
    closure = pinned_distributions()
    assert {"tensorflow-datasets", "keras", "requests", "etils"} <= closure
    assert "tf-nightly" not in closure  # an extra nobody asked for


# Every download path of the zoo: the TFDS builders of each model and the weights registry.
DOWNLOADS = {
    "cifar10": "from common.data.tfds import tfds_builder; tfds_builder('cifar10', DATA, download=True)",
    "speech_commands": "from common.data.tfds import tfds_builder; tfds_builder('speech_commands', DATA, download=True)",
    "coco/2017": "from common.data.tfds import tfds_builder; tfds_builder('coco/2017', DATA, download=True)",
    "lfw": "from common.data.tfds import tfds_builder; tfds_builder('lfw', DATA, download=True)",
    "dcase2020_toycar": "from models.autoencoder.data import prepare; prepare(None, DATA)",
    "weights": "from common.pipeline.recipe import load_recipe; from common.pipeline.references import fetch_file; "
               "fetch_file(load_recipe('resnet_cifar'), 'mlperf_resnet8')",
}


@pytest.mark.parametrize("what", list(DOWNLOADS))
def test_download_offline_with_only_the_pins_fails_on_the_network(what, tmp_path):
    """The README's first command on a fresh venv: an empty TFDS dir (no weights cache) must end in the
    network error, not in a module the pins do not install (tensorflow-datasets imports
    importlib_resources to download, and its own pin of it covers only Python < 3.9)."""
    import json

    script = _OFFLINE_PINNED_ONLY + textwrap.dedent(f"""
        import tensorflow_datasets.core.download.downloader as downloader
        downloader.MAX_RETRIES = 0
        DATA = sys.argv[2]
        try:
            {DOWNLOADS[what]}
        except Exception as exc:
            print("MESSAGE:", type(exc).__name__, str(exc).replace("\\n", " "))
        else:
            print("MESSAGE: no error")
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("TFDS_DATA_DIR", "ZOO_WEIGHTS_DIR")}
    env["KERAS_HOME"] = str(tmp_path / "keras")
    result = subprocess.run([sys.executable, "-c", script, json.dumps(sorted(pinned_distributions())),
                             str(tmp_path / "tfds")], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    message = next((line for line in result.stdout.splitlines() if line.startswith("MESSAGE:")), result.stderr[-2000:])
    assert "ModuleNotFoundError" not in message and "No module named" not in message, message
    assert "Network is unreachable" in message or "URL fetch failure" in message, message


def test_every_zoo_module_imports_with_only_the_pins():
    import json

    modules = sorted(".".join(p.relative_to(REPO).with_suffix("").parts) for d in ("common", "models")
                     for p in (REPO / d).rglob("*.py") if p.name != "__init__.py")
    script = _OFFLINE_PINNED_ONLY + textwrap.dedent("""
        import importlib
        for name in sys.argv[2:]:
            importlib.import_module(name)
        print("imported", len(sys.argv) - 2)
    """)
    result = subprocess.run([sys.executable, "-c", script, json.dumps(sorted(pinned_distributions())), *modules],
                            cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"imported {len(modules)}" in result.stdout
