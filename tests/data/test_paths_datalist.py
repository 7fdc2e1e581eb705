"""bundle_root found from the config path; the data folder filled with demo data when empty."""

from __future__ import annotations

import json
import os

import pytest

from cranialseg.data import load_datalist_section, prepare_datalist
from cranialseg.utils import resolve_bundle_root
from tests.bundle.helpers import CT_BUNDLE


def test_bundle_root_by_model_zoo_convention_and_override(tmp_path, monkeypatch):
    """Run inside a copied bundle folder: bundle_root is that folder; from elsewhere, --bundle_root decides."""
    from monai.bundle import ConfigWorkflow

    configs = tmp_path / "my_bundle" / "configs"
    configs.mkdir(parents=True)
    (configs / "metadata.json").write_text("{}")
    (configs / "inference.json").write_text(
        json.dumps(
            {
                "imports": ["$import cranialseg", "$import cranialseg.utils"],
                "bundle_root": "$cranialseg.utils.resolve_bundle_root('x')",
                "run": ["$@bundle_root"],
            }
        )
    )

    def run(**override):
        workflow = ConfigWorkflow(
            config_file=str(configs / "inference.json"), logging_file=False, meta_file=None, **override
        )
        workflow.initialize()
        return workflow.run()

    monkeypatch.chdir(tmp_path / "my_bundle")
    assert run() == [str((tmp_path / "my_bundle").resolve())]
    monkeypatch.chdir(tmp_path)
    assert run(bundle_root=str(tmp_path / "elsewhere")) == [str(tmp_path / "elsewhere")]


def test_no_call_stack_inspection():
    import inspect

    import cranialseg.utils.paths as paths

    assert "currentframe" not in inspect.getsource(paths) and "f_back" not in inspect.getsource(paths)


def test_bundle_root_fallbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_bundle_root("head_ct_haemorrhage_segmentation") == str(CT_BUNDLE.resolve())
    assert resolve_bundle_root(None) == os.getcwd()


def test_prepare_datalist_generates_demo_when_empty(tmp_path):
    data = tmp_path / "data"
    path = prepare_datalist(data, "us", num_cases=3, seed=0)
    assert os.path.dirname(path) == str(data)
    items = load_datalist_section(path, "training")
    assert items and all(os.path.isfile(i["image"]) and os.path.isfile(i["label"]) for i in items)
    mtime = os.path.getmtime(path)
    assert prepare_datalist(data, "us", num_cases=3) == path and os.path.getmtime(path) == mtime  # reused
    with pytest.raises(KeyError, match="no section 'nope'"):
        load_datalist_section(path, "nope")
