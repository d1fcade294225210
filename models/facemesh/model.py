"""MediaPipe face landmark network (192x192x3 RGB in [0, 1] -> 468 3D landmarks + face flag) as Keras
layers, rebuilt op by op from the shipped float16 `face_landmark.tflite`.

The graph is read with `ai_edge_litert.tools.flatbuffer_utils` (no TF Lite interpreter, no
mediapipe package): every DEQUANTIZE'd float16 constant becomes a float32 Keras weight, every
CONV_2D / DEPTHWISE_CONV_2D / PRELU / ADD / MAX_POOL_2D / PAD op becomes the matching layer.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from common import env  # noqa: F401
from common.layers import AcceleratorPReLU, ChannelPad, prelu_form
import keras

INPUT_SHAPE = (192, 192, 3)
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
        from common.tflite import constant

        return constant(self.model, index)


def read_tflite_graph(path: str | os.PathLike) -> TfliteGraph:
    from common.tflite import op_names, read_graph

    return TfliteGraph(read_graph(path), op_names(path))


def _layer_name(graph: TfliteGraph, tensor: int, used: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_]", "_", graph.tensor_name(tensor)) or f"t{tensor}"
    name, k = base, 1
    while name in used:
        k += 1
        name = f"{base}_{k}"
    used.add(name)
    return name


def build_from_tflite(path: str | os.PathLike, name: str = "facemesh"):
    """Keras functional model with the same ops and weights as the float `.tflite` at `path`.

    Outputs: landmarks (N, 1, 1, 1404) = 468 x (x, y, z) in input pixels and the face-flag logit
    (N, 1, 1, 1) (sigmoid > 0.5: a face is present). The int8 converter lists them the other way round; tell
    them apart by shape (`evaluate.split_outputs`).
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

    def const(i: int) -> np.ndarray:
        return constants[i] if i in constants else graph.constant(i)

    for op, op_name in zip(sg.operators, graph.op_names):
        out = op.outputs[0]
        opts = op.builtinOptions
        lname = _layer_name(graph, out, used) if op_name != "DEQUANTIZE" else None
        if op_name == "DEQUANTIZE":
            constants[out] = graph.constant(op.inputs[0])
        elif op_name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE or opts.dilationHFactor != 1:
                raise NotImplementedError(f"{op_name} with fused activation/dilation is not supported")
            weights, bias = const(op.inputs[1]), const(op.inputs[2])
            padding = {_SAME: "same", _VALID: "valid"}[opts.padding]
            strides = (opts.strideH, opts.strideW)
            if op_name == "CONV_2D":  # OHWI -> HWIO
                layer = keras.layers.Conv2D(weights.shape[0], weights.shape[1:3], strides=strides,
                                            padding=padding, name=lname)
                kernel = weights.transpose(1, 2, 3, 0)
            else:  # 1HWC -> HWC1
                if opts.depthMultiplier != 1:
                    raise NotImplementedError("depth multiplier != 1")
                layer = keras.layers.DepthwiseConv2D(weights.shape[1:3], strides=strides, padding=padding,
                                                     name=lname)
                kernel = weights[0][..., None]
            values[out] = layer(values[op.inputs[0]])
            layer.set_weights([kernel, bias])
        elif op_name == "PRELU":
            alpha = const(op.inputs[1])
            layer = AcceleratorPReLU(alpha.shape, form=prelu_form(alpha), name=lname)
            values[out] = layer(values[op.inputs[0]])
            layer.set_weights([alpha])
        elif op_name == "ADD":
            if opts.fusedActivationFunction != schema.ActivationFunctionType.NONE:
                raise NotImplementedError("ADD with fused activation")
            values[out] = keras.layers.Add(name=lname)([values[i] for i in op.inputs])
        elif op_name == "MAX_POOL_2D":
            values[out] = keras.layers.MaxPooling2D(
                (opts.filterHeight, opts.filterWidth), (opts.strideH, opts.strideW),
                padding={_SAME: "same", _VALID: "valid"}[opts.padding], name=lname,
            )(values[op.inputs[0]])
        elif op_name == "PAD":
            pads = const(op.inputs[1])
            if np.any(pads[:3]) or pads[3, 0] != 0:
                raise NotImplementedError(f"PAD {pads.tolist()}: only trailing channel padding is supported")
            values[out] = ChannelPad(int(pads[3, 1]), name=lname)(values[op.inputs[0]])
        else:
            raise NotImplementedError(f"{path}: op {op_name} has no Keras counterpart here")

    # The outputs stay as MediaPipe shapes them, (N, 1, 1, 1404) and (N, 1, 1, 1): a reshape would
    # be a RESHAPE op that only relabels memory (`evaluate.split_outputs` does it on the host).
    return keras.Model(inputs, [values[i] for i in sg.outputs], name=name)


def build_model(tflite_path: str | os.PathLike | None = None):
    """The face landmark model with MediaPipe's weights (the registered `face_landmark.tflite`)."""
    from models.facemesh.weights import mediapipe_file

    return build_from_tflite(tflite_path or mediapipe_file("mediapipe_face_landmark"))
