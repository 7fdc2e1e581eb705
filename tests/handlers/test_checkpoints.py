"""Crash-safe checkpoints: a save that fails half-way keeps the previous files; bad resume files are named."""

from __future__ import annotations

import io
import os

import pytest
import torch
from ignite.engine import Engine, Events

from cranialseg.handlers import AtomicCheckpointSaver, AtomicDiskSaver, ResumeCheckpointLoader
from cranialseg.io import InputError

REAL_SAVE = torch.save


def half_write_then_fail(obj, f, **kwargs):
    """``torch.save`` that writes half of the checkpoint, then fails as a full disk or a kill would."""
    buffer = io.BytesIO()
    REAL_SAVE(obj, buffer, **kwargs)
    data = buffer.getvalue()
    stream = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
    stream.write(data[: len(data) // 2])
    stream.flush()
    raise OSError(28, "No space left on device")


def assert_no_temporary_files(folder):
    assert not [p.name for p in folder.iterdir() if p.name.startswith(".")], list(folder.iterdir())


def test_disk_saver_failing_half_way_keeps_the_old_file(tmp_path):
    saver = AtomicDiskSaver(tmp_path, filename="model.pt")
    saver({"w": torch.ones(100)}, "model.pt")
    saver.remove("model.pt")  # ignite asks for the removal first: a fixed name is replaced, never deleted
    with pytest.raises(OSError, match="No space"):
        saver._save_func({"w": torch.zeros(100)}, tmp_path / "model.pt", half_write_then_fail)
    assert torch.load(tmp_path / "model.pt", weights_only=True)["w"].sum() == 100
    assert_no_temporary_files(tmp_path)


def _run_until_failing_save(tmp_path, monkeypatch, fail_epoch):
    """A 3-epoch engine whose network and key metric improve each epoch; the save at ``fail_epoch`` fails."""
    net = torch.nn.Linear(4, 2)
    engine = Engine(lambda e, b: None)

    @engine.on(Events.EPOCH_COMPLETED)
    def _update(e):
        with torch.no_grad():
            net.weight.fill_(e.state.epoch)
        e.state.metrics = {"dice": 0.1 * e.state.epoch}
        if e.state.epoch == fail_epoch:
            monkeypatch.setattr(torch, "save", half_write_then_fail)

    saver = AtomicCheckpointSaver(
        str(tmp_path),
        {"network": net},
        file_prefix="checkpoint",
        save_key_metric=True,
        key_metric_name="dice",
        key_metric_filename="model.pt",
        save_interval=1,
        n_saved=1,
    )
    saver.attach(engine)
    if fail_epoch is None:
        engine.run([0], max_epochs=3)
    else:
        with pytest.raises(OSError, match="No space"):
            engine.run([0], max_epochs=3)
    monkeypatch.setattr(torch, "save", REAL_SAVE)


def test_checkpoint_saver_failing_half_way_keeps_the_previous_files(tmp_path, monkeypatch):
    _run_until_failing_save(tmp_path, monkeypatch, fail_epoch=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint_network_epoch=2.pt", "model.pt"]  # epoch 1 deleted once epoch 2 was complete
    for name in names:  # both complete, both the epoch-2 network
        state = torch.load(tmp_path / name, weights_only=True)
        assert torch.all(state["weight"] == 2)


def test_checkpoint_saver_keeps_one_interval_checkpoint(tmp_path, monkeypatch):
    _run_until_failing_save(tmp_path, monkeypatch, fail_epoch=None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_network_epoch=3.pt", "model.pt"]
    assert torch.all(torch.load(tmp_path / "model.pt", weights_only=True)["weight"] == 3)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", "half"])
def test_resume_from_a_bad_checkpoint_names_the_file(tmp_path, content):
    net = torch.nn.Linear(2, 2)
    if content == "half":
        buffer = io.BytesIO()
        torch.save({"network": net.state_dict()}, buffer)
        content = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    bad = tmp_path / "checkpoint_checkpoint_epoch=3.pt"
    bad.write_bytes(content)
    loader = ResumeCheckpointLoader(True, tmp_path, {"network": net})
    assert loader.path == bad
    engine = Engine(lambda e, b: None)
    loader.attach(engine)
    with pytest.raises(InputError) as err:
        engine.run([0], max_epochs=4)
    assert err.value.path == str(bad)
    assert "--resume" in str(err.value) and ("empty" in str(err.value) or "unreadable" in str(err.value))


def test_resume_names_an_earlier_checkpoint_to_use(tmp_path):
    net = torch.nn.Linear(2, 2)
    torch.save({"network": net.state_dict()}, tmp_path / "checkpoint_checkpoint_epoch=2.pt")
    (tmp_path / "checkpoint_checkpoint_epoch=3.pt").write_bytes(b"")
    loader = ResumeCheckpointLoader(str(tmp_path / "checkpoint_checkpoint_epoch=3.pt"), tmp_path, {"network": net})
    engine = Engine(lambda e, b: None)
    loader.attach(engine)
    with pytest.raises(InputError, match=r"epoch=3\.pt: empty checkpoint .*checkpoint_checkpoint_epoch=2\.pt"):
        engine.run([0], max_epochs=4)


@pytest.mark.parametrize(
    "name",
    [
        "cranialseg.handlers.checkpoints",
        "cranialseg.handlers.training_checkpoints",
        "cranialseg.data.screening",
        "cranialseg.io.label_check",
    ],
)
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0 and result.failed == 0
