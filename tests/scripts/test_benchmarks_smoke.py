"""Smoke tests of the benchmark scripts: each runs on a tiny setting and writes valid JSON with sane values.

Timings are never asserted (the machine is shared); the checks are on structure, counts, FLOPs and metrics that
do not depend on speed. The tables need the ``bench`` extra (pandas, tabulate; part of ``test``): without it the
table checks skip and the benchmarks still write their JSON.
"""

from __future__ import annotations

import importlib.util
import json
import math
import pkgutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import cranialseg

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"


def load_script(name: str):
    """Import ``scripts/<name>.py`` as a module (scripts are not a package)."""
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_tables():
    """``scripts/update_benchmark_tables.py``, or skip when the ``bench`` extra (pandas, tabulate) is missing."""
    for name in ("pandas", "tabulate"):
        pytest.importorskip(name, reason=f"{name} missing: pip install -e '.[bench]' renders the benchmark tables")
    return load_script("update_benchmark_tables")


def table_rows(markdown: str) -> list:
    """The cells (stripped) of every row of the markdown tables in ``markdown``, header rows included."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in markdown.splitlines()]
    return [r for r, line in zip(rows, markdown.splitlines()) if line.startswith("|") and set("".join(r)) - set(":-")]


def assert_machine_block(payload: dict) -> None:
    m = payload["machine"]
    assert m["date_utc"].endswith("Z") and len(m["date_utc"]) == 20
    assert m["versions"]["torch"] and m["versions"]["monai"]
    assert m["logical_cpus"] >= 1
    assert m["load_average"] is None or len(m["load_average"]) == 3


def test_package_holds_no_benchmark_code():
    """Issue 18: the benchmark helpers live with the scripts; the installed package neither has nor loads them."""
    modules = {m.name for m in pkgutil.walk_packages(cranialseg.__path__, "cranialseg.")}
    assert "cranialseg.io.label_files" in modules and not any("benchmark" in m for m in modules)
    loaders = ("benchmarking", "update_benchmark_tables", "spec_from_file_location")  # by name or by file path
    sources = [p for p in Path(cranialseg.__file__).parent.rglob("*.py") if any(w in p.read_text() for w in loaders)]
    assert sources == []


def test_helpers_count_conv_flops_and_time():
    helpers = load_script("benchmarking")
    PeakRSS, count_flops, machine_info, time_call = (
        helpers.PeakRSS,
        helpers.count_flops,
        helpers.machine_info,
        helpers.time_call,
    )
    net = torch.nn.Conv2d(1, 4, 3, padding=1, bias=False)
    assert count_flops(net, torch.rand(1, 1, 32, 32)) == 2 * 9 * 4 * 32 * 32
    calls = []
    timing = time_call(lambda: calls.append(1), warmup=2, repeats=3)
    assert len(calls) == 5 and timing["repeats"] == 3 and timing["min_s"] <= timing["median_s"] <= timing["max_s"]
    with PeakRSS() as mem:
        buf = bytearray(64 * 2**20)
        buf[::4096] = b"\x01" * len(buf[::4096])  # touch every page
    assert mem.delta_mb is None or mem.delta_mb >= 48
    assert set(machine_info()) >= {"date_utc", "cpu", "versions", "load_average", "torch_threads"}


def test_attention_estimate_matches_hand_count():
    bench = load_script("benchmark_networks")
    # level 0 of 1x1x96^3: 12^3 windows x 8 heads x 512^2 x 4 bytes x 5 copies
    expected = 12**3 * 8 * 512**2 * 4 * 5 / 1e9
    assert bench.estimate_attention_gb([1, 1, 96, 96, 96], [16, 32, 64, 128, 256], None) == round(expected, 2)
    # level 2 (24^3): 3^3 windows of 512 tokens; levels 3 and 4 are smaller
    assert bench.estimate_attention_gb([1, 1, 96, 96, 96], [16, 32, 64, 128, 256], [2, 3, 4]) == round(
        27 * 8 * 512**2 * 4 * 5 / 1e9, 2
    )
    # input_stride=2: level 0 runs at 48^3, 6^3 windows
    assert bench.estimate_attention_gb([1, 1, 96, 96, 96], [16, 32, 64, 128, 256], None, input_stride=2) == round(
        6**3 * 8 * 512**2 * 4 * 5 / 1e9, 2
    )


def test_benchmark_networks_tiny(tmp_path):
    bench = load_script("benchmark_networks")
    out = tmp_path / "networks.json"
    bench.main(["--tiny", "--dims", "2", "--models", "default", "UNet", "--repeats", "1", "--threads", "1",
                "--backends", "eager", "onnxruntime", "--out", str(out)])  # fmt: skip
    payload = json.loads(out.read_text())
    assert_machine_block(payload)
    rows = {(r["name"], r["backend"]): r for r in payload["rows"]}
    assert set(rows) == {
        ("ours dual_attention (default)", "eager"),
        ("ours dual_attention (default)", "onnxruntime"),
        ("MONAI UNet (num_res_units=2)", "eager"),
    }
    for r in rows.values():
        assert r["status"] == "ok", r
        assert r["input_shape"] == [1, 1, 32, 32]
        assert r["latency"]["median_s"] > 0 and r["params"] > 0 and r["gflops"] > 0
    assert rows[("ours dual_attention (default)", "onnxruntime")]["max_abs_diff_vs_eager"] < 1e-3
    assert {g["spatial_dims"] for g in payload["goals"]} == {2}
    assert payload["matmul_peak"]["median_gflops"] > 0


def test_benchmark_networks_tiny_efficient_preset(tmp_path):
    """The efficient preset's row: fewer FLOPs than the faithful default at the same widths, its settings recorded."""
    bench = load_script("benchmark_networks")
    out = tmp_path / "networks.json"
    bench.main(["--tiny", "--dims", "2", "--models", "(default)", "efficient", "--repeats", "1", "--threads", "1",
                "--backends", "eager", "--out", str(out)])  # fmt: skip
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    default, fast = (
        rows["ours dual_attention (default)"],
        rows["ours dual_attention efficient (preset, sal_levels from 2)"],
    )
    assert fast["status"] == "ok" and fast["settings"]["preset"] == "efficient"
    assert fast["gflops"] < default["gflops"] / 2


def test_benchmark_inference_tiny(tmp_path):
    bench = load_script("benchmark_inference")
    out = tmp_path / "inference.json"
    # --roi 128 128: windows smaller than the frame (the bundle's own ROI, 256 x 256, would cover it at once)
    bench.main(["--tiny", "--cases", "us", "--no-dicom", "--paths", "ours_eager", "monai_unet_eager",
                "ours_lean_eager", "--threads", "1", "--warmup", "1", "--roi", "128", "128",
                "--out", str(out)])  # fmt: skip
    payload = json.loads(out.read_text())
    assert_machine_block(payload)
    (case,) = payload["cases"]
    assert case["shape"] == [160, 128] and case["roi"] == [128, 128]
    assert {r["path"] for r in case["rows"]} == {"ours_eager", "monai_unet_eager", "ours_lean_eager"}
    params = {r["path"]: r["params"] for r in case["rows"]}
    assert params["ours_lean_eager"] - params["ours_eager"] == 16 * 16 * 4 + 16 + 2 * 16  # the bundle network, lean
    assert any("ours lean eager" in g["goal"] for g in payload["goals"])
    assert not any("best path (ours_lean" in g["goal"] for g in payload["goals"])
    for r in case["rows"]:
        assert r["status"] == "ok", r
        # ROI 128x128 over 160x128 at overlap 0.25: two windows along x, one along y
        assert r["windows"] == 2
        assert r["flops_per_voxel"] > 0 and 0 < r["fraction_of_matmul_peak"]
    assert any("no GPU" in s for s in payload["not_run"])


def test_benchmark_training_tiny(tmp_path):
    bench = load_script("benchmark_training")
    out = tmp_path / "training.json"
    bench.main(["--tiny", "--dims", "2", "--threads", "1", "--out", str(out)])
    payload = json.loads(out.read_text())
    assert_machine_block(payload)
    assert [r["model"] for r in payload["rows"]] == ["ours", "lean", "monai_unet"]
    ours, lean, _ = payload["rows"]
    # lean = the same network plus the transposed 2x2 convolution back to full resolution (tiny: 4 -> 4 channels)
    assert lean["params"] - ours["params"] == 4 * 4 * 4 + 4 + 2 * 4
    for r in payload["rows"]:
        assert r["status"] == "ok", r
        assert r["input_shape"] == [2, 1, 32, 32]
        assert math.isclose(r["samples_per_s"], 2 / r["latency"]["median_s"], rel_tol=1e-2)


def _fake_hc18(root: Path) -> Path:
    """Six 80x54 'HC18' images with filled ellipses, a CSV with the exact reference HC, and a datalist."""
    from PIL import Image, ImageDraw

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rows, items = ["filename,pixel size(mm),head circumference (mm)"], []
    for i in range(6):
        stem = f"{i:03d}_HC"
        box = (15 + i, 8, 65 - i, 46)
        img, lab = Image.new("L", (80, 54), 20), Image.new("L", (80, 54), 0)
        ImageDraw.Draw(img).ellipse(box, fill=180)
        ImageDraw.Draw(lab).ellipse(box, fill=1)
        img.save(root / "images" / f"{stem}.png")
        lab.save(root / "labels" / f"{stem}.png")
        a, b = (box[2] - box[0]) / 2 * 0.1, (box[3] - box[1]) / 2 * 0.1
        rows.append(f"{stem}.png,0.1,{math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b))):.3f}")
        items.append({"image": f"images/{stem}.png", "label": f"labels/{stem}.png"})
    (root / "pixel_size_and_HC.csv").write_text("\n".join(rows) + "\n")
    datalist = root / "datalist.json"
    datalist.write_text(json.dumps({"training": items[:4], "validation": items[4:], "test": []}))
    return datalist


def test_quality_scores_on_known_ellipse():
    bench = load_script("benchmark_quality")
    yy, xx = np.mgrid[0:200, 0:300]
    mask = ((xx - 150) / 100.0) ** 2 + ((yy - 100) / 60.0) ** 2 <= 1.0  # semi-axes 100 and 60 px
    spacing = (0.2, 0.2)
    a, b = 60 * 0.2, 100 * 0.2
    ref = math.pi * (3 * (a + b) - math.sqrt((3 * a + b) * (a + 3 * b)))
    assert bench.ellipse_circumference_mm(mask, spacing) == pytest.approx(ref, rel=0.01)
    scores = bench.score_case(mask, mask, spacing, ref)
    assert scores["dice"] == 1.0 and scores["iou"] == 1.0 and scores["hd95_mm"] == 0.0
    assert scores["hc_abs_error_mm"] < 0.01 * ref
    empty = bench.score_case(np.zeros_like(mask), mask, spacing, ref)
    assert empty["dice"] == 0.0 and empty["hd95_mm"] is None and empty["hc_mm"] is None


def test_benchmark_quality_tiny(tmp_path):
    bench = load_script("benchmark_quality")
    datalist = _fake_hc18(tmp_path / "hc18")
    out = tmp_path / "quality.json"
    bench.main(["--datalist", str(datalist), "--hc18-dir", str(tmp_path / "hc18"), "--image-size", "32", "24",
                "--epochs", "1", "--batch-size", "2", "--channels", "4", "8", "16", "32", "--networks", "MONAI UNet",
                "--quiet", "--threads", "1", "--out", str(out)])  # fmt: skip
    payload = json.loads(out.read_text())
    assert_machine_block(payload)
    assert payload["budget"] == {"epochs": 1, "budget_minutes": 0.0, "seeds": [0]}
    (row,) = payload["rows"]
    assert row["name"] == "MONAI UNet" and row["status"] == "ok" and row["seeds_run"] == [0]
    assert 0.0 <= row["metrics"]["dice"] <= 1.0 and 0.0 <= row["metrics"]["iou"] <= row["metrics"]["dice"]
    assert row["params"] > 0 and row["train_s"] > 0


def test_benchmark_phantoms_tiny(tmp_path):
    bench = load_script("benchmark_phantoms")
    out = tmp_path / "phantoms.json"
    payload = bench.main(["--tiny", "--threads", "1", "--workdir", str(tmp_path / "work"), "--out", str(out)])
    assert json.loads(out.read_text())["tasks"].keys() == {"ct", "us"}
    assert_machine_block(payload)
    ct, us = payload["tasks"]["ct"], payload["tasks"]["us"]
    assert ct["num_cases"] == us["num_cases"] == 2
    assert set(ct["per_class"]) == {"ventricles", "EDH", "SDH", "IPH", "IVH"} and set(us["per_class"]) == {
        "ventricles",
        "IVH_clot",
    }
    assert ct["detection"]["source"] == "image_head" and us["detection"]["source"] == "mask"
    assert ct["per_class"]["EDH"]["volume_unit"] == "ml" and us["per_class"]["IVH_clot"]["volume_unit"] == "mm2"
    for task in (ct, us):
        vent = task["per_class"]["ventricles"]
        assert 0.0 <= vent["dice"] <= 1.0 and 0.0 <= vent["threshold_baseline_dice"] <= 1.0
    tables = load_tables()
    text = tables.render_phantoms(payload)
    ventricles = [r for r in table_rows(text) if r[0] == "ventricles"]  # CT's table first, then ultrasound's
    assert [r[2] for r in ventricles] == [f"{t['per_class']['ventricles']['dice']:.3g}" for t in (ct, us)]
    assert "image_head" in text
    assert "real_normal_ct" not in ct  # --tiny skips the real-scan check
    ct["real_normal_ct"] = {  # the row as real_normal_ct_check writes it
        "series": "head_ct_dicom_ge_tilt",
        "status": "ok",
        "volume_ml": {"ventricles": 37.3, "EDH": 0.0, "SDH": 1.25, "IPH": 0.0, "IVH": 0.0},
        "haemorrhage_ml": 1.25,
        "goal_ml": 2.0,
        "goal_met": True,
        "image_level": {"EDH": 0.1, "SDH": 0.2, "IPH": 0.05, "IVH": 0.3},
    }
    text = tables.render_phantoms(payload)
    assert "predicted haemorrhage 1.25 mL (goal < 2 mL: met); mL per class: ventricles 37.3, EDH 0" in text
    assert "real_views" not in us  # --tiny skips the real ultrasound views too
    us["real_views"] = {  # as real_us_views_check writes it
        "views": "StandardViews",
        "status": "ok",
        "num_views": 2,
        "views_with_clot": 1,
        "views_with_clot_by_plane": {"coronal": [1, 2]},
        "clot_min_pixels": 10,
        "clot_px_median": 6.0,
        "clot_px_max": 12,
        "per_view": [
            {"view": "p1_COR1", "shape": [1442, 898], "ventricle_px": 900, "clot_px": 0, "clot_permille_of_frame": 0.0},
            {
                "view": "p1_COR2",
                "shape": [1442, 898],
                "ventricle_px": 800,
                "clot_px": 12,
                "clot_permille_of_frame": 0.009,
            },
        ],
    }
    text = tables.render_phantoms(payload)
    assert "a clot (>= 10 px) in 1 of 2 views (coronal 1 of 2), clot pixels per view median 6, max 12." in text
    assert ["p1_COR2", "[1442, 898]", "800", "12", "0.009"] in table_rows(text)


def test_update_tables_roundtrip(tmp_path):
    tables = load_tables()
    results = tmp_path / "results"
    results.mkdir()
    payload = {
        "machine": {"date_utc": "2026-01-01T00:00:00Z", "cpu": "X", "versions": {}},
        "matmul_peak": {"median_gflops": 10.0, "n": 64},
        "rows": [
            {
                "name": "net",
                "backend": "eager",
                "spatial_dims": 2,
                "input_shape": [1, 1, 8, 8],
                "params": 12,
                "gflops": 0.5,
                "latency": {"median_s": 0.25, "min_s": 0.2},
                "peak_rss_delta_mb": 3.0,
                "status": "ok",
            }
        ],  # fmt: skip
        "goals": [],
    }
    (results / "networks_cpu.json").write_text(json.dumps(payload))
    readme = tmp_path / "README.md"
    readme.write_text("# Bench\n\nintro\n<!-- BEGIN GENERATED TABLES -->\nold\n<!-- END GENERATED TABLES -->\ntail\n")
    block = tables.main(["--results-dir", str(results), "--readme", str(readme)])
    text = readme.read_text()
    assert "old" not in text and text.startswith("# Bench\n\nintro\n") and text.endswith("tail\n")
    assert ["net", "eager", "12", "0.5", "0.25", "0.2", "3", "ok"] in table_rows(block) and block in text


def test_side_by_side_relative_follows_the_bundle_preset():
    """A bundle on the efficient preset (first level strided already) is compared with its published layout; one on
    the faithful layout with the lean setting (first level strided as in MONAI's UNet)."""
    bench = load_script("benchmark_phantoms")
    ct, us = bench.side_by_side_overrides("ct"), bench.side_by_side_overrides("us")
    assert ct["ours faithful layout"] == {"network_def#preset": "faithful"} and "ours lean (input_stride=2)" not in ct
    assert us["ours lean (input_stride=2)"] == {"network_def#input_stride": [2, 2]} and "ours faithful layout" not in us
    assert list(ct)[:2] == list(us)[:2] == ["ours dual_attention (bundle)", "MONAI UNet"]


def test_benchmark_phantoms_side_by_side_tiny(tmp_path):
    bench = load_script("benchmark_phantoms")
    out = tmp_path / "side_by_side.json"
    common = ["--side-by-side", "--tiny", "--threads", "1", "--epochs-ct", "1", "--epochs-us", "1", "--workdir",
              str(tmp_path / "work"), "--out", str(out)]  # fmt: skip
    payload = bench.main(common + ["--networks", "ours dual", "MONAI UNet"])
    assert_machine_block(payload)
    ct, us = payload["tasks"]["ct"], payload["tasks"]["us"]
    assert (
        [r["name"] for r in ct["rows"]]
        == [r["name"] for r in us["rows"]]
        == [
            "ours dual_attention (bundle)",
            "MONAI UNet",
        ]
    )
    for row in ct["rows"] + us["rows"]:
        assert row["status"] == "ok", row
        assert 0.0 <= row["mean_dice"] <= 1.0 and 0.0 <= row["best_val_dice"] <= 1.0 and row["train_s"] > 0
    ours, unet = ct["rows"]
    # the CT bundle network (efficient preset, image-level head) vs MONAI UNet at its channels and strides, 3 windows
    # in, 6 classes
    assert ours["params"] == 1_337_064 and unet["params"] == 1_192_821
    assert ours["detection"]["source"] == "image_head" and unet["detection"]["source"] == "mask"
    assert set(ours["per_class"]) == {"ventricles", "EDH", "SDH", "IPH", "IVH"}
    assert ct["epochs"] == 1 and ct["num_train_cases"] == 4 and ct["num_cases"] == 2
    # a later run of one more network keeps the rows it did not run, in the table's order
    merged = bench.main(common + ["--tasks", "us", "--networks", "lean", "--merge"])
    assert merged["tasks"]["ct"] == json.loads(json.dumps(ct))
    names = [r["name"] for r in merged["tasks"]["us"]["rows"]]
    assert names == ["ours dual_attention (bundle)", "MONAI UNet", "ours lean (input_stride=2)"]
    lean = merged["tasks"]["us"]["rows"][2]
    assert lean["params"] - us["rows"][0]["params"] == 16 * 16 * 4 + 16 + 2 * 16
    text = load_tables().render_phantoms_side_by_side(json.loads(out.read_text()))
    rows = table_rows(text)
    assert ["MONAI UNet", "1,192,821"] in [r[:2] for r in rows] and "ours lean (input_stride=2)" in [r[0] for r in rows]
    assert [r[:5] for r in rows if r[0] == "threshold baseline"] == [["threshold baseline"] + ["–"] * 4] * 2


def test_benchmark_training_compare_bundles_tiny(tmp_path):
    """Issue 15: the interleaved bundle-network vs MONAI UNet comparison builds each bundle's network_def in both
    presets, times every network in every round, and reports per-round ratios."""
    bench = load_script("benchmark_training")
    out = tmp_path / "compare.json"
    payload = bench.main(["--compare-bundles", "--tiny", "--dims", "2", "--threads", "1", "--out", str(out)])
    assert json.loads(out.read_text())["benchmark"] == "bundle_networks_vs_unet"
    assert_machine_block(payload)
    (row,) = payload["rows"]
    assert row["status"] == "ok", row
    assert row["bundle"] == "cranial_us_ventricle_segmentation" and row["input_shape"] == [4, 1, 32, 32]
    names = ["faithful", "efficient", "monai_unet_nru1", "monai_unet_nru2"]
    assert list(row["params"]) == names
    # tiny widths (4, 8, 16, 32): MONAI UNet's parameter counts pin the comparison networks' construction
    assert row["params"]["monai_unet_nru1"] == 13_280 and row["params"]["monai_unet_nru2"] == 25_584
    assert row["kflop_per_voxel"]["efficient"] < row["kflop_per_voxel"]["faithful"]
    for kind in ("step", "forward"):
        assert all(len(row[f"{kind}_times_s"][n]) == 1 for n in names)
        ratio = row[f"{kind}_ratio"]["efficient/monai_unet_nru1"]
        t = row[f"{kind}_times_s"]
        # times are stored rounded to 0.1 ms: at tiny sizes that alone moves the ratio by a few per cent
        assert math.isclose(ratio["median"], t["efficient"][0] / t["monai_unet_nru1"][0], rel_tol=0.06)
    assert {(g["reference"], g["input_shape"][0]) for g in payload["goals"]} == {
        ("monai_unet_nru1", 4),
        ("monai_unet_nru2", 4),
    }


def test_committed_tables_match_the_results():
    """``benchmarks/README.md`` carries exactly what the committed results render to (regenerate after a run)."""
    tables = load_tables()
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert tables.render_all(ROOT / "benchmarks" / "results") in readme


def test_hc18_and_bundle_network_tables():
    """The tables benchmark_hc18.py and benchmark_training.py --compare-bundles print, with a not-run row each."""
    tables = load_tables()
    summary = {"dice": {"mean": 0.95, "sd": 0.01}, "hd_mm": {"mean": 3.0, "sd": None}, "hc_abs_diff_mm": {"mean": 2.0}}
    hc18 = {"rows": [
        {"name": "MONAI UNet", "params": 1234, "epochs_run": 3, "train_minutes": 1.5, "inference_ms_per_image": 12.5,
         "summary": {**summary, "hc_diff_mm": None}},
        {"name": "MONAI SegResNet", "status": "not run", "reason": "no run.json"},
    ]}  # fmt: skip
    assert table_rows(tables.render_hc18(hc18))[1:] == [
        ["MONAI UNet", "1,234", "3", "1.5", "0.950 ± 0.010", "3.00", "2.00", "-", "12.5"],
        ["MONAI SegResNet", "-", "-", "-", "not run: no run.json", "–", "–", "–", "–"],
    ]
    full = tables.render_hc18_side_by_side({**hc18, "recipe_summary": "R", "notes": ["N"], "anchors": "A"})
    assert "Recipe and budget: R" in full and "Note: N" in full and "Anchors: A" in full
    assert table_rows(full) == table_rows(tables.render_hc18(hc18))  # the same table under its title
    names = ("faithful", "monai_unet_nru1", "monai_unet_nru2")
    ok = {"bundle": "us", "input_shape": [4, 1, 32, 32], "status": "ok", "params": dict(zip(names, (300, 100, 200)))}
    for kind, seconds in (("step", (0.6, 0.2, 0.3)), ("forward", (0.3, 0.1, 0.15))):
        ok[f"{kind}_median_s"] = dict(zip(names, seconds))
        ok[f"{kind}_ratio"] = {"faithful/monai_unet_nru1": {"median": 3.0}, "faithful/monai_unet_nru2": {"median": 2.0},
                               "monai_unet_nru2/monai_unet_nru1": {"median": 1.5}}  # fmt: skip
    ok["kflop_per_voxel"] = dict(zip(names, (30.5, 10.0, 20.0)))
    machine = {"date_utc": "2026-01-01T00:00:00Z", "cpu": "X", "torch_threads": 1, "load_average": None}
    payload = {"machine": {**machine, "git_commit": "abc"}, "load_average_end": None, "rows": [
        ok, {"bundle": "ct", "input_shape": [2, 3, 8, 8, 8], "status": "error", "reason": "boom"}]}  # fmt: skip
    assert table_rows(tables.render_bundle_networks(payload))[1:] == [
        ["us", "4x1x32x32", "faithful", "300", "30.5", "0.6", "3.00", "2.00", "0.3", "3.00", "2.00"],
        ["us", "4x1x32x32", "monai_unet_nru1", "100", "10", "0.2", "1", "–", "0.1", "1", "–"],
        ["us", "4x1x32x32", "monai_unet_nru2", "200", "20", "0.3", "1.50", "1", "0.15", "1.50", "1"],
        ["ct", "2x3x8x8x8", "error: boom", "–", "–", "–", "–", "–", "–", "–", "–"],
    ]


def test_bundle_inference_stages_add_up_to_the_run(tmp_path):
    """The bundle's own inference, timed by stage: every stage is seen, the stages fit in the run's wall time, and the
    case's prediction is the bundle's (a bright disc on a PNG frame through the cranial-US bundle)."""
    from PIL import Image

    frame = np.zeros((96, 128), np.uint8)
    yy, xx = np.mgrid[:96, :128]
    frame[(yy - 48) ** 2 + (xx - 64) ** 2 < 30**2] = 180
    folder = tmp_path / "frames"
    folder.mkdir()
    Image.fromarray(frame).save(folder / "disc.png")
    out = tmp_path / "stages.json"
    bench = load_script("benchmark_bundle_inference")
    record = bench.main(
        ["--bundle", "cranial_us_ventricle_segmentation", "--input", str(folder), "--repeats", "0", "--out", str(out)]
    )
    (run,) = record["runs"]
    assert run["failures"] == [] and len(run["case_seconds"]) == 1
    assert {"read", "resample", "network", "invert", "postprocess", "write"} <= set(run["stages_s"])
    assert 0 < run["stages_sum_s"] <= run["wall_s"] + 1e-3
    assert run["network_input_shape"][:2] == [1, 1]
    saved = json.loads(out.read_text())["runs"]
    assert [r["tag"] for r in saved] == ["bundle_default"]


@pytest.mark.shared
def test_real_us_views_check_counts_clot_per_view_and_plane(shared_data, tmp_path):
    import shutil

    bench = load_script("benchmark_phantoms")
    views = tmp_path / "views"
    picked = {("20221223027", "20230104", "COR2"): (8457, 0), ("20230418011", "20230418", "SAG2"): (2806, 1392)}
    for patient, date, view in picked:
        (views / patient / date).mkdir(parents=True)
        src = shared_data / "neonatal_cranial_us" / "StandardViews" / patient / date / f"{view}.png"
        shutil.copy(src, views / patient / date / f"{view}.png")
    res = bench.real_us_views_check(views, tmp_path / "work")
    assert res["status"] == "ok" and res["num_views"] == 2
    assert res["views_with_clot_by_plane"] == {"coronal": [0, 1], "sagittal": [1, 1]}
    rows = {r["view"]: r for r in res["per_view"]}
    for (patient, _, view), (ventricles, clot) in picked.items():  # the figures of the bundle docs' table
        row = rows[f"{patient}_{view}"]
        assert row["ventricle_px"] == pytest.approx(ventricles, rel=0.05)
        assert row["clot_px"] == pytest.approx(clot, rel=0.1, abs=0)
