"""FPGA resource estimate of an Efinix TinyML accelerator configuration: the table that the Efinix
TinyML Generator GUI shows beside its settings ("Resource Estimator"), computed headless from the
define entries (`common.deploy.efinix_generator.configure` / `read_defines`).

The numbers are Efinix's model of their RTL (tools/tinyml_generator/lib/resource_lib.py and
`res_utilization` in tinyml_generator.py of Efinix-Inc/tinyml, commit e5bc129, MIT); this is our own
code for the same rules, checked row by row against that file in tests/test_efinix_resources.py:

- each accelerator that is not DISABLE costs [LUTs, FFs, ADDs, RAM blocks, DSP blocks], from a table
  per AXI data width (STANDARD) or a fixed LITE figure, or a formula of the parallelism, FIFO
  depths, cache depth and FC node count (CONV_DEPTHW, LITE FC, the cache);
- the modules are listed in the GUI's order CONV_DEPTHW, ADD, LR, FC, MUL, MIN_MAX, RESHAPE (the
  RTL's `RS_MODE`), TINYML_CACHE (its "ENABLE" priced as STANDARD);
- COMMON (the shared AXI/control logic, two parts) is added when at least one accelerator is STANDARD;
  its LUTs grow with the number of STANDARD accelerators;
- the last row, TINYML_ACCELERATOR, is the sum.

RAM blocks are counted as Efinix's 512 x 20-bit block RAMs: a memory at most 512 deep takes one
block per 20 bits of width (when at least 20 wide), any other its bit count / 10240, rounded up.
One deliberate difference: a LITE FC with FC_MAX_IN_NODE 0 (a LITE override on a model without
FULLY_CONNECTED) fails in the GUI (log of 0); here it takes one address bit, like 1..8 nodes.
"""
from __future__ import annotations

from common.errors import GeneratorError

COLUMNS = ("luts", "ffs", "adds", "ram_blocks", "dsp_blocks")
HEADERS = ("LUTs", "FFs", "ADDs", "RAM blocks", "DSP blocks")
TOTAL = "TINYML_ACCELERATOR"
COMMON = "COMMON"
# Table row -> the define key(s) of its mode (a GUI-written file says RESHAPE_MODE, the RTL RS_MODE).
MODULES: dict[str, tuple[str, ...]] = {
    "CONV_DEPTHW": ("CONV_DEPTHW_MODE",),
    "ADD": ("ADD_MODE",),
    "LR": ("LR_MODE",),
    "FC": ("FC_MODE",),
    "MUL": ("MUL_MODE",),
    "MIN_MAX": ("MIN_MAX_MODE",),
    "RESHAPE": ("RS_MODE", "RESHAPE_MODE"),
    "TINYML_CACHE": ("TINYML_CACHE",),
}
MODES: dict[str, tuple[str, ...]] = {  # the modes each row can be priced in (LR has no LITE figure)
    **dict.fromkeys(MODULES, ("STANDARD", "LITE", "DISABLE")),
    "LR": ("STANDARD", "DISABLE"),
    "TINYML_CACHE": ("ENABLE", "DISABLE"),
}
WIDTHS = (32, 64, 128, 256, 512)

# Efinix's synthesis figures [LUTs, FFs, ADDs, RAM, DSP] per AXI data width, in WIDTHS order.
_STANDARD_BY_WIDTH: dict[str, tuple[tuple[int, int, int, int, int], ...]] = {
    "ADD": ((1741, 1871, 757, 0, 8), (1723, 2012, 753, 0, 8), (1814, 2293, 749, 0, 8), (1826, 2424, 752, 0, 8),
            (2533, 2683, 755, 0, 8)),
    "LR": ((1546, 500, 1200, 0, 4), (1699, 631, 1747, 0, 4), (2075, 540, 2123, 0, 4), (3107, 550, 3030, 0, 4),
           (4416, 568, 4088, 0, 4)),
    "FC": ((1104, 1357, 654, 0, 4), (1439, 1630, 761, 0, 8), (1842, 2351, 976, 0, 16), (2800, 3844, 1407, 0, 32),
           (4693, 6789, 2270, 0, 64)),
    "MUL": ((1546, 1507, 734, 0, 7), (1766, 1716, 700, 0, 7), (2416, 2168, 695, 0, 7), (3107, 3124, 690, 0, 7),
            (6014, 5024, 685, 0, 7)),
    "MIN_MAX": ((543, 544, 149, 0, 0), (611, 672, 144, 0, 0), (926, 936, 139, 0, 0), (1448, 1464, 134, 0, 0),
                (2033, 2524, 129, 0, 0)),
    "RESHAPE": ((223, 1329, 54, 0, 0),) * 5,
}
_LITE = {"ADD": (1159, 1250, 630, 0, 8), "MUL": (459, 491, 263, 0, 4), "MIN_MAX": (86, 34, 0, 0, 0),
         "RESHAPE": (0, 0, 0, 0, 0)}
# COMMON part 2 (LUTs, FFs) per width; its ADDs are 129 and its RAM two 256-deep FIFOs.
_COMMON_2_LOGIC = ((1598, 1731), (2351, 2052), (4447, 2686), (4447, 2686), (12408, 5213))
_COMMON_2_ADDS = 129

BRAM_DEPTH_BITS, BRAM_WIDTH = 9, 20  # one block: 512 x 20 bits


def bram_blocks(addr_bits: int, width: int) -> int:
    """Block RAMs for a memory of 2**addr_bits words of `width` bits (Efinix's count)."""
    if addr_bits <= BRAM_DEPTH_BITS and width >= BRAM_WIDTH:
        return -(-width // BRAM_WIDTH)
    return -(-((1 << addr_bits) * width) // ((1 << BRAM_DEPTH_BITS) * BRAM_WIDTH))


def ceil_log2(value: int) -> int:
    """Address bits for `value` words (0 for 1)."""
    return (value - 1).bit_length()


class _Config:
    """The define entries, with one-line errors for a missing or malformed value."""

    def __init__(self, defines: dict[str, int | str]):
        self.defines = defines

    def number(self, key: str, minimum: int = 0) -> int:
        value = self.defines.get(key)
        if value is None:
            raise GeneratorError(f"resource estimate: the defines lack {key}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise GeneratorError(f"resource estimate: {key} is {value!r}, not an integer")
        if value < minimum:
            raise GeneratorError(f"resource estimate: {key} is {value}, below {minimum}")
        return value

    def mode(self, module: str) -> str:
        keys = MODULES[module]
        present = [k for k in keys if k in self.defines]
        if not present:
            raise GeneratorError(f"resource estimate: the defines lack {keys[0]}")
        value = self.defines[present[0]]
        if value not in MODES[module]:
            raise GeneratorError(f"resource estimate: {present[0]} is {value!r}; "
                                 f"the estimate knows {', '.join(MODES[module])}")
        return value


def _conv_depthw(cfg: _Config, mode: str, axi_bytes: int) -> tuple[int, ...]:
    if mode == "LITE":
        parallel = cfg.number("CONV_DEPTHW_LITE_PARALLEL", 1)
        ram = bram_blocks(cfg.number("CONV_DEPTHW_LITE_AW"), 64) * parallel
        return 600 * parallel, 600 * parallel, 800 * parallel, ram, 3 + 8 * parallel
    n_in = cfg.number("CONV_DEPTHW_STD_IN_PARALLEL", 1)
    n_out = cfg.number("CONV_DEPTHW_STD_OUT_PARALLEL", 1)
    out_ch_depth = cfg.number("CONV_DEPTHW_STD_OUT_CH_FIFO_A")
    filter_depth = cfg.number("CONV_DEPTHW_STD_FILTER_FIFO_A")
    if out_ch_depth > 0 and filter_depth > 0:  # FIFOs at least 512 deep
        out_ch_bits, filter_bits = max(ceil_log2(out_ch_depth), 9), max(ceil_log2(filter_depth), 9)
    else:  # Efinix's estimator prices both as 1-deep when either depth is 0
        out_ch_bits = filter_bits = 0
    ram = (3 * bram_blocks(out_ch_bits, 32)  # output multiplier, shift and bias FIFOs
           + bram_blocks(filter_bits, 8 * n_in)  # filter FIFO
           + n_out * bram_blocks(filter_bits, 8 * n_in + 1))  # one input FIFO per output lane
    return ((110 * n_in + 697) * n_out + 3600 + 163 * axi_bytes,
            (130 * n_in + 300) * n_out + 1350 + 135 * axi_bytes,
            (120 * n_in + 240) * n_out + 459 + 4 * axi_bytes,
            ram,
            (n_in + 4) * n_out)


def _fc_lite(cfg: _Config) -> tuple[int, ...]:
    loads = -(-cfg.number("FC_MAX_IN_NODE") // 8)  # 64-bit words of input
    return 417, 506, 305, bram_blocks(max(ceil_log2(max(loads, 1)), 1), 64), 8


def _cache(cfg: _Config, axi_dw: int) -> tuple[int, ...]:
    bits = ceil_log2(cfg.number("CACHE_DEPTH", 1))
    ram = (bram_blocks(4, 3)  # hit/miss FIFO
           + bram_blocks(3, 54) + 1
           + bram_blocks(3, bits + 8)  # read-command FIFO
           + bram_blocks(9, axi_dw + 1)  # read-data FIFO
           + bram_blocks(5, 1)  # read-buffer FIFO
           + bram_blocks(7, 2 * bits) + 1  # cache-line FIFO
           + bram_blocks(bits, axi_dw))  # the cache itself
    return 1465 + axi_dw // 8 + 9 * bits, 1365 + 22 * bits, 419 + 19 * bits, ram, 0


def _common(axi_dw: int, n_standard: int) -> tuple[int, ...]:
    width_index = WIDTHS.index(axi_dw)
    part1 = (12 * (axi_dw // 8) * n_standard + 120, 44, 30, bram_blocks(9, axi_dw), 0)
    luts, ffs = _COMMON_2_LOGIC[width_index]
    part2 = (luts, ffs, _COMMON_2_ADDS, bram_blocks(8, 1 + axi_dw + axi_dw // 8) + bram_blocks(8, 3 + axi_dw), 0)
    return tuple(a + b for a, b in zip(part1, part2))


def _row(module: str, values) -> dict:
    return {"module": module, **{c: int(v) for c, v in zip(COLUMNS, values)}}


def estimate(defines: dict[str, int | str]) -> list[dict]:
    """The resource table of one accelerator core: a row per enabled module (GUI order), COMMON when
    an accelerator is STANDARD, and the TINYML_ACCELERATOR total. `defines`: {NAME: value} without
    the TML_C<id>_ prefix, as `configure` gives them (dict(...)) or `read_defines` reads them."""
    cfg = _Config(dict(defines))
    axi_dw = cfg.number("AXI_DW")
    if axi_dw not in WIDTHS:
        raise GeneratorError(f"resource estimate: AXI_DW {axi_dw} is not one of {', '.join(map(str, WIDTHS))}")
    width_index = WIDTHS.index(axi_dw)
    rows, n_standard = [], 0
    for module in MODULES:
        mode = cfg.mode(module)
        if mode == "DISABLE":
            continue
        n_standard += mode == "STANDARD"
        if module == "CONV_DEPTHW":
            values = _conv_depthw(cfg, mode, axi_dw // 8)
        elif module == "TINYML_CACHE":
            values = _cache(cfg, axi_dw)
        elif mode == "STANDARD":
            values = _STANDARD_BY_WIDTH[module][width_index]
        elif module == "FC":
            values = _fc_lite(cfg)
        else:
            values = _LITE[module]
        rows.append(_row(module, values))
    if n_standard:
        rows.append(_row(COMMON, _common(axi_dw, n_standard)))
    rows.append(_row(TOTAL, [sum(r[c] for r in rows) for c in COLUMNS]))
    return rows


def sum_cores(tables: list[list[dict]]) -> list[dict]:
    """Several cores (table i = core i) as one table: each core's rows prefixed `core<i>.`, then the
    TINYML_ACCELERATOR row, the sum of the cores' totals."""
    if not tables:
        raise GeneratorError("resource estimate: no cores to sum")
    rows = [{**row, "module": f"core{core}.{row['module']}"} for core, table in enumerate(tables) for row in table]
    totals = [next(r for r in table if r["module"] == TOTAL) for table in tables]
    return rows + [_row(TOTAL, [sum(t[c] for t in totals) for c in COLUMNS])]


def markdown(table: list[dict]) -> str:
    """The table as Markdown; total rows (TINYML_ACCELERATOR, per core too) in bold."""
    lines = ["| Module | " + " | ".join(HEADERS) + " |", "|---|" + "--:|" * len(HEADERS)]
    for row in table:
        cells = [row["module"], *(str(row[c]) for c in COLUMNS)]
        if row["module"].split(".")[-1] == TOTAL:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
