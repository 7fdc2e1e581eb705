"""The MONAI Label app folder layout and the torchvision stand-in (main venv; no MONAI Label needed)."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from cranialseg.label.app_dir import APP_MAIN, prepare_app_dir
from cranialseg.label.torchvision_shim import (
    COMPAT_MARKER,
    SHIM_DIR,
    SHIM_MARKER,
    make_grid,
    remove_site_package_edits,
    save_image,
)


def _bundle(root, name):
    b = root / name
    (b / "configs").mkdir(parents=True)
    (b / "configs" / "inference.json").write_text("{}")
    (b / "models").mkdir()
    (b / "models" / "model.pt").write_bytes(b"w")
    (b / "models" / "model.ts").write_bytes(b"ts")
    (b / "models" / "checkpoint_epoch=3.pt").write_bytes(b"ckpt")
    (b / "data").mkdir()
    (b / "data" / "big.nii.gz").write_bytes(b"x")
    return b


def test_copy_mode_copies_once_without_data(tmp_path):
    b = _bundle(tmp_path, "ct_b")
    app = prepare_app_dir(tmp_path / "app", [b])
    dst = app / "model" / "ct_b"
    assert (app / "main.py").read_text() == APP_MAIN
    assert (dst / "configs" / "inference.json").exists() and (dst / "models" / "model.pt").read_bytes() == b"w"
    assert not (dst / "data").exists() and not (dst / "models" / "model.ts").exists()
    assert not (dst / "models" / "checkpoint_epoch=3.pt").exists()
    (dst / "models" / "model.pt").write_bytes(b"trained in the app")
    prepare_app_dir(tmp_path / "app", [b])
    assert (dst / "models" / "model.pt").read_bytes() == b"trained in the app"
    prepare_app_dir(tmp_path / "app", [b], refresh=True)
    assert (dst / "models" / "model.pt").read_bytes() == b"w"


def test_link_mode_and_errors(tmp_path):
    b = _bundle(tmp_path, "us_b")
    app = prepare_app_dir(tmp_path / "app", [b], mode="link")
    assert (app / "model" / "us_b").is_symlink() and (app / "model" / "us_b").resolve() == b.resolve()
    with pytest.raises(ValueError, match="mode must be one of"):
        prepare_app_dir(tmp_path / "app", [b], mode="move")
    with pytest.raises(FileNotFoundError, match="no configs/ folder"):
        prepare_app_dir(tmp_path / "app", [tmp_path])
    other = tmp_path / "elsewhere"
    other.mkdir()
    with pytest.raises(ValueError, match="distinct folder names"):
        prepare_app_dir(tmp_path / "app", [b, _bundle(other, "us_b")])


def test_make_grid_layout():
    x = torch.stack([torch.full((1, 2, 3), float(k)) for k in range(3)])
    g = make_grid(x, nrow=2, padding=1, pad_value=-1.0)
    assert g.shape == (3, 1 + 2 * 3, 1 + 2 * 4)
    assert float(g[0, 1, 1]) == 0.0 and float(g[0, 1, 5]) == 1.0 and float(g[0, 4, 1]) == 2.0
    assert float(g[0, 0, 0]) == -1.0 and float(g[0, 4, 5]) == -1.0
    n = make_grid(torch.tensor([[0.0, 5.0], [10.0, 10.0]]), normalize=True)
    assert n.shape == (3, 2, 2) and float(n.max()) == 1.0 and float(n.min()) == 0.0


def test_shim_dir_provides_torchvision_utils(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    assert (SHIM_DIR / "torchvision" / "utils.py").is_file() and not (SHIM_DIR / "__init__.py").exists()
    monkeypatch.syspath_prepend(str(SHIM_DIR))
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        monkeypatch.delitem(sys.modules, name)
    utils = importlib.import_module("torchvision.utils")
    assert utils.make_grid is make_grid and importlib.import_module("torchvision").__version__ == "0.0.0"
    save_image(torch.rand(3, 4, 5), tmp_path / "x.png")
    from PIL import Image

    assert Image.open(tmp_path / "x.png").size == (5, 4)


def test_remove_site_package_edits_removes_only_the_old_stand_ins(tmp_path):
    site = tmp_path / "site"
    (site / "torchvision").mkdir(parents=True)
    (site / "torchvision" / "__init__.py").write_text(SHIM_MARKER + "\n__version__ = '0.0.0'\n")
    (site / "torchvision" / "utils.py").write_text(SHIM_MARKER + "\n")
    (site / "pydicom" / "__pycache__").mkdir(parents=True)
    (site / "pydicom" / "pixels.py").write_text(COMPAT_MARKER + "\n")
    (site / "pydicom" / "__pycache__" / "pixels.cpython-311.pyc").write_bytes(b"pyc")
    (site / "pydicom" / "dataset.py").write_text("real")
    removed = remove_site_package_edits(site)
    assert sorted(p.name for p in removed) == ["pixels.py", "torchvision"]
    assert not (site / "torchvision").exists() and not (site / "pydicom" / "pixels.py").exists()
    assert not any((site / "pydicom" / "__pycache__").iterdir()) and (site / "pydicom" / "dataset.py").exists()
    assert remove_site_package_edits(site) == []
    # a real torchvision / pydicom.pixels is never touched
    (site / "torchvision").mkdir()
    (site / "torchvision" / "__init__.py").write_text("real torchvision")
    (site / "pydicom" / "pixels.py").write_text("real")
    assert remove_site_package_edits(site) == []
    assert (site / "torchvision" / "__init__.py").exists() and (site / "pydicom" / "pixels.py").exists()
