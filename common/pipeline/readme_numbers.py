"""The measured numbers in the model READMEs, checked against (or rewritten from) a build.

A README marks each number that a build measures:

    | **int8** | <!-- measured:report:metric_int8:pct -->87.94%<!-- /measured --> | ...

`report` / `profile` = `build/<model>/report.json` / `kit/profile.json`; the key is a dotted path into
it (list items by index: `clips.0.score_model`); the format is one of FORMATS (a number; a score with
its 95% interval, `score_pct`; a paired verdict against a reference, `verdict`). A number must print
the same as the build's, unless the marker names how far it may move between CPUs, `abs=<x>` or
`rel=<x>` after the format (`<!-- measured:report:metric_int8_litert:pct:abs=0.02 -->`): only for a
figure that depends on the CPU by design (LiteRT's x86 kernels; README "Reproducibility across
machines"). A README that disagrees with the build fails `check` (the end-to-end tests call it on
their fresh build), and

    python -m common.pipeline.readme_numbers --build build            # check every model README; exit 1 on drift
    python -m common.pipeline.readme_numbers --build build --write    # rewrite the marked numbers from the build

regenerates them.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from common.atomic import atomic_path
from common.pipeline.recipe import MODELS_DIR, model_names
from common.cli import ArgumentParser, UserError, user_errors_as_one_line
from common.evaluation.formats import VALUE_FORMATS, score_text, verdict_text

FORMATS: dict[str, Callable[[object], str]] = {
    **VALUE_FORMATS,
    # a score with its 95% interval (report.json `scores.<x>` / `references.<r>.score`): 87.94% [85.58, 89.97]
    **{f"score_{name}": (lambda name: lambda s: score_text(s, name))(name) for name in ("pct", "x100", "f4")},
    "verdict": verdict_text,  # a paired verdict (`references.<r>.ours_vs_it`): within noise (p=1)
}
SOURCES = {"report": "report.json", "profile": "kit/profile.json"}
PARSERS: dict[str, Callable[[str], float]] = {
    "pct": lambda t: float(t.rstrip("%")) / 100,
    "signed_pct": lambda t: float(t.rstrip("%")) / 100,
    "x100": lambda t: float(t) / 100,
    "int": lambda t: float(t.replace(",", "")),
    "f4": float,
    "sci": float,
}
MARKER = re.compile(r"<!-- measured:(?P<source>\w+):(?P<key>[\w.\-]+):(?P<fmt>\w+)"
                    r"(?::(?P<tolerance>(?:abs|rel)=[0-9.eE+-]+))? -->(?P<value>.*?)<!-- /measured -->")


@dataclass(frozen=True)
class Number:
    line: int
    source: str
    key: str
    fmt: str
    written: str  # what the README says
    measured: str  # what the build says
    value: float = 0.0  # the build's number
    tolerance: str | None = None  # "abs=<x>" / "rel=<x>": how far it may move between CPUs

    def agrees(self) -> bool:
        if self.written == self.measured:
            return True
        if not self.tolerance:
            return False
        try:
            written = PARSERS[self.fmt](self.written.strip())
        except (KeyError, ValueError):  # scores and verdicts are exact text
            return False
        kind, _, amount = self.tolerance.partition("=")
        allowed = float(amount) * (abs(self.value) if kind == "rel" else 1.0)
        return abs(written - self.value) <= allowed + 1e-12


def readme_path(model: str) -> Path:
    return MODELS_DIR / model / "README.md"


def _lookup(data, key: str):
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def numbers(readme_text: str, model_build: str | os.PathLike, where: str = "README") -> list[Number]:
    """Every marked number of `readme_text` with the value `model_build` (= build/<model>) gives it."""
    loaded: dict[str, dict] = {}
    found = []
    for lineno, line in enumerate(readme_text.splitlines(), 1):
        for m in MARKER.finditer(line):
            source, key, fmt = m["source"], m["key"], m["fmt"]
            if source not in SOURCES or fmt not in FORMATS:
                raise UserError(f"{where}:{lineno}: unknown source {source!r} or format {fmt!r} "
                                f"(sources: {', '.join(SOURCES)}; formats: {', '.join(FORMATS)})")
            if source not in loaded:
                path = Path(model_build) / SOURCES[source]
                if not path.is_file():
                    raise UserError(f"{where}:{lineno}: {path} does not exist (build the model first)")
                loaded[source] = json.loads(path.read_text())
            try:
                value = _lookup(loaded[source], key)
            except (KeyError, IndexError, ValueError, TypeError):
                raise UserError(f"{where}:{lineno}: {SOURCES[source]} has no {key!r}") from None
            number = float(value) if isinstance(value, (int, float)) else 0.0  # scores, verdicts: exact text
            found.append(Number(lineno, source, key, fmt, m["value"], FORMATS[fmt](value), number, m["tolerance"]))
    return found


def check(model: str, build: str | os.PathLike, readme: str | os.PathLike | None = None) -> list[str]:
    """One line per marked number of the model's README that differs from `build/<model>`."""
    readme = Path(readme or readme_path(model))
    return [f"{readme}:{n.line}: {n.source} {n.key} is {n.measured}, README says {n.written}"
            + (f" (allowed: {n.tolerance})" if n.tolerance else "")
            for n in numbers(readme.read_text(), Path(build) / model, str(readme)) if not n.agrees()]


def rewrite(model: str, build: str | os.PathLike, readme: str | os.PathLike | None = None) -> int:
    """Write the build's values into the README's markers (atomically); how many changed."""
    readme = Path(readme or readme_path(model))
    text = readme.read_text()
    numbers(text, Path(build) / model, str(readme))  # errors first, nothing written
    report_dir = Path(build) / model
    changed = 0

    def replace(m: re.Match) -> str:
        nonlocal changed
        source = json.loads((report_dir / SOURCES[m["source"]]).read_text())
        value = FORMATS[m["fmt"]](_lookup(source, m["key"]))
        changed += value != m["value"]
        return m.group(0).replace(f"-->{m['value']}<!--", f"-->{value}<!--", 1)

    new = MARKER.sub(replace, text)
    if new != text:
        with atomic_path(readme) as tmp:
            tmp.write_text(new)
    return changed


@user_errors_as_one_line()
def main(argv: Sequence[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--build", default="build", help="build directory holding <model>/report.json")
    parser.add_argument("--write", action="store_true", help="rewrite the READMEs' marked numbers from the build")
    parser.add_argument("models", nargs="*", help="models (default: every model built in --build)")
    args = parser.parse_args(argv)
    models = args.models or [m for m in model_names() if (Path(args.build) / m / "report.json").is_file()]
    if not models:
        raise UserError(f"no model is built in {args.build} (run `make all`)")
    drift = []
    for model in models:
        if args.write:
            print(f"{readme_path(model).relative_to(MODELS_DIR.parent)}: {rewrite(model, args.build)} numbers updated")
        else:
            drift += check(model, args.build)
    for line in drift:
        print(line)
    if drift:
        print(f"{len(drift)} README numbers differ from {args.build}; "
              f"`python -m common.pipeline.readme_numbers --build {args.build} --write` rewrites them", file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    from common.cli import run

    run(main)
