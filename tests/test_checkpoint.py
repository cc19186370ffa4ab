"""Checkpoints: round trips, the original's key layout, errors that name the file,
refusal of arbitrary pickles, ordering by step, and atomic saves."""

import logging
import os
import random

import pytest
import torch
from torch import nn

from glow_tts import checkpoint as ckpt
from glow_tts.checkpoint import (CheckpointError, latest_checkpoint_path, load_checkpoint,
                                 load_checkpoint_dict, save_checkpoint)
from glow_tts.commons import Adam
from glow_tts.models import FlowGenerator

SMALL = dict(n_vocab=12, hidden_channels=16, filter_channels=32, filter_channels_dp=16,
             out_channels=8, kernel_size=3, n_heads=2, n_layers_enc=1, p_dropout=0.1,
             n_blocks_dec=2, kernel_size_dec=5, dilation_rate=1, n_block_layers=2,
             p_dropout_dec=0.05, n_sqz=2, window_size=4, prenet=True, mean_only=True)


def make_model(seed):
    torch.manual_seed(seed)
    model = FlowGenerator(**SMALL)
    with torch.no_grad():  # move every tensor off its init value (zero-init layers too)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def make_optimizer(model):
    return Adam(model.parameters(), scheduler="noam", dim_model=16, warmup_steps=10)


def take_steps(model, optimizer, n=2):
    for _ in range(n):
        optimizer.zero_grad()
        sum((p ** 2).sum() for p in model.parameters()).backward()
        optimizer.step()


def to_original_layout(state_dict):
    """Our keys -> the original's (weight_g / weight_v), written independently of the code."""
    renamed = {}
    for key, value in state_dict.items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g")
        key = key.replace(".parametrizations.weight.original1", ".weight_v")
        renamed[key] = value
    return renamed


def assert_same_parameters(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


def test_round_trip_restores_model_optimizer_and_extras(tmp_path):
    model, other = make_model(0), make_model(1)
    optimizer = make_optimizer(model)
    take_steps(model, optimizer)
    path = tmp_path / "G_7.pth"
    rng = torch.get_rng_state()
    save_checkpoint(model, optimizer, 1.0, 7, str(path), epoch=3, rng={"torch": rng},
                    note="plain")

    other_optimizer = make_optimizer(other)
    assert not torch.equal(model.state_dict()["encoder.emb.weight"],
                           other.state_dict()["encoder.emb.weight"])
    _, returned_opt, lr, iteration = load_checkpoint(str(path), other, other_optimizer)
    assert (lr, iteration, returned_opt) == (1.0, 7, other_optimizer)
    assert_same_parameters(model, other)
    assert other_optimizer.step_num == optimizer.step_num == 3
    assert other_optimizer.get_lr() == pytest.approx(optimizer.get_lr())
    saved_moments = optimizer.state_dict()["optim"]["state"]
    loaded_moments = other_optimizer.state_dict()["optim"]["state"]
    for i in saved_moments:
        assert torch.equal(saved_moments[i]["exp_avg"], loaded_moments[i]["exp_avg"])

    raw = load_checkpoint_dict(str(path))
    assert raw["epoch"] == 3 and raw["note"] == "plain"
    assert torch.equal(raw["rng"]["torch"], rng)
    # The file loads with weights_only=True directly, too.
    assert set(torch.load(path, weights_only=True)) >= {"model", "iteration", "optimizer",
                                                        "learning_rate"}


def test_ddp_wrapper_is_unwrapped_on_save_and_load(tmp_path):
    class Wrapper(nn.Module):  # what DistributedDataParallel looks like from here
        def __init__(self, module):
            super().__init__()
            self.module = module

    model, other = make_model(0), make_model(1)
    path = str(tmp_path / "G_1.pth")
    save_checkpoint(Wrapper(model), None, 1.0, 1, path)
    assert not any(k.startswith("module.") for k in torch.load(path, weights_only=True)["model"])
    load_checkpoint(path, Wrapper(other))
    assert_same_parameters(model, other)


def test_original_layout_loads_to_identical_parameters_and_outputs(tmp_path):
    model, other = make_model(0), make_model(1)
    original_state = to_original_layout(model.state_dict())
    assert any(k.endswith(".weight_g") for k in original_state)   # weight norm is exercised
    assert any(k.endswith(".weight_v") for k in original_state)
    plain_adam = torch.optim.Adam(model.parameters(), lr=1e-3)      # the original saved this
    path = str(tmp_path / "G_100.pth")
    torch.save({"model": original_state, "iteration": 100, "optimizer": plain_adam.state_dict(),
                "learning_rate": 1.0}, path)

    _, _, lr, iteration = load_checkpoint(path, other)
    assert (lr, iteration) == (1.0, 100)
    assert_same_parameters(model, other)

    # The raw dict is converted too, so a strict load_state_dict works with it.
    fresh = make_model(2)
    fresh.load_state_dict(load_checkpoint_dict(path)["model"])
    assert_same_parameters(model, fresh)

    model.eval(), other.eval()
    x = torch.randint(1, SMALL["n_vocab"], (2, 7))
    x_lengths = torch.tensor([7, 5])
    y = torch.randn(2, SMALL["out_channels"], 20)
    y_lengths = torch.tensor([20, 16])
    with torch.no_grad():
        expected = model(x, x_lengths, y, y_lengths)[0][0]
        got = other(x, x_lengths, y, y_lengths)[0][0]
    assert torch.equal(expected, got)


def test_missing_keys_keep_their_values_and_are_reported_in_one_warning(tmp_path, caplog):
    model, other = make_model(0), make_model(1)
    state = model.state_dict()
    dropped = ["encoder.emb.weight", "encoder.proj_m.bias"]
    for key in dropped:
        del state[key]
    path = str(tmp_path / "G_2.pth")
    torch.save({"model": state, "iteration": 2}, path)
    kept = {k: other.state_dict()[k].clone() for k in dropped}
    with caplog.at_level(logging.WARNING, logger="glow_tts.checkpoint"):
        _, _, lr, iteration = load_checkpoint(path, other)
    assert (lr, iteration) == (None, 2)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and all(k in warnings[0].getMessage() for k in dropped)
    for key in dropped:
        assert torch.equal(other.state_dict()[key], kept[key])
    assert torch.equal(other.state_dict()["encoder.proj_m.weight"],
                       model.state_dict()["encoder.proj_m.weight"])


def test_shape_mismatch_names_the_key_and_both_shapes(tmp_path):
    model = make_model(0)
    state = model.state_dict()
    state["encoder.emb.weight"] = torch.zeros(99, 16)
    path = str(tmp_path / "G_3.pth")
    torch.save({"model": state}, path)
    with pytest.raises(ValueError, match=r"encoder\.emb\.weight.*\(99, 16\).*\(12, 16\)"):
        load_checkpoint(path, make_model(1))


def test_truncated_and_garbage_files_are_clear_errors_naming_the_file(tmp_path):
    path = tmp_path / "G_4.pth"
    save_checkpoint(make_model(0), None, 1.0, 4, str(path))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"G_4\.pth.*truncated or corrupted"):
        load_checkpoint(str(path), make_model(1))

    garbage = tmp_path / "G_5.pth"
    garbage.write_bytes(random.Random(0).randbytes(2000))
    with pytest.raises(CheckpointError, match=r"G_5\.pth.*truncated or corrupted"):
        load_checkpoint_dict(str(garbage))

    with pytest.raises(FileNotFoundError, match="G_6.pth"):
        load_checkpoint_dict(str(tmp_path / "G_6.pth"))

    not_ours = tmp_path / "G_7.pth"
    torch.save([torch.zeros(1)], not_ours)
    with pytest.raises(CheckpointError, match=r"G_7\.pth.*not a Glow-TTS checkpoint"):
        load_checkpoint_dict(str(not_ours))


SIDE_EFFECTS = []


def _record_side_effect(tag):
    SIDE_EFFECTS.append(tag)
    return tag


class Payload:
    """Unpickling this calls a function: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (_record_side_effect, ("ran",))


def test_pickled_objects_are_refused_without_running_them(tmp_path):
    path = tmp_path / "G_8.pth"
    torch.save({"model": {}, "surprise": Payload()}, path)
    SIDE_EFFECTS.clear()
    with pytest.raises(CheckpointError, match=r"G_8\.pth.*refused"):
        load_checkpoint_dict(str(path))
    assert SIDE_EFFECTS == []


def test_save_refuses_values_weights_only_loading_would_refuse(tmp_path):
    import numpy as np
    path = tmp_path / "G_9.pth"
    with pytest.raises(TypeError, match=r"checkpoint\['state'\]\[1\] is a numpy.ndarray"):
        save_checkpoint(make_model(0), None, 1.0, 9, str(path), state=[1, np.zeros(3)])
    assert os.listdir(tmp_path) == []


def test_latest_checkpoint_path_orders_by_the_step_in_the_file_name(tmp_path):
    run = tmp_path / "run2"
    run.mkdir()
    assert latest_checkpoint_path(str(run)) is None
    for step in (5, 99, 100, 30):
        (run / f"G_{step}.pth").write_bytes(b"")
    (run / "ddi_G.pth").write_bytes(b"")
    (run / ".G_5000.pth.x1y2.tmp").write_bytes(b"")   # a save in progress: not a checkpoint
    assert latest_checkpoint_path(str(run)) == str(run / "G_100.pth")

    # A kept copy with another digit in its name: the original read G_1000_v2 as 10002.
    (run / "G_1000_v2.pth").write_bytes(b"")
    (run / "G_2000.pth").write_bytes(b"")
    assert latest_checkpoint_path(str(run)) == str(run / "G_2000.pth")
    assert ckpt.checkpoint_step(str(run / "G_1000_v2.pth")) == 1000
    assert latest_checkpoint_path(str(run), "ddi_G*.pth") == str(run / "ddi_G.pth")


def test_a_failing_save_leaves_the_previous_file_intact_and_no_temporary_file(tmp_path,
                                                                              monkeypatch):
    model = make_model(0)
    path = tmp_path / "G_10.pth"
    save_checkpoint(model, None, 1.0, 10, str(path))
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")   # some bytes reach the disk, then it fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt.torch, "save", broken_save)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(make_model(1), None, 1.0, 11, str(path))
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["G_10.pth"]
    assert path.read_bytes() == before
    assert load_checkpoint_dict(str(path))["iteration"] == 10


def test_original_checkpoints_with_numpy_scalars_load_but_numpy_arrays_do_not(tmp_path):
    # The original's Noam schedule computed the rate with np.power, so its saved optimizer
    # state holds np.float64 values; such files must load (as Python floats).
    import numpy as np
    model, other = make_model(0), make_model(1)
    adam = torch.optim.Adam(model.parameters(), lr=1e-3)
    adam.param_groups[0]["lr"] = np.float64(2.85e-7)
    state = {"model": to_original_layout(model.state_dict()), "iteration": np.int64(3),
             "optimizer": adam.state_dict(), "learning_rate": 1.0}
    path = tmp_path / "G_3.pth"
    torch.save(state, path)
    raw = load_checkpoint_dict(str(path))
    lr = raw["optimizer"]["param_groups"][0]["lr"]
    assert type(lr) is float and lr == 2.85e-7 and type(raw["iteration"]) is int
    load_checkpoint(str(path), other)
    assert_same_parameters(model, other)

    # NumPy 1.x wrote the helper as numpy.core.multiarray.scalar: the same file, renamed.
    legacy = tmp_path / "G_4.pth"
    torch.save(state, legacy, _use_new_zipfile_serialization=False)
    data = legacy.read_bytes()
    assert b"numpy._core.multiarray" in data
    legacy.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert load_checkpoint_dict(str(legacy))["iteration"] == 3

    arrays = tmp_path / "G_5.pth"
    torch.save({"model": {}, "extra": np.zeros(3)}, arrays)
    with pytest.raises(CheckpointError, match=r"G_5\.pth.*refused"):
        load_checkpoint_dict(str(arrays))


# --- One clear line from every command -----------------------------------------------------

def test_a_checkpoint_that_does_not_fit_is_one_line_naming_the_file_and_the_first_keys(tmp_path):
    model = make_model(0)
    other = FlowGenerator(**{**SMALL, "hidden_channels": 24, "n_vocab": 20})
    path = str(tmp_path / "G_3.pth")
    save_checkpoint(other, None, 1.0, 3, path)
    with pytest.raises(ckpt.CheckpointMismatchError) as info:
        load_checkpoint(path, model, strict=True)
    message = str(info.value)
    assert "\n" not in message and "G_3.pth" in message
    assert "encoder.emb.weight (20, 24) vs the model's (12, 16)" in message
    assert "config" in message and "-m" in message   # says what to do

    # strict: a missing key is refused too (the original's lenient load keeps it)
    state = model.state_dict()
    del state["encoder.proj_m.bias"]
    torch.save({"model": state}, path)
    with pytest.raises(ckpt.CheckpointMismatchError, match=r"1 model keys are missing \(first: encoder\.proj_m\.bias\)"):
        load_checkpoint(path, make_model(1), strict=True)


def test_damaged_checkpoints_raise_without_a_chained_traceback(tmp_path):
    path = tmp_path / "G_4.pth"
    path.write_bytes(random.Random(1).randbytes(3000))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint_dict(str(path))
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert "\n" not in str(info.value)


def test_run_lock_names_the_holder_and_takes_over_a_stale_one(tmp_path):
    import socket
    import subprocess
    import sys
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (run / ".lock").write_text(f"{holder.pid} {socket.gethostname()}")
        with pytest.raises(ckpt.RunLockedError) as info:
            with ckpt.RunLock(str(run)):
                pass
        assert f"process {holder.pid} on host {socket.gethostname()}" in str(info.value)
        assert (run / ".lock").read_text() == f"{holder.pid} {socket.gethostname()}"
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (killed): its lock is stale and taken over, then released.
    with ckpt.RunLock(str(run)):
        assert (run / ".lock").read_text() == f"{os.getpid()} {socket.gethostname()}"
        with ckpt.RunLock(str(run)):          # re-entering from the holder is allowed
            pass
        assert (run / ".lock").exists()
    assert not (run / ".lock").exists()


def test_stale_temporaries_are_removed_and_checkpoints_kept(tmp_path):
    save_checkpoint(make_model(0), None, 1.0, 1, str(tmp_path / "G_1.pth"))
    (tmp_path / ".G_2.pth.k3j4.tmp").write_bytes(b"half")
    (tmp_path / "notes.tmp").write_bytes(b"not ours")
    removed = ckpt.remove_stale_temporaries(str(tmp_path))
    assert [os.path.basename(p) for p in removed] == [".G_2.pth.k3j4.tmp"]
    assert sorted(os.listdir(tmp_path)) == ["G_1.pth", "notes.tmp"]


def test_pruning_keeps_the_newest_and_copies_the_user_made(tmp_path):
    for step in (1, 2, 3, 10):
        (tmp_path / f"G_{step}.pth").write_bytes(b"")
    (tmp_path / "G_2_best.pth").write_bytes(b"")
    deleted = ckpt.prune_checkpoints(str(tmp_path), 2)
    assert sorted(os.path.basename(p) for p in deleted) == ["G_1.pth", "G_2.pth"]
    assert sorted(os.listdir(tmp_path)) == ["G_10.pth", "G_2_best.pth", "G_3.pth"]
    assert ckpt.prune_checkpoints(str(tmp_path), 0) == []
