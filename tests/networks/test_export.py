"""ONNX (dynamic batch and spatial sizes) and TorchScript file exports agree with eager outputs."""

from __future__ import annotations

import pytest
import torch

from cranialseg.networks import DAResUNet
from cranialseg.networks.export import export_onnx, export_torchscript

ort = pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4  # max abs difference of logits, float32


@pytest.mark.parametrize("preset", ["faithful", pytest.param("efficient", marks=pytest.mark.slow)])
def test_onnx_roundtrip_with_dynamic_sizes(preset, tmp_path):
    net = DAResUNet(2, 1, 3, channels=(8, 16, 32), strides=(2, 2), num_heads=4, preset=preset).eval()
    path = export_onnx(net, tmp_path / "net.onnx", (1, 1, 64, 48), opset=18)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 1, 64, 48), (2, 1, 96, 80)]:  # the second is not the traced size
        x = torch.rand(shape)
        (y,) = session.run(None, {"image": x.numpy()})
        with torch.no_grad():
            expected = net(x).numpy()
        assert y.shape == expected.shape
        assert abs(y - expected).max() < TOLERANCE
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place


def test_export_onnx_rejects_old_opset_and_bad_example(tmp_path):
    net = DAResUNet(2, 1, 2, channels=(8, 16), strides=(2,), num_heads=4)
    with pytest.raises(ValueError, match="opset"):
        export_onnx(net, tmp_path / "a.onnx", (1, 1, 16, 16), opset=13)
    with pytest.raises(ValueError, match="multiple of the stride"):
        export_onnx(net, tmp_path / "a.onnx", (1, 1, 15, 16))


def test_torchscript_file_roundtrip(tmp_path):
    net = DAResUNet(3, 1, 2, channels=(8, 16), strides=((2, 2, 1),), num_heads=4).eval()
    path = export_torchscript(net, tmp_path / "model.ts")
    x = torch.rand(1, 1, 16, 16, 3)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.load(str(path))(x), net(x), atol=TOLERANCE, rtol=0)


def test_export_onnx_traces_on_the_network_device(tmp_path, monkeypatch):
    # a GPU network must get its example input on the GPU ("meta" stands for it here)
    class Traced(Exception):
        pass

    seen = {}

    def record(model, args, *rest, **kwargs):
        seen["device"] = args[0].device
        raise Traced

    monkeypatch.setattr(torch.onnx, "export", record)
    net = DAResUNet(2, 1, 2, channels=(8, 16), strides=(2,), num_heads=4).to("meta")
    with pytest.raises(Traced):
        export_onnx(net, tmp_path / "a.onnx", (1, 1, 16, 16))
    assert seen["device"] == torch.device("meta")
    assert not list(tmp_path.glob("*"))  # the temporary file is removed
