"""ONNX, as `torch.onnx.export` writes it (NCHW), -> an NHWC Keras functional model of standard layers.

    model = load_onnx("net.onnx")          # keras.Model, input (H, W, C) for an ONNX (N, C, H, W) input
    onnx_runtime_outputs("net.onnx", x)    # onnxruntime on the same NHWC batch, outputs NHWC where 4-D

Every tensor keeps its ONNX meaning and a Keras layout: `perm` says which ONNX axis each Keras axis
holds (a 4-D activation is NHWC: perm (0, 2, 3, 1)), so Concat/Slice/Softmax/reductions map their
axes, a Transpose only relabels, and the converter sees no TRANSPOSE ops around convolutions. A 4-D
graph output is returned NHWC: compare it with onnxruntime's output transposed by (0, 2, 3, 1)
(`onnx_runtime_outputs` does). A flatten after a convolution keeps Keras' H, W, C order and records
the ONNX (C, H, W) position of each feature (`rows`): the next Gemm/MatMul takes its weight rows in
that order; only where no Dense follows does a Permute (TRANSPOSE) restore the ONNX order.

What torch adds around the real operators is folded away: shape arithmetic (Shape, Gather, Unsqueeze,
Concat, ...) on constants is evaluated (onnx.reference), BatchNormalization is folded into the Conv or
Gemm it follows, a zero Pad merges into the next convolution's padding. Anything without an exact
Keras equivalent is a ConversionError that lists every such node at once, with what to use instead.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from common.errors import ConversionError

NHWC = (0, 2, 3, 1)  # Keras axis i of a 4-D activation holds ONNX axis NHWC[i]

# What to use instead of an operator the importer does not take (op type -> advice).
INSTEAD = {
    "Erf": "GELU or torch.erf (nn.GELU exports as Erf): use ReLU or HardSwish",
    "Gelu": "use ReLU or HardSwish",
    "Tanh": "use Sigmoid, HardSwish or ReLU",
    "Softplus": "use ReLU", "Softsign": "use HardSwish or ReLU",
    "Mish": "use HardSwish or ReLU", "Elu": "use ReLU or LeakyReLU", "Selu": "use ReLU or LeakyReLU",
    "Celu": "use ReLU or LeakyReLU", "ThresholdedRelu": "use ReLU",
    "Exp": "use Sigmoid or HardSwish", "Log": "remove it (no int8 kernel on the accelerator)",
    "Pow": "a decomposed LayerNorm or tanh-GELU? use BatchNorm, ReLU or HardSwish",
    "Sqrt": "a decomposed LayerNorm? use BatchNorm", "Reciprocal": "divide by a constant instead",
    "LayerNormalization": "use BatchNorm", "GroupNormalization": "use BatchNorm",
    "InstanceNormalization": "use BatchNorm", "LpNormalization": "use BatchNorm",
    "LRN": "use BatchNorm", "MeanVarianceNormalization": "use BatchNorm",
    "LSTM": "use convolutions (Conv1d/Conv2d)", "GRU": "use convolutions (Conv1d/Conv2d)",
    "RNN": "use convolutions (Conv1d/Conv2d)", "Einsum": "use Linear layers (Gemm)",
    "ReduceSum": "use AvgPool / AdaptiveAvgPool2d(1)",
    "Sin": "no trigonometry on the target", "Cos": "no trigonometry on the target",
}
DEFAULT_INSTEAD = "no Keras equivalent in this importer: replace it in the PyTorch model"


class _Unsupported(Exception):
    """This node, as written, has no exact Keras equivalent (the message says why / what instead)."""


@dataclass
class Node:
    op: str
    name: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any]
    domain: str
    proto: Any = field(repr=False)  # the NodeProto (its attributes, for constant folding)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass
class Value:
    """An ONNX tensor as a Keras tensor: `shape` is the ONNX shape (batch None); Keras axis i holds
    ONNX axis perm[i]. A rank-2 `rows` value holds ONNX feature rows[i] at Keras position i (it was
    flattened from a Keras tensor of shape `unflat[0]` laid out as `unflat[1]`). `pad` is zero padding
    (top, bottom, left, right) in `shape` but not yet in `tensor` (merged into a following Conv)."""

    tensor: Any
    shape: tuple
    perm: tuple[int, ...]
    rows: np.ndarray | None = None
    unflat: tuple | None = None
    pad: tuple[int, int, int, int] = (0, 0, 0, 0)
    nonneg: bool = False
    cache: dict = field(default_factory=dict, repr=False)

    @property
    def rank(self) -> int:
        return len(self.shape)


# ---------------------------------------------------------------------------------------------- API

def load_onnx(path: str | os.PathLike) -> Any:
    """The ONNX file as a Keras functional model (NHWC; see the module docstring). Raises one
    ConversionError naming every operator it cannot import; nothing partial is returned."""
    proto = _read(path)
    return _Importer(proto, Path(path).name).build()


def onnx_runtime_outputs(path: str | os.PathLike, x_nhwc: np.ndarray) -> list[np.ndarray]:
    """onnxruntime's outputs for an NHWC float batch (transposed to NCHW for a 4-D input), with 4-D
    outputs transposed to NHWC: directly comparable with `load_onnx(path).predict(x_nhwc)`."""
    import onnxruntime as ort

    _read(path)  # a clear ConversionError for a file that is not ONNX
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if len(session.get_inputs()) != 1:
        raise ConversionError(f"{path}: {len(session.get_inputs())} inputs; only one-input models are compared")
    (spec,) = session.get_inputs()
    x = np.asarray(x_nhwc, np.float32)
    if x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    batch = spec.shape[0] if isinstance(spec.shape[0], int) and spec.shape[0] > 0 else len(x)
    chunks = [session.run(None, {spec.name: x[i:i + batch]}) for i in range(0, len(x), batch)]
    outputs = [np.concatenate(parts) for parts in zip(*chunks)]
    return [o.transpose(0, 2, 3, 1) if o.ndim == 4 else o for o in outputs]


def _read(path: str | os.PathLike):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        proto = onnx.load(str(path), load_external_data=True)
    except FileNotFoundError:
        raise ConversionError(f"{path}: no such file") from None
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ConversionError(f"{path}: not an ONNX model ({reason})") from None
    if not proto.graph.node or not proto.opset_import:
        raise ConversionError(f"{path}: not an ONNX model (no graph or no opset)")
    return proto


# ------------------------------------------------------------------------------------------ helpers

def _node(proto) -> Node:
    from onnx import helper

    attrs = {a.name: helper.get_attribute_value(a) for a in proto.attribute}
    attrs = {k: v.decode() if isinstance(v, bytes) else v for k, v in attrs.items()}
    return Node(proto.op_type, proto.name or f"{proto.op_type}_{proto.output[0]}", list(proto.input),
                list(proto.output), attrs, proto.domain, proto)


def _inverse(perm: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argsort(perm))


def _identity(rank: int) -> tuple[int, ...]:
    return tuple(range(rank))


def _order(shape: tuple[int, ...], perm: tuple[int, ...]) -> np.ndarray:
    """Keras flat position -> ONNX flat index for a tensor of ONNX `shape` (batch included) laid out as `perm`."""
    rest = [d for d in shape[1:]]
    return np.arange(int(np.prod(rest))).reshape(rest).transpose([p - 1 for p in perm[1:]]).ravel()


def _tf_same(size: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow's 'same' padding (before, after) along one axis."""
    total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


def _pool_out(size: int, k: int, s: int, before: int, after: int, ceil_mode: bool) -> int:
    span = size + before + after - k
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + before:  # the last window must start inside the input
        out -= 1
    return out


def _avg_divisors(size: int, k: int, s: int, before: int, after: int, out: int, include_pad: bool) -> np.ndarray:
    """How many elements ONNX (as onnxruntime and torch) divides each average-pool window by."""
    starts = np.arange(out) * s - before
    ends = np.minimum(starts + k, size + after)
    if include_pad:
        return (ends - starts).astype(np.float32)
    return (np.minimum(ends, size) - np.maximum(starts, 0)).astype(np.float32)


def _spatial_pads(n: Node, h: int, w: int, k: tuple[int, int], s: tuple[int, int], d: tuple[int, int]) -> list[int]:
    """The node's padding as [top, bottom, left, right] (auto_pad or `pads` [t, l, b, r])."""
    auto = n.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        (t, b), (l, r) = _tf_same(h, k[0], s[0], d[0]), _tf_same(w, k[1], s[1], d[1])
        return [b, t, r, l] if auto == "SAME_LOWER" else [t, b, l, r]
    if auto == "VALID":
        return [0, 0, 0, 0]
    p = list(n.attr("pads", [0, 0, 0, 0]))
    if len(p) != 4:
        raise _Unsupported("only 2-D windows (a 4-D input) are supported")
    return [p[0], p[2], p[1], p[3]]


def _keras_name(text: str) -> str:
    name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_") or "node"
    return name if name[0].isalpha() else f"n_{name}"


# ----------------------------------------------------------------------------------------- importer

class _Importer:
    def __init__(self, proto, filename: str):
        self.proto = proto
        self.filename = filename
        self.name = _keras_name(Path(filename).stem)
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 13)
        self.consts: dict[str, np.ndarray] = {}
        self.values: dict[str, Value] = {}
        self.poisoned: set[str] = set()
        self.problems: list[str] = []
        self.names: set[str] = set()
        self.batch = 1

    # ---- the whole graph
    def build(self):
        import keras
        from onnx import numpy_helper

        graph = self.proto.graph
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        inputs = [self._input(i) for i in graph.input if i.name not in self.consts]
        nodes = self._prefold([_node(p) for p in graph.node])
        nodes = _fold_batchnorm(nodes, self.consts, {o.name for o in graph.output})
        for n in nodes:
            self._visit(n)
        outputs = [self._output(o.name) for o in graph.output]
        if self.problems:
            raise ConversionError(self._message())
        inputs = [t for t in inputs if t is not None]
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                           name=self.name)

    def _message(self) -> str:
        supported = ", ".join(sorted(HANDLERS))
        return (f"{self.filename}: {len(self.problems)} operator(s) the ONNX importer cannot convert "
                f"(nothing was imported): {'; '.join(self.problems)}. Supported: {supported}")

    def _input(self, info):
        import keras

        dims = [d.dim_value if d.HasField("dim_value") else None for d in info.type.tensor_type.shape.dim]
        if info.type.tensor_type.elem_type != 1:  # TensorProto.FLOAT
            self.problems.append(f"input {info.name!r}: not float32 (export with a float input)")
            self.poisoned.add(info.name)
            return None
        if not dims or any(d is None or d <= 0 for d in dims[1:]):
            self.problems.append(f"input {info.name!r}: shape {dims} is not fixed (export with a fixed input size)")
            self.poisoned.add(info.name)
            return None
        self.batch = dims[0] or 1
        perm = NHWC if len(dims) == 4 else _identity(len(dims))
        tensor = keras.Input(tuple(dims[p] for p in perm[1:]), name=self.unique(info.name))
        self.values[info.name] = Value(tensor, (None, *dims[1:]), perm)
        return tensor

    def _output(self, name: str):
        if name in self.poisoned:
            return None
        if name not in self.values:
            self.problems.append(f"output {name!r} is a constant (nothing to compute)")
            return None
        v = self.values[name]
        return self.nhwc(v) if v.rank == 4 else self.plain(v)

    def _visit(self, n: Node) -> None:
        known = [i for i in n.inputs if i]
        if n.domain not in ("", "ai.onnx") or (n.op not in HANDLERS and not self._all_const(known)):
            where = f"{n.domain}." if n.domain not in ("", "ai.onnx") else ""
            advice = INSTEAD.get(n.op, DEFAULT_INSTEAD)
            return self._fail(n, f"{where}{n.op} (node {n.name!r}): {advice}")
        if any(i in self.poisoned for i in known):
            self.poisoned.update(n.outputs)
            return
        try:
            results = self._fold(n) if self._all_const(known) else HANDLERS[n.op](self, n)
        except _Unsupported as exc:
            return self._fail(n, f"{n.op} (node {n.name!r}): {exc}")
        results = results if isinstance(results, list) else [results]
        for name, result in zip(n.outputs, results):
            if isinstance(result, Value):
                self.values[name] = result
            elif result is not None:
                self.consts[name] = np.asarray(result)

    def _prefold(self, nodes: list[Node]) -> list[Node]:
        """The nodes left once everything computed from constants alone is folded (before BatchNorm
        folding needs its statistics, which torch may route through Identity/Constant nodes)."""
        left = []
        for n in nodes:
            if n.domain in ("", "ai.onnx") and self._all_const([i for i in n.inputs if i]):
                try:
                    self.consts.update(zip(n.outputs, self._fold(n)))
                    continue
                except _Unsupported:
                    pass  # reported with the node's name when it is visited
            left.append(n)
        return left

    def _fail(self, n: Node, text: str) -> None:
        self.problems.append(text)
        self.poisoned.update(n.outputs)

    def _all_const(self, names: list[str]) -> bool:
        return all(i in self.consts for i in names)

    def _fold(self, n: Node) -> list[np.ndarray]:
        """A node on constants only (torch's shape arithmetic) evaluated by onnx's reference runtime."""
        import onnx
        from onnx.reference import ReferenceEvaluator

        proto = onnx.NodeProto()
        proto.CopyFrom(n.proto)
        del proto.input[:], proto.output[:]
        proto.input.extend(n.inputs)
        proto.output.extend(n.outputs)
        feeds = {i: self.consts[i] for i in n.inputs if i}
        try:
            return list(ReferenceEvaluator(proto, opsets={"": self.opset}).run(None, feeds))
        except Exception as exc:  # noqa: BLE001  (any evaluator failure is a node we cannot fold)
            raise _Unsupported(f"cannot evaluate it on constants ({' '.join(str(exc).split())[:120]})") from None

    # ---- access to a node's inputs
    def has(self, n: Node, i: int) -> bool:
        return i < len(n.inputs) and n.inputs[i] != ""

    def inp(self, n: Node, i: int) -> Value:
        name = n.inputs[i]
        if name in self.values:
            return self.values[name]
        if name in self.consts:
            raise _Unsupported(f"input {i} is a constant where a computed tensor is expected")
        raise _Unsupported(f"input {name!r} comes from an output the importer does not produce")

    def const(self, n: Node, i: int, default: Any = None, what: str = "") -> Any:
        if not self.has(n, i):
            return default
        if n.inputs[i] not in self.consts:
            raise _Unsupported(f"{what or f'input {i}'} must be a constant")
        return self.consts[n.inputs[i]]

    def is_const(self, n: Node, i: int) -> bool:
        return n.inputs[i] in self.consts

    # ---- naming and layers
    def unique(self, text: str) -> str:
        base = _keras_name(text)
        name, k = base, 1
        while name in self.names:
            k += 1
            name = f"{base}_{k}"
        self.names.add(name)
        return name

    def apply(self, layer, x, weights: list[np.ndarray] | None = None):
        y = layer(x)
        if weights is not None:
            layer.set_weights([np.asarray(w, np.float32) for w in weights])
        return y

    def value(self, tensor, perm: tuple[int, ...], nonneg: bool = False, **extra) -> Value:
        kshape = tuple(tensor.shape)
        shape = [None] * len(kshape)
        for i, p in enumerate(perm):
            shape[p] = kshape[i]
        shape[0] = None
        return Value(tensor, tuple(shape), perm, nonneg=nonneg, **extra)

    # ---- layouts
    def padded(self, v: Value):
        """The Keras tensor with any pending zero padding applied."""
        import keras

        if not any(v.pad):
            return v.tensor
        if "padded" not in v.cache:
            t, b, l, r = v.pad
            v.cache["padded"] = keras.layers.ZeroPadding2D(((t, b), (l, r)), name=self.unique("pad"))(v.tensor)
        return v.cache["padded"]

    def keras(self, v: Value, perm: tuple[int, ...]):
        """The Keras tensor of `v` laid out as `perm` (a Permute where the layouts differ)."""
        import keras

        from common.graph.layers import StaticReshape

        key = ("layout", perm)
        if key in v.cache:
            return v.cache[key]
        t, current, target = self.padded(v), v.perm, perm
        if v.rows is not None:  # a flat tensor in Keras order: back to its unflattened shape, ONNX order
            kshape, current = v.unflat
            target = _identity(len(current))
            t = StaticReshape(kshape, name=self.unique("unflatten"))(t)
        if current != target:
            dims = tuple(current.index(p) for p in target[1:])
            t = keras.layers.Permute(dims, name=self.unique("permute"))(t)
        if v.rows is not None:
            t = StaticReshape((int(np.prod(t.shape[1:])),), name=self.unique("flatten"))(t)
        v.cache[key] = t
        return t

    def nhwc(self, v: Value):
        if v.rank != 4:
            raise _Unsupported(f"expects a 4-D (N, C, H, W) tensor, got rank {v.rank}")
        return self.keras(v, NHWC)

    def plain(self, v: Value):
        return self.keras(v, _identity(v.rank))

    def const_like(self, v: Value, c: np.ndarray) -> np.ndarray | float:
        """An ONNX constant broadcast against `v`, in `v`'s Keras layout (a float when it is one number)."""
        c = np.asarray(c, np.float32)
        if c.size == 1:
            return float(c.reshape(()))
        if c.ndim > v.rank:
            raise _Unsupported(f"a constant of rank {c.ndim} against a rank-{v.rank} tensor")
        c = c.reshape((1,) * (v.rank - c.ndim) + c.shape)
        if c.shape[0] != 1:
            raise _Unsupported("a constant that varies along the batch axis")
        if v.rows is not None and c.shape[1] > 1:
            c = c[:, v.rows]
        return np.ascontiguousarray(c.transpose(v.perm))

    def same_layout(self, values: list[Value]) -> tuple[list[Any], tuple[int, ...], Value | None]:
        """The Keras tensors of `values` in one layout (the first's, or ONNX order for flat permuted ones)."""
        first = values[0]
        if any(v.rank != first.rank for v in values):
            raise _Unsupported("inputs of different ranks")
        if first.rows is not None and all(_same_rows(v, first) for v in values):
            return [self.padded(v) for v in values], first.perm, first
        perm = first.perm if first.rows is None else _identity(first.rank)
        return [self.keras(v, perm) for v in values], perm, None

    def reshape(self, v: Value, rest: tuple[int, ...]) -> Value:
        """`v` reshaped to ONNX shape (batch, *rest), without a Permute where the memory orders agree."""
        from common.graph.layers import StaticReshape

        rest = tuple(int(d) for d in rest)
        if rest == tuple(v.shape[1:]):
            return v
        full = (1, *rest)
        source = v.rows if v.rows is not None else _order((1, *v.shape[1:]), v.perm)
        layouts = [NHWC, _identity(4)] if len(full) == 4 else [_identity(len(full))]
        for perm in layouts:
            if np.array_equal(source, _order(full, perm)):
                kshape = tuple(full[p] for p in perm[1:])
                t = self.padded(v)
                t = t if tuple(t.shape[1:]) == kshape else StaticReshape(kshape, name=self.unique("reshape"))(t)
                return self.value(t, perm, v.nonneg)
        if len(full) == 2:  # a flatten: keep Keras' order and remember the ONNX position of each feature
            t = StaticReshape(rest, name=self.unique("flatten"))(self.padded(v))
            unflat = v.unflat if v.rows is not None else (tuple(self.padded(v).shape[1:]), v.perm)
            return Value(t, (None, *rest), (0, 1), rows=source, unflat=unflat, nonneg=v.nonneg)
        t = StaticReshape(rest, name=self.unique("reshape"))(self.plain(v))
        return self.value(t, _identity(len(full)), v.nonneg)

    def window_padding(self, v: Value, pads: list[int], k, s, d, merge: bool) -> tuple[str, Any]:
        """('same' | 'valid', Keras tensor) for a Conv/pool with ONNX pads [t, b, l, r]; a pending
        zero Pad merges into them when `merge` (convolutions only: pools pad with -inf or exclude it)."""
        import keras

        if merge:
            pads = [a + b for a, b in zip(pads, v.pad)]
            t, (h, w) = v.tensor, tuple(v.shape[2 + i] - v.pad[2 * i] - v.pad[2 * i + 1] for i in (0, 1))
        else:
            t, (h, w) = self.padded(v), v.shape[2:]
        if tuple(pads) == (*_tf_same(h, k[0], s[0], d[0]), *_tf_same(w, k[1], s[1], d[1])):
            return "same", t
        if any(pads):
            t = keras.layers.ZeroPadding2D(((pads[0], pads[1]), (pads[2], pads[3])), name=self.unique("pad"))(t)
        return "valid", t


def _same_rows(a: Value, b: Value) -> bool:
    if a.rows is None or b.rows is None:
        return a.rows is None and b.rows is None and a.perm == b.perm
    return np.array_equal(a.rows, b.rows)


def _fold_batchnorm(nodes: list[Node], consts: dict[str, np.ndarray], graph_outputs: set[str]) -> list[Node]:
    """BatchNormalization folded into the Conv or Gemm before it when that is its only consumer."""
    uses: dict[str, int] = {}
    for n in nodes:
        for i in n.inputs:
            uses[i] = uses.get(i, 0) + 1
    producer = {o: n for n in nodes for o in n.outputs}
    dropped: set[int] = set()
    for bn in nodes:
        if bn.op != "BatchNormalization" or len([o for o in bn.outputs if o]) != 1:
            continue
        prev = producer.get(bn.inputs[0])
        params = bn.inputs[1:5]
        if (prev is None or prev.op not in ("Conv", "Gemm") or uses.get(bn.inputs[0]) != 1
                or bn.inputs[0] in graph_outputs or not all(p in consts for p in params)
                or not all(i in consts for i in prev.inputs[1:] if i)):
            continue
        if prev.op == "Gemm" and not _gemm_foldable(prev, consts, np.size(consts[params[0]])):
            continue
        gamma, beta, mean, var = (np.asarray(consts[p], np.float64) for p in params)
        scale = gamma / np.sqrt(var + bn.attr("epsilon", 1e-5))
        _fold_into(prev, consts, scale, beta - mean * scale)
        prev.outputs = [bn.outputs[0]]
        dropped.add(id(bn))
    return [n for n in nodes if id(n) not in dropped]


def _gemm_foldable(gemm: Node, consts: dict[str, np.ndarray], channels: int) -> bool:
    bias = consts[gemm.inputs[2]] if len(gemm.inputs) > 2 and gemm.inputs[2] else np.zeros(1)
    return not gemm.attr("transA", 0) and np.ndim(consts[gemm.inputs[1]]) == 2 and np.size(bias) in (1, channels)


def _fold_into(prev: Node, consts: dict[str, np.ndarray], scale: np.ndarray, shift: np.ndarray) -> None:
    """y * scale + shift folded into the weights of `prev` (output channels scaled)."""
    w = np.asarray(consts[prev.inputs[1]], np.float64)
    has_bias = len(prev.inputs) > 2 and prev.inputs[2] != ""
    bias = np.asarray(consts[prev.inputs[2]], np.float64) if has_bias else np.zeros(scale.shape)
    if prev.op == "Conv":
        w = w * scale.reshape(-1, *(1,) * (w.ndim - 1))
    else:  # Gemm: y = alpha * A @ B' + beta * C
        w = w * prev.attr("alpha", 1.0) * (scale[:, None] if prev.attr("transB", 0) else scale[None, :])
        bias = np.broadcast_to(bias * prev.attr("beta", 1.0), (1, scale.size)).ravel()
        prev.attrs.update(alpha=1.0, beta=1.0)
    names = [f"{prev.name}/bn_folded_weight", f"{prev.name}/bn_folded_bias"]
    consts[names[0]] = w.astype(np.float32)
    consts[names[1]] = (bias * scale + shift).astype(np.float32)
    prev.inputs = [prev.inputs[0], *names]


# --------------------------------------------------------------------------------- op handlers
# Each takes (importer, node) and returns a Value, a constant (np.ndarray) or a list of them.

def _ints(values, n: int = 2) -> tuple[int, ...]:
    values = tuple(int(v) for v in values)
    if len(values) != n:
        raise _Unsupported("only 2-D windows (a 4-D input) are supported")
    return values


def _conv(b: _Importer, n: Node) -> Value:
    import keras

    x, w, bias = b.inp(n, 0), b.const(n, 1, what="the weight"), b.const(n, 2)
    if w.ndim != 4 or x.rank != 4:
        raise _Unsupported("only 2-D convolutions (a 4-D input)")
    k = _ints(w.shape[2:])
    s, d, group = _ints(n.attr("strides", [1, 1])), _ints(n.attr("dilations", [1, 1])), n.attr("group", 1)
    if max(s) > 1 and max(d) > 1:
        raise _Unsupported("strides and dilations both above 1 (Keras takes one or the other)")
    pads = _spatial_pads(n, x.shape[2], x.shape[3], k, s, d)
    if x.perm != NHWC:
        x = b.value(b.nhwc(x), NHWC, x.nonneg)
    padding, t = b.window_padding(x, pads, k, s, d, merge=True)
    cin, cout, use_bias = x.shape[1], w.shape[0], bias is not None
    common = dict(strides=s, padding=padding, dilation_rate=d, use_bias=use_bias, name=b.unique(n.name))
    if group == 1 or group != cin:
        layer = keras.layers.Conv2D(cout, k, groups=group, **common)
        kernel = w.transpose(2, 3, 1, 0)
    else:  # depthwise: ONNX output channel c * m + j reads input channel c, as Keras' multiplier does
        layer = keras.layers.DepthwiseConv2D(k, depth_multiplier=cout // cin, **common)
        kernel = w.reshape(cin, cout // cin, *k).transpose(2, 3, 0, 1)
    return b.value(b.apply(layer, t, [kernel, bias] if use_bias else [kernel]), NHWC)


def _conv_transpose(b: _Importer, n: Node) -> Value:
    import keras

    x, w, bias = b.inp(n, 0), b.const(n, 1, what="the weight"), b.const(n, 2)
    if w.ndim != 4 or n.attr("group", 1) != 1 or max(n.attr("dilations", [1, 1])) > 1:
        raise _Unsupported("only 2-D, group 1, dilation 1 transposed convolutions")
    if n.attr("auto_pad", "NOTSET") != "NOTSET" or n.attr("output_shape"):
        raise _Unsupported("auto_pad / output_shape: give explicit padding in the PyTorch model")
    k, s = _ints(w.shape[2:]), _ints(n.attr("strides", [1, 1]))
    p, extra = list(n.attr("pads", [0, 0, 0, 0])), list(n.attr("output_padding", [0, 0]))
    use_bias = bias is not None
    layer = keras.layers.Conv2DTranspose(w.shape[1], k, strides=s, padding="valid", use_bias=use_bias,
                                         name=b.unique(n.name))
    kernel = w.transpose(2, 3, 1, 0)
    t = b.apply(layer, b.nhwc(x), [kernel, bias] if use_bias else [kernel])
    crops = []
    for axis in (0, 1):
        size = x.shape[2 + axis]
        wanted = (size - 1) * s[axis] + k[axis] + extra[axis] - p[axis] - p[axis + 2]
        end = t.shape[1 + axis] - p[axis] - wanted
        if end < 0:
            raise _Unsupported("output_padding larger than the end padding")
        crops.append((p[axis], end))
    if any(sum(c) for c in crops):
        t = keras.layers.Cropping2D(tuple(crops), name=b.unique(f"{n.name}_crop"))(t)
    return b.value(t, NHWC)


def _batchnorm(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    gamma, beta, mean, var = (b.const(n, i, what="BatchNorm statistics") for i in range(1, 5))
    axis = x.perm.index(1)
    if x.rows is not None:  # per-feature statistics of a flattened conv output, in Keras' order
        gamma, beta, mean, var = (p[x.rows] if p.size > 1 else p for p in (gamma, beta, mean, var))
    layer = keras.layers.BatchNormalization(axis=axis, epsilon=n.attr("epsilon", 1e-5), name=b.unique(n.name))
    return replace(x, tensor=b.apply(layer, b.padded(x), [gamma, beta, mean, var]), pad=(0, 0, 0, 0),
                   nonneg=False, cache={})


def _unary(b: _Importer, n: Node, fn: Callable, nonneg: bool) -> Value:
    x = b.inp(n, 0)
    return replace(x, tensor=fn(b.padded(x)), pad=(0, 0, 0, 0), nonneg=nonneg, cache={})


def _clip(b: _Importer, n: Node) -> Value:
    import keras

    if b.opset < 11:
        lo, hi = n.attr("min", -np.inf), n.attr("max", np.inf)
    else:
        lo, hi = (float(b.const(n, i, default, what="a bound")) for i, default in ((1, -np.inf), (2, np.inf)))
    if lo == 0:
        layer = keras.layers.ReLU(max_value=None if np.isinf(hi) else float(hi), name=b.unique(n.name))
        return _unary(b, n, layer, True)
    return _unary(b, n, lambda t: keras.ops.clip(t, lo, hi), lo >= 0)


def _prelu(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    slope = b.const_like(x, b.const(n, 1, what="the slope"))
    alpha = np.full((1,) * x.rank, slope, np.float32) if isinstance(slope, float) else slope
    shared = [i for i in range(1, x.rank) if alpha.shape[i] == 1]
    layer = keras.layers.PReLU(shared_axes=shared or None, name=b.unique(n.name))
    t = b.padded(x)
    param = tuple(1 if i in shared else t.shape[i] for i in range(1, x.rank))
    y = b.apply(layer, t, [np.broadcast_to(alpha[0], param)])
    return replace(x, tensor=y, pad=(0, 0, 0, 0), nonneg=False, cache={})


def _hard_sigmoid(b: _Importer, n: Node) -> Value:
    import keras

    alpha, beta = n.attr("alpha", 0.2), n.attr("beta", 0.5)
    if abs(alpha - 1 / 6) < 1e-6 and abs(beta - 0.5) < 1e-6:  # Keras 3's hard_sigmoid is relu6(x + 3) / 6
        return _unary(b, n, keras.layers.Activation("hard_sigmoid", name=b.unique(n.name)), True)
    return _unary(b, n, lambda t: keras.ops.clip(t * alpha + beta, 0.0, 1.0), True)


def _binary(op: str) -> Callable:
    def handler(b: _Importer, n: Node) -> Value:
        if b.is_const(n, 0) or b.is_const(n, 1):
            return _with_constant(b, n, op)
        return _two_tensors(b, n, op)
    return handler


def _with_constant(b: _Importer, n: Node, op: str) -> Value:
    import keras

    first = not b.is_const(n, 0)
    x = b.inp(n, 0 if first else 1)
    c = b.const_like(x, b.consts[n.inputs[1 if first else 0]])
    t, nonneg = b.padded(x), False
    if op == "add":
        y = keras.ops.add(t, c)
    elif op == "sub":
        y = keras.ops.add(t, -c) if first else keras.ops.subtract(c, t)
    elif op == "mul":
        y, nonneg = keras.ops.multiply(t, c), x.nonneg and np.all(np.asarray(c) >= 0)
    elif first and np.all(np.asarray(c) != 0):  # a constant divisor: MUL (accelerated), not DIV
        y, nonneg = keras.ops.multiply(t, 1.0 / c if isinstance(c, float) else (1.0 / c).astype(np.float32)), \
            x.nonneg and np.all(np.asarray(c) > 0)
    else:
        y = keras.ops.divide(t, c) if first else keras.ops.divide(c, t)
    return replace(x, tensor=y, pad=(0, 0, 0, 0), nonneg=bool(nonneg), cache={})


def _two_tensors(b: _Importer, n: Node, op: str) -> Value:
    import keras

    a, c = b.inp(n, 0), b.inp(n, 1)
    (ta, tc), perm, flat = b.same_layout([a, c])
    if op == "div":
        y = keras.ops.divide(ta, tc)
    else:
        kind = {"add": keras.layers.Add, "sub": keras.layers.Subtract, "mul": keras.layers.Multiply}[op]
        y = kind(name=b.unique(n.name))([ta, tc])
    nonneg = a.nonneg and c.nonneg and op in ("add", "mul")
    if flat is not None:
        return replace(flat, tensor=y, nonneg=nonneg, cache={})
    return b.value(y, perm, nonneg)


def _pool_geometry(b: _Importer, n: Node, x: Value) -> tuple:
    k = _ints(n.attr("kernel_shape"))
    s, d = _ints(n.attr("strides", [1, 1])), _ints(n.attr("dilations", [1, 1]))
    if max(d) > 1:
        raise _Unsupported("dilated pooling")
    h, w = x.shape[2:]
    pads = _spatial_pads(n, h, w, k, s, d)
    ceil = bool(n.attr("ceil_mode", 0))
    out = (_pool_out(h, k[0], s[0], pads[0], pads[1], ceil), _pool_out(w, k[1], s[1], pads[2], pads[3], ceil))
    # ceil_mode's extra windows: padding at the end that no window fully needs
    ends = [max((out[i] - 1) * s[i] + k[i] - (x.shape[2 + i] + pads[2 * i]), pads[2 * i + 1]) for i in (0, 1)]
    return k, s, [pads[0], ends[0], pads[2], ends[1]], pads, out


def _max_pool(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    if x.rank != 4 or len([o for o in n.outputs if o]) > 1:
        raise _Unsupported("only 2-D max pooling without indices")
    k, s, total, _, _ = _pool_geometry(b, n, x)
    xv = b.value(b.nhwc(x), NHWC, x.nonneg)
    same = tuple(total) == (*_tf_same(x.shape[2], k[0], s[0]), *_tf_same(x.shape[3], k[1], s[1]))
    if any(total) and not same and not x.nonneg:  # ONNX pads with -inf; zeros are exact only after a ReLU
        raise _Unsupported(f"padding {total} that TensorFlow's 'same' does not give, on a tensor that can be "
                           "negative: pad 0, or pool after the ReLU")
    padding, t = b.window_padding(xv, total, k, s, (1, 1), merge=False)
    layer = keras.layers.MaxPooling2D(k, s, padding=padding, name=b.unique(n.name))
    return b.value(layer(t), NHWC, x.nonneg)


def _average_pool(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    if x.rank != 4:
        raise _Unsupported("only 2-D average pooling")
    k, s, total, pads, out = _pool_geometry(b, n, x)
    include = bool(n.attr("count_include_pad", 0))
    h, w = x.shape[2:]
    wanted = np.outer(_avg_divisors(h, k[0], s[0], pads[0], pads[1], out[0], include),
                      _avg_divisors(w, k[1], s[1], pads[2], pads[3], out[1], include))
    xv = b.value(b.nhwc(x), NHWC, x.nonneg)
    same = tuple(total) == (*_tf_same(h, k[0], s[0]), *_tf_same(w, k[1], s[1]))
    # TF's 'same' divides by the elements inside the input; 'valid' on zero-padded input by k*k.
    inside = np.outer(_avg_divisors(h, k[0], s[0], total[0], total[1], out[0], False),
                      _avg_divisors(w, k[1], s[1], total[2], total[3], out[1], False))
    padding, t = ("same" if same and np.array_equal(inside, wanted) else "valid"), b.padded(xv)
    if padding == "valid" and any(total):
        t = keras.layers.ZeroPadding2D(((total[0], total[1]), (total[2], total[3])), name=b.unique("pad"))(t)
    y = keras.layers.AveragePooling2D(k, s, padding=padding, name=b.unique(n.name))(t)
    if padding == "valid" and not np.all(wanted == k[0] * k[1]):  # windows that ONNX averages over fewer
        y = keras.ops.multiply(y, (k[0] * k[1] / wanted).astype(np.float32)[None, :, :, None])
    return b.value(y, NHWC, x.nonneg)


def _global_pool(kind: str) -> Callable:
    def handler(b: _Importer, n: Node) -> Value:
        return _pool_hw(b, n, b.inp(n, 0), kind, keepdims=True)
    return handler


def _pool_hw(b: _Importer, n: Node, x: Value, kind: str, keepdims: bool) -> Value:
    """A pool over the whole H, W: AVERAGE_POOL_2D / MAX_POOL_2D (the Efinix rules refuse MEAN over H, W)."""
    import keras

    if x.rank != 4:
        raise _Unsupported("a global pool over a tensor that is not 4-D")
    layer = {"avg": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}[kind]
    y = b.value(layer(tuple(x.shape[2:]), name=b.unique(n.name))(b.nhwc(x)), NHWC, x.nonneg)
    return y if keepdims else b.reshape(y, (x.shape[1],))


def _reduce(kind: str) -> Callable:
    def handler(b: _Importer, n: Node) -> Value:
        x = b.inp(n, 0)
        axes = n.attr("axes") if n.attr("axes") is not None else b.const(n, 1, None, "the axes")
        axes = sorted({int(a) % x.rank for a in (range(x.rank) if axes is None else np.ravel(axes))})
        if x.rank != 4 or axes != [2, 3]:
            hint = " (a LayerNorm? use BatchNorm)" if kind == "avg" else ""
            raise _Unsupported(f"a reduction over axes {axes}: only over H and W (global pooling){hint}")
        return _pool_hw(b, n, x, kind, keepdims=bool(n.attr("keepdims", 1)))
    return handler


def _pad(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    mode = n.attr("mode", "constant")
    pads = n.attr("pads") if b.opset < 11 else b.const(n, 1, what="the pads")
    value = n.attr("value", 0.0) if b.opset < 11 else b.const(n, 2, 0.0, "the pad value")
    if mode != "constant" or np.any(np.asarray(value) != 0):
        raise _Unsupported(f"mode {mode!r} / value {value}: only zero padding (use mode='constant', value 0)")
    if b.opset >= 18 and b.has(n, 3):
        raise _Unsupported("padding selected axes: pad every axis")
    pads = [int(p) for p in np.ravel(pads)]
    before, after = pads[:x.rank], pads[x.rank:]
    if min(pads) < 0 or before[0] or after[0]:
        raise _Unsupported("negative padding or padding of the batch axis")
    if x.rank == 4 and x.perm == NHWC and x.rows is None and not before[1] and not after[1]:
        extra = (before[2], after[2], before[3], after[3])
        pad = tuple(a + e for a, e in zip(x.pad, extra))
        shape = (None, x.shape[1], x.shape[2] + extra[0] + extra[1], x.shape[3] + extra[2] + extra[3])
        return replace(x, shape=shape, pad=pad, cache={})
    t = b.plain(x) if x.rows is not None else b.padded(x)
    perm = _identity(x.rank) if x.rows is not None else x.perm
    y = keras.ops.pad(t, [[before[p], after[p]] for p in perm])
    return b.value(y, perm, x.nonneg)


def _gemm(b: _Importer, n: Node) -> Value:
    if n.attr("transA", 0):
        raise _Unsupported("transA=1")
    w = np.asarray(b.const(n, 1, what="the weight (B)"), np.float32)
    w = (w.T if n.attr("transB", 0) else w) * n.attr("alpha", 1.0)
    bias = b.const(n, 2)
    if bias is not None and np.size(bias) not in (1, w.shape[1]):
        raise _Unsupported(f"a bias C of shape {np.shape(bias)} that varies along the batch axis")
    bias = None if bias is None else np.broadcast_to(np.asarray(bias) * n.attr("beta", 1.0), (1, w.shape[1])).ravel()
    return _dense(b, n, b.inp(n, 0), w, bias)


def _matmul(b: _Importer, n: Node) -> Value:
    if b.is_const(n, 0) or not b.is_const(n, 1):
        raise _Unsupported("a MatMul of two computed tensors (attention?): use Linear layers with weights")
    w = b.consts[n.inputs[1]]
    if w.ndim != 2:
        raise _Unsupported("a MatMul with a weight that is not 2-D")
    return _dense(b, n, b.inp(n, 0), w, None)


def _dense(b: _Importer, n: Node, x: Value, w: np.ndarray, bias: np.ndarray | None) -> Value:
    import keras

    if x.rows is not None:  # the flatten kept Keras' order: take the weight rows in that order
        w, t = w[x.rows], b.padded(x)
    else:
        t = b.plain(x)
    layer = keras.layers.Dense(w.shape[1], use_bias=bias is not None, name=b.unique(n.name))
    y = b.apply(layer, t, [w, bias] if bias is not None else [w])
    return b.value(y, _identity(x.rank))


def _reshape(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    target = [int(d) for d in b.const(n, 1, what="the target shape")]
    if not n.attr("allowzero", 0):
        target = [(b.batch if i == 0 else x.shape[i]) if d == 0 and i < x.rank else d for i, d in enumerate(target)]
    return b.reshape(x, _rest_of(b, x, target))


def _rest_of(b: _Importer, x: Value, target: list[int]) -> tuple[int, ...]:
    """The non-batch part of an ONNX target shape; a reshape that mixes the batch axis is refused."""
    size = int(np.prod(x.shape[1:]))
    rest = list(target[1:])
    if target and target[0] == -1 and -1 not in rest and int(np.prod(rest)) == size:
        return tuple(rest)
    if not target or target[0] != b.batch or rest.count(-1) > 1:
        raise _Unsupported(f"a reshape to {target} that mixes the batch axis (keep the batch first: x.view(x.size(0), -1))")
    if -1 in rest:
        known = int(np.prod([d for d in rest if d != -1]))
        rest[rest.index(-1)] = size // known
    if int(np.prod(rest)) != size:
        raise _Unsupported(f"cannot reshape {x.shape} to {target}")
    return tuple(rest)


def _flatten(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    axis = n.attr("axis", 1) % x.rank if x.rank else 0
    if axis == 0:
        raise _Unsupported("Flatten at axis 0 folds the batch axis")
    dims = x.shape[1:]
    head, tail = dims[:axis - 1], dims[axis - 1:]
    return b.reshape(x, (*head, int(np.prod(tail))))


def _axes(b: _Importer, n: Node) -> np.ndarray | None:
    axes = n.attr("axes") if b.opset < 13 else b.const(n, 1, None, "the axes")
    return None if axes is None else np.ravel(axes)


def _squeeze(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    axes = _axes(b, n)
    axes = [i for i in range(1, x.rank) if x.shape[i] == 1] if axes is None else [int(a) % x.rank for a in axes]
    if 0 in axes:
        raise _Unsupported("squeezing the batch axis")
    return b.reshape(x, tuple(d for i, d in enumerate(x.shape) if i and i not in axes))


def _unsqueeze(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    raw = _axes(b, n)
    axes = [] if raw is None else sorted(int(a) % (x.rank + len(raw)) for a in raw)
    if not axes or 0 in axes:
        raise _Unsupported("adding an axis before the batch axis")
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return b.reshape(x, tuple(shape[1:]))


def _transpose(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    q = tuple(int(p) for p in n.attr("perm", list(reversed(range(x.rank)))))
    if q == _identity(x.rank):
        return x
    if q[0] != 0 or x.rows is not None:
        raise _Unsupported(f"a transpose {q} that moves the batch axis")
    inv = _inverse(q)
    # Only a relabelling: the Keras tensor stays; a consumer that needs another layout permutes.
    t = b.padded(x)
    return replace(x, tensor=t, shape=tuple(x.shape[p] for p in q), perm=tuple(inv[p] for p in x.perm),
                   pad=(0, 0, 0, 0), cache={})


def _concat(b: _Importer, n: Node) -> Value:
    import keras

    if any(b.is_const(n, i) for i in range(len(n.inputs))):
        raise _Unsupported("a Concat with a constant input")
    values = [b.inp(n, i) for i in range(len(n.inputs))]
    axis = n.attr("axis") % values[0].rank
    if axis == 0:
        raise _Unsupported("a Concat along the batch axis")
    if all(v.rows is None for v in values):
        tensors, perm, _ = b.same_layout(values)
    else:  # features in Keras order cannot simply be joined: back to ONNX order
        tensors, perm = [b.plain(v) for v in values], _identity(values[0].rank)
    y = keras.layers.Concatenate(axis=perm.index(axis), name=b.unique(n.name))(tensors)
    return b.value(y, perm, all(v.nonneg for v in values))


def _slice(b: _Importer, n: Node) -> Value:
    x = b.inp(n, 0)
    if b.opset < 10:
        starts, ends, axes, steps = n.attr("starts"), n.attr("ends"), n.attr("axes"), None
    else:
        starts, ends = b.const(n, 1, what="starts"), b.const(n, 2, what="ends")
        axes, steps = b.const(n, 3, None, "axes"), b.const(n, 4, None, "steps")
    axes = list(range(len(starts))) if axes is None else [int(a) % x.rank for a in np.ravel(axes)]
    steps = [1] * len(axes) if steps is None else [int(s) for s in np.ravel(steps)]
    if min(steps) < 1:
        raise _Unsupported("negative slice steps (flips)")
    t, perm = (b.plain(x), _identity(x.rank)) if x.rows is not None else (b.padded(x), x.perm)
    index = [slice(None)] * x.rank
    shape = list(x.shape)
    for axis, start, end, step in zip(axes, np.ravel(starts), np.ravel(ends), steps):
        size = b.batch if axis == 0 else shape[axis]
        start, end, _ = slice(int(start), int(min(max(end, -2**62), 2**62)), step).indices(size)
        if axis == 0:
            if (start, end, step) != (0, size, 1):
                raise _Unsupported("slicing the batch axis")
            continue
        index[perm.index(axis)] = slice(start, end, step)
    if all(s == slice(None) or (s.start, s.stop, s.step) == (0, x.shape[perm[i]], 1) for i, s in enumerate(index)):
        return x
    return b.value(t[tuple(index)], perm, x.nonneg)


def _softmax(b: _Importer, n: Node) -> Value:
    import keras

    x = b.inp(n, 0)
    axis = n.attr("axis", -1 if b.opset >= 13 else 1) % x.rank
    if b.opset < 13 and axis != x.rank - 1:
        raise _Unsupported("a pre-opset-13 Softmax over several axes: export with opset >= 13")
    if x.rows is not None:  # a softmax over all features does not care about their order
        return _unary(b, n, keras.layers.Softmax(axis=-1, name=b.unique(n.name)), True)
    t = b.padded(x)
    y = keras.layers.Softmax(axis=x.perm.index(axis), name=b.unique(n.name))(t)
    return replace(x, tensor=y, pad=(0, 0, 0, 0), nonneg=True, cache={})


def _resize(b: _Importer, n: Node) -> Value:
    import keras

    from common.graph.layers import NearestUpsample

    x = b.inp(n, 0)
    if n.attr("mode", "nearest") != "nearest" or x.rank != 4:
        raise _Unsupported(f"mode {n.attr('mode')!r}: only nearest upsampling (bilinear: use nearest + a Conv)")
    scales = _resize_scales(b, n, x)
    factors = [int(round(s)) for s in scales]
    if factors[:2] != [1, 1] or any(abs(s - f) > 1e-6 or f < 1 for s, f in zip(scales, factors)):
        raise _Unsupported(f"scales {list(scales)}: only integer H, W factors")
    coords, rounding = n.attr("coordinate_transformation_mode", "half_pixel"), n.attr("nearest_mode", "round_prefer_floor")
    if coords not in ("asymmetric", "half_pixel", "pytorch_half_pixel") or (coords == "asymmetric" and rounding != "floor"):
        raise _Unsupported(f"coordinate_transformation_mode {coords!r} with nearest_mode {rounding!r}")
    if factors[2:] == [1, 1]:
        return x
    t = b.nhwc(x)
    name = b.unique(n.name)
    if factors[2] == factors[3]:  # one RESIZE_NEAREST_NEIGHBOR (UpSampling2D exports as TILE/RESHAPE ops)
        y = NearestUpsample(factors[2], name=name)(t)
    else:
        y = keras.layers.UpSampling2D(tuple(factors[2:]), interpolation="nearest", name=name)(t)
    return b.value(y, NHWC, x.nonneg)


def _resize_scales(b: _Importer, n: Node, x: Value) -> list[float]:
    if n.op == "Upsample" or b.opset < 11:
        scales = n.attr("scales") if n.attr("scales") is not None else b.const(n, 1, what="the scales")
        return [float(s) for s in np.ravel(scales)]
    scales, sizes = b.const(n, 2, None, "the scales"), b.const(n, 3, None, "the sizes")
    if scales is not None and np.size(scales):
        return [float(s) for s in np.ravel(scales)]
    if sizes is None:
        raise _Unsupported("neither scales nor sizes")
    shape = (b.batch, *x.shape[1:])
    return [float(s) / d for s, d in zip(np.ravel(sizes), shape)]


def _shape(b: _Importer, n: Node) -> np.ndarray:
    x = b.inp(n, 0)
    shape = np.array([b.batch, *x.shape[1:]], np.int64)
    return shape[n.attr("start", 0):n.attr("end", len(shape))]


def _size(b: _Importer, n: Node) -> np.ndarray:
    x = b.inp(n, 0)
    return np.array(b.batch * int(np.prod(x.shape[1:])), np.int64)


def _identity_op(b: _Importer, n: Node) -> Value:
    return b.inp(n, 0)


def _cast(b: _Importer, n: Node) -> Value:
    if n.attr("to") != 1:  # TensorProto.FLOAT
        raise _Unsupported("a cast of a computed tensor to a type other than float32")
    return b.inp(n, 0)


def _activation(name: str, nonneg: bool) -> Callable:
    def handler(b: _Importer, n: Node) -> Value:
        import keras

        return _unary(b, n, keras.layers.Activation(name, name=b.unique(n.name)), nonneg)
    return handler


def _relu(b: _Importer, n: Node) -> Value:
    import keras

    return _unary(b, n, keras.layers.ReLU(name=b.unique(n.name)), True)


def _leaky_relu(b: _Importer, n: Node) -> Value:
    import keras

    layer = keras.layers.LeakyReLU(negative_slope=n.attr("alpha", 0.01), name=b.unique(n.name))
    return _unary(b, n, layer, False)


HANDLERS: dict[str, Callable[[_Importer, Node], Any]] = {
    "Conv": _conv, "ConvTranspose": _conv_transpose, "BatchNormalization": _batchnorm,
    "Relu": _relu, "Clip": _clip, "LeakyRelu": _leaky_relu, "PRelu": _prelu,
    "Sigmoid": _activation("sigmoid", True), "HardSigmoid": _hard_sigmoid,
    "HardSwish": _activation("hard_swish", False),
    "Add": _binary("add"), "Sub": _binary("sub"), "Mul": _binary("mul"), "Div": _binary("div"),
    "MaxPool": _max_pool, "AveragePool": _average_pool,
    "GlobalAveragePool": _global_pool("avg"), "GlobalMaxPool": _global_pool("max"),
    "ReduceMean": _reduce("avg"), "ReduceMax": _reduce("max"),
    "Pad": _pad, "Gemm": _gemm, "MatMul": _matmul, "Flatten": _flatten, "Reshape": _reshape,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Transpose": _transpose, "Concat": _concat,
    "Slice": _slice, "Softmax": _softmax, "Resize": _resize, "Upsample": _resize,
    "Shape": _shape, "Size": _size, "Identity": _identity_op, "Dropout": _identity_op, "Cast": _cast,
}
