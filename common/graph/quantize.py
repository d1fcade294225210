"""Full-integer post-training quantization: int8 weights, activations, input and output."""
from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from common import env  # noqa: F401  (quiet TF before it is imported)
from common.atomic import atomic_files, json_text
from common.errors import QuantizationError  # noqa: F401  (raised here; defined in the leaf module)
from common.graph.efinix import check_efinix
from common.graph.tflite import op_names, tensor_types
from common.data.weights import sha256_of

# Tensor types a full-int8 graph may hold: int8 data, int32 biases and shape operands.
ALLOWED_TENSOR_TYPES = frozenset({"INT8", "INT32"})


def convert_int8(model, representative: Callable[[], Iterator[list]], per_channel_dense: bool = False) -> bytes:
    """Convert a Keras model to a full-int8 flatbuffer (builtin int8 ops only, int8 I/O).

    Dense (FULLY_CONNECTED) weights are quantized per tensor, as Efinix's TFLM fork requires (it
    computes FULLY_CONNECTED with the first scale only) and as the Efinix reference files are; it also
    saves a float32 scale + int64 zero point per output channel. `per_channel_dense=True` is for
    experiments only: `quantize_int8` refuses such a file."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # With only the int8 builtin op set the converter raises instead of leaving an op in float.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not per_channel_dense:
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    import tempfile
    import warnings

    from common.graph.runners import _redirected_fd

    # The converter prints every traced tensor spec (stdout) and its C++ progress and warnings (fd 2):
    # kept out of the user's terminal, and its last words go into the error when it fails.
    with tempfile.TemporaryFile() as log:
        try:
            with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _redirected_fd(2, log.fileno()):
                warnings.simplefilter("ignore")
                return converter.convert()
        except Exception as exc:
            log.seek(0)
            said = [line for line in log.read().decode(errors="replace").splitlines() if "error" in line.lower()]
            detail = f" ({said[-1].strip()})" if said else ""
            raise QuantizationError(f"full-int8 conversion of {model.name!r} failed: {exc}{detail}") from exc


def check_int8(path_or_bytes: str | os.PathLike | bytes) -> None:
    """Raise QuantizationError unless every tensor is int8/int32 and every op a builtin."""
    types = tensor_types(path_or_bytes)
    bad_types = {t: n for t, n in types.items() if t not in ALLOWED_TENSOR_TYPES}
    custom = sorted({op for op in op_names(path_or_bytes) if op.startswith("CUSTOM:")})
    if bad_types or custom:
        where = "the converted model" if isinstance(path_or_bytes, (bytes, bytearray)) else path_or_bytes
        raise QuantizationError(
            f"{where} is not full-int8: non-int8 tensors {bad_types or 'none'}, custom ops {custom or 'none'}"
        )


def metadata_path(tflite_path: str | os.PathLike) -> Path:
    """The sidecar JSON that records how a `.tflite` was quantized (calibration N, seed, PTQ time).
    It carries the sha256 of the file it describes, so a sidecar left beside another file is ignored."""
    return Path(tflite_path).with_suffix(".quant.json")


def read_quantization_metadata(tflite_path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of `tflite_path`, or {} when there is none or it describes another file."""
    path = metadata_path(tflite_path)
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    recorded = meta.get("tflite_sha256")
    if recorded and Path(tflite_path).is_file() and recorded != sha256_of(tflite_path):
        return {}
    return meta


def write_quantized(out_path: str | os.PathLike, flatbuffer: bytes, metadata: dict[str, Any]) -> Path:
    """Write `out_path` and its `.quant.json` sidecar (which records the `.tflite`'s sha256): both are
    written to temp files first (a full disk leaves neither), then renamed, the sidecar first: a kill
    between the two renames leaves a sidecar whose sha256 does not match the old `.tflite`, which
    readers ignore; never a `.tflite` described by another file's sidecar."""
    import hashlib

    sidecar = {**metadata, "tflite_sha256": hashlib.sha256(flatbuffer).hexdigest()}
    with atomic_files([metadata_path(out_path), out_path]) as (sidecar_tmp, tflite_tmp):
        sidecar_tmp.write_text(json_text(sidecar))
        tflite_tmp.write_bytes(flatbuffer)
    return Path(out_path)


def quantize_int8(model, representative: Callable[[], Iterator[list]], out_path: str | os.PathLike,
                  metadata: dict[str, Any] | None = None) -> Path:
    """Convert a Keras model, compact it (`common.graph.passes.COMPACT`, checked), verify (full int8,
    Efinix rules) and write `out_path` + sidecar; nothing is written if any check fails. The
    pipeline's quantize step (common.pipeline.quantize) does the same around a recipe's passes."""
    from common.graph.passes import COMPACT, PassContext

    start = time.perf_counter()
    converted = convert_int8(model, representative)
    flatbuffer, _ = COMPACT.apply(converted, PassContext())
    COMPACT.check(converted, flatbuffer, PassContext(), {})
    check_int8(flatbuffer)
    check_efinix(flatbuffer, label=f"{Path(out_path).name} (not written)")
    return write_quantized(out_path, flatbuffer, {**(metadata or {}),
                                                 "ptq_seconds": round(time.perf_counter() - start, 2)})
