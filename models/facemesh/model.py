"""MediaPipe face landmark network (192x192x3 RGB in [0, 1] -> 468 3D landmarks + face flag) as Keras
layers, rebuilt op by op from the shipped float16 `face_landmark.tflite`.

The graph is read with `ai_edge_litert.tools.flatbuffer_utils` (no TF Lite interpreter, no
mediapipe package): every DEQUANTIZE'd float16 constant becomes a float32 Keras weight, every
CONV_2D / DEPTHWISE_CONV_2D / PRELU / ADD / MAX_POOL_2D / PAD op becomes the matching layer
(the padded residual shortcuts become a CONCATENATION, see `build_from_tflite`).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from common import env  # noqa: F401
from common.graph.layers import AcceleratorPReLU, ChannelPad, prelu_form
import keras

NUM_LANDMARKS = 468
LEFT_EYE, RIGHT_EYE = 33, 263  # outer eye corners, the inter-ocular pair of the NME

# TFLite schema enum values used below
_SAME, _VALID = 0, 1


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


def _padded_shortcuts(graph: TfliteGraph) -> dict[int, tuple[object, object]]:
    """ADD output -> (PAD op, CONV_2D op) for every `ADD(PAD(shortcut), conv)` whose PAD and conv
    outputs feed nothing else: MediaPipe's residual shortcut where a block widens."""
    sg = graph.subgraph
    producer = {o: (op, name) for op, name in zip(sg.operators, graph.op_names) for o in op.outputs}
    readers: dict[int, int] = {}
    for op in sg.operators:
        for i in op.inputs:
            readers[i] = readers.get(i, 0) + 1
    found = {}
    for op, name in zip(sg.operators, graph.op_names):
        if name != "ADD" or len(op.inputs) != 2:
            continue
        kinds = {producer[i][1]: producer[i][0] for i in op.inputs if i in producer and readers[i] == 1}
        if set(kinds) == {"PAD", "CONV_2D"}:
            found[op.outputs[0]] = (kinds["PAD"], kinds["CONV_2D"])
    return found


def build_from_tflite(path: str | os.PathLike, name: str = "facemesh"):
    """Keras functional model with the same ops and weights as the float `.tflite` at `path`.

    Outputs: landmarks (N, 1, 1, 1404) = 468 x (x, y, z) in input pixels and the face-flag logit
    (N, 1, 1, 1) (sigmoid > 0.5: a face is present). The int8 converter lists them the other way round; tell
    them apart by shape (`evaluate.split_outputs`).

    One rewrite, exact: where a block widens, MediaPipe adds a zero-padded shortcut,
    `ADD(PAD(shortcut), conv)`. Here the conv is split in two by output channel and the block computes
    `CONCATENATION(ADD(shortcut, conv[:k]), conv[k:])`: no PAD, and the ADD runs on the k channels
    that are not zeros (half of the block's channels).
    """
    from ai_edge_litert import schema_py_generated as schema

    graph = read_tflite_graph(path)
    sg = graph.subgraph
    if len(sg.inputs) != 1:
        raise ValueError(f"{path}: expected one input, got {len(sg.inputs)}")
    in_shape = tuple(int(d) for d in sg.tensors[sg.inputs[0]].shape[1:])
    inputs = keras.Input(shape=in_shape, name="image")
    values: dict[int, object] = {sg.inputs[0]: inputs}
    constants: dict[int, np.ndarray] = {}
    used: set[str] = set()
    shortcuts = _padded_shortcuts(graph)
    rewritten = {id(op) for pair in shortcuts.values() for op in pair}

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
        if id(op) in rewritten:  # built at its ADD
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
        elif op_name == "ADD":
            if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE:
                raise NotImplementedError("ADD with fused activation")
            if out in shortcuts:
                pad_op, conv_op = shortcuts[out]
                _trailing_channels(const(pad_op.inputs[1]))
                shortcut = values[pad_op.inputs[0]]
                k = shortcut.shape[-1]
                summed = keras.layers.Add(name=f"{lname}_sum")(
                    [shortcut, conv(conv_op, "CONV_2D", f"{lname}_conv_sum", slice(0, k))])
                values[out] = keras.layers.Concatenate(name=lname)(
                    [summed, conv(conv_op, "CONV_2D", f"{lname}_conv_new", slice(k, None))])
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

    # The outputs stay as MediaPipe shapes them, (N, 1, 1, 1404) and (N, 1, 1, 1): a reshape would
    # be a RESHAPE op that only relabels memory (`evaluate.split_outputs` does it on the host).
    return keras.Model(inputs, [values[i] for i in sg.outputs], name=name)


def build_model(tflite_path: str | os.PathLike | None = None):
    """The face landmark model with MediaPipe's weights (the recipe's `face_landmark.tflite`)."""
    from common.pipeline.references import fetch_file
    from models.facemesh.recipe import RECIPE

    return build_from_tflite(tflite_path or fetch_file(RECIPE, "mediapipe_face_landmark"))
