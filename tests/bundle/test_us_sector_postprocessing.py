"""The cranial-US inference zeroes predictions outside the imaging sector (fan), on a real neonatal view.

The shipped weights (128x128 phantom recipe) mark "ventricles" on the grey-scale bar, the ruler and the dark corners
of real screen captures; ``SectorMaskd`` after ``AsDiscreted`` in ``inference.json`` removes them without touching
anything inside the fan. Skips without ../shared (a user's clone has no shared data).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from cranialseg.transforms import SectorMask
from tests.bundle.helpers import US_BUNDLE, run_workflow

VIEW = ("20221231069", "20230112", "COR3")
#: measured with the shipped weights on the 2-core CPU (pixels of the 1442x898 frame): without the sector mask
#: 18848 "ventricle" pixels, 14650 of them outside the fan; the clot (5250) lies inside the fan and is kept
VENTRICLES_INSIDE, CLOT = 4198, 5250


@pytest.mark.shared
@pytest.mark.skipif(not (US_BUNDLE / "models" / "model.pt").is_file(), reason="no shipped US weights")
def test_us_inference_keeps_predictions_inside_the_fan_only(shared_data, tmp_path):
    src = shared_data / "neonatal_cranial_us" / "StandardViews" / VIEW[0] / VIEW[1] / f"{VIEW[2]}.png"
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(src, inputs / "view.png")
    run_workflow(US_BUNDLE, ["inference.json"], input_dir=str(inputs), output_dir=str(tmp_path / "out"))
    seg = np.asarray(Image.open(tmp_path / "out" / "view_seg.png"))  # (rows, columns)
    luma = np.asarray(Image.open(src).convert("L"), dtype=np.float32)  # BT.601, as cranialseg.io reads colour US
    fan = SectorMask().compute_mask(luma.T[None])[0].T  # estimated on (1, x, y) as MONAI holds it; (rows, columns)
    assert seg.shape == fan.shape == (898, 1442)
    assert int((seg[~fan] > 0).sum()) == 0
    assert int((seg == 1).sum()) == pytest.approx(VENTRICLES_INSIDE, rel=0.05)
    assert int((seg == 2).sum()) == pytest.approx(CLOT, rel=0.05)
    # the fan is the middle of the frame, and the burned-in text rows at the top are outside it
    assert fan[450, 721] and not fan[:15].any() and 0.3 < fan.mean() < 0.6
