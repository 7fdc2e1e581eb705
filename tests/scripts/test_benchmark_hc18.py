"""scripts/benchmark_hc18.py: network selection, the original-grid prediction path and a tiny train + score run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cranialseg.demo.hc18 import prepare_hc18
from cranialseg.metrics.ellipse import ramanujan_circumference
from cranialseg.utils import read_bundle_config
from tests.scripts.test_benchmarks_smoke import load_script, load_tables, table_rows
from tests.scripts.test_prepare_hc18 import make_hc18_folder

ROOT = Path(__file__).resolve().parents[2]


def test_network_selection_and_defs():
    bench = load_script("benchmark_hc18")
    defs = bench.network_defs()
    names = ["ours dual attention", "ours resunet", "MONAI UNet", "MONAI AttentionUnet", "MONAI SegResNet"]
    assert list(defs) == names
    assert defs["ours resunet"]["variant"] == "resunet" and defs["ours dual attention"]["variant"] == "dual_attention"
    assert defs["ours dual attention"]["out_channels"] == 2
    shipped = read_bundle_config(ROOT / "bundle" / "fetal_head_us_segmentation", "fetal_head_us_segmentation")
    assert defs["ours resunet"]["variant"] == shipped["network_def"]["variant"]  # the row of the shipped network
    assert bench._select(["MONAI UNet"]) == ["MONAI UNet"]  # exact name, not every name containing "unet"
    assert bench._select(["monai_segresnet", "dual"]) == ["MONAI SegResNet", "ours dual attention"]
    assert bench._select(["MONAI"]) == ["MONAI UNet", "MONAI AttentionUnet", "MONAI SegResNet"]
    with pytest.raises(ValueError, match="match none"):
        bench._select(["nnunet"])


def test_prediction_comes_back_on_the_original_grid():
    bench = load_script("benchmark_hc18")

    class Bright(torch.nn.Module):
        def forward(self, x):
            return torch.cat([0.5 - x, x - 0.5], 1) * 20

    image = np.zeros((200, 136), np.float32)
    image[60:140, 40:100] = 200.0
    pred = bench.predict_original_grid(Bright(), image, [64, 48])
    assert pred.shape == (200, 136)
    truth = image > 0
    assert 2 * (pred.astype(bool) & truth).sum() / (pred.sum() + truth.sum()) > 0.97


@pytest.mark.slow
def test_tiny_train_then_score(tmp_path):
    bench = load_script("benchmark_hc18")
    src = make_hc18_folder(tmp_path / "src", subjects=range(10))
    data = prepare_hc18(src, tmp_path / "data", fractions=(0.6, 0.2, 0.2)).parent
    common = ["--data", str(data), "--workdir", str(tmp_path / "work"), "--networks", "MONAI UNet"]
    summary = bench.main(common + ["--epochs", "1", "--batch-size", "2", "--image-size", "64", "48", "--workers", "0"])
    (run,) = summary["runs"]
    assert run["status"] == "complete" and run["epochs_run"] == 1 and run["num_training"] == 8
    out = tmp_path / "scores.json"
    payload = bench.main(common + ["--score-only", "--hc18-dir", str(src), "--out", str(out), "--no-publish"])
    assert json.loads(out.read_text())["benchmark"] == "hc18_side_by_side"
    (row,) = payload["rows"]
    n_test = len(json.loads((data / "datalist.json").read_text())["test"])
    assert row["summary"]["num_cases"] == n_test == len(row["cases"])
    assert 0.0 <= row["summary"]["dice"]["mean"] <= 1.0 and row["inference_ms_per_image"] > 0
    outline, grid = (read_bundle_config(str(ROOT / "bundle" / "fetal_head_us_segmentation")).get_parsed_content(k)
                     for k in ("head_outline_offset", "image_size"))  # fmt: skip
    for case in row["cases"]:  # the reference HC is the CSV's (the image's own pixel size)
        pixel = 0.1 + 0.01 * int(case["case"][:3])
        assert case["reference_hc_mm"] == pytest.approx(ramanujan_circumference(60.5, 38.5) * pixel, rel=1e-3)
        # the annotation's outline offset is one of the frame's, whatever grid this run saw (64 x 48 here)
        frame = Image.open(src / "images" / case["case"]).size
        expected = outline * np.mean([n / m for n, m in zip(frame, grid)]) * pixel
        assert case["outline_offset_mm"] == pytest.approx(expected, rel=1e-3)
    assert payload["split"]["by"] == "subject"
    (_, unet) = table_rows(load_tables().render_hc18(payload))
    assert unet[0] == "MONAI UNet" and unet[4].startswith(f"{row['summary']['dice']['mean']:.3f}")
    every = bench.main(
        common + ["--score-only", "--hc18-dir", str(src), "--out", str(out), "--no-publish"] + ["--score-every", "2"]
    )
    assert [c["case"] for c in every["rows"][0]["cases"]] == [c["case"] for c in row["cases"]][::2]
    assert "one image in 2 of" in every["recipe_summary"]
    # a copy prepared without the scored section: a clear error, not a crash on an empty median
    lists = json.loads((data / "datalist.json").read_text())
    (tmp_path / "no_test").mkdir()
    (tmp_path / "no_test" / "datalist.json").write_text(json.dumps({**lists, "test": []}))
    with pytest.raises(ValueError, match="no 'test' images to score"):
        bench.main(["--data", str(tmp_path / "no_test")] + common[2:] + ["--score-only", "--hc18-dir", str(src)])
