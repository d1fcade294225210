"""Headless Efinix TinyML Generator: run its model analyzer (`bin/tflite`) on a `.tflite` and write
what the GUI writes: `tinyml_core<id>_define.v` (accelerator configuration for the RTL) and
`<name>_model_data.cc/.h` (the model as a C array, `common.deploy.kit.c_array_files`), plus the GUI's
resource estimate of that configuration (`resources.json` / `resources.md`: LUTs, FFs, ADDs, RAM and
DSP blocks per accelerator module, `common.deploy.resources`), as one folder swapped in whole (a kill
leaves the old output or the new one, never a new define beside an old array).

    python -m common.deploy.efinix_generator --tflite build/facemesh/model.tflite --name facemesh \\
        --out build/facemesh/efinix [--analyzer PATH] [--axi-dw 128] [--modes "ADD=DISABLE MUL=LITE"]

Several accelerator cores (Efinix's multi-core designs, 1 to 4 cores): core i runs the i-th model,
with `tinyml_core<i>_define.v` (`TML_C<i>_` keys) and `<NAME>_model_data.cc/.h`; resources.json/.md
hold every core's rows (`core<i>.<module>`) and their TINYML_ACCELERATOR total. The AXI width,
parallelism and --modes apply to every core; names must differ (they name files and C symbols).

    python -m common.deploy.efinix_generator --multicore yolo=yolo.tflite kws=kws.tflite \\
        --out build/multicore/efinix [--analyzer PATH] [--axi-dw 128] [--modes ...]

The analyzer comes from --analyzer or $EFINIX_TFLITE_BIN (Efinix-Inc/tinyml, tools/tinyml_generator/bin/tflite).
The GUI's rules (tools/tinyml_generator/tinyml_generator.py): an accelerator the analyzer reports
unused is "DISABLE", a used one "STANDARD" unless overridden; FIFO depths, count depth and FC node
counts are the analyzer's; the cache depth is rounded to a power of two and clamped to 512..16384;
the cache is disabled when no accelerator is STANDARD. Keys and their order follow the shipped
define files (`example_defines/`), with `RS_MODE` (the RTL's name) for reshape.
"""
from __future__ import annotations

import json
import math
import os
import re
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.cli import ArgumentParser, output_dir
from common.errors import GeneratorError

ANALYZER_ENV = "EFINIX_TFLITE_BIN"
AXI_DW_CHOICES = (32, 64, 128, 256, 512)
PARALLEL_MAX = 128  # the GUI's spin-box limit
CORE_MAX = 3  # MULTICORE designs have up to 4 accelerator cores (Efinix's Ti375 demos), ids 0..3
CACHE_DEPTH_MIN, CACHE_DEPTH_MAX = 512, 16384
LITE_PARALLEL, LITE_AW = 4, 7  # GUI defaults, written as is
# Accelerator -> its modes, first = what a used accelerator gets. Source: the `combo` lists of the
# GUI's params table (ADD/FC/MUL/MIN_MAX/CONV_DEPTHW have LITE, LR has not); reshape is not in that
# revision and no shipped define file uses LITE for it, so RS has STANDARD/DISABLE only.
ACCELERATORS: dict[str, tuple[str, ...]] = {
    "CONV_DEPTHW": ("STANDARD", "LITE", "DISABLE"),
    "ADD": ("STANDARD", "LITE", "DISABLE"),
    "LR": ("STANDARD", "DISABLE"),
    "FC": ("STANDARD", "LITE", "DISABLE"),
    "MUL": ("STANDARD", "LITE", "DISABLE"),
    "MIN_MAX": ("STANDARD", "LITE", "DISABLE"),
    "RS": ("STANDARD", "DISABLE"),
}
ANALYZER_MODE_KEYS = {"CONV_DEPTHW": "conv_depthw_mode", "ADD": "add_mode", "LR": "lr_mode", "FC": "fc_mode",
                      "MUL": "mul_mode", "MIN_MAX": "min_max_mode", "RS": "reshape_mode"}
ANALYZER_KEYS = (*ANALYZER_MODE_KEYS.values(), "conv_depthw_std_out_ch_fifo_a", "conv_depthw_std_filter_fifo_a",
                 "conv_depthw_std_cnt_dth", "fc_max_in_node", "fc_max_out_node", "tinyml_cache", "cache_depth")


@dataclass(frozen=True)
class GeneratorOptions:
    axi_dw: int = 128
    in_parallel: int = 8
    out_parallel: int = 4
    core: int = 0
    modes: dict[str, str] = field(default_factory=dict)  # accelerator -> mode overrides

    def validate(self) -> None:
        if self.axi_dw not in AXI_DW_CHOICES:
            raise GeneratorError(f"AXI_DW {self.axi_dw} is not one of {', '.join(map(str, AXI_DW_CHOICES))}")
        in_max = min(PARALLEL_MAX, self.axi_dw // 8)  # the GUI caps IN_PARALLEL at AXI_DW / 8
        if not 1 <= self.in_parallel <= in_max:
            raise GeneratorError(f"IN_PARALLEL {self.in_parallel} is outside 1..{in_max} (AXI_DW {self.axi_dw} / 8)")
        if not 1 <= self.out_parallel <= PARALLEL_MAX:
            raise GeneratorError(f"OUT_PARALLEL {self.out_parallel} is outside 1..{PARALLEL_MAX}")
        if not 0 <= self.core <= CORE_MAX:
            raise GeneratorError(f"core id {self.core} is outside 0..{CORE_MAX} (up to {CORE_MAX + 1} cores)")
        for name, mode in self.modes.items():
            if name not in ACCELERATORS:
                raise GeneratorError(f"unknown accelerator {name!r} in modes; known: {', '.join(ACCELERATORS)}")
            if mode not in ACCELERATORS[name]:
                raise GeneratorError(f"{name} has no mode {mode!r}; choose one of {', '.join(ACCELERATORS[name])}")


def parse_modes(text: str) -> dict[str, str]:
    """"ADD=DISABLE MUL=LITE" (spaces or commas) -> {"ADD": "DISABLE", "MUL": "LITE"}."""
    modes = {}
    for item in re.split(r"[\s,]+", text.strip()):
        if not item:
            continue
        name, sep, mode = item.partition("=")
        if not sep or not name or not mode:
            raise GeneratorError(f"mode override {item!r} is not NAME=MODE (e.g. ADD=DISABLE)")
        name = name.upper().removesuffix("_MODE")
        modes["RS" if name == "RESHAPE" else name] = mode.upper()
    return modes


def run_analyzer(analyzer: str | os.PathLike, tflite: str | os.PathLike, options: GeneratorOptions) -> dict[str, int]:
    """The analyzer's `key:value` block (between the two `=====` lines of its stderr) as ints."""
    if not Path(tflite).is_file():
        raise GeneratorError(f"no .tflite file at {tflite}")
    if not (Path(analyzer).is_file() and os.access(analyzer, os.X_OK)):
        raise GeneratorError(f"analyzer {analyzer} is not an executable file (set {ANALYZER_ENV})")
    args = [str(analyzer), str(tflite), str(options.in_parallel), str(options.out_parallel), str(options.axi_dw)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    values, inside = {}, False
    for line in proc.stderr.splitlines():
        if line.startswith("===="):
            inside = not inside
        elif inside and ":" in line:
            key, _, value = line.partition(":")
            values[key.strip()] = int(value.strip())
    missing = [k for k in ANALYZER_KEYS if k not in values]
    if proc.returncode != 0 or missing:
        lines = [l for l in (proc.stderr + proc.stdout).splitlines() if l.strip() and not re.fullmatch(r"\w+:\d+", l)]
        detail = next((l for l in lines if "find op" in l), lines[-1] if lines else "no output")
        raise GeneratorError(f"analyzer failed on {tflite} (exit status {proc.returncode}): {detail.strip()}")
    return values


def cache_depth(value: int) -> int:
    """The GUI's rounding: nearest power of two, clamped to 512..16384."""
    depth = 2 ** round(math.log2(value)) if value > 0 else CACHE_DEPTH_MIN
    return min(max(depth, CACHE_DEPTH_MIN), CACHE_DEPTH_MAX)


def configure(analysis: dict[str, int], options: GeneratorOptions) -> list[tuple[str, int | str]]:
    """The define entries (name without the TML_C<id>_ prefix, value) in the shipped files' order."""
    options.validate()
    modes = {name: ACCELERATORS[name][0] if analysis[key] else "DISABLE" for name, key in ANALYZER_MODE_KEYS.items()}
    modes.update(options.modes)
    cache = "ENABLE" if analysis["tinyml_cache"] and "STANDARD" in modes.values() else "DISABLE"
    return [
        ("AXI_DW", options.axi_dw),
        ("CONV_DEPTHW_MODE", modes["CONV_DEPTHW"]),
        ("CONV_DEPTHW_STD_IN_PARALLEL", options.in_parallel),
        ("CONV_DEPTHW_STD_OUT_PARALLEL", options.out_parallel),
        ("CONV_DEPTHW_STD_OUT_CH_FIFO_A", analysis["conv_depthw_std_out_ch_fifo_a"]),
        ("CONV_DEPTHW_STD_FILTER_FIFO_A", analysis["conv_depthw_std_filter_fifo_a"]),
        ("CONV_DEPTHW_STD_CNT_DTH", analysis["conv_depthw_std_cnt_dth"]),
        ("CONV_DEPTHW_LITE_PARALLEL", LITE_PARALLEL),
        ("CONV_DEPTHW_LITE_AW", LITE_AW),
        ("ADD_MODE", modes["ADD"]),
        ("LR_MODE", modes["LR"]),
        ("FC_MODE", modes["FC"]),
        ("FC_MAX_IN_NODE", analysis["fc_max_in_node"]),
        ("FC_MAX_OUT_NODE", analysis["fc_max_out_node"]),
        ("MUL_MODE", modes["MUL"]),
        ("MIN_MAX_MODE", modes["MIN_MAX"]),
        ("RS_MODE", modes["RS"]),
        ("TINYML_CACHE", cache),
        ("CACHE_DEPTH", cache_depth(analysis["cache_depth"])),
    ]


def format_defines(entries: list[tuple[str, int | str]], core: int = 0) -> str:
    """One `` `define TML_C<core>_<NAME>\\t<value> `` line per entry; strings quoted."""
    return "".join(f'`define TML_C{core}_{name}\t{value if isinstance(value, int) else chr(34) + value + chr(34)}\n'
                   for name, value in entries)


def read_defines(path: str | os.PathLike) -> dict[str, int | str]:
    """A define file back as {NAME: value} (prefix dropped, quotes removed; tab or space separated)."""
    values: dict[str, int | str] = {}
    for line in Path(path).read_text().splitlines():
        m = re.fullmatch(r"`define TML_C\d+_(\w+)\s+(\"?)([^\"]*)\2\s*", line)
        if m:
            values[m.group(1)] = m.group(3) if m.group(2) else int(m.group(3))
    return values


def define_filename(core: int) -> str:
    return f"tinyml_core{core}_define.v"


RESOURCES_JSON, RESOURCES_MD = "resources.json", "resources.md"


def is_output_file(path: Path) -> bool:
    return path.is_file() and bool(re.fullmatch(r"tinyml_core\d+_define\.v|.+_model_data\.(cc|h)|resources\.(json|md)",
                                                path.name))


def resource_files(table: list[dict], what: str) -> dict[str, str]:
    """resources.json (the rows) and resources.md (a heading naming `what`, then the table)."""
    from common.deploy.resources import markdown

    text = (f"# Resource estimate: {what}\n\nThe Efinix TinyML Generator's estimate (its resource_lib, "
            "e5bc129), before synthesis.\n\n" + markdown(table))
    return {RESOURCES_JSON: json.dumps(table, indent=1) + "\n", RESOURCES_MD: text}


def _analyzer_path(analyzer: str | os.PathLike | None) -> str | os.PathLike:
    analyzer = analyzer or os.environ.get(ANALYZER_ENV)
    if not analyzer:
        raise GeneratorError(f"{ANALYZER_ENV} is not set: point it at the Efinix TinyML Generator's analyzer "
                             "(tools/tinyml_generator/bin/tflite)")
    return analyzer


def generate(tflite: str | os.PathLike, out_dir: str | os.PathLike, name: str, analyzer: str | os.PathLike | None,
             options: GeneratorOptions = GeneratorOptions()) -> list[Path]:
    """Validate, analyse, then write the folder `out_dir`: the define file, the C array and the resource
    estimate, swapped in whole; a file whose bytes did not change keeps its timestamp (Make then sees
    nothing new). Returns [define, .cc, .h, resources.json, resources.md]."""
    from common.atomic import check_replaceable_dir
    from common.deploy.kit import c_array_files, check_name, write_folder
    from common.deploy.resources import estimate

    options.validate()
    check_name(name)
    check_replaceable_dir(out_dir, owned=is_output_file)
    analyzer = _analyzer_path(analyzer)
    entries = configure(run_analyzer(analyzer, tflite, options), options)
    define = define_filename(options.core)
    files = {define: format_defines(entries, options.core), **c_array_files(tflite, name, symbol_prefix=""),
             **resource_files(estimate(dict(entries)), define)}
    paths = write_folder(out_dir, files, owned=is_output_file, keep_unchanged_times=True)
    return [paths[0], paths[2], paths[1], *paths[3:]]


def check_multicore_models(models: list[tuple[str, Path]]) -> None:
    """1 to CORE_MAX + 1 models, each name usable (`check_name`). A name may repeat (the same model on
    two cores, as facemesh in Efinix's Ti375 demo) only for the same file; two names may not give one
    C symbol (the firmware links every core's array)."""
    from common.deploy.kit import c_identifier, check_name

    if not 1 <= len(models) <= CORE_MAX + 1:
        raise GeneratorError(f"a multi-core design takes 1 to {CORE_MAX + 1} models (one per core), got {len(models)}")
    seen: dict[str, tuple[str, bytes]] = {}
    for name, tflite in models:
        check_name(name)
        if not Path(tflite).is_file():
            raise GeneratorError(f"{name}: no .tflite file at {tflite}")
        ident, data = c_identifier(name), Path(tflite).read_bytes()
        if ident in seen and (seen[ident][0] != name or seen[ident][1] != data):
            raise GeneratorError(f"model names {seen[ident][0]!r} and {name!r} give the same C symbol {ident}_model_data "
                                 "for different files: name each model differently")
        seen[ident] = (name, data)


def core_folder(name: str, core: int) -> str:
    """The GUI's per-core output folder: `<model>_core<id>`."""
    return f"{name}_core{core}"


def is_multicore_entry(path: Path) -> bool:
    """What a multi-core output folder holds: per-core folders of generator output, resources.*."""
    if path.is_dir():
        return bool(re.fullmatch(r".+_core\d+", path.name)) and all(is_output_file(e) for e in path.iterdir())
    return path.is_file() and bool(re.fullmatch(r"resources\.(json|md)", path.name))


def generate_multicore(models: list[tuple[str, Path]], out_dir: str | os.PathLike, analyzer: str | os.PathLike | None,
                       options: GeneratorOptions = GeneratorOptions()) -> list[Path]:
    """Up to four accelerator cores in one folder written whole, laid out as the GUI's MULTICORE mode:
    core i (0..3) runs models[i] = (name, .tflite), in `<name>_core<i>/`: `tinyml_core<i>_define.v`
    (`options` with core=i) and `<name>_model_data.cc/.h`; beside them resources.json/.md, every core's
    table and their total (`resources.sum_cores`). Returns the define files, then each core's .cc and
    .h, then resources.json and resources.md."""
    from common.atomic import check_replaceable_dir
    from common.deploy.kit import c_array_files, write_folder
    from common.deploy.resources import estimate, sum_cores

    check_multicore_models(models)
    options.validate()
    check_replaceable_dir(out_dir, owned=is_multicore_entry)
    analyzer = _analyzer_path(analyzer)
    defines, arrays, tables = {}, {}, []
    analyses: dict[Path, dict[str, int]] = {}  # one analyzer run per file: options are the same for all cores
    for core, (name, tflite) in enumerate(models):
        key = Path(tflite).resolve()
        if key not in analyses:
            analyses[key] = run_analyzer(analyzer, tflite, options)
        entries = configure(analyses[key], replace(options, core=core))
        folder = core_folder(name, core)
        defines[f"{folder}/{define_filename(core)}"] = format_defines(entries, core)
        arrays.update({f"{folder}/{f}": text for f, text in c_array_files(tflite, name, symbol_prefix="").items()})
        tables.append(estimate(dict(entries)))
    files = {**defines, **arrays, **resource_files(sum_cores(tables), f"{len(models)} cores (" + ", ".join(
        f"core {core}: {name}" for core, (name, _) in enumerate(models)) + ")")}
    paths = dict(zip(files, write_folder(out_dir, files, owned=is_multicore_entry, keep_unchanged_times=True)))
    order = [*defines, *(f"{core_folder(name, core)}/{name}_model_data.{ext}" for core, (name, _) in enumerate(models)
                         for ext in ("cc", "h")), RESOURCES_JSON, RESOURCES_MD]
    return [paths[f] for f in order]


def parse_multicore(items: list[str]) -> list[tuple[str, Path]]:
    """["NAME=TFLITE", ...] -> [(NAME, Path)]; a bare TFLITE is named after its stem."""
    models = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            name, path = Path(item).stem, item
        if not name or not path:
            raise GeneratorError(f"--multicore {item!r} is not NAME=TFLITE (e.g. yolo=build/yolo/model.tflite)")
        models.append((name, Path(path)))
    return models


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(description=__doc__)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tflite", help="one model: one core (--core) in --out")
    source.add_argument("--multicore", nargs="+", metavar="NAME=TFLITE",
                        help="1 to 4 models, core i runs the i-th (TFLITE alone: named after its stem); "
                             "not with --name or --core")
    parser.add_argument("--out", required=True, type=output_dir,
                        help="output folder (new, or one holding only generator output: it is replaced whole)")
    parser.add_argument("--name", help="C array / file name prefix (default: the .tflite's stem); --tflite only")
    parser.add_argument("--analyzer", help=f"the analyzer binary (default: ${ANALYZER_ENV})")
    parser.add_argument("--axi-dw", default="128")
    parser.add_argument("--in-parallel", default="8")
    parser.add_argument("--out-parallel", default="4")
    parser.add_argument("--core", help="CPU/core id: TML_C<id>_ and tinyml_core<id>_define.v (default 0); "
                                       "--tflite only")
    parser.add_argument("--modes", default="", help='mode overrides, e.g. "ADD=DISABLE MUL=LITE"')
    args = parser.parse_args(argv)  # user errors below: one `error:` line from common.cli.run
    if args.multicore and (args.name is not None or args.core is not None):
        raise GeneratorError("--multicore names each model (NAME=TFLITE) and numbers the cores 0, 1, ...: "
                             "--name and --core are for --tflite")
    numbers = {}
    for opt in ("axi_dw", "in_parallel", "out_parallel", "core"):
        value = getattr(args, opt) if getattr(args, opt) is not None else "0"
        if not re.fullmatch(r"-?\d+", value.strip()):
            raise GeneratorError(f"{opt.upper()} {value!r} is not an integer")
        numbers[opt] = int(value)
    options = GeneratorOptions(**numbers, modes=parse_modes(args.modes))
    if args.multicore:
        paths = generate_multicore(parse_multicore(args.multicore), args.out, args.analyzer, options)
    else:
        paths = generate(args.tflite, args.out, args.name or Path(args.tflite).stem, args.analyzer, options)
    print(f"wrote {', '.join(map(str, paths))}")


if __name__ == "__main__":
    from common.cli import run

    run(main)
