"""The trivial threshold baselines must score low on the demo phantoms (the phantoms are not trivially easy)."""

from __future__ import annotations

import math

import numpy as np

from cranialseg.demo import ct_threshold_dice, threshold_baseline, us_threshold_dice
from cranialseg.demo.baseline import dice


def test_dice_known_values():
    a = np.zeros((4, 4), bool)
    b = np.zeros((4, 4), bool)
    a[:2] = True
    b[1:3] = True
    assert dice(a, b) == 0.5
    assert math.isnan(dice(b & False, a & False))


def test_ct_baseline_is_far_from_perfect():
    scores = threshold_baseline("ct", num_cases=6, seed=0)
    assert 0.0 < scores["ventricles"] < 0.6, scores
    for name in ("haemorrhage", "EDH", "SDH", "IPH", "IVH"):
        if not math.isnan(scores[name]):
            assert scores[name] < 0.6, scores


def test_us_baseline_is_far_from_perfect():
    scores = threshold_baseline("us", num_cases=10, seed=0)
    assert 0.0 < scores["ventricles"] < 0.7 and scores["IVH"] < 0.4, scores


def test_threshold_dice_on_a_perfect_toy_case():
    hu = np.full((20, 20, 3), -1000, np.int16)
    hu[2:18, 2:18] = 1200  # skull
    hu[4:16, 4:16] = 30  # brain
    hu[5:8, 5:8, :] = 5
    hu[12:15, 12:15, :] = 70
    label = np.zeros(hu.shape, np.uint8)
    label[5:8, 5:8, :] = 1
    label[12:15, 12:15, :] = 4
    s = ct_threshold_dice(hu, label)
    assert s["ventricles"] == 1.0 and s["IPH"] == 1.0 and math.isnan(s["EDH"])
    img = np.full((40, 40), 100.0)
    img[5:35, 5:35] = 0.0
    lab = np.zeros((40, 40), np.uint8)
    lab[5:35, 5:35] = 1
    assert us_threshold_dice(img, lab, np.ones((40, 40), bool))["ventricles"] > 0.9
