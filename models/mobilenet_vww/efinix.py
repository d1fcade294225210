"""The Efinix reference `mobilenetv1_person_detect.tflite` (grayscale 96x96x1, TOCO-converted), made
loadable: LiteRT in TF 2.21 refuses the file, whose 1-D bias tensors carry `quantized_dimension` 3.
The repair sets it to 0 (they have a single axis) and changes nothing else. The recipe scores the
repaired copy beside ours (`Reference.prepare`), with inputs in [-1, 1] as the file expects.
"""
from __future__ import annotations

import os

from common.atomic import write_bytes


def repair_quantized_dimension(path: str | os.PathLike, out_path: str | os.PathLike) -> int:
    """Write a copy of `path` whose out-of-range `quantized_dimension`s are 0; returns how many."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    fixed = 0
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            q = tensor.quantization
            if q is not None and q.quantizedDimension and q.quantizedDimension >= len(tensor.shape):
                q.quantizedDimension = 0
                fixed += 1
    write_bytes(out_path, bytes(flatbuffer_utils.convert_object_to_bytearray(model)))
    return fixed
