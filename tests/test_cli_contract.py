"""One CLI contract for every model and step (common/cli.py): `--data-dir` is always a folder
dataset, `--tfds-dir` always a TFDS data directory, every entry point is `common.cli.run(main)` so a
user error is one `error: ...` line and exit status 2, and `--debug` (in every --help) shows the
traceback instead.

`python tests/test_cli_contract.py` prints the per-model table of data flags."""
from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common import cli  # noqa: E402

MODELS = sorted(p.parent.name for p in (REPO / "models").glob("*/evaluate.py"))
STEPS = ("data", "train", "quantize", "evaluate")
NO_DATA = {("facemesh", "train"), ("face_detection", "train")}  # import MediaPipe's weights, checked on random images
ENTRY_POINTS = sorted(p for folder in ("models", "common") for p in (REPO / folder).rglob("*.py")
                      if '\nif __name__ == "__main__":' in p.read_text())


class _Parsed(Exception):
    def __init__(self, parser):
        self.parser = parser


def parser_of(module_name: str, monkeypatch) -> cli.ArgumentParser:
    """The parser a CLI's `main` builds (caught at its parse_args, so nothing runs)."""
    module = importlib.import_module(module_name)

    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    monkeypatch.setattr(cli.ArgumentParser, "parse_args", capture)
    with pytest.raises(_Parsed) as info:
        module.main([])
    return info.value.parser


def options(parser) -> dict[str, str]:
    return {opt: action.help or "" for action in parser._actions for opt in action.option_strings}


def data_flags(opts: dict[str, str]) -> tuple[str, str]:
    """(meaning of --data-dir, meaning of --tfds-dir) for the table."""
    data = opts.get("--data-dir")
    data = ("-" if data is None else "refused (no folder source)" if data.startswith(cli.NO_FOLDER_HELP.split(":")[0] + ": none")
            else "folder dataset" if data.startswith("folder dataset: ") else f"?? {data}")
    tfds = opts.get("--tfds-dir")
    tfds = "-" if tfds is None else "TFDS data dir ($TFDS_DATA_DIR)" if tfds.startswith(cli.TFDS_DIR_HELP) else f"?? {tfds}"
    return data, tfds


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_entry_point_is_common_cli_run(path):
    tree = ast.parse(path.read_text())
    blocks = [n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test)]
    assert len(blocks) == 1
    assert ast.unparse(blocks[0]).splitlines()[1:] == ["    from common.cli import run", "    run(main)"], (
        f"{path}: the entry point must be `run(main)` (common.cli's error boundary)")


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("step", STEPS)
def test_data_flags_mean_the_same_everywhere(model, step, monkeypatch):
    opts = options(parser_of(f"models.{model}.{step}", monkeypatch))
    assert opts.get("--debug") == cli.DEBUG_HELP
    assert "--tfds-data-dir" not in opts
    data, tfds = data_flags(opts)
    if (model, step) in NO_DATA:
        assert (data, tfds) == ("-", "-")
        return
    assert data in ("folder dataset", "refused (no folder source)"), data
    assert tfds == "TFDS data dir ($TFDS_DATA_DIR)", tfds


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("step", STEPS)
def test_every_help_prints(model, step, monkeypatch):
    """--help of every step formats (a recipe's text holds no stray `%` for argparse) and lists its options."""
    text = parser_of(f"models.{model}.{step}", monkeypatch).format_help()
    assert "--debug" in text and "usage:" in text and ("--out" in text or "--model" in text)


def test_a_model_without_folder_source_refuses_data_dir_naming_tfds_dir(capsys):
    """(Every zoo model reads folders now; a recipe without a folder layout still refuses --data-dir.)"""
    from dataclasses import replace

    from common.pipeline import evaluate
    from common.pipeline.recipe import load_recipe

    recipe = load_recipe("resnet_cifar")
    tfds_only = replace(recipe, data=replace(recipe.data, folder=None))
    with pytest.raises(SystemExit) as info:
        cli.run(lambda argv: evaluate.main(tfds_only, argv), ["--model", "m.tflite", "--data-dir", "/some/folder"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and err.startswith("error: argument --data-dir")
    assert "--tfds-dir" in err


def _one_error_line(capsys, call) -> str:
    with pytest.raises(SystemExit) as info:
        call()
    captured = capsys.readouterr()
    assert info.value.code == 2, captured
    assert captured.err.startswith("error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    return captured.err


@pytest.mark.parametrize("model", MODELS)
def test_evaluate_missing_model_is_one_error_line(model, capsys):
    module = importlib.import_module(f"models.{model}.evaluate")
    err = _one_error_line(capsys, lambda: cli.run(module.main, ["--model", "/nonexistent/model.tflite"]))
    assert "/nonexistent/model.tflite" in err


@pytest.mark.parametrize("model", MODELS)
def test_quantize_missing_model_is_one_error_line(model, capsys, tmp_path):
    module = importlib.import_module(f"models.{model}.quantize")
    err = _one_error_line(capsys, lambda: cli.run(module.main, ["--model", "/nonexistent/model.keras",
                                                               "--out", str(tmp_path / "m.tflite")]))
    assert "/nonexistent/model.keras" in err
    assert not list(tmp_path.iterdir())


def test_debug_raises_instead(monkeypatch):
    from models.facemesh import evaluate

    monkeypatch.delenv("ZOO_DEBUG", raising=False)
    try:
        with pytest.raises(FileNotFoundError):
            cli.run(evaluate.main, ["--model", "/nonexistent/model.tflite", "--debug"])
    finally:
        os.environ.pop("ZOO_DEBUG", None)  # run() sets it for the rest of the process under --debug


def test_as_a_process_one_line_then_traceback_with_debug():
    command = [sys.executable, "-m", "models.facemesh.evaluate", "--model", "/nonexistent/model.tflite"]
    env = {k: v for k, v in os.environ.items() if k != "ZOO_DEBUG"}
    plain = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert plain.returncode == 2
    assert plain.stderr.startswith("error: ") and plain.stderr.count("\n") == 1, plain.stderr
    debug = subprocess.run([*command, "--debug"], cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def flag_table() -> str:
    """Markdown table: per model and step, what --data-dir and --tfds-dir mean."""
    import unittest.mock

    def capture(self, *args, **kwargs):
        raise _Parsed(self)

    rows = ["| model | step | --data-dir | --tfds-dir | --debug |", "|---|---|---|---|---|"]
    for model in MODELS:
        for step in STEPS:
            module = importlib.import_module(f"models.{model}.{step}")
            with unittest.mock.patch.object(cli.ArgumentParser, "parse_args", capture):
                try:
                    module.main([])
                except _Parsed as parsed:
                    opts = options(parsed.parser)
            data, tfds = data_flags(opts)
            rows.append(f"| {model} | {step} | {data} | {tfds} | {'yes' if '--debug' in opts else 'no'} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(flag_table())
