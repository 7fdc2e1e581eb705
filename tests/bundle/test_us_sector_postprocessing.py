"""The cranial-US post-processing on a real neonatal coronal view: the sector mask and the clot contact filter.

``SectorMaskd`` after ``AsDiscreted`` in ``inference.json`` sets everything outside the imaging sector (fan) to
background (the 128x128 weights marked "ventricles" on the grey-scale bar, the ruler and the dark corners), and
``RemoveDetachedLesionsd`` drops "clot" that does not lie against ventricle (the frame-scale weights mark the
echogenic septum between the dilated frontal horns of this view as clot). Skips without ../shared.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from cranialseg.transforms import SectorMask
from tests.bundle.helpers import US_BUNDLE, run_workflow

VIEW = ("20221223027", "20230104", "COR2")  # dilated lateral ventricles, no haemorrhage reported
#: measured with the shipped frame-scale weights on the 2-core CPU (pixels of the 1442x898 frame): the two frontal
#: horns (their outline checked on the overlay); "clot" 6,610 px without the contact filter, none with it
VENTRICLES, CLOT_UNFILTERED = 8457, 6610


@pytest.mark.shared
@pytest.mark.skipif(not (US_BUNDLE / "models" / "model.pt").is_file(), reason="no shipped US weights")
def _segment_view(shared_data, tmp_path, **override):
    """The view through the bundle's ``inference.json`` (with ``override``): its source and label map (rows, cols)."""
    src = shared_data / "neonatal_cranial_us" / "StandardViews" / VIEW[0] / VIEW[1] / f"{VIEW[2]}.png"
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(src, inputs / "view.png")
    out = tmp_path / "out"
    run_workflow(US_BUNDLE, ["inference.json"], input_dir=str(inputs), output_dir=str(out), **override)
    return src, np.asarray(Image.open(out / "view_seg.png"))


def test_us_inference_keeps_predictions_inside_the_fan_only(shared_data, tmp_path):
    src, seg = _segment_view(shared_data, tmp_path)
    luma = np.asarray(Image.open(src).convert("L"), dtype=np.float32)  # BT.601, as cranialseg.io reads colour US
    fan = SectorMask().compute_mask(luma.T[None])[0].T  # estimated on (1, x, y) as MONAI holds it; (rows, columns)
    assert seg.shape == fan.shape == (898, 1442)
    assert int((seg[~fan] > 0).sum()) == 0
    assert int((seg == 1).sum()) == pytest.approx(VENTRICLES, rel=0.05)
    assert int((seg == 2).sum()) == 0  # the contact filter removed the septum's "clot"
    # the fan is the middle of the frame, and the burned-in text rows at the top are outside it
    assert fan[450, 721] and not fan[:15].any() and 0.3 < fan.mean() < 0.6


@pytest.mark.shared
@pytest.mark.skipif(not (US_BUNDLE / "models" / "model.pt").is_file(), reason="no shipped US weights")
def test_without_the_contact_filter_the_septum_reads_as_clot(shared_data, tmp_path):
    _, seg = _segment_view(shared_data, tmp_path, clot_min_contact=0.0)
    assert int((seg == 2).sum()) == pytest.approx(CLOT_UNFILTERED, rel=0.05)
    assert int((seg == 1).sum()) == pytest.approx(VENTRICLES, rel=0.05)  # the filter never touches ventricles
