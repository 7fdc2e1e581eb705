"""scripts/skull_band_profile.py writes real-scan and phantom profiles; the bundle-inference results render."""

from __future__ import annotations

import json

import pytest

from tests.scripts.test_benchmarks_smoke import load_script, load_tables, table_rows


def test_skull_band_profile_script(tmp_path):
    pytest.importorskip("pandas", reason="pandas missing: pip install -e '.[bench]'")
    script = load_script("skull_band_profile")
    out = tmp_path / "band.json"
    payload = script.main(["--num-phantoms", "1", "--real-ct", str(tmp_path / "absent"), "--output", str(out)])
    assert json.loads(out.read_text())["sources"] == payload["sources"]
    assert any("absent" in s for s in payload["not_run"])
    phantoms = {s["source"]: s for s in payload["sources"] if s["kind"] == "phantom"}
    bloomed, plain = (
        next(s["cases"][0] for k, s in phantoms.items() if k.startswith(f"phantoms, {w}")) for w in ("with ", "without")
    )
    assert len(bloomed) == len(plain) == 8  # one row per distance bin
    # the first millimetres under the skull: never less dense with blooming; deep brain (5-7 mm) about the same
    assert bloomed[1]["median_hu"] >= plain[1]["median_hu"]
    assert abs(bloomed[-1]["median_hu"] - plain[-1]["median_hu"]) <= 3.0
    for src in payload["sources"]:
        if src["kind"] == "real":  # a real head slice: brain 20-45 HU a few mm from the skull
            assert 20.0 <= src["profile"][-1]["median_hu"] <= 45.0, src
    rows = table_rows(load_tables().render_skull_band(payload))
    assert rows[0][0] == "source" and rows[0][1] == "0.5-1 mm" and len(rows) == 1 + len(payload["sources"])


def test_bundle_inference_table():
    tables = load_tables()
    payload = {
        "runs": [
            {
                "tag": "ct_demo",
                "bundle": "b",
                "input": "x",
                "overrides": {"overlap": 0.25},
                "threads": 2,
                "load_average": [1.0, 1.0, 1.0],
                "date": "2026-12-04 21:07",
                "median_wall_s": 10.5,
                "median_stages_s": {"read": 1.0, "network": 8.0, "write": 1.5},
            },
            {
                "tag": "paths",
                "input": [1, 3, 8, 8, 8],
                "seconds": {"eager_fp32": [2.0, 2.0, 3.0], "bf16_autocast": [1.0, 1.0, 1.0]},
                "argmax_agreement": {"eager_fp32": 1.0, "bf16_autocast": 0.999944},
                "warmup_s": {"eager_fp32": 2.0, "bf16_autocast": 1.0},
                "speedup_vs_eager": {"eager_fp32": 1.0, "bf16_autocast": 2.0},
            },
        ]
    }
    rows = table_rows(tables.render_bundle_inference(payload))
    assert ["ct_demo", "b", "x", "overlap", "1", "–", "8", "–", "–", "1.5", "10.5", "2026-12-04 21:07, 2, 1.0"] in rows
    assert ["paths", "1x3x8x8x8", "bf16_autocast", "2", "99.994 %", "1", "1"] in rows
