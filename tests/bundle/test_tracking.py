"""``--tracking mlflow``: MONAI's MLflow handlers record the training loss, the validation Dice and the config."""

from __future__ import annotations

import pytest

from tests.bundle.helpers import TINY_US_OVERRIDES, US_BUNDLE, run_workflow


def test_mlflow_tracking_records_loss_dice_and_config(us_demo, tmp_path):
    mlflow = pytest.importorskip("mlflow", reason="mlflow is an optional extra (pip install .[mlflow])")
    workflow = run_workflow(
        US_BUNDLE,
        ["train.json"],
        run_id="training",
        tracking="mlflow",
        bundle_root=str(tmp_path),
        datalist_file=str(us_demo),
        max_epochs=2,
        val_interval=1,
        batch_size=2,
        **TINY_US_OVERRIDES,
    )
    iterations = workflow.parser.get_parsed_content("train#trainer").state.epoch_length
    uri = workflow.parser.get_parsed_content("tracking_uri")
    assert uri.startswith("sqlite:") and uri.endswith("/eval/mlruns.db")  # MONAI's default, under output_dir
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("monai_experiment")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run_id = runs[0].info.run_id
    losses = client.get_metric_history(run_id, "train_loss")
    assert len(losses) == 2 * iterations and all(m.value > 0 for m in losses)
    dice = client.get_metric_history(run_id, "val_mean_dice")
    assert len(dice) == 2 and all(0.0 <= m.value <= 1.0 for m in dice)
    artifacts = [a.path for a in client.list_artifacts(run_id)]
    assert len(artifacts) == 1 and artifacts[0].startswith("config_") and artifacts[0].endswith(".json"), artifacts
    assert (tmp_path / "eval" / "mlruns.db").is_file()  # output_dir defaults to <bundle_root>/eval
