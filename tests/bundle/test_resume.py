"""Resuming a bundle training keeps its best model: model.pt changes only when validation improves."""

from __future__ import annotations

import hashlib
import json

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


def test_resume_keeps_the_best_model_and_cleans_up(us_demo, tmp_path):
    models = tmp_path / "models"
    state, first = _train(us_demo, tmp_path, epochs=2)  # stopped after epoch 2 (its checkpoint is complete)
    best, best_epoch = state.best_metric, state.best_metric_epoch
    assert best == max(first) and best_epoch == 1 + first.index(best)
    saved = _digest(models / "model.pt")
    assert sorted(p.name for p in models.iterdir()) == ["checkpoint_checkpoint_epoch=2.pt", "model.pt"]

    state, after = _train(us_demo, tmp_path, epochs=4, resume=True)
    assert len(after) == 2  # epochs 3 and 4 validated
    # the case this test is about: the first validation after the resume is no better than the best before it
    assert after[0] <= best, (first, after)
    if max(after) <= best:
        assert (state.best_metric, state.best_metric_epoch) == (best, best_epoch)  # tracking carried over
        assert _digest(models / "model.pt") == saved  # not rewritten
    else:
        assert state.best_metric == max(after) and state.best_metric_epoch == 3 + after.index(max(after))
        assert _digest(models / "model.pt") != saved
    # the checkpoint resumed from is gone once the newer one is complete
    assert sorted(p.name for p in models.iterdir()) == ["checkpoint_checkpoint_epoch=4.pt", "model.pt"]
