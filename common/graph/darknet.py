"""Darknet `.cfg` parser, cfg -> Keras builder, and `.weights` reader/writer.

Supported sections: [net], [convolutional] (incl. depthwise via groups), [shortcut], [route],
[maxpool], [upsample], [dropout] (identity at inference) and [yolo] (marks a model output). That is
enough for models/yolo's yolo-pico cfg, yolov3-tiny and Yolo-Fastest-style nets. `load_darknet` is the
converter's entry: any cfg made of these sections plus its `.weights` -> a Keras model.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from common import env  # noqa: F401  (before TensorFlow/Keras)

from common.atomic import atomic_path
from common.errors import ConversionError
from common.graph.layers import NearestUpsample

SUPPORTED = ("net", "convolutional", "shortcut", "route", "maxpool", "upsample", "dropout", "yolo")
ACTIVATIONS = ("leaky", "linear", "relu", "logistic")
BN_EPSILON = 1e-5
LEAKY_ALPHA = 0.1


class CfgError(ValueError):
    """A malformed or unsupported Darknet cfg; the message names the file and line."""


class WeightsError(ValueError):
    """A `.weights` file that does not fit the cfg (wrong length, bad header)."""


@dataclass
class Section:
    kind: str
    line: int  # 1-based line of the [header]
    options: dict[str, str] = field(default_factory=dict)
    option_lines: dict[str, int] = field(default_factory=dict)

    def where(self, key: str | None = None) -> str:
        return f"line {self.option_lines.get(key, self.line) if key else self.line} ([{self.kind}])"

    def get_int(self, key: str, default: int | None = None, source: str = "") -> int:
        if key not in self.options:
            if default is None:
                raise CfgError(f"{source}{self.where()}: missing required option {key!r}")
            return default
        try:
            return int(self.options[key])
        except ValueError:
            raise CfgError(f"{source}{self.where(key)}: {key}={self.options[key]!r} is not an integer") from None

    def get_ints(self, key: str, source: str = "") -> list[int]:
        if key not in self.options:
            raise CfgError(f"{source}{self.where()}: missing required option {key!r}")
        try:
            return [int(v) for v in self.options[key].split(",") if v.strip()]
        except ValueError:
            raise CfgError(f"{source}{self.where(key)}: {key}={self.options[key]!r} is not a list of integers") from None


@dataclass
class Cfg:
    net: Section
    layers: list[Section]
    source: str = "<cfg>"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.net.get_int("height", 416), self.net.get_int("width", 416), self.net.get_int("channels", 3))


def parse_cfg_text(text: str, source: str = "<cfg>") -> Cfg:
    """Parse cfg text; every error names `source` and the offending line."""
    sections: list[Section] = []
    prefix = f"{source}: "
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise CfgError(f"{prefix}line {lineno}: malformed section header {raw.strip()!r}")
            kind = line[1:-1].strip().lower()
            if kind not in SUPPORTED:
                raise CfgError(f"{prefix}line {lineno}: unsupported section [{kind}] (supported: {', '.join(SUPPORTED)})")
            sections.append(Section(kind, lineno))
            continue
        if "=" not in line:
            raise CfgError(f"{prefix}line {lineno}: expected 'key=value', got {raw.strip()!r}")
        if not sections:
            raise CfgError(f"{prefix}line {lineno}: option {raw.strip()!r} before the first [section]")
        key, value = (s.strip() for s in line.split("=", 1))
        if not key or not value:
            raise CfgError(f"{prefix}line {lineno}: empty key or value in {raw.strip()!r}")
        sections[-1].options[key] = value
        sections[-1].option_lines[key] = lineno
    if not sections or sections[0].kind != "net":
        raise CfgError(f"{prefix}line {sections[0].line if sections else 1}: a cfg must start with [net]")
    cfg = Cfg(sections[0], sections[1:], source)
    _check(cfg)
    return cfg


def parse_cfg(path: str | os.PathLike) -> Cfg:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no Darknet cfg at {path}")
    return parse_cfg_text(path.read_text(), str(path))


def _check(cfg: Cfg) -> None:
    """Static checks that need no tensors: option types, activations, layer references."""
    src = f"{cfg.source}: "
    for i, s in enumerate(cfg.layers):
        if s.kind == "convolutional":
            s.get_int("filters", source=src)
            s.get_int("size", 1, src)
            s.get_int("stride", 1, src)
            act = s.options.get("activation", "logistic")
            if act not in ACTIVATIONS:
                raise CfgError(f"{src}{s.where('activation')}: unsupported activation {act!r} ({', '.join(ACTIVATIONS)})")
        elif s.kind in ("shortcut", "route"):
            key = "from" if s.kind == "shortcut" else "layers"
            for ref in s.get_ints(key, src):
                j = ref if ref >= 0 else i + ref
                if not 0 <= j < i:
                    raise CfgError(f"{src}{s.where(key)}: layer {i} refers to layer {ref} -> {j}, which is not an earlier layer")
            if s.kind == "route" and "groups" in s.options:
                raise CfgError(f"{src}{s.where('groups')}: [route] groups= is not supported")
        elif s.kind == "yolo":
            anchors = s.get_ints("anchors", src)
            if len(anchors) % 2:
                raise CfgError(f"{src}{s.where('anchors')}: anchors must be w,h pairs")
            for m in s.get_ints("mask", src):
                if not 0 <= m < len(anchors) // 2:
                    raise CfgError(f"{src}{s.where('mask')}: mask {m} has no anchor")
            s.get_int("classes", 80, src)


def yolo_heads(cfg: Cfg) -> list[dict]:
    """For each [yolo] layer in cfg order: its anchors (pixels, w,h) and number of classes."""
    heads = []
    for s in cfg.layers:
        if s.kind == "yolo":
            anchors = np.asarray(s.get_ints("anchors"), np.float32).reshape(-1, 2)
            heads.append({"anchors": anchors[s.get_ints("mask")], "classes": s.get_int("classes", 80)})
    return heads


def build_keras(cfg: Cfg, name: str = "darknet"):
    """A functional Keras model; its outputs are the raw conv maps feeding each [yolo] layer
    (or the last layer when there is none). Conv layers are named `conv_<i>`, BN `bn_<i>`."""
    import keras
    from keras import layers

    src = f"{cfg.source}: "
    inputs = keras.Input(shape=cfg.input_shape, name="image")
    x = inputs
    outputs: list = []
    tensors: list = []
    for i, s in enumerate(cfg.layers):
        if s.kind == "convolutional":
            x = _conv_block(x, s, i, src)
        elif s.kind == "shortcut":
            other = tensors[_ref(s.get_ints("from")[0], i)]
            if tuple(other.shape[1:]) != tuple(x.shape[1:]):
                raise CfgError(f"{src}{s.where('from')}: shortcut adds shapes {tuple(x.shape[1:])} and {tuple(other.shape[1:])}")
            x = layers.Add(name=f"shortcut_{i}")([x, other])
            act = s.options.get("activation", "linear")
            if act != "linear":
                x = _activation(x, act, i, s, src)
        elif s.kind == "route":
            parts = [tensors[_ref(r, i)] for r in s.get_ints("layers")]
            if len(parts) == 1:
                x = parts[0]
            else:
                if len({tuple(p.shape[1:3]) for p in parts}) > 1:
                    raise CfgError(f"{src}{s.where('layers')}: route concatenates maps of different sizes "
                                   f"{[tuple(p.shape[1:3]) for p in parts]}")
                x = layers.Concatenate(axis=-1, name=f"route_{i}")(parts)
        elif s.kind == "maxpool":
            size = s.get_int("size", 1)
            x = layers.MaxPooling2D(size, s.get_int("stride", 1), padding="same", name=f"maxpool_{i}")(x)
        elif s.kind == "upsample":
            x = NearestUpsample(s.get_int("stride", 2), name=f"upsample_{i}")(x)
        elif s.kind == "dropout":
            pass  # identity at inference
        elif s.kind == "yolo":
            outputs.append(x)
        tensors.append(x)
    return keras.Model(inputs, outputs or [x], name=name)


def _ref(ref: int, i: int) -> int:
    return ref if ref >= 0 else i + ref


def _activation(x, act: str, i: int, s: Section, src: str):
    from keras import layers

    if act == "leaky":
        return layers.LeakyReLU(negative_slope=LEAKY_ALPHA, name=f"leaky_{i}")(x)
    if act == "relu":
        return layers.ReLU(name=f"relu_{i}")(x)
    if act == "logistic":
        return layers.Activation("sigmoid", name=f"logistic_{i}")(x)
    if act == "linear":
        return x
    raise CfgError(f"{src}{s.where('activation')}: unsupported activation {act!r}")


def _conv_block(x, s: Section, i: int, src: str):
    from keras import layers

    filters, size, stride = s.get_int("filters"), s.get_int("size", 1), s.get_int("stride", 1)
    groups = s.get_int("groups", 1)
    pad = size // 2 if s.get_int("pad", 0) else s.get_int("padding", 0)
    bn = bool(s.get_int("batch_normalize", 0))
    in_ch = int(x.shape[-1])
    depthwise = groups > 1
    if depthwise and not (groups == in_ch == filters):
        raise CfgError(f"{src}{s.where('groups')}: only depthwise grouping (groups = input channels = filters) "
                       f"is supported, got groups={groups}, input channels {in_ch}, filters={filters}")
    h = int(x.shape[1])
    if stride == 1 and 2 * pad == size - 1:
        padding = "same"
    else:
        # Darknet pads `pad` pixels top/left; pad bottom/right only as far as its output size needs.
        out = (h + 2 * pad - size) // stride + 1
        extra = max(0, (out - 1) * stride + size - h - pad)
        if pad or extra:
            x = layers.ZeroPadding2D(((pad, extra), (pad, extra)), name=f"pad_{i}")(x)
        padding = "valid"
    common = dict(strides=stride, padding=padding, use_bias=not bn, name=f"conv_{i}")
    if depthwise:
        x = layers.DepthwiseConv2D(size, **common)(x)
    else:
        x = layers.Conv2D(filters, size, **common)(x)
    if bn:
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=f"bn_{i}")(x)
    return _activation(x, s.options.get("activation", "logistic"), i, s, src)


# ---- .weights ---------------------------------------------------------------------------------

def _conv_layers(model, cfg: Cfg) -> list[tuple[int, Section, object, object]]:
    """(index, section, conv layer, bn layer or None) for every [convolutional] in cfg order."""
    names = {layer.name: layer for layer in model.layers}
    out = []
    for i, s in enumerate(cfg.layers):
        if s.kind == "convolutional":
            out.append((i, s, names[f"conv_{i}"], names.get(f"bn_{i}")))
    return out


def _darknet_kernel_shape(conv) -> tuple[int, ...]:
    kh, kw, cin, cout = conv.kernel.shape
    if conv.__class__.__name__ == "DepthwiseConv2D":
        return (cin, 1, kh, kw)
    return (cout, cin, kh, kw)


def expected_weight_count(model, cfg: Cfg) -> int:
    total = 0
    for _, _, conv, bn in _conv_layers(model, cfg):
        n_out = _darknet_kernel_shape(conv)[0]
        total += n_out * (4 if bn is not None else 1) + int(np.prod(conv.kernel.shape))
    return total


def load_weights(model, cfg: Cfg, path: str | os.PathLike) -> dict:
    """Fill `model` (built from `cfg`) from a Darknet `.weights` file; returns the header.
    The file must hold exactly the parameters the cfg needs, else WeightsError (nothing is set)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 16:
        raise WeightsError(f"{path}: {len(data)} bytes is too short for a Darknet weights header")
    major, minor, revision = np.frombuffer(data[:12], np.int32)
    seen_bytes = 8 if major * 10 + minor >= 2 else 4
    seen = int(np.frombuffer(data[12:12 + seen_bytes], np.int64 if seen_bytes == 8 else np.int32)[0])
    body = data[12 + seen_bytes:]
    expected = expected_weight_count(model, cfg)
    if len(body) % 4 or len(body) // 4 != expected:
        raise WeightsError(
            f"{path}: holds {len(body) / 4:g} float32 values after the header, but {cfg.source} needs "
            f"{expected} (expected {12 + seen_bytes + 4 * expected} bytes, got {len(data)}); "
            "the weights do not belong to this cfg"
        )
    values = np.frombuffer(body, np.float32)
    pos = 0
    assignments = []
    for _, _, conv, bn in _conv_layers(model, cfg):
        shape = _darknet_kernel_shape(conv)
        n = shape[0]
        take = lambda k: values[pos:pos + k]  # noqa: E731
        bias = take(n); pos += n
        if bn is not None:
            gamma = take(n); pos += n
            mean = take(n); pos += n
            var = take(n); pos += n
            assignments.append((bn, [gamma, bias, mean, var]))
        k = int(np.prod(shape))
        kernel = take(k).reshape(shape); pos += k
        kernel = kernel.transpose(2, 3, 0, 1) if conv.__class__.__name__ == "DepthwiseConv2D" else kernel.transpose(2, 3, 1, 0)
        assignments.append((conv, [kernel] if bn is not None else [kernel, bias]))
    for layer, weights in assignments:
        layer.set_weights(weights)
    return {"major": int(major), "minor": int(minor), "revision": int(revision), "seen": seen}


def save_weights(model, cfg: Cfg, path: str | os.PathLike, seen: int = 0) -> Path:
    """Write `model`'s parameters as a Darknet `.weights` file (format 0.2, 64-bit `seen`), atomically."""
    chunks = [np.asarray([0, 2, 5], np.int32).tobytes(), np.asarray([seen], np.int64).tobytes()]
    for _, _, conv, bn in _conv_layers(model, cfg):
        kernel = np.asarray(conv.kernel)
        if bn is not None:
            gamma, beta, mean, var = (np.asarray(w) for w in bn.get_weights())
            chunks += [beta.astype(np.float32).tobytes(), gamma.astype(np.float32).tobytes(),
                       mean.astype(np.float32).tobytes(), var.astype(np.float32).tobytes()]
        else:
            chunks.append(np.asarray(conv.bias, np.float32).tobytes())
        kernel = kernel.transpose(2, 3, 0, 1) if conv.__class__.__name__ == "DepthwiseConv2D" else kernel.transpose(3, 2, 0, 1)
        chunks.append(np.ascontiguousarray(kernel, np.float32).tobytes())
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"".join(chunks))
    return path


# ---- any cfg + .weights -> Keras (the converter's entry) ----------------------------------------

def unsupported_sections(text: str) -> list[tuple[int, str]]:
    """(line, kind) of every section header whose kind this module cannot build, in file order."""
    found = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]") and len(line) >= 3:
            kind = line[1:-1].strip().lower()
            if kind not in SUPPORTED:
                found.append((lineno, kind))
    return found


def load_darknet(cfg_path: str | os.PathLike, weights: str | os.PathLike | None = None):
    """A Keras model built from a Darknet cfg and filled from its `.weights` (by default the file with
    the cfg's stem beside it). Every problem is one ConversionError: all unsupported sections at once
    (each with its line), a malformed cfg (file and line), missing or mismatching weights."""
    cfg_path = Path(cfg_path)
    if not cfg_path.is_file():
        raise ConversionError(f"no Darknet cfg at {cfg_path}")
    text = cfg_path.read_text(errors="replace").lstrip("\ufeff")
    unsupported = unsupported_sections(text)
    if unsupported:
        listed = ", ".join(f"line {line} [{kind}]" for line, kind in unsupported)
        raise ConversionError(f"{cfg_path}: unsupported Darknet section{'s' if len(unsupported) > 1 else ''} "
                              f"{listed} (supported: {', '.join(SUPPORTED)})")
    weights_path = Path(weights) if weights is not None else cfg_path.with_suffix(".weights")
    if not weights_path.is_file():
        how = "" if weights is not None else " (give the .weights file, or put it beside the cfg with the same stem)"
        raise ConversionError(f"{cfg_path}: no Darknet weights at {weights_path}{how}")
    try:
        cfg = parse_cfg_text(text, str(cfg_path))
        model = build_keras(cfg, name=cfg_path.stem or "darknet")
        load_weights(model, cfg, weights_path)
    except (CfgError, WeightsError) as exc:
        raise ConversionError(" ".join(str(exc).split())) from exc
    except ValueError as exc:  # Keras refusing a layer the cfg asks for (e.g. a kernel larger than its map)
        raise ConversionError(f"{cfg_path}: cannot build the network ({' '.join(str(exc).split())})") from exc
    return model
