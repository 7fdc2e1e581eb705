"""Resuming a bundle training keeps its best model: model.pt changes only when validation improves."""

from __future__ import annotations

import hashlib
import json

import torch

from tests.bundle.helpers import TINY_US_OVERRIDES, US_BUNDLE, run_workflow

VAL_LOGGER = {"_target_": "MetricLogger", "evaluator": "@validate#evaluator"}


def _train(datalist, root, epochs, **extra):
    handlers = json.loads((US_BUNDLE / "configs" / "train.json").read_text())["train"]["handlers"]
    handlers = [h for h in handlers if "ProgressBar" not in h["_target_"]]
    workflow = run_workflow(
        US_BUNDLE,
        ["train.json"],
        run_id="training",
        bundle_root=str(root),
        datalist_file=str(datalist),
        max_epochs=epochs,
        val_interval=1,
        batch_size=2,
        **{"train#handlers": handlers + [VAL_LOGGER]},
        **TINY_US_OVERRIDES,
        **extra,
    )
    evaluator = workflow.parser.get_parsed_content("validate#evaluator")
    values = [value for _, value in workflow.parser.get_parsed_content("train#handlers")[-1].metrics["val_mean_dice"]]
    return evaluator.state, values


def _digest(path):
    return path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()


def _first_two_epochs(us_demo, root):
    """Train 2 epochs into ``root``; the best metric, its epoch, the values and model.pt's digest."""
    models = root / "models"
    state, first = _train(us_demo, root, epochs=2)  # stopped after epoch 2 (its checkpoint is complete)
    best, best_epoch = state.best_metric, state.best_metric_epoch
    assert best == max(first) and best_epoch == 1 + first.index(best)
    assert sorted(p.name for p in models.iterdir()) == ["checkpoint_checkpoint_epoch=2.pt", "model.pt"]
    return best, best_epoch, first, _digest(models / "model.pt")


def test_resume_keeps_the_best_model_and_cleans_up(us_demo, tmp_path):
    best, best_epoch, first, saved = _first_two_epochs(us_demo, tmp_path)
    state, after = _train(us_demo, tmp_path, epochs=4, resume=True)
    assert len(after) == 2, (first, after)  # epochs 3 and 4 validated
    models = tmp_path / "models"
    if max(after) <= best:
        assert (state.best_metric, state.best_metric_epoch) == (best, best_epoch)  # tracking carried over
        assert _digest(models / "model.pt") == saved  # not rewritten
    else:
        assert state.best_metric == max(after) and state.best_metric_epoch == 3 + after.index(max(after))
        assert _digest(models / "model.pt") != saved
    # the checkpoint resumed from is gone once the newer one is complete
    assert sorted(p.name for p in models.iterdir()) == ["checkpoint_checkpoint_epoch=4.pt", "model.pt"]


def test_resume_never_replaces_a_better_model_with_a_worse_one(us_demo, tmp_path):
    """The case resuming must get right whatever the tiny run's values: the best before the resume (here set to a
    perfect Dice in the checkpoint, which no validation can beat) still holds after it, and model.pt stays."""
    best, best_epoch, first, saved = _first_two_epochs(us_demo, tmp_path)
    ckpt_path = tmp_path / "models" / "checkpoint_checkpoint_epoch=2.pt"
    ckpt = torch.load(ckpt_path, weights_only=False)
    assert ckpt["best_metric"] == {"best_metric": best, "best_metric_epoch": best_epoch}
    ckpt["best_metric"]["best_metric"] = 1.0
    torch.save(ckpt, ckpt_path)
    state, after = _train(us_demo, tmp_path, epochs=4, resume=True)
    assert len(after) == 2 and max(after) < 1.0, (first, after)
    assert (state.best_metric, state.best_metric_epoch) == (1.0, best_epoch)  # tracking carried over
    assert _digest(tmp_path / "models" / "model.pt") == saved  # not rewritten by a worse validation
