"""glow_tts.fast.enable: what it switches (every dropout, the model's alignment kernel) and
what it must leave alone (parameters, train/eval behaviour, outputs, other models)."""

import copy
from pathlib import Path

import pytest
import torch
from torch import nn

from glow_tts import fast, monotonic_align
from glow_tts.fast import mas
from glow_tts.fast.dropout import GeometricDropout
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator, FlowGenerator_DDI, build_model

N_VOCAB = 20
SMALL = dict(hidden_channels=16, filter_channels=32, filter_channels_dp=32, out_channels=8,
             n_blocks_dec=2, n_layers_enc=2, n_heads=2, n_block_layers=2, n_sqz=2,
             p_dropout=0.1, p_dropout_dec=0.05, prenet=True, window_size=4)


def small_model(cls=FlowGenerator, seed=0, **overrides):
    torch.manual_seed(seed)
    model = cls(N_VOCAB, **dict(SMALL, **overrides))
    with torch.no_grad():   # non-trivial couplings and prenet (their last layers start at 0)
        for name, p in model.named_parameters():
            if name.endswith(("end.weight", "end.bias", "pre.proj.weight")):
                p.normal_(0, 0.05)
    return model


def batch(seed=1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(1, N_VOCAB, (3, 7), generator=gen)
    x_lengths = torch.tensor([7, 5, 3])
    y = torch.randn(3, 8, 30, generator=gen)
    y_lengths = torch.tensor([30, 22, 12])
    return x, x_lengths, y, y_lengths


class CountingKernel:
    def __init__(self):
        self.calls = 0

    def __call__(self, value, mask):
        self.calls += 1
        return FAST_KERNEL(value, mask)


FAST_KERNEL = mas.maximum_path


@pytest.fixture
def counted_fast_kernel(monkeypatch):
    counter = CountingKernel()
    monkeypatch.setattr(mas, "maximum_path", counter)
    return counter


def test_enable_swaps_every_dropout_keeps_p_and_is_idempotent():
    model = small_model()
    before = [(name, m.p) for name, m in model.named_modules() if isinstance(m, nn.Dropout)]
    # every dropout of the model: prenet (in a Sequential), attention, FFN, encoder, duration
    # predictor, the WN stacks of the decoder
    assert len(before) >= 8 and all(type(m) is nn.Dropout for m in model.modules()
                                    if isinstance(m, nn.Dropout))
    state_before = {k: v.clone() for k, v in model.state_dict().items()}

    assert fast.enable(model) is model and fast.is_enabled(model)
    after = [(name, m.p) for name, m in model.named_modules() if isinstance(m, nn.Dropout)]
    assert after == before                                   # same places, same rates
    assert all(type(m) is GeometricDropout for m in model.modules() if isinstance(m, nn.Dropout))
    assert model.state_dict().keys() == state_before.keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state_before.items())

    hooks = (len(model._forward_pre_hooks), len(model._forward_hooks))
    fast.enable(model)
    assert (len(model._forward_pre_hooks), len(model._forward_hooks)) == hooks == (1, 1)


def test_swapped_dropouts_follow_train_and_eval():
    model = fast.enable(small_model().eval())
    drops = [m for m in model.modules() if isinstance(m, GeometricDropout)]
    assert drops and not any(m.training for m in drops)
    model.train()
    assert all(m.training for m in drops)


def test_the_fast_kernel_runs_only_inside_this_models_forward(counted_fast_kernel):
    plain, quick = small_model(), fast.enable(small_model())
    x, x_lengths, y, y_lengths = batch()
    plain(x, x_lengths, y, y_lengths)
    assert counted_fast_kernel.calls == 0
    quick(x, x_lengths, y, y_lengths)
    assert counted_fast_kernel.calls == 1
    plain(x, x_lengths, y, y_lengths)                        # the block closed after forward
    value, mask = torch.randn(1, 3, 5), torch.ones(1, 3, 5)
    monotonic_align.maximum_path(value, mask)
    assert counted_fast_kernel.calls == 1


def test_an_exception_in_forward_closes_the_fast_block(counted_fast_kernel):
    quick = fast.enable(small_model())
    x, x_lengths, y, _ = batch()
    with pytest.raises(ValueError, match="needs the mel"):
        quick(x, x_lengths)                                  # gen=False without a mel
    monotonic_align.maximum_path(torch.randn(1, 2, 4), torch.ones(1, 2, 4))
    assert counted_fast_kernel.calls == 0


@pytest.mark.parametrize("cls", [FlowGenerator, FlowGenerator_DDI])
def test_outputs_are_unchanged_in_eval_mode_and_without_dropout(cls):
    """Dropout aside, fast changes nothing: eval-mode outputs (training and generation
    branches) and train-mode outputs at p = 0 are bit-identical, gradients too."""
    x, x_lengths, y, y_lengths = batch()
    no_dropout = dict(p_dropout=0.0, p_dropout_dec=0.0, prenet=False)  # the prenet's p is fixed at 0.5
    for overrides, mode in [({}, "eval"), (no_dropout, "train")]:
        plain = small_model(cls, **overrides).train(mode == "train")
        quick = fast.enable(copy.deepcopy(plain))
        a = plain(x, x_lengths, y, y_lengths)
        b = quick(x, x_lengths, y, y_lengths)
        for left, right in zip(torch.utils._pytree.tree_leaves(a), torch.utils._pytree.tree_leaves(b)):
            assert torch.equal(left, right), mode
        a[0][0].square().sum().backward()
        b[0][0].square().sum().backward()
        for (name, p), q in zip(plain.named_parameters(), quick.parameters()):
            assert (p.grad is None) == (q.grad is None) and (p.grad is None or torch.equal(p.grad, q.grad)), name
        with torch.no_grad():
            gen_a = plain.eval()(x, x_lengths, gen=True, noise_scale=0.0)
            gen_b = quick.eval()(x, x_lengths, gen=True, noise_scale=0.0)
        assert torch.equal(gen_a[0][0], gen_b[0][0])


def test_train_mode_still_drops_out_at_the_configured_rate():
    model = fast.enable(small_model()).train()
    x, x_lengths, y, y_lengths = batch()
    torch.manual_seed(0)
    first = model.encoder(x, x_lengths)[0]
    second = model.encoder(x, x_lengths)[0]
    assert not torch.equal(first, second)                   # dropout is on in train mode
    model.eval()
    assert torch.equal(model.encoder(x, x_lengths)[0], model.encoder(x, x_lengths)[0])


@pytest.mark.parametrize("switch", [True, False])
def test_build_model_switches_fast_on_exactly_when_the_config_says_so(switch):
    hps = get_hparams_from_file(str(Path(__file__).resolve().parents[1] / "configs" / "tiny.json"))
    assert hps.train.fast is True                            # the default
    hps.train.fast = switch
    for cls in (FlowGenerator, FlowGenerator_DDI):
        model = build_model(hps, cls)
        drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
        assert drops and fast.is_enabled(model) is switch
        assert all((type(m) is GeometricDropout) is switch for m in drops)
