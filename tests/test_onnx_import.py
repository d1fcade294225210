"""ONNX import (common.convert.onnx_import): real torch modules exported with torch.onnx.export,
imported as NHWC Keras, compared with onnxruntime; MLPerf's ResNet-8 through PyTorch and back equals
the zoo's Keras model and converts to the same int8 ops; unsupported operators are all named at once."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from common.errors import ConversionError  # noqa: E402

TOLERANCE = 1e-4
SHARED = Path(os.environ.get("ZOO_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
RESNET_H5 = SHARED / "pretrained" / "mlcommons" / "pretrainedResnet.h5"


def export(module: nn.Module, shape: tuple[int, ...], path: Path, opset: int = 13, keep_bn: bool = False) -> Path:
    """`module` as torch.onnx.export writes it (the TorchScript exporter; batch 1, NCHW). `keep_bn`:
    BatchNormalization stays a node (torch folds it into the Conv in plain eval-mode exports)."""
    module.eval()
    extra = {"training": torch.onnx.TrainingMode.PRESERVE, "do_constant_folding": False} if keep_bn else {}
    with torch.no_grad():
        torch.onnx.export(module, torch.zeros(shape), str(path), opset_version=opset, dynamo=False, **extra)
    return path


def nhwc_inputs(shape_nchw: tuple[int, ...], n: int = 4, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    _, c, h, w = shape_nchw
    return (np.random.default_rng(seed).standard_normal((n, h, w, c)) * scale).astype(np.float32)


def keras_outputs(model, x: np.ndarray) -> list[np.ndarray]:
    out = model(x, training=False)
    return [np.asarray(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def assert_matches_onnxruntime(path: Path, model, x: np.ndarray) -> None:
    from common.convert.onnx_import import onnx_runtime_outputs

    ours, theirs = keras_outputs(model, x), onnx_runtime_outputs(path, x)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape
        assert np.max(np.abs(a - b)) < TOLERANCE


def randomize_batchnorm(module: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so that folding them is tested."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.2)
    return module


def int8_ops(model, calibration: np.ndarray) -> list[str]:
    from common.data.calibration import representative_dataset
    from common.graph.quantize import convert_int8
    from common.graph.tflite import op_names

    return op_names(convert_int8(model, representative_dataset(calibration)))


# -------------------------------------------------------------------------------- 1. a small CNN

class SmallCNN(nn.Module):
    """Conv+BN+ReLU+MaxPool, a depthwise-separable residual block, BN after the Add, a depthwise conv
    with channel multiplier 2, AvgPool, x.view(x.size(0), -1) -> Linear+BN1d+ReLU -> Linear, Softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2))
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.pw = nn.Sequential(nn.Conv2d(8, 8, 1, bias=False), nn.BatchNorm2d(8))
        self.after_add = nn.BatchNorm2d(8)
        self.expand = nn.Conv2d(8, 16, 3, padding=1, groups=8)
        self.pool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.bn1d = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.after_add(x + self.pw(self.dw(x))))
        x = self.pool(F.relu(self.expand(x)))
        x = x.view(x.size(0), -1)
        return torch.softmax(self.fc2(F.relu(self.bn1d(self.fc1(x)))), dim=1)


def test_small_cnn_matches_onnxruntime_without_transposes(tmp_path):
    from common.convert.onnx_import import load_onnx

    torch.manual_seed(0)
    shape = (1, 3, 16, 16)
    path = export(randomize_batchnorm(SmallCNN()), shape, tmp_path / "small.onnx", opset=13, keep_bn=True)
    model = load_onnx(path)
    assert model.input_shape == (None, 16, 16, 3)
    assert_matches_onnxruntime(path, model, nhwc_inputs(shape, n=8))
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"Conv2D", "DepthwiseConv2D", "Dense", "BatchNormalization"} <= kinds
    assert "Permute" not in kinds  # the flatten's order went into fc1's weight rows
    ops = int8_ops(model, nhwc_inputs(shape, n=8, seed=1))
    assert "TRANSPOSE" not in ops and "DEPTHWISE_CONV_2D" in ops and "FULLY_CONNECTED" in ops


# ---------------------------------------------------------------------- 2. layout noise and activations

class LayoutNoise(nn.Module):
    """Pad + Conv(padding=0), a strided Conv after F.pad, nearest Upsample x2, Concat and Slice on
    channels, every supported activation, constant Mul/Div/Sub, a grouped conv, a ConvTranspose, pools
    with padding (count_include_pad both ways, ceil_mode), permutes that cancel, an SE-style Mul by a
    ReduceMean, and a second, flat output."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=0)
        self.down = nn.Conv2d(4, 8, 3, stride=2, padding=0)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.prelu = nn.PReLU(4)
        self.grouped = nn.Conv2d(16, 16, 3, padding=1, groups=4)
        self.deconv = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1)
        self.squeeze = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        y = self.conv(F.pad(x, (1, 1, 1, 1)))
        z = self.up(self.down(F.pad(x, (0, 1, 0, 1))))
        c = torch.cat([y, z], dim=1)
        parts = [F.hardswish(c[:, :4]), torch.sigmoid(c[:, 4:8]) * 2.0, torch.clamp(c[:, 8:12], 0, 6) / 3.0,
                 F.leaky_relu(c[:, 12:], 0.1), self.prelu(c[:, 12:]) - 0.25, F.hardsigmoid(c[:, :4]),
                 torch.clamp(c[:, 4:8], -1.0, 1.0)]
        c = torch.cat(parts, dim=1)[:, :16]
        c = self.grouped(c).permute(0, 2, 3, 1).permute(0, 3, 1, 2)
        d = F.relu(self.deconv(c))  # 16x16
        d = F.avg_pool2d(d, 3, stride=2, padding=1, count_include_pad=True) + \
            F.avg_pool2d(d, 3, stride=2, padding=1, count_include_pad=False)  # 8x8
        d = F.max_pool2d(F.relu(d), 3, stride=2, padding=1, ceil_mode=True)  # 5x5
        d = F.avg_pool2d(d, 2, stride=2, ceil_mode=True)  # 3x3, the last window partly outside
        se = torch.sigmoid(self.squeeze(d.mean(dim=(2, 3), keepdim=True)))
        d = d * se
        return d, torch.flatten(F.adaptive_avg_pool2d(d, 1), 1)


def test_layout_noise_and_activations_match_onnxruntime(tmp_path):
    from common.convert.onnx_import import load_onnx

    torch.manual_seed(1)
    shape = (1, 4, 8, 8)
    path = export(LayoutNoise(), shape, tmp_path / "noise.onnx", opset=17)
    model = load_onnx(path)
    assert [tuple(s) for s in model.output_shape] == [(None, 3, 3, 8), (None, 8)]  # a 4-D output is NHWC
    x = nhwc_inputs(shape, n=4, scale=3.0)
    assert_matches_onnxruntime(path, model, x)
    assert "Permute" not in {type(layer).__name__ for layer in model.layers}
    import keras

    model.save(tmp_path / "noise.keras")  # the converter keeps model.keras: ops and zoo layers reload
    reloaded = keras.models.load_model(tmp_path / "noise.keras")
    for a, b in zip(keras_outputs(model, x), keras_outputs(reloaded, x)):
        assert np.array_equal(a, b)


class Layouts(nn.Module):
    """What no Dense follows: flattened outputs, BatchNorm1d and Concat on flattened conv outputs, a
    Linear over channels between permutes, an SE block through Linear + view(N, C, 1, 1), Softmax over
    channels, a 3-D reshape, non-square nearest upsampling and a transpose that does not cancel."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.mix = nn.Linear(6, 6)
        self.se1, self.se2 = nn.Linear(6, 3), nn.Linear(3, 6)
        self.bn = nn.BatchNorm1d(6 * 4 * 4)
        self.up = nn.Upsample(scale_factor=(2, 3), mode="nearest")

    def forward(self, x):
        x = F.max_pool2d(self.conv(x), 2)
        x = self.mix(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        w = torch.sigmoid(self.se2(F.relu(self.se1(x.mean((2, 3))))))
        x = x * w.view(w.size(0), -1, 1, 1)
        flat = torch.flatten(x, 1)
        both = torch.cat([flat, torch.flatten(F.relu(x), 1)], 1)
        return (self.bn(flat), both, torch.softmax(x, dim=1), x.reshape(x.size(0), 6, 16), self.up(x),
                x.transpose(2, 3), flat)


@pytest.mark.parametrize("dynamic_batch", [False, True], ids=["batch-1", "dynamic-batch"])
def test_layouts_without_a_following_dense_match_onnxruntime(tmp_path, dynamic_batch):
    from common.convert.onnx_import import load_onnx

    torch.manual_seed(2)
    module, path = randomize_batchnorm(Layouts()).eval(), tmp_path / "layouts.onnx"
    extra = {"input_names": ["x"], "dynamic_axes": {"x": {0: "n"}}} if dynamic_batch else {}
    with torch.no_grad():
        torch.onnx.export(module, torch.zeros(1, 3, 8, 8), str(path), opset_version=13, dynamo=False, **extra)
    model = load_onnx(path)
    assert_matches_onnxruntime(path, model, nhwc_inputs((1, 3, 8, 8), n=3))
    # the Linear over channels and the SE block need none; flat outputs in ONNX order, the transpose do
    permutes = [layer for layer in model.layers if type(layer).__name__ == "Permute"]
    assert 1 <= len(permutes) <= 5


# ---------------------------------------------------------------- 3. MLPerf ResNet-8 through PyTorch

def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int, int, int]:
    """Keras 'same' padding as F.pad's (left, right, top, bottom): asymmetric when the stride is 2."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return (total // 2, total - total // 2) * 2


def resnet8_torch_from_keras(keras_model) -> "nn.Module":
    """A PyTorch port of the zoo's ResNet-8 (models/resnet_cifar/model.py) carrying `keras_model`'s
    weights: kernels HWIO -> OIHW, BatchNorm with Keras' epsilon, 'same' padding as explicit F.pad
    where Keras pads asymmetrically (stride 2), Dense (in, out) -> Linear (out, in)."""
    import keras

    convs = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.Conv2D)]
    norms = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    (dense,) = [layer for layer in keras_model.layers if isinstance(layer, keras.layers.Dense)]
    size = keras_model.input_shape[1]

    def conv(layer, size: int) -> nn.Module:
        kernel, bias = layer.get_weights()
        k, s = layer.kernel_size[0], layer.strides[0]
        c = nn.Conv2d(kernel.shape[2], kernel.shape[3], k, stride=s)
        c.weight.data = torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy())
        c.bias.data = torch.from_numpy(bias)
        return _Padded(c, _same_pad(size, k, s))

    def norm(layer) -> nn.Module:
        gamma, beta, mean, var = layer.get_weights()
        bn = nn.BatchNorm2d(len(gamma), eps=layer.epsilon)
        for target, value in ((bn.weight, gamma), (bn.bias, beta), (bn.running_mean, mean), (bn.running_var, var)):
            target.data = torch.from_numpy(value.copy())
        return bn

    convs, norms = iter(convs), iter(norms)
    stem = nn.Sequential(conv(next(convs), size), norm(next(norms)))
    blocks = []
    for stride in (1, 2, 2):  # conv order per block as the .h5: first, second, then the shortcut
        first, second = conv(next(convs), size), conv(next(convs), -(-size // stride))
        shortcut = conv(next(convs), size) if stride > 1 else None
        blocks.append(_Residual(first, norm(next(norms)), second, norm(next(norms)), shortcut))
        size = -(-size // stride)
    kernel, bias = dense.get_weights()
    fc = nn.Linear(*kernel.shape)
    fc.weight.data, fc.bias.data = torch.from_numpy(kernel.T.copy()), torch.from_numpy(bias)
    return _ResNet8(stem, nn.ModuleList(blocks), size, fc).eval()


class _Padded(nn.Module):
    def __init__(self, conv: nn.Module, pad: tuple[int, int, int, int]):
        super().__init__()
        self.conv, self.pad = conv, pad

    def forward(self, x):
        return self.conv(F.pad(x, self.pad) if any(self.pad) else x)


class _Residual(nn.Module):
    def __init__(self, first, bn1, second, bn2, shortcut):
        super().__init__()
        self.first, self.bn1, self.second, self.bn2, self.shortcut = first, bn1, second, bn2, shortcut

    def forward(self, x):
        y = self.bn2(self.second(F.relu(self.bn1(self.first(x)))))
        return F.relu((x if self.shortcut is None else self.shortcut(x)) + y)


class _ResNet8(nn.Module):
    def __init__(self, stem, blocks, pool: int, fc):
        super().__init__()
        self.stem, self.blocks, self.pool, self.fc = stem, blocks, pool, fc

    def forward(self, x):
        x = F.relu(self.stem(x))
        for block in self.blocks:
            x = block(x)
        x = F.avg_pool2d(x, self.pool)
        return torch.softmax(self.fc(x.view(x.size(0), -1)), dim=1)


def test_resnet8_through_pytorch_equals_the_keras_model_and_its_int8_ops(tmp_path):
    if not RESNET_H5.is_file():
        pytest.skip(f"{RESNET_H5} is absent (../shared/pretrained)")
    from common.convert.onnx_import import load_onnx
    from models.resnet_cifar.train import load_pretrained

    original = load_pretrained(RESNET_H5)
    port = resnet8_torch_from_keras(original)
    path = export(port, (1, 3, 32, 32), tmp_path / "resnet8.onnx", opset=13)
    imported = load_onnx(path)
    x = np.random.default_rng(0).uniform(0, 255, (16, 32, 32, 3)).astype(np.float32)
    (want,), (got,) = keras_outputs(original, x), keras_outputs(imported, x)
    assert np.max(np.abs(want - got)) < TOLERANCE
    assert_matches_onnxruntime(path, imported, x[:4])
    calibration = x[:8]
    ops = int8_ops(imported, calibration)
    assert ops == int8_ops(original, calibration)
    assert "TRANSPOSE" not in ops


# ------------------------------------------------------------------ 4. unsupported operators, 5. junk

class GeluNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return F.gelu(self.conv(x)).mean(dim=(2, 3)) + torch.tanh(x).mean(dim=(2, 3))[:, :1]


class LayerNormErfNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.LayerNorm(8)

    def forward(self, x):
        return torch.erf(self.norm(self.conv(x)))


@pytest.mark.parametrize("module, opset, expected", [
    (GeluNet, 17, {"Erf": "ReLU or HardSwish", "Tanh": "Sigmoid"}),
    (LayerNormErfNet, 17, {"LayerNormalization": "BatchNorm", "Erf": "ReLU or HardSwish"}),
    (LayerNormErfNet, 13, {"ReduceMean": "BatchNorm", "Pow": "BatchNorm", "Sqrt": "BatchNorm", "Erf": "HardSwish"}),
], ids=["gelu-tanh", "layernorm-erf", "layernorm-decomposed"])
def test_every_unsupported_operator_is_named_in_one_error(tmp_path, module, opset, expected):
    from common.convert.onnx_import import load_onnx

    path = export(module(), (1, 3, 8, 8), tmp_path / "bad.onnx", opset=opset)
    with pytest.raises(ConversionError) as info:
        load_onnx(path)
    message = str(info.value)
    assert "\n" not in message and "bad.onnx" in message
    problems = message.split(". Supported: ")[0].split("; ")
    for op, advice in expected.items():
        assert any(op in p and advice in p for p in problems), (op, message)


def test_a_file_that_is_not_onnx_is_one_conversion_error(tmp_path):
    from common.convert.onnx_import import load_onnx, onnx_runtime_outputs

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"this is not an onnx model \x00\xff\x13\x37" * 8)
    for call in (lambda: load_onnx(junk), lambda: onnx_runtime_outputs(junk, np.zeros((1, 4, 4, 3), np.float32))):
        with pytest.raises(ConversionError, match="not an ONNX model") as info:
            call()
        assert "\n" not in str(info.value)
