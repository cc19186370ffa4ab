"""FlowGenerator as a whole: size, losses, padding, training signal, inference, and loading
state dicts in the original's key layout."""

import json
import math
from pathlib import Path

import pytest
import torch

from glow_tts import commons
from glow_tts.checkpoint import CheckpointMismatchError, load_weights
from glow_tts.models import (FlowGenerator, convert_original_state_dict,
                             to_original_state_dict)

ROOT = Path(__file__).resolve().parents[1]
N_VOCAB = 30
# A small model that still has every part: prenet, relative attention, squeeze, speakers,
# a learned log-std (mean_only=False), dropout.
TINY = dict(hidden_channels=32, filter_channels=64, filter_channels_dp=32, kernel_size=3, p_dropout=0.1,
            n_blocks_dec=2, n_layers_enc=2, n_heads=2, p_dropout_dec=0.05, dilation_rate=2,
            kernel_size_dec=5, n_block_layers=2, n_sqz=2, prenet=True, mean_only=False, window_size=4,
            n_speakers=3, gin_channels=8)


def tiny_model(seed=0, **overrides):
    torch.manual_seed(seed)
    return FlowGenerator(N_VOCAB, out_channels=12, **dict(TINY, **overrides))


def perturb_(model, scale=0.05, seed=0):
    """Make the zero-initialised layers (coupling ends, prenet projection) non-trivial."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)
    return model


def make_batch(x_lengths=(9, 6), y_lengths=(31, 20), mel_channels=12, seed=1):
    gen = torch.Generator().manual_seed(seed)
    x_lengths, y_lengths = torch.tensor(x_lengths), torch.tensor(y_lengths)
    x = torch.randint(1, N_VOCAB, (len(x_lengths), int(x_lengths.max())), generator=gen)
    x = x * commons.sequence_mask(x_lengths)
    y = torch.randn(len(y_lengths), mel_channels, int(y_lengths.max()), generator=gen)
    y = y * commons.sequence_mask(y_lengths).unsqueeze(1)
    return x, x_lengths, y, y_lengths


def test_parameter_count_of_the_base_config():
    config = json.loads((ROOT / "configs" / "base.json").read_text())["model"]
    for n_vocab in (148, 73):
        model = FlowGenerator(n_vocab, out_channels=80, **config)
        # original0 holds weight_g's shape, so this counts the weight-norm magnitudes too.
        assert sum(p.numel() for p in model.parameters()) == 28_595_473 + 192 * n_vocab


def test_mle_loss_equals_gaussian_nll_from_the_definition():
    gen = torch.Generator().manual_seed(0)
    b, c, t = 2, 3, 5
    lengths = torch.tensor([5, 3])
    mask = commons.sequence_mask(lengths, t).unsqueeze(1).double()
    z = torch.randn(b, c, t, generator=gen, dtype=torch.float64) * mask
    m = torch.randn(b, c, t, generator=gen, dtype=torch.float64) * mask
    logs = torch.randn(b, c, t, generator=gen, dtype=torch.float64) * 0.3 * mask
    logdet = torch.tensor([1.7, -0.4], dtype=torch.float64)
    # -log N(z; m, s^2) = log s + (z - m)^2 / (2 s^2) + log(2 pi) / 2, summed over the valid
    # values, minus the log-determinants, divided by the number of valid values.
    total, count = 0.0, 0
    for i in range(b):
        for ch in range(c):
            for f in range(int(lengths[i])):
                s = math.exp(logs[i, ch, f].item())
                total += math.log(s) + (z[i, ch, f].item() - m[i, ch, f].item()) ** 2 / (2 * s * s)
                total += 0.5 * math.log(2 * math.pi)
                count += 1
    expected = (total - logdet.sum().item()) / count
    assert count == 24
    assert abs(commons.mle_loss(z, m, logs, logdet, mask).item() - expected) < 1e-12


def test_duration_loss_is_mean_squared_error_over_valid_tokens():
    logw = torch.tensor([[[1.0, 2.0, 0.0]], [[0.5, 0.0, 0.0]]])
    logw_ = torch.tensor([[[0.0, 2.5, 0.0]], [[1.5, 0.0, 0.0]]])
    loss = commons.duration_loss(logw, logw_, torch.tensor([2, 1]))
    assert loss.item() == pytest.approx((1.0 + 0.25 + 1.0) / 3)


def test_clip_grad_value_returns_the_norm_before_clipping():
    a = torch.nn.Parameter(torch.zeros(3))
    b = torch.nn.Parameter(torch.zeros(2, 2))
    unused = torch.nn.Parameter(torch.zeros(1))  # no grad: skipped
    a.grad = torch.tensor([3.0, -12.0, 0.5])
    b.grad = torch.tensor([[4.0, 0.0], [0.0, -1.0]])
    norm = commons.clip_grad_value_([a, b, unused], 5)
    expected = math.sqrt(9 + 144 + 0.25 + 16 + 1)
    assert float(norm) == pytest.approx(expected)
    assert a.grad.tolist() == [3.0, -5.0, 0.5] and b.grad.tolist() == [[4.0, 0.0], [0.0, -1.0]]
    a.grad = torch.tensor([3.0, -12.0, 0.5])
    assert float(commons.clip_grad_value_(a, None, norm_type=1)) == pytest.approx(15.5)
    assert a.grad[1].item() == -12.0  # None: measure only


@pytest.mark.parametrize("gen", [False, True], ids=["train-path", "generate"])
def test_padding_does_not_leak(gen):
    """Item 1 alone (padded to its own lengths) vs the same item inside a batch whose other
    item is longer: the valid part of every output must be the same."""
    model = perturb_(tiny_model()).eval()
    x, x_lengths, y, y_lengths = make_batch()
    g = torch.tensor([2, 1])
    t_x, t_y = int(x_lengths[1]), int(y_lengths[1])
    with torch.no_grad():
        if gen:
            batch_out = model(x, x_lengths, g=g, gen=True, noise_scale=0.0)
            alone_out = model(x[1:, :t_x], x_lengths[1:], g=g[1:], gen=True, noise_scale=0.0)
        else:
            batch_out = model(x, x_lengths, y, y_lengths, g=g)
            alone_out = model(x[1:, :t_x], x_lengths[1:], y[1:, :, :t_y], y_lengths[1:], g=g[1:])
    (z_b, zm_b, zl_b, logdet_b, zmask_b), (xm_b, xl_b, _), (attn_b, logw_b, logw__b) = batch_out
    (z_a, zm_a, zl_a, logdet_a, zmask_a), (xm_a, xl_a, _), (attn_a, logw_a, logw__a) = alone_out
    frames = int(zmask_a.sum())
    assert frames > 0 and int(zmask_b[1].sum()) == frames
    close = dict(atol=2e-5, rtol=0)
    for batched, alone in [(z_b, z_a), (zm_b, zm_a), (zl_b, zl_a)]:
        torch.testing.assert_close(batched[1:, :, :frames], alone[:, :, :frames], **close)
        assert torch.all(batched[1:, :, frames:] == 0)
    for batched, alone in [(xm_b, xm_a), (xl_b, xl_a), (logw_b, logw_a), (logw__b, logw__a)]:
        torch.testing.assert_close(batched[1:, :, :t_x], alone, **close)
    assert torch.equal(attn_b[1:, :, :t_x, :frames], attn_a[:, :, :, :frames])
    if not gen:
        torch.testing.assert_close(logdet_b[1:], logdet_a, atol=1e-3, rtol=1e-6)


def training_loss(model, batch, g):
    x, x_lengths, y, y_lengths = batch
    (z, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(x, x_lengths, y, y_lengths, g=g)
    return commons.mle_loss(z, z_m, z_logs, logdet, z_mask) + commons.duration_loss(logw, logw_, x_lengths)


def test_training_reaches_every_parameter():
    """A fresh model: the layers behind a zero-initialised output (each coupling's ``start``
    and WN stack, the prenet's convolutions) get exactly zero gradient at first - by design,
    every coupling starts as the identity. One optimizer step makes the zero layers
    non-zero; from then on every parameter gets a gradient, and five steps change them all."""
    model = tiny_model().train()
    batch, g = make_batch(), torch.tensor([0, 2])
    optimizer = commons.Adam(model.parameters(), scheduler="noam", dim_model=32, warmup_steps=5, lr=1.0)
    params = dict(model.named_parameters())
    initial = {name: p.detach().clone() for name, p in params.items()}

    def zero_grad_names():
        return {name for name, p in params.items() if p.grad is None or not torch.any(p.grad != 0)}

    def behind_zero_layer(name):
        return (".wn." in name or ".start." in name or "encoder.pre.conv_layers" in name
                or "encoder.pre.norm_layers" in name)

    for step in range(5):
        optimizer.zero_grad()
        loss = training_loss(model, batch, g)
        assert torch.isfinite(loss)
        loss.backward()
        silent = zero_grad_names()
        if step == 0:
            expected_silent = {name for name in params if behind_zero_layer(name)}
            assert len(expected_silent) > 10 and silent == expected_silent
        else:
            assert not silent, f"no gradient at step {step + 1}: {sorted(silent)}"
        commons.clip_grad_value_(model.parameters(), 5)
        optimizer.step()
    unchanged = [name for name, p in params.items() if torch.equal(p.detach(), initial[name])]
    assert not unchanged, f"unchanged after five steps: {unchanged}"


def test_duration_loss_does_not_train_the_encoder():
    model = perturb_(tiny_model()).train()
    x, x_lengths, _, _ = make_batch()
    speaker = torch.nn.functional.normalize(model.emb_g(torch.tensor([0, 1]))).unsqueeze(-1)
    _, _, logw, _ = model.encoder(x, x_lengths, g=speaker.detach())
    logw.sum().backward()
    for name, p in model.encoder.named_parameters():
        has_grad = p.grad is not None and torch.any(p.grad != 0)
        assert has_grad == name.startswith("proj_w."), name


def test_infer_length_scale_and_noise():
    model = perturb_(tiny_model(p_dropout=0.0, p_dropout_dec=0.0)).eval()
    with torch.no_grad():
        model.encoder.proj_w.proj.bias.fill_(math.log(5.3))  # about 5 frames per token
    x, x_lengths, _, _ = make_batch()
    g = torch.tensor([1, 0])
    result = model.infer(x, x_lengths, noise_scale=0.0, g=g)
    assert result.mel.shape[:2] == (2, 12) and result.mel.shape[2] == int(result.mel_lengths.max())
    # The predicted length: ceil of every token's predicted duration, summed, cut to whole squeeze groups.
    (_, _, logw, x_mask) = model.encoder(x, x_lengths, g=torch.nn.functional.normalize(model.emb_g(g)).unsqueeze(-1))
    predicted = torch.ceil(torch.exp(logw) * x_mask).sum([1, 2]).long()
    assert result.mel_lengths.tolist() == ((predicted // 2) * 2).tolist()
    assert result.durations.sum(1).tolist() == result.mel_lengths.tolist()
    assert result.attn.shape == (2, int(x_lengths.max()), result.mel.shape[2])
    frame_mask = commons.sequence_mask(result.mel_lengths, result.mel.shape[2]).unsqueeze(1)
    assert torch.all(result.mel.masked_select(~frame_mask) == 0)

    slow = model.infer(x, x_lengths, noise_scale=0.0, length_scale=2.0, g=g)
    ratio = slow.mel_lengths.float() / result.mel_lengths.float()
    assert torch.all((ratio > 1.8) & (ratio < 2.2)), ratio
    # length_scale multiplies each duration *before* the ceiling: ceil(2 w), not 2 ceil(w).
    durations = torch.exp(logw) * x_mask                                 # [b, 1, t_x] frames
    predicted_2 = torch.ceil(durations * 2.0).sum([1, 2]).long()
    assert slow.mel_lengths.tolist() == ((predicted_2 // 2) * 2).tolist()
    ceiling_first = (torch.ceil(durations) * 2.0).sum([1, 2]).long()
    assert not torch.equal((ceiling_first // 2) * 2, (predicted_2 // 2) * 2)  # the order shows here

    again = model.infer(x, x_lengths, noise_scale=0.0, g=g)
    assert torch.equal(again.mel, result.mel)
    noisy_1 = model.infer(x, x_lengths, noise_scale=0.667, g=g)
    noisy_2 = model.infer(x, x_lengths, noise_scale=0.667, g=g)
    assert not torch.equal(noisy_1.mel, noisy_2.mel) and noisy_1.mel.shape == result.mel.shape


# Facts about the original's state dict for configs/base.json with 148 symbols, read off the
# original implementation: 519 entries, 108 weight-normalised convolutions, and these shapes.
ORIGINAL_BASE_KEYS = {
    "encoder.emb.weight": (148, 192),
    "encoder.pre.conv_layers.0.weight": (192, 192, 5),
    "encoder.encoder.attn_layers.0.emb_rel_k": (1, 9, 96),
    "encoder.proj_w.norm_1.gamma": (256,),
    "decoder.flows.0.logs": (1, 160, 1),
    "decoder.flows.1.weight": (4, 4),
    "decoder.flows.2.start.weight_g": (192, 1, 1),
    "decoder.flows.2.start.weight_v": (192, 80, 1),
    "decoder.flows.2.wn.in_layers.0.weight_g": (384, 1, 1),
    "decoder.flows.2.wn.in_layers.0.weight_v": (384, 192, 5),
    "decoder.flows.2.wn.res_skip_layers.3.weight_v": (192, 192, 1),
    "decoder.flows.35.end.weight": (160, 192, 1),
}


def test_base_model_key_layout_matches_the_original():
    config = json.loads((ROOT / "configs" / "base.json").read_text())["model"]
    original_layout = to_original_state_dict(FlowGenerator(148, out_channels=80, **config).state_dict())
    assert len(original_layout) == 519
    assert sum(key.endswith(".weight_g") for key in original_layout) == 108
    assert sum(key.endswith(".weight_v") for key in original_layout) == 108
    assert not any("parametrizations" in key for key in original_layout)
    for key, shape in ORIGINAL_BASE_KEYS.items():
        assert tuple(original_layout[key].shape) == shape, key


def test_original_layout_state_dict_loads_and_gives_identical_outputs():
    source = perturb_(tiny_model(seed=3)).eval()
    ours_layout = {k: v.clone() for k, v in source.state_dict().items()}
    # The original's layout, written out by hand: weight_g is |v| per output channel
    # scaled by the learned magnitude, i.e. exactly parametrizations.weight.original0.
    original_layout = {}
    for key, value in ours_layout.items():
        key = key.replace(".parametrizations.weight.original0", ".weight_g")
        key = key.replace(".parametrizations.weight.original1", ".weight_v")
        original_layout[key] = value.clone()
    assert "decoder.flows.2.wn.in_layers.0.weight_g" in original_layout
    assert original_layout["decoder.flows.2.wn.in_layers.0.weight_g"].shape == (64, 1, 1)
    assert original_layout.keys() == to_original_state_dict(ours_layout).keys()

    from_original, native = tiny_model(seed=7).eval(), tiny_model(seed=8).eval()
    load_weights(from_original, original_layout, "original.pth")
    native.load_state_dict(ours_layout)
    # DDP's "module." prefix is stripped too.
    prefixed = tiny_model(seed=9).eval()
    load_weights(prefixed, {"module." + k: v for k, v in original_layout.items()}, "ddp.pth")
    x, x_lengths, y, y_lengths = make_batch()
    g = torch.tensor([0, 1])
    with torch.no_grad():
        for model in (from_original, prefixed):
            for kwargs in (dict(y=y, y_lengths=y_lengths), dict(gen=True, noise_scale=0.0)):
                a = model(x, x_lengths, g=g, **kwargs)
                b = native(x, x_lengths, g=g, **kwargs)
                for part_a, part_b in zip(a, b):
                    for ta, tb in zip(part_a, part_b):
                        assert (ta is None and tb is None) or torch.equal(ta, tb)
    assert convert_original_state_dict(convert_original_state_dict(original_layout)).keys() == ours_layout.keys()


def test_loading_a_wrong_shape_names_the_key_and_both_shapes():
    model = tiny_model()
    state = to_original_state_dict(model.state_dict())
    state["decoder.flows.1.weight"] = torch.eye(6)
    with pytest.raises(CheckpointMismatchError,
                       match=r"'bad\.pth'.*decoder\.flows\.1\.weight \(6, 6\).*\(4, 4\)"):
        load_weights(model, state, "bad.pth")


def test_forward_needs_a_mel_when_training():
    model = tiny_model()
    x, x_lengths, _, _ = make_batch()
    with pytest.raises(ValueError, match="needs the mel"):
        model(x, x_lengths, g=torch.tensor([0, 0]))


def test_speaker_ids_are_required_exactly_for_multi_speaker_models():
    x, x_lengths, y, y_lengths = make_batch()
    with pytest.raises(ValueError, match="n_speakers=3: pass speaker ids"):
        tiny_model()(x, x_lengths, y, y_lengths)
    single = tiny_model(n_speakers=0, gin_channels=0)
    with pytest.raises(ValueError, match="n_speakers=0.*got g"):
        single(x, x_lengths, y, y_lengths, g=torch.tensor([0, 1]))
    single(x, x_lengths, y, y_lengths)  # and without g it runs


def test_weight_norm_folded_and_unfolded_state_dicts_load_both_ways():
    """A state dict saved after store_inverse() (plain WN weights) loads into a fresh model,
    and a weight-normalised one loads into a model after store_inverse(): same outputs."""
    source = perturb_(tiny_model(seed=3)).eval()
    unfolded = to_original_state_dict(source.state_dict())  # weight_g / weight_v
    x, x_lengths, _, _ = make_batch()
    g = torch.tensor([0, 1])
    with torch.no_grad():
        expected = source(x, x_lengths, g=g, gen=True, noise_scale=0.0)[0][0]
        source.store_inverse()
        folded = source.state_dict()
        assert "decoder.flows.2.wn.in_layers.0.weight" in folded
        fresh = tiny_model(seed=5).eval()
        load_weights(fresh, folded, "folded.pth")
        after_inverse = tiny_model(seed=6).eval()
        after_inverse.store_inverse()
        load_weights(after_inverse, unfolded, "unfolded.pth")
        for model in (fresh, after_inverse):
            out = model(x, x_lengths, g=g, gen=True, noise_scale=0.0)[0][0]
            torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)
