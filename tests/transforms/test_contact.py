"""RemoveDetachedLesions(d): a clot component is kept only against ventricle (issue 17, real ultrasound views)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.data import MetaTensor

from cranialseg.transforms import RemoveDetachedLesions, RemoveDetachedLesionsd, lesion_contacts


def _scene() -> np.ndarray:
    seg = np.zeros((100, 80), dtype=np.uint8)
    seg[10:30, 10:30] = 1
    seg[15:25, 15:25] = 2  # a clot inside a ventricle: its whole ring is ventricle
    seg[60:70, 10:20] = 2  # echogenic tissue in the brain: no ventricle near it
    seg[40:50, 50:60] = 1
    seg[50:56, 50:60] = 2  # a blob hanging under a ventricle: the ventricle borders one side of its ring only
    return seg


def test_contacts_are_the_host_fraction_of_each_ring():
    components, stats = lesion_contacts(_scene(), lesion_label=2, host_label=1, margin_fraction=0.03)  # 2 px
    assert [s["pixels"] for s in stats] == [100, 60, 100]  # ndimage.label scans row by row
    inside, hanging, far = (s["contact"] for s in stats)
    assert inside == pytest.approx(1.0) and far == 0.0
    # ring of the 6 x 10 blob grown by 2 (a cross iterated twice: a diamond): the 10 x 14 box less 3 pixels at each
    # corner is 128, less the blob's 60 = 68 px; of them the 2 ventricle rows above it (2 x 10 = 20) are host
    assert hanging == pytest.approx(20 / 68)
    assert components.max() == 3


@pytest.mark.parametrize("min_contact, kept", [(0.0, 260), (0.15, 160), (0.5, 100), (1.0, 100)])
def test_threshold_decides_which_components_stay(min_contact, kept):
    seg = _scene()
    out = RemoveDetachedLesions(2, 1, min_contact=min_contact, margin_fraction=0.03)(seg)
    assert int((out == 2).sum()) == kept
    assert int((out == 1).sum()) == int((seg == 1).sum())  # the host is never touched
    assert out.dtype == seg.dtype and out.shape == seg.shape


def test_channel_first_tensor_keeps_type_meta_and_3d_works():
    seg = torch.as_tensor(_scene())[None].float()
    pred = MetaTensor(seg, affine=torch.diag(torch.tensor([0.3, 0.3, 1.0, 1.0])))
    out = RemoveDetachedLesionsd("pred", min_contact=0.15, margin_fraction=0.03)({"pred": pred})["pred"]
    assert isinstance(out, MetaTensor) and out.shape == (1, 100, 80) and out.dtype == torch.float32
    assert torch.equal(out.affine, pred.affine) and int((out == 2).sum()) == 160
    vol = np.repeat(_scene()[..., None], 5, axis=-1)  # 3D: the same components, 5 slices deep
    assert int((RemoveDetachedLesions(min_contact=0.15, margin_fraction=0.03)(vol) == 2).sum()) == 160 * 5


def test_nothing_to_remove_returns_the_input_and_bad_settings_are_refused():
    seg = np.zeros((1, 20, 20), dtype=np.int16)
    assert RemoveDetachedLesions()(seg) is seg
    with pytest.raises(ValueError, match="min_contact"):
        RemoveDetachedLesions(min_contact=1.5)
    with pytest.raises(ValueError, match="must differ"):
        RemoveDetachedLesions(lesion_label=1, host_label=1)
    with pytest.raises(ValueError, match="margin_fraction"):
        lesion_contacts(seg[0], 2, 1, margin_fraction=-0.1)
