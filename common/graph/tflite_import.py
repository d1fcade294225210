"""MediaPipe-style float `.tflite` graphs rebuilt op by op as Keras layers (no TF Lite interpreter, no
mediapipe package): the face landmark and the face detection networks.

The graph is read with `ai_edge_litert.tools.flatbuffer_utils`: every DEQUANTIZE'd float16 constant
becomes a float32 Keras weight, every CONV_2D / DEPTHWISE_CONV_2D / PRELU / RELU / ADD / MAX_POOL_2D /
PAD op the matching layer. Two rewrites, both exact:

- `shortcuts="concat"`: where a block widens, MediaPipe adds a zero-padded shortcut,
  `ADD(PAD(shortcut), conv)`. The conv is split in two by output channel and the block computes
  `CONCATENATION(ADD(shortcut, conv[:k]), conv[k:])`: no PAD, and the ADD runs on the k channels that
  are not zeros. A RELU after such an ADD goes into both halves, so the converter fuses it.
  `shortcuts="pad"` keeps MediaPipe's PAD + ADD.
- `heads=True`: an output that is a CONCATENATION of RESHAPEs (the detector's anchors of two grids)
  is given as the tensors before the RESHAPEs: reshaping only relabels memory, so the host does it
  (`common.data.face_detector.detector_outputs`), and the int8 file has no RESHAPE or CONCATENATION.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from common import env  # noqa: F401
from common.graph.layers import AcceleratorPReLU, ChannelPad, prelu_form
import keras

# TFLite schema enum values used below
_SAME, _VALID = 0, 1
SHORTCUTS = ("concat", "pad")


@dataclass
class TfliteGraph:
    """The parts of a `.tflite` flatbuffer the rebuild needs."""

    model: object  # schema ModelT
    op_names: list[str]

    @property
    def subgraph(self):
        return self.model.subgraphs[0]

    def tensor_name(self, index: int) -> str:
        name = self.subgraph.tensors[index].name
        return name.decode() if isinstance(name, bytes) else str(name)

    def constant(self, index: int) -> np.ndarray:
        """A constant tensor as float32/int32 NumPy (float16 storage widened to float32)."""
        from common.graph.tflite import constant

        return constant(self.model, index)

    def readers(self) -> dict[int, list]:
        """Tensor -> the ops that read it."""
        found: dict[int, list] = {}
        for op, name in zip(self.subgraph.operators, self.op_names):
            for i in op.inputs:
                found.setdefault(i, []).append((op, name))
        return found


def read_tflite_graph(path: str | os.PathLike) -> TfliteGraph:
    from common.graph.tflite import op_names, read_graph

    return TfliteGraph(read_graph(path), op_names(path))


def _layer_name(graph: TfliteGraph, tensor: int, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", graph.tensor_name(tensor)) or f"t{tensor}"
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def _conv_layer(op_name: str, weights: np.ndarray, bias: np.ndarray, opts, name: str,
                channels: slice = slice(None)) -> tuple[keras.layers.Layer, list[np.ndarray]]:
    """A Keras Conv2D / DepthwiseConv2D and its weights for a TFLite conv op, output `channels` only."""
    padding = {_SAME: "same", _VALID: "valid"}[opts.padding]
    strides = (opts.strideH, opts.strideW)
    if op_name == "CONV_2D":  # OHWI -> HWIO
        kernel = weights[channels].transpose(1, 2, 3, 0)
        layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=strides, padding=padding, name=name)
    else:  # 1HWC -> HWC1
        if opts.depthMultiplier != 1:
            raise NotImplementedError("depth multiplier != 1")
        kernel = weights[0][..., channels, None]
        layer = keras.layers.DepthwiseConv2D(kernel.shape[:2], strides=strides, padding=padding, name=name)
    return layer, [kernel, bias[channels]]


def _trailing_channels(pads: np.ndarray) -> int:
    """The channels a PAD appends at the end of the channel axis (the only padding MediaPipe uses here)."""
    if np.any(pads[:3]) or pads[3, 0] != 0:
        raise NotImplementedError(f"PAD {pads.tolist()}: only trailing channel padding is supported")
    return int(pads[3, 1])


def padded_shortcuts(graph: TfliteGraph) -> dict[int, tuple[object, object]]:
    """ADD output -> (PAD op, CONV_2D op) for every `ADD(PAD(shortcut), conv)` whose PAD and conv
    outputs feed nothing else: MediaPipe's residual shortcut where a block widens."""
    sg = graph.subgraph
    producer = {o: (op, name) for op, name in zip(sg.operators, graph.op_names) for o in op.outputs}
    readers = graph.readers()
    found = {}
    for op, name in zip(sg.operators, graph.op_names):
        if name != "ADD" or len(op.inputs) != 2:
            continue
        kinds = {producer[i][1]: producer[i][0] for i in op.inputs if i in producer and len(readers[i]) == 1}
        if set(kinds) == {"PAD", "CONV_2D"}:
            found[op.outputs[0]] = (kinds["PAD"], kinds["CONV_2D"])
    return found


def _head_outputs(graph: TfliteGraph) -> tuple[dict[int, list[int]], set[int]]:
    """(graph output -> the tensors before its RESHAPEs, the ids of those RESHAPE and CONCATENATION
    ops) for every output that is a CONCATENATION of RESHAPEs (or one RESHAPE)."""
    sg = graph.subgraph
    producer = {o: (op, name) for op, name in zip(sg.operators, graph.op_names) for o in op.outputs}
    heads, ops = {}, set()
    for out in sg.outputs:
        op, name = producer[out]
        parts = list(op.inputs) if name == "CONCATENATION" else [out]
        if all(producer[p][1] == "RESHAPE" for p in parts):
            heads[out] = [producer[p][0].inputs[0] for p in parts]
            ops |= {id(op)} | {id(producer[p][0]) for p in parts}
    return heads, ops


def build_from_tflite(path: str | os.PathLike, name: str, *, shortcuts: str = "concat", heads: bool = True):
    """Keras functional model with the same ops and weights as the float `.tflite` at `path` (the two
    rewrites of this module's docstring)."""
    from ai_edge_litert import schema_py_generated as schema

    if shortcuts not in SHORTCUTS:
        raise ValueError(f"shortcuts must be one of {SHORTCUTS}, not {shortcuts!r}")
    graph = read_tflite_graph(path)
    sg = graph.subgraph
    if len(sg.inputs) != 1:
        raise ValueError(f"{path}: expected one input, got {len(sg.inputs)}")
    in_shape = tuple(int(d) for d in sg.tensors[sg.inputs[0]].shape[1:])
    inputs = keras.Input(shape=in_shape, name="image")
    values: dict[int, object] = {sg.inputs[0]: inputs}
    constants: dict[int, np.ndarray] = {}
    used: set[str] = set()
    readers = graph.readers()
    rewrites = padded_shortcuts(graph) if shortcuts == "concat" else {}
    rewritten = {id(op) for pair in rewrites.values() for op in pair}
    head_outputs, head_ops = _head_outputs(graph) if heads else ({}, set())
    done: set[int] = set()  # ops built ahead of their turn (a RELU folded into a rewritten shortcut)

    def const(i: int) -> np.ndarray:
        return constants[i] if i in constants else graph.constant(i)

    def conv(op, op_name: str, lname: str, channels: slice = slice(None)):
        opts = op.builtinOptions
        if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE or opts.dilationHFactor != 1:
            raise NotImplementedError(f"{op_name} with fused activation/dilation is not supported")
        layer, weights = _conv_layer(op_name, const(op.inputs[1]), const(op.inputs[2]), opts, lname, channels)
        y = layer(values[op.inputs[0]])
        layer.set_weights(weights)
        return y

    for op, op_name in zip(sg.operators, graph.op_names):
        out = op.outputs[0]
        opts = op.builtinOptions
        if id(op) in rewritten or id(op) in done or id(op) in head_ops:  # built at its ADD; the host reshapes
            continue
        lname = _layer_name(graph, out, used) if op_name != "DEQUANTIZE" else None
        if op_name == "DEQUANTIZE":
            constants[out] = graph.constant(op.inputs[0])
        elif op_name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            values[out] = conv(op, op_name, lname)
        elif op_name == "PRELU":
            alpha = const(op.inputs[1])
            layer = AcceleratorPReLU(alpha.shape, form=prelu_form(alpha), name=lname)
            values[out] = layer(values[op.inputs[0]])
            layer.set_weights([alpha])
        elif op_name == "RELU":
            values[out] = keras.layers.ReLU(name=lname)(values[op.inputs[0]])
        elif op_name == "ADD":
            if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE:
                raise NotImplementedError("ADD with fused activation")
            if out in rewrites:
                pad_op, conv_op = rewrites[out]
                _trailing_channels(const(pad_op.inputs[1]))
                shortcut = values[pad_op.inputs[0]]
                k = shortcut.shape[-1]
                summed = keras.layers.Add(name=f"{lname}_sum")(
                    [shortcut, conv(conv_op, "CONV_2D", f"{lname}_conv_sum", slice(0, k))])
                widened = conv(conv_op, "CONV_2D", f"{lname}_conv_new", slice(k, None))
                only_reader = readers.get(out, [])
                if len(only_reader) == 1 and only_reader[0][1] == "RELU" and out not in sg.outputs:
                    relu_op = only_reader[0][0]
                    summed = keras.layers.ReLU(name=f"{lname}_sum_relu")(summed)
                    widened = keras.layers.ReLU(name=f"{lname}_new_relu")(widened)
                    done.add(id(relu_op))
                    out = relu_op.outputs[0]
                values[out] = keras.layers.Concatenate(name=lname)([summed, widened])
            else:
                values[out] = keras.layers.Add(name=lname)([values[i] for i in op.inputs])
        elif op_name == "MAX_POOL_2D":
            values[out] = keras.layers.MaxPooling2D(
                (opts.filterHeight, opts.filterWidth), (opts.strideH, opts.strideW),
                padding={_SAME: "same", _VALID: "valid"}[opts.padding], name=lname,
            )(values[op.inputs[0]])
        elif op_name == "PAD":
            values[out] = ChannelPad(_trailing_channels(const(op.inputs[1])), name=lname)(values[op.inputs[0]])
        else:
            raise NotImplementedError(f"{path}: op {op_name} has no Keras counterpart here")

    outputs = [values[t] for o in sg.outputs for t in head_outputs.get(o, [o])]
    return keras.Model(inputs, outputs, name=name)
