"""Training through monai.bundle on tiny demo data: the loss falls, model.pt is a plain state_dict, resume works."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.bundle.helpers import CT_BUNDLE, TINY_CT_OVERRIDES, TINY_US_OVERRIDES, US_BUNDLE, run_workflow

LOSS_LOGGER = {"_target_": "MetricLogger", "loss_transform": "$monai.handlers.from_engine(['loss'], first=True)"}


def _epoch_losses(workflow, iterations_per_epoch):
    logger = workflow.parser.get_parsed_content("train#handlers")[-1]
    losses = np.array([value for _, value in logger.loss])
    return losses.reshape(-1, iterations_per_epoch).mean(axis=1)


def _train(bundle, datalist, root, overrides, epochs, **extra):
    handlers = run_handlers(bundle)
    return run_workflow(
        bundle,
        ["train.json"],
        run_id="training",
        bundle_root=str(root),
        datalist_file=str(datalist),
        max_epochs=epochs,
        val_interval=epochs,
        **{"train#handlers": handlers + [LOSS_LOGGER]},
        **overrides,
        **extra,
    )


def run_handlers(bundle):
    import json

    return json.loads((bundle / "configs" / "train.json").read_text())["train"]["handlers"]


def test_ct_training_lowers_loss_and_resumes(ct_demo, tmp_path):
    overrides = {**TINY_CT_OVERRIDES, "pixdim": [3.6, 3.6, 10.0], "learning_rate": 0.01, "num_samples": 2}
    workflow = _train(CT_BUNDLE, ct_demo, tmp_path, overrides, epochs=4)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    iterations = trainer.state.epoch_length
    losses = _epoch_losses(workflow, iterations)
    assert len(losses) == 4 and losses[-1] < losses[0] - 0.1, losses
    state = torch.load(tmp_path / "models" / "model.pt", weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())
    net = workflow.parser.get_parsed_content("network_def")
    net.load_state_dict(state)  # the best checkpoint is the network only, no "module." prefix
    assert list((tmp_path / "models").glob("checkpoint*.pt")), "full checkpoint for resuming"

    resumed = _train(CT_BUNDLE, ct_demo, tmp_path, overrides, epochs=5, resume=True)
    trainer = resumed.parser.get_parsed_content("train#trainer")
    assert trainer.state.epoch == 5 and trainer.state.iteration == 5 * iterations
    logger = resumed.parser.get_parsed_content("train#handlers")[-1]
    assert len(logger.loss) == iterations  # only the 5th epoch ran


def test_us_training_lowers_loss(us_demo, tmp_path):
    overrides = {**TINY_US_OVERRIDES, "learning_rate": 0.01, "batch_size": 2}
    workflow = _train(US_BUNDLE, us_demo, tmp_path, overrides, epochs=3)
    trainer = workflow.parser.get_parsed_content("train#trainer")
    losses = _epoch_losses(workflow, trainer.state.epoch_length)
    assert losses[-1] < losses[0] - 0.1, losses
    evaluator = workflow.parser.get_parsed_content("validate#evaluator")
    assert 0.0 <= evaluator.state.best_metric <= 1.0
    assert (tmp_path / "models" / "model.pt").is_file()


def test_resume_without_checkpoint_names_the_folder(tmp_path):
    from cranialseg.handlers import ResumeCheckpointLoader

    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        ResumeCheckpointLoader(True, tmp_path, {})
