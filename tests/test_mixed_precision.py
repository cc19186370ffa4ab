"""The training loop's mixed-precision branch, run on the CPU.

``train.fp16_run`` selects it only on a GPU: bf16 autocast where the GPU has bf16 (no loss
scaling: bf16 has float32's exponent range), otherwise fp16 autocast with a
``GradScaler``. On the CPU the trainer refuses (it warns and trains in float32, see
tests/test_train.py), so no test reached that code. Both settings work on the CPU in
torch (``torch.autocast("cpu", dtype=...)``, ``torch.amp.GradScaler("cpu")``), so these
tests hand the real training loop the settings a GPU would get: they wrap the trainer's
``Run`` (the per-process state that holds ``amp_dtype`` and ``scaler``) so that the run
is created with them, and then call ``train_and_eval`` as every other test does. Only
the choice of dtype is substituted; autocast, the float32 losses, scale/unscale,
clipping, the skipped step and the scale update are the loop's own code.
"""

from __future__ import annotations

import pytest
import torch

from train_fixtures import build_micro_corpus, micro_hparams, train_recorded

from glow_tts import train as train_module
from glow_tts.models import build_model

STEPS = 2


@pytest.fixture(scope="module")
def filelists(tmp_path_factory):
    return build_micro_corpus(str(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # Module scope, so the float32 reference below runs with the same thread count as the
    # tests (another count sums in another order: different rounding, not bit-equal).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def hparams(tmp_path, name, filelists, steps=STEPS):
    # Dropout and the waveform noise off: runs that differ only in precision see the same
    # computation, so their losses differ by rounding alone.
    return micro_hparams(str(tmp_path / name), filelists, max_steps=steps, log_interval=1000,
                         model={"p_dropout": 0.0, "p_dropout_dec": 0.0},
                         data={"add_noise": False})


def train(hps) -> dict:
    """``train_and_eval(0, 1, hps)`` plus the per-step losses ``[[step, l_mle, l_length], ...]``."""
    return train_recorded(0, 1, hps)


@pytest.fixture
def with_precision(monkeypatch):
    """``with_precision(amp_dtype, scaler)``: the next run autocasts to ``amp_dtype`` and
    scales with ``scaler``; returns the list that receives the run's state object."""
    def install(amp_dtype, scaler):
        real_run, created = train_module.Run, []

        def run_with_precision(*args, **kwargs):
            run = real_run(*args, **kwargs)
            run.amp_dtype, run.scaler = amp_dtype, scaler
            created.append(run)
            return run
        monkeypatch.setattr(train_module, "Run", run_with_precision)
        return created
    return install


def initial_parameters(hps) -> dict:
    torch.manual_seed(hps.train.seed)   # as train_and_eval does before building the model
    model = build_model(hps)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def params_of(result) -> dict:
    return {k: v.detach().clone() for k, v in result["generator"].state_dict().items()}


@pytest.fixture(scope="module")
def float32_losses(one_thread, filelists, tmp_path_factory):
    hps = hparams(tmp_path_factory.mktemp("fp32"), "run", filelists)
    return torch.tensor([[m, d] for _, m, d in train(hps)["losses"]])


@pytest.mark.parametrize("amp_dtype", [torch.bfloat16, torch.float16])
def test_autocast_losses_are_finite_and_close_to_float32(filelists, tmp_path, float32_losses,
                                                         with_precision, amp_dtype):
    # bf16 as on a GPU that has it (scaler disabled, as the trainer builds it); fp16 with an
    # enabled scaler, as on one that has not. Growth every 2 good steps, so 2 steps double it.
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 8, growth_interval=2,
                                  enabled=amp_dtype == torch.float16)
    created = with_precision(amp_dtype, scaler)
    hps = hparams(tmp_path, "run", filelists)
    result = train(hps)
    assert len(created) == 1 and created[0].amp_dtype == amp_dtype
    losses = torch.tensor([[m, d] for _, m, d in result["losses"]])
    assert losses.shape == (STEPS, 2) and torch.isfinite(losses).all()
    # Same initial weights and batches as the float32 run: the losses differ by rounding
    # only (measured: bf16 up to 0.6%, fp16 up to 0.02%). bf16 keeps 8 significant bits, fp16 11.
    # Not equal either: autocast really ran the model in low precision.
    diff = (losses - float32_losses).abs()
    limit = 0.02 if amp_dtype == torch.bfloat16 else 0.002
    assert (diff <= limit * float32_losses.abs()).all(), (losses, float32_losses)
    assert (diff > 0).any(), "identical to float32: autocast did nothing"
    # The steps were applied: the parameters moved from the initial ones.
    init, trained = initial_parameters(hps), params_of(result)
    assert any(not torch.equal(init[k], trained[k]) for k in init)
    assert all(torch.isfinite(v).all() for v in trained.values())
    if scaler.is_enabled():
        assert scaler.get_scale() == 2.0 ** 9   # no inf in 2 steps: grown once, as documented


def test_an_inf_gradient_skips_the_step_and_halves_the_scale(filelists, tmp_path, with_precision):
    # A scale of 2^100 makes fp16's backward overflow (fp16 ends at 65504): the unscaled
    # loss is finite, so the loop goes on, but the gradients hold inf. The scaler must skip
    # the update although the loop clips the gradients (clamping inf to +-grad_clip) between
    # unscale_ and step, and multiply the scale by its backoff factor 0.5.
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 100)
    assert scaler.get_backoff_factor() == 0.5
    created = with_precision(torch.float16, scaler)
    hps = hparams(tmp_path, "run", filelists, steps=1)
    result = train(hps)
    assert len(created) == 1
    (step, l_mle, l_length), = result["losses"]
    assert step == 1 and torch.isfinite(torch.tensor([l_mle, l_length])).all()
    assert scaler.get_scale() == 2.0 ** 99
    init, trained = initial_parameters(hps), params_of(result)
    assert init.keys() == trained.keys()
    for key in init:
        assert torch.equal(init[key], trained[key]), f"{key} changed: the step was not skipped"
