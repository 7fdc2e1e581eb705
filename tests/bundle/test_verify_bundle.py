"""scripts/verify_bundle.py: both bundles pass the offline model-zoo checks; a broken copy fails them."""

from __future__ import annotations

import importlib.util
import json
import shutil

import pytest

from tests.bundle.helpers import BUNDLES, REPO_ROOT


def _load_script():
    spec = importlib.util.spec_from_file_location("verify_bundle", REPO_ROOT / "scripts" / "verify_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["head_ct_haemorrhage_segmentation", "cranial_us_ventricle_segmentation"])
def test_bundle_passes(name, shared_schemas):
    script = _load_script()
    report = script.verify_bundle(BUNDLES / name, shared_schemas / "meta_schema_20240725.json")
    assert report.failures == []
    assert {"metadata schema", "verify_net_in_out", "TorchScript export", "model.pt plain state_dict"} <= set(
        report.passed
    )


def test_broken_bundle_fails_with_named_checks(tmp_path, shared_schemas):
    script = _load_script()
    broken = tmp_path / "broken"
    shutil.copytree(
        BUNDLES / "cranial_us_ventricle_segmentation", broken, ignore=shutil.ignore_patterns("data", "eval")
    )
    (broken / "LICENSE").unlink()
    meta_file = broken / "configs" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    del meta["network_data_format"]["outputs"]["pred"]["channel_def"]
    del meta["authors"]
    meta_file.write_text(json.dumps(meta, indent=2))
    inference = json.loads((broken / "configs" / "inference.json").read_text())
    del inference["inferer"]
    (broken / "configs" / "inference.json").write_text(json.dumps(inference, indent=4))
    schema = str(shared_schemas / "meta_schema_20240725.json")
    assert script.main([str(broken), "--schema", schema, "--skip-export"]) == 1
    failures = "\n".join(script.verify_bundle(broken, schema, export=False).failures)
    for expected in ("file LICENSE", "channel_def outputs.pred", "metadata schema", "ids in inference.json", "json"):
        assert expected in failures, failures


def test_clone_without_shared_skips_only_the_schema_check(tmp_path, monkeypatch, capsys):
    script = _load_script()
    monkeypatch.setenv("CRANIALSEG_SHARED", str(tmp_path / "absent"))  # a fresh clone: no ../shared beside it
    bundle = BUNDLES / "cranial_us_ventricle_segmentation"
    assert script.main([str(bundle), "--skip-export"]) == 0
    out = capsys.readouterr().out
    assert "note: no bundle metadata schema" in out and "1 skipped (metadata schema)" in out and "0 failed" in out
    report = script.verify_bundle(bundle, None, export=False, require_schema=False)
    assert report.skipped == ["metadata schema"] and report.failures == []
    assert {"metadata changelog", "verify_net_in_out", "model.pt loads into network_def"} <= set(report.passed)
    # an explicit schema path that is missing is still a failure
    assert script.main([str(bundle), "--skip-export", "--schema", str(tmp_path / "missing.json")]) == 1
