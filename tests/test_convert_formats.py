"""common.convert.formats / savedmodel and common.graph.darknet.load_darknet: each model format is
recognised from its content (not its name) and loads as a Keras model with the same outputs; anything
else is refused with one ConversionError line that says what was found and what is accepted."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from common.errors import ConversionError
from tests.helpers import require_shared

ACCEPTED_WORDS = ("accepted:", ".keras", ".h5", "SavedModel", "ONNX", "Darknet")

DARKNET_CFG = """# a small yolov3-tiny-shaped net
[net]
width=16
height=16
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

[maxpool]
size=2
stride=2

[convolutional]
filters=12
size=1
stride=1
pad=1
activation=linear

[yolo]
mask=0,1
anchors=4,6, 10,12
classes=1
num=2
"""


def _one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert message and "\n" not in message, message
    return message


@pytest.fixture(scope="module")
def keras_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 2), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    bn = model.layers[2]
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(0, 0.1, 4), rng.normal(0, 0.1, 4), rng.uniform(0.5, 2, 4)])
    return model


@pytest.fixture(scope="module")
def x8():
    return np.random.default_rng(0).normal(size=(8, 8, 8, 2)).astype(np.float32)


@pytest.fixture(scope="module")
def exported(keras_model, tmp_path_factory):
    """`model.export` (Keras 3): a SavedModel without a Keras config (the serving-signature route)."""
    folder = tmp_path_factory.mktemp("sm") / "exported"
    keras_model.export(str(folder), verbose=False)
    return folder


def _same_outputs(a, b, x, atol=1e-5):
    np.testing.assert_allclose(a.predict(x, verbose=0), b.predict(x, verbose=0), atol=atol, rtol=0)


# ---- detection by content -------------------------------------------------------------------------

def test_keras_zip_and_h5_are_recognised_by_content_and_load(keras_model, x8, tmp_path):
    from common.convert.formats import detect_format, load_model_any

    keras_model.save(tmp_path / "m.keras")
    keras_model.save(tmp_path / "m.h5")
    shutil.copy(tmp_path / "m.keras", tmp_path / "renamed.bin")
    shutil.copy(tmp_path / "m.h5", tmp_path / "renamed.model")
    assert detect_format(tmp_path / "m.keras") == detect_format(tmp_path / "renamed.bin") == "keras"
    assert detect_format(tmp_path / "m.h5") == detect_format(tmp_path / "renamed.model") == "h5"
    for name, fmt in (("renamed.bin", "keras"), ("renamed.model", "h5")):
        model, found = load_model_any(tmp_path / name)
        assert found == fmt
        _same_outputs(model, keras_model, x8)
    with pytest.raises(ConversionError) as err:
        load_model_any(tmp_path / "m.keras", weights=tmp_path / "m.h5")
    assert "only for a Darknet cfg" in _one_line(err)


def test_savedmodel_folder_and_its_pb_are_recognised(exported):
    from common.convert.formats import detect_format

    assert detect_format(exported) == "savedmodel"
    assert detect_format(exported / "saved_model.pb") == "savedmodel"


def test_onnx_file_exported_from_torch_is_recognised(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from common.convert.formats import detect_format

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 2)).eval()
    path = tmp_path / "net.bin"  # the name says nothing
    torch.onnx.export(net, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False, input_names=["x"])
    assert detect_format(path) == "onnx"


def test_onnx_branch_of_load_model_any(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    pytest.importorskip("common.convert.onnx_import")
    from common.convert.formats import load_model_any

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU()).eval()
    path = tmp_path / "net.onnx"
    torch.onnx.export(net, (torch.zeros(1, 3, 8, 8),), str(path), dynamo=False, input_names=["x"])
    model, fmt = load_model_any(path)
    assert fmt == "onnx" and len(model.outputs) == 1


# ---- Darknet --------------------------------------------------------------------------------------

def _darknet_pair(folder, seed=0):
    """A cfg and the .weights of a randomised model built from it, with the same stem."""
    from common.graph.darknet import build_keras, parse_cfg_text, save_weights

    cfg_path = folder / "small.cfg"
    cfg_path.write_text(DARKNET_CFG)
    cfg = parse_cfg_text(DARKNET_CFG, str(cfg_path))
    model = build_keras(cfg)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            new = [rng.normal(0, 0.3, w.shape).astype(np.float32) for w in weights]
            if type(layer).__name__ == "BatchNormalization":
                new[3] = rng.uniform(0.5, 2.0, weights[3].shape).astype(np.float32)
            layer.set_weights(new)
    save_weights(model, cfg, folder / "small.weights")
    return cfg_path, model


def test_darknet_cfg_with_weights_is_recognised_and_loads(tmp_path):
    from common.convert.formats import detect_format, load_model_any

    cfg_path, original = _darknet_pair(tmp_path)
    x = np.random.default_rng(2).uniform(0, 1, (2, 16, 16, 3)).astype(np.float32)
    assert detect_format(cfg_path) == "darknet"
    assert detect_format(tmp_path / "small.weights") == "darknet"  # its cfg lies beside it
    model, fmt = load_model_any(cfg_path)  # weights beside it, same stem
    assert fmt == "darknet" and model.output_shape == original.output_shape == (None, 8, 8, 12)
    _same_outputs(model, original, x)
    elsewhere = tmp_path / "other" / "trained.weights"
    elsewhere.parent.mkdir()
    shutil.move(tmp_path / "small.weights", elsewhere)
    model, _ = load_model_any(cfg_path, weights=elsewhere)
    _same_outputs(model, original, x)
    with pytest.raises(ConversionError) as err:
        load_model_any(cfg_path)  # no weights beside it any more
    assert "small.weights" in _one_line(err) and "no Darknet weights" in str(err.value)
    with pytest.raises(ConversionError) as err:
        detect_format(elsewhere)  # no cfg beside these
    assert "Darknet .weights without its cfg (trained.cfg)" in _one_line(err)


def test_darknet_unsupported_sections_are_listed_in_one_error(tmp_path):
    from common.graph.darknet import load_darknet

    text = DARKNET_CFG.replace("[maxpool]", "[lstm]").replace("[yolo]", "[region]")
    lines = text.splitlines()
    (tmp_path / "odd.cfg").write_text(text)
    with pytest.raises(ConversionError) as err:
        load_darknet(tmp_path / "odd.cfg", tmp_path / "odd.weights")
    message = _one_line(err)
    assert f"line {lines.index('[lstm]') + 1} [lstm]" in message
    assert f"line {lines.index('[region]') + 1} [region]" in message
    assert "odd.cfg" in message and "supported:" in message


def test_darknet_weights_of_another_cfg_are_one_line(tmp_path):
    from common.graph.darknet import load_darknet

    cfg_path, _ = _darknet_pair(tmp_path)
    (tmp_path / "wide.cfg").write_text(DARKNET_CFG.replace("filters=8", "filters=16"))
    with pytest.raises(ConversionError) as err:
        load_darknet(tmp_path / "wide.cfg", tmp_path / "small.weights")
    assert "do not belong to this cfg" in _one_line(err)


# ---- refusals -------------------------------------------------------------------------------------

def _jpeg(path):
    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path, format="JPEG")


@pytest.mark.parametrize("case, found", [
    ("junk", "unrecognised binary data"),
    ("empty", "an empty file"),
    ("missing", "no such file or folder"),
    ("jpeg", "a JPEG image"),
    ("text", "a text file without a Darknet [net] section"),
    ("zip", "a zip archive without config.json"),
    ("folder", "a folder without saved_model.pb"),
])
def test_anything_else_is_refused_in_one_line(tmp_path, case, found):
    import zipfile

    from common.convert.formats import detect_format, load_model_any

    path = tmp_path / f"model.{'onnx' if case == 'junk' else 'keras'}"  # suffixes must not mislead it
    if case == "junk":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "jpeg":
        _jpeg(path)
    elif case == "text":
        path.write_text("[convolutional]\nfilters=8\n")
    elif case == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    elif case == "folder":
        path.mkdir()
    for call in (detect_format, load_model_any):
        with pytest.raises(ConversionError) as err:
            call(path)
        message = _one_line(err)
        assert str(path) in message and found in message, message
        assert all(word in message for word in ACCEPTED_WORDS), message


# ---- SavedModel -----------------------------------------------------------------------------------

def test_keras_export_savedmodel_loads_with_equal_outputs_and_converts_to_int8(keras_model, exported, x8):
    from common.convert.formats import load_model_any
    from common.data.calibration import representative_dataset
    from common.graph.quantize import check_int8, convert_int8

    model, fmt = load_model_any(exported)
    assert fmt == "savedmodel" and model.input_shape == (None, 8, 8, 2)
    _same_outputs(model, keras_model, x8)
    check_int8(convert_int8(model, representative_dataset(x8)))


def _kws_probe():
    from models.dscnn_kws.train import probe_features

    return probe_features(8, seed=0)


def test_mlperf_kws_savedmodel_matches_the_zoo_import():
    """tf.saved_model.load fails on it (optimizer slots, TF 2.21): the Keras config in its object
    graph + the checkpoint rebuild it, and the outputs equal the DS-CNN's own import of the weights."""
    from common.convert.savedmodel import load_savedmodel
    from models.dscnn_kws.train import load_pretrained

    model = load_savedmodel(require_shared("pretrained", "mlcommons", "kws_ref_model"))
    x = _kws_probe()
    assert model.input_shape == (None, 49, 10, 1) and model.output_shape == (None, 12)
    ours, zoo = model.predict(x, verbose=0), load_pretrained().predict(x, verbose=0)
    assert np.max(np.abs(ours - zoo)) < 1e-4
    assert not any(type(layer).__name__ == "TFSMLayer" for layer in model.layers)  # real Keras layers


def test_keras_metadata_pb_route(tmp_path):
    """TF >= 2.5 writes the Keras config to keras_metadata.pb instead: the same model rebuilds from it."""
    from tensorflow.core.protobuf import saved_model_pb2

    from common.convert.savedmodel import _read_keras_metadata_pb, load_savedmodel

    source = require_shared("pretrained", "mlcommons", "kws_ref_model")
    folder = tmp_path / "kws"
    shutil.copytree(source, folder)
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    nodes = saved.meta_graphs[0].object_graph_def.nodes

    def field(number, payload):
        key = _varint((number << 3) | (2 if isinstance(payload, bytes) else 0))
        return key + (_varint(len(payload)) + payload if isinstance(payload, bytes) else _varint(payload))

    records = b""
    for i, node in enumerate(nodes):
        if node.WhichOneof("kind") == "user_object" and node.user_object.metadata:
            record = (field(2, i) + field(3, f"root.{i}".encode()) + field(4, node.user_object.identifier.encode())
                      + field(5, node.user_object.metadata.encode()))
            records += field(1, record)
            node.user_object.metadata = ""
    (folder / "saved_model.pb").write_bytes(saved.SerializeToString())
    (folder / "keras_metadata.pb").write_bytes(records)
    assert _read_keras_metadata_pb(records)[0][0] == "_tf_keras_network"
    from models.dscnn_kws.train import load_pretrained

    x = _kws_probe()
    model = load_savedmodel(folder)
    assert np.max(np.abs(model.predict(x, verbose=0) - load_pretrained().predict(x, verbose=0))) < 1e-4


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def test_unloadable_savedmodel_is_one_line_naming_the_folder(exported, tmp_path):
    from common.convert.savedmodel import load_savedmodel

    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "saved_model.pb").write_bytes(b"\xff" * 64)
    with pytest.raises(ConversionError) as err:
        load_savedmodel(junk)
    assert str(junk) in _one_line(err)
    # a whole graph whose variables are gone: neither route works, the error says why for each
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(exported / "saved_model.pb", bare / "saved_model.pb")
    with pytest.raises(ConversionError) as err:
        load_savedmodel(bare)
    message = _one_line(err)
    assert str(bare) in message and "no Keras" in message and "serving signature failed" in message


def test_tf_keras_h5_with_an_option_keras3_dropped_loads():
    """MLPerf Tiny's vww_96.h5 (tf.keras 2.x) has DepthwiseConv2D `groups=1`, which Keras 3 refuses:
    the converter drops the neutral option and gets the zoo's own import of the same weights."""
    from common.convert.formats import load_model_any
    from models.mobilenet_vww.train import load_pretrained

    model, fmt = load_model_any(require_shared("pretrained", "mlcommons", "vww_96.h5"))
    x = np.random.default_rng(0).uniform(0, 1, (2, 96, 96, 3)).astype(np.float32)
    assert fmt == "h5"
    assert np.max(np.abs(model.predict(x, verbose=0) - load_pretrained(channels=3).predict(x, verbose=0))) < 1e-5
