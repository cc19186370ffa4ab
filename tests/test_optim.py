"""Noam-scheduled Adam (glow_tts.commons.Adam) against torch's own Adam + LambdaLR."""

import copy

import pytest
import torch

from glow_tts.commons import Adam


def noam_factor(step, dim_model, warmup_steps):
    """The schedule written out independently of commons.Adam (step is 1-based)."""
    return dim_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


def small_model(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def batches(n, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 6, generator=g), torch.randn(8, 3, generator=g)) for _ in range(n)]


def train(model, opt, data, after_step=None):
    for x, y in data:
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        if after_step:
            after_step()


@pytest.mark.parametrize("scheduler", ["noam", "constant"])
def test_matches_torch_adam_with_lambdalr_bit_for_bit(scheduler):
    d, w, lr0 = 32, 50, 2.0
    data = batches(200)

    ours = small_model()
    opt = Adam(ours.parameters(), scheduler=scheduler, dim_model=d, warmup_steps=w, lr=lr0,
               betas=(0.9, 0.98), eps=1e-9)
    train(ours, opt, data)

    ref = small_model()
    # Our Adam takes torch's fused kernel on the CPU; the reference must too, or the last
    # bit of rounding differs (test_unfused_matches_plain_torch_adam covers the other path).
    assert opt.fused
    ref_opt = torch.optim.Adam(ref.parameters(), lr=lr0, betas=(0.9, 0.98), eps=1e-9, fused=True)
    if scheduler == "noam":
        factor = lambda epoch: noam_factor(epoch + 1, d, w)  # LambdaLR counts from 0
    else:
        factor = lambda epoch: 1.0
    sched = torch.optim.lr_scheduler.LambdaLR(ref_opt, factor)
    train(ref, ref_opt, data, after_step=sched.step)

    for (name, a), b in zip(ours.named_parameters(), ref.parameters()):
        assert torch.equal(a, b), name
    assert opt.get_lr() == ref_opt.param_groups[0]["lr"]
    # And training did move the parameters (the comparison is not between two copies of init).
    assert not torch.equal(next(small_model().parameters()), next(ours.parameters()))


def test_peak_value_and_position_for_the_original_config():
    opt = Adam([torch.nn.Parameter(torch.zeros(2))], scheduler="noam", dim_model=192,
               warmup_steps=4000)
    assert opt.get_lr() == pytest.approx(2.85e-7, rel=1e-3)  # s = 1
    rates = [opt.lr_at(s) for s in range(1, 12001)]
    peak = max(range(len(rates)), key=rates.__getitem__) + 1
    assert peak == 4000
    assert rates[peak - 1] == pytest.approx(1.141e-3, rel=1e-3)
    # Warm-up is linear, decay is 1/sqrt(s).
    assert opt.lr_at(2000) == pytest.approx(opt.lr_at(4000) / 2, rel=1e-12)
    assert opt.lr_at(16000) == pytest.approx(opt.lr_at(4000) / 2, rel=1e-12)


def test_step_advances_the_rate_used_by_the_next_update():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = Adam([p], scheduler="noam", dim_model=4, warmup_steps=10, lr=1.0)
    seen = []
    for _ in range(3):
        seen.append(opt.param_groups[0]["lr"])
        p.grad = torch.ones(1)
        opt.step()
    assert seen == [opt.lr_at(1), opt.lr_at(2), opt.lr_at(3)]
    assert opt.step_num == 4


def test_state_round_trip_restores_step_count_and_continues_identically():
    data = batches(30)
    model = small_model()
    opt = Adam(model.parameters(), "noam", 16, warmup_steps=10, lr=1.0)
    train(model, opt, data[:12])
    state = {"model": {k: v.clone() for k, v in model.state_dict().items()},
             "opt": copy.deepcopy(opt.state_dict())}  # torch returns live references
    train(model, opt, data[12:])

    resumed = small_model(seed=5)
    resumed.load_state_dict(state["model"])
    opt2 = Adam(resumed.parameters(), "noam", 16, warmup_steps=10, lr=1.0)
    assert opt2.step_num == 1
    opt2.load_state_dict(state["opt"])
    assert opt2.step_num == 13
    assert opt2.get_lr() == opt2.lr_at(13)
    train(resumed, opt2, data[12:])
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    assert opt2.step_num == opt.step_num == 31


def test_loads_the_originals_bare_adam_state_and_recovers_the_step():
    model = small_model()
    inner = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, inner, batches(7))
    opt = Adam(model.parameters(), "noam", 16, warmup_steps=10)
    opt.load_state_dict(inner.state_dict())
    assert opt.step_num == 8
    assert opt.get_lr() == opt.lr_at(8)
    with pytest.raises(ValueError, match="neither"):
        opt.load_state_dict({"foo": 1})


def test_unfused_matches_plain_torch_adam_bit_for_bit():
    """fused=False is the loop version: equal to torch's default Adam at a constant rate."""
    data = batches(50)
    ours = small_model()
    opt = Adam(ours.parameters(), "constant", 16, lr=1e-3, fused=False)
    train(ours, opt, data)
    ref = small_model()
    train(ref, torch.optim.Adam(ref.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9), data)
    for a, b in zip(ours.parameters(), ref.parameters()):
        assert torch.equal(a, b)


def test_fused_choice_survives_loading_an_unfused_state():
    """The original's checkpoints carry 'fused': None; resuming keeps our kernel choice."""
    model = small_model()
    inner = torch.optim.Adam(model.parameters(), lr=1e-3)
    train(model, inner, batches(3))
    assert inner.state_dict()["param_groups"][0]["fused"] in (None, False)
    opt = Adam(model.parameters(), "noam", 16, warmup_steps=10)
    opt.load_state_dict(inner.state_dict())
    assert opt.fused and opt._optim.param_groups[0]["fused"] is True
    train(model, opt, batches(2))   # and the fused kernel runs on the loaded moments


def test_fused_is_chosen_only_for_supported_tensors():
    assert Adam([torch.nn.Parameter(torch.zeros(2))], "noam", 4).fused
    assert Adam([{"params": [torch.nn.Parameter(torch.zeros(2))]}], "noam", 4).fused
    meta = torch.nn.Parameter(torch.zeros(2, device="meta"))
    assert not Adam([meta], "noam", 4).fused
