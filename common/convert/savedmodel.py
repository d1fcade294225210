"""A TensorFlow SavedModel folder -> a Keras functional model that `common.graph.quantize.convert_int8`
converts (`tf.lite.TFLiteConverter.from_keras_model`).

Two routes, in this order:

1. **Keras rebuild.** A SavedModel written by tf.keras 2.x carries the Keras config of the model: in
   `keras_metadata.pb` (TF >= 2.5) or in the root object's metadata inside `saved_model.pb` (older TF).
   The model is rebuilt from that config with Keras 3 (legacy-config deserialization) and every variable
   is read from the checkpoint `variables/variables` with `tf.train.load_checkpoint`, matched to its layer
   by the layer's name and to its weight by name (then order), shape checked. This needs no
   `tf.saved_model.load`, which fails on some tf.keras files in TF 2.21 (MLPerf Tiny's `kws_ref_model`:
   its optimizer slots), and gives real Keras layers, so the zoo's graph passes see the usual ops.
2. **Serving signature.** Otherwise `tf.saved_model.load` and its `serving_default` signature (or the
   only one), wrapped in a `keras.layers.TFSMLayer` inside a functional model with the signature's inputs.

A folder neither route can load is one ConversionError naming the folder and each route's reason.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from common import env  # noqa: F401  (before TensorFlow/Keras)
from common.errors import ConversionError

# Object-graph children of a Keras network that are its layers (tf.keras 2.x SavedModel).
_LAYER_CHILD = re.compile(r"layer(_with_weights)?-\d+")
_NETWORKS = ("_tf_keras_network", "_tf_keras_sequential", "_tf_keras_model")
# tf.keras 2.x options that Keras 3 layers no longer take, dropped when they hold the neutral value.
_NEUTRAL_OPTIONS = {"groups": 1}
_MAX_REASON = 300


def load_savedmodel(folder: str | os.PathLike):
    """The SavedModel in `folder` (or the folder of a given `saved_model.pb`) as a Keras model."""
    folder = Path(folder)
    if folder.is_file() and folder.name == "saved_model.pb":
        folder = folder.parent
    pb = folder / "saved_model.pb"
    if not pb.is_file():
        raise ConversionError(f"{folder}: not a TensorFlow SavedModel folder (no saved_model.pb in it)")
    saved = _read_saved_model(pb)
    reasons = []
    meta_graph = _serving_meta_graph(saved)
    metadata = _keras_metadata(folder, meta_graph)
    config = _model_config(metadata)
    if config is not None:
        try:
            return _rebuild_keras(folder, meta_graph, metadata, config)
        except Exception as exc:  # noqa: BLE001  (every reason goes into the one error below)
            reasons.append(f"rebuilding its Keras model failed ({_why(exc)})")
    else:
        reasons.append("it carries no Keras functional/sequential model config")
    try:
        return _wrap_signature(folder, meta_graph)
    except Exception as exc:  # noqa: BLE001
        reasons.append(f"loading its serving signature failed ({_why(exc)})")
    raise ConversionError(f"cannot load the SavedModel {folder}: " + "; ".join(reasons))


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON] + "..."


def _read_saved_model(pb: Path):
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString(pb.read_bytes())
    except DecodeError as exc:
        raise ConversionError(f"{pb} is not a SavedModel protobuf ({_why(exc)})") from exc
    if not saved.meta_graphs:
        raise ConversionError(f"{pb} holds no MetaGraph (not a SavedModel, or an empty one)")
    return saved


def _serving_meta_graph(saved):
    """The MetaGraph tagged `serve` (what `tf.saved_model.load` takes by default), else the only one."""
    for meta_graph in saved.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return meta_graph
    return saved.meta_graphs[0]


# ---- route 1: Keras config + checkpoint -----------------------------------------------------------

def _keras_metadata(folder: Path, meta_graph) -> dict[int, tuple[str, str]]:
    """Object-graph node id -> (Keras identifier, metadata JSON) for every Keras object."""
    nodes = meta_graph.object_graph_def.nodes
    found = {i: (n.user_object.identifier, n.user_object.metadata) for i, n in enumerate(nodes)
             if n.WhichOneof("kind") == "user_object" and n.user_object.metadata}
    path = folder / "keras_metadata.pb"
    if path.is_file():
        try:
            found.update(_read_keras_metadata_pb(path.read_bytes()))
        except ValueError:
            pass  # damaged: the metadata inside saved_model.pb (if any) or route 2 decide
    return found


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    """(field number, value) of a protobuf message: an int for a varint, bytes otherwise."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i:i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i:i + size], i + size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        if i > len(buf):
            raise ValueError("truncated protobuf")
        yield number, value


def _read_keras_metadata_pb(data: bytes) -> dict[int, tuple[str, str]]:
    """tf.keras' `keras_metadata.pb` (SavedMetadata: repeated SavedObject nodes = 1; SavedObject:
    node_id = 2, node_path = 3, identifier = 4, metadata = 5), read without tf.keras' proto module."""
    out = {}
    for number, node in _fields(data):
        if number != 1 or not isinstance(node, bytes):
            continue
        fields = dict(_fields(node))
        node_id = fields.get(2, 0)
        if isinstance(node_id, int) and 5 in fields:
            out[node_id] = (bytes(fields.get(4, b"")).decode("utf-8", "replace"),
                            bytes(fields[5]).decode("utf-8", "replace"))
    return out


def _model_config(metadata: dict[int, tuple[str, str]]) -> dict | None:
    """The root's Keras model config ({"class_name", "config"}) when it is a functional or sequential model."""
    if 0 not in metadata:
        return None
    identifier, text = metadata[0]
    if identifier not in _NETWORKS:
        return None
    from keras.src.legacy.saving import json_utils

    try:
        root = json_utils.decode(text)
    except ValueError:
        return None
    if not isinstance(root, dict) or not isinstance(root.get("config"), dict) or "layers" not in root["config"]:
        return None  # a subclassed model: no config to rebuild from
    return {"class_name": root.get("class_name", "Functional"), "config": root["config"]}


def _layer_class(name: str):
    import keras

    cls = getattr(keras.layers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, keras.layers.Layer) else None


def _accepted_options(cls) -> set[str] | None:
    import inspect

    import keras

    accepted = {"input_shape", "batch_input_shape", "batch_size", "input_dim", "weights"}
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is None:
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return None
        accepted.update(p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))
        if klass is keras.layers.Layer:
            break
    return accepted


def _compat(config):
    """Drop the tf.keras 2.x layer options that Keras 3 refuses when they hold their neutral value
    (e.g. DepthwiseConv2D `groups=1`); anything else is left for Keras to judge."""
    import keras

    if isinstance(config, list):
        for item in config:
            _compat(item)
    elif isinstance(config, dict):
        cls = _layer_class(config.get("class_name", "")) if isinstance(config.get("config"), dict) else None
        if cls is not None and not issubclass(cls, keras.Model):
            accepted = _accepted_options(cls)
            options = config["config"]
            for key, neutral in _NEUTRAL_OPTIONS.items():
                if accepted is not None and key in options and key not in accepted and options[key] == neutral:
                    del options[key]
        for value in config.values():
            _compat(value)


def legacy_model_from_config(config: dict):
    """A Keras 3 model (not yet weighted) from a tf.keras 2.x model config ({"class_name", "config"}),
    as Keras' own legacy `.h5` reader builds it (safe mode: no Python lambdas), after `_compat`."""
    from keras.src.legacy.saving import saving_options, saving_utils
    from keras.src.saving import serialization_lib

    from common.graph import layers  # noqa: F401  (registers the zoo's custom layers)

    _compat(config)
    with saving_options.keras_option_scope(use_legacy_config=True), serialization_lib.SafeModeScope(True):
        return saving_utils.model_from_config(config)


def load_legacy_h5(path: str | os.PathLike):
    """A tf.keras 2.x `.h5` model that Keras 3 refuses only for a neutral option it dropped (e.g.
    DepthwiseConv2D `groups=1`): rebuilt through `legacy_model_from_config`, weights read by Keras."""
    import h5py
    from keras.src.legacy.saving import json_utils, legacy_h5_format

    with h5py.File(path, "r") as f:
        text = f.attrs.get("model_config")
        if text is None:
            raise ValueError("no model config in the file (a weights-only .h5?)")
        config = json_utils.decode(text.decode("utf-8") if hasattr(text, "decode") else text)
        model = legacy_model_from_config(config)
        legacy_h5_format.load_weights_from_hdf5_group(f["model_weights"] if "model_weights" in f else f, model)
    return model


def _rebuild_keras(folder: Path, meta_graph, metadata, config):
    import tensorflow as tf

    model = legacy_model_from_config(config)
    prefix = folder / "variables" / "variables"
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"cannot read the checkpoint {prefix}: {_why(exc)}") from exc
    from tensorflow.core.protobuf import trackable_object_graph_pb2

    checkpoint_graph = trackable_object_graph_pb2.TrackableObjectGraph()
    checkpoint_graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    assignments: list = []
    problems: list[str] = []
    _match_network(model, meta_graph.object_graph_def, checkpoint_graph, 0, 0, metadata, reader,
                   assignments, problems, "")
    if problems:
        raise ValueError("; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else ""))
    for variable, value in assignments:
        variable.assign(value)
    return model


def _checkpoint_child(checkpoint_graph, node_id: int | None, local_name: str) -> int | None:
    if node_id is None:
        return None
    for child in checkpoint_graph.nodes[node_id].children:
        if child.local_name == local_name:
            return child.node_id
    return None


def _layer_name(metadata, node_id: int) -> str | None:
    if node_id not in metadata:
        return None
    try:
        return json.loads(metadata[node_id][1]).get("name")
    except (ValueError, AttributeError):
        return None


def _match_network(model, graph, checkpoint_graph, node_id, checkpoint_id, metadata, reader,
                   assignments, problems, where):
    """Pair each layer of the rebuilt `model` with the saved layer of the same name; recurse into
    nested networks; collect (variable, value) pairs and every problem."""
    saved: dict[str, tuple[int, int | None]] = {}
    for child in graph.nodes[node_id].children:
        if _LAYER_CHILD.fullmatch(child.local_name):
            name = _layer_name(metadata, child.node_id)
            if name is not None and name not in saved:
                saved[name] = (child.node_id, _checkpoint_child(checkpoint_graph, checkpoint_id, child.local_name))
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        label = f"{where}{layer.name}"
        if layer.name not in saved:
            problems.append(f"layer {label} has no saved counterpart")
            continue
        used.add(layer.name)
        child_id, child_checkpoint = saved[layer.name]
        identifier = metadata.get(child_id, ("", ""))[0]
        if hasattr(layer, "layers") and identifier in _NETWORKS:
            _match_network(layer, graph, checkpoint_graph, child_id, child_checkpoint, metadata, reader,
                           assignments, problems, f"{label}/")
            continue
        variables = _saved_variables(graph, checkpoint_graph, child_id, child_checkpoint, set())
        _match_weights(layer, label, variables, reader, assignments, problems)
    for name, (child_id, child_checkpoint) in saved.items():
        if name not in used and _saved_variables(graph, checkpoint_graph, child_id, child_checkpoint, set()):
            problems.append(f"saved layer {where}{name} has variables but no layer of the rebuilt model takes them")


def _saved_variables(graph, checkpoint_graph, node_id, checkpoint_id, seen) -> list[tuple[str, str | None, tuple]]:
    """(name, checkpoint key, shape) of the variables a saved layer owns (its sub-objects' included, in
    object-graph order). Only the children the checkpoint also records are followed, which skips the
    SavedModel's extra views (`variables`, `trainable_variables`, `keras_api`)."""
    out = []
    for child in graph.nodes[node_id].children:
        if child.node_id in seen:
            continue
        checkpoint_child = _checkpoint_child(checkpoint_graph, checkpoint_id, child.local_name)
        if checkpoint_child is None:
            continue
        seen.add(child.node_id)
        node = graph.nodes[child.node_id]
        kind = node.WhichOneof("kind")
        if kind == "variable":
            keys = [a.checkpoint_key for a in checkpoint_graph.nodes[checkpoint_child].attributes
                    if a.name == "VARIABLE_VALUE"]
            shape = tuple(d.size for d in node.variable.shape.dim)
            out.append((child.local_name, keys[0] if keys else None, shape))
        elif kind == "user_object":
            out.extend(_saved_variables(graph, checkpoint_graph, child.node_id, checkpoint_child, seen))
    return out


# tf.keras 2.x weight name -> Keras 3 weight name, where they differ.
_RENAMED = {"depthwise_kernel": "kernel"}


def _match_weights(layer, label, saved, reader, assignments, problems):
    weights = list(layer.weights)
    if len(weights) != len(saved):
        problems.append(f"layer {label}: the rebuilt layer has {len(weights)} weights, the SavedModel "
                        f"{len(saved)} ({', '.join(n for n, _, _ in saved) or 'none'})")
        return
    names = [w.name.split("/")[-1].split(":")[0] for w in weights]
    by_name = {}
    for name, key, shape in saved:
        target = name if name in names else _RENAMED.get(name, name)
        by_name.setdefault(target, (name, key, shape))
    pairs = ([(w, by_name[n]) for w, n in zip(weights, names)] if sorted(by_name) == sorted(names)
             and len(set(names)) == len(names) else list(zip(weights, saved)))  # else by order
    for variable, (name, key, shape) in pairs:
        if key is None or not reader.has_tensor(key):
            problems.append(f"layer {label}: no checkpoint value for {name}")
            continue
        value = reader.get_tensor(key)
        if tuple(value.shape) != tuple(variable.shape):
            problems.append(f"layer {label}: {name} has shape {tuple(value.shape)} in the SavedModel, "
                            f"{tuple(variable.shape)} in the rebuilt layer")
            continue
        assignments.append((variable, value))


# ---- route 2: serving signature -------------------------------------------------------------------

def _signature_key(folder: Path, meta_graph) -> str:
    keys = [k for k in meta_graph.signature_def if not k.startswith("__")]
    if "serving_default" in keys:
        return "serving_default"
    if len(keys) == 1:
        return keys[0]
    raise ValueError(f"no serving_default signature and {len(keys)} others ({', '.join(sorted(keys)) or 'none'})")


def _wrap_signature(folder: Path, meta_graph):
    import keras
    import tensorflow as tf

    key = _signature_key(folder, meta_graph)
    signature = meta_graph.signature_def[key]
    input_names = sorted(signature.inputs, key=_natural)
    output_names = sorted(signature.outputs, key=_natural)
    if not input_names or not output_names:
        raise ValueError(f"signature {key!r} has no {'inputs' if not input_names else 'outputs'}")
    inputs = []
    for name in input_names:
        info = signature.inputs[name]
        if info.tensor_shape.unknown_rank or not info.tensor_shape.dim:
            raise ValueError(f"input {name!r} of signature {key!r} has no known shape")
        dtype = tf.dtypes.as_dtype(info.dtype)
        if not dtype.is_floating:
            raise ValueError(f"input {name!r} of signature {key!r} is {dtype.name}; the converter takes float inputs")
        shape = tuple(None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim[1:])
        inputs.append(keras.Input(shape=shape, dtype=dtype.name, name=_safe_name(name)))
    layer = _SignatureLayer(str(folder), key, input_names, output_names, name="savedmodel")
    outputs = layer(inputs if len(inputs) > 1 else inputs[0])
    return keras.Model(inputs, outputs, name=_safe_name(folder.resolve().name) or "savedmodel")


def _natural(name: str) -> list:
    """Sort key that puts `output_2` before `output_10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _signature_layer_class():
    import keras

    class SignatureLayer(keras.layers.TFSMLayer):
        """TFSMLayer calling a signature by keyword (one per input) and returning its outputs in
        natural name order (a single tensor when there is one)."""

        def __init__(self, filepath, call_endpoint, input_names, output_names, **kwargs):
            super().__init__(filepath, call_endpoint=call_endpoint, trainable=False, **kwargs)
            self.input_names = list(input_names)
            self.output_names = list(output_names)

        def call(self, inputs, training=False):
            values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            result = self.call_endpoint_fn(**dict(zip(self.input_names, values)))
            if isinstance(result, dict):
                result = [result[k] for k in self.output_names]
            elif not isinstance(result, (list, tuple)):
                result = [result]
            return result[0] if len(result) == 1 else list(result)

        def get_config(self):
            return {**super().get_config(), "input_names": self.input_names, "output_names": self.output_names}

    return SignatureLayer


def _SignatureLayer(*args, **kwargs):  # noqa: N802  (a class made on first use: Keras stays unimported until then)
    global _SIGNATURE_LAYER
    if _SIGNATURE_LAYER is None:
        _SIGNATURE_LAYER = _signature_layer_class()
    return _SIGNATURE_LAYER(*args, **kwargs)


_SIGNATURE_LAYER = None
