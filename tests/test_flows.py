"""The flow decoder's layers: invertibility, log-determinants against autograd Jacobians,
the channel layouts of squeeze and of InvConvNear, alignment paths, data-dependent init."""

import math

import pytest
import torch

from glow_tts import commons
from glow_tts.models import FlowGenerator, FlowGenerator_DDI, FlowSpecDecoder
from glow_tts.modules import ActNorm, CouplingBlock, InvConvNear


def perturb_(module, scale=0.1, seed=0):
    """Give every parameter (including the zero-initialised ones) a random non-trivial value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * scale)
    return module


def batch(channels, frames=(12, 7), seed=1, dtype=torch.float32):
    """A padded batch: x [b, channels, max frames] zero on padding, mask [b, 1, max frames]."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor(frames)
    mask = commons.sequence_mask(lengths, max(frames)).unsqueeze(1).to(dtype)
    x = torch.randn(len(frames), channels, max(frames), generator=gen, dtype=dtype) * 2 * mask
    return x, mask


def flow_layers():
    torch.manual_seed(0)
    return {
        "ActNorm": perturb_(ActNorm(8)),
        "InvConvNear": perturb_(InvConvNear(8, n_split=4)),
        "CouplingBlock": perturb_(CouplingBlock(8, 16, kernel_size=3, dilation_rate=2, n_layers=3)),
        "CouplingBlock sigmoid_scale": perturb_(CouplingBlock(8, 16, 3, 1, 2, sigmoid_scale=True)),
        "CouplingBlock with speaker": perturb_(CouplingBlock(8, 16, 3, 1, 2, gin_channels=5)),
    }


@pytest.mark.parametrize("name", list(flow_layers()))
def test_each_flow_layer_inverts(name):
    layer = flow_layers()[name].eval()
    x, mask = batch(8)
    g = torch.randn(2, 5, 1) if "speaker" in name else None
    with torch.no_grad():
        z, logdet = layer(x, mask, g=g)
        x_back, none = layer(z, mask, g=g, reverse=True)
    assert none is None and logdet.shape == (2,)
    assert (z - x).abs().max() > 1e-2, "the layer should not be the identity here"
    torch.testing.assert_close(x_back, x, atol=1e-4, rtol=0)
    assert torch.all(z * (1 - mask) == 0), "padding must stay zero"


def test_whole_decoder_inverts_and_store_inverse_agrees():
    torch.manual_seed(0)
    decoder = perturb_(FlowSpecDecoder(10, 16, kernel_size=5, dilation_rate=1, n_blocks=4,
                                       n_layers=3, n_sqz=2, n_split=4), scale=0.05).eval()
    y, mask = batch(10, frames=(14, 8))
    with torch.no_grad():
        z, logdet = decoder(y, mask)
        y_back, _ = decoder(z, mask, reverse=True)
        decoder.store_inverse()  # cached W^-1 and folded weight norm must give the same map
        y_back_cached, _ = decoder(z, mask, reverse=True)
        z_cached, _ = decoder(y, mask)
    torch.testing.assert_close(y_back, y, atol=1e-4, rtol=0)
    torch.testing.assert_close(y_back_cached, y, atol=1e-4, rtol=0)
    torch.testing.assert_close(z_cached, z, atol=1e-5, rtol=0)
    assert "flows.2.wn.in_layers.0.weight" in dict(decoder.named_parameters())


def log_abs_det_jacobian(fn, x, mask):
    """log|det dz/dx| over the valid entries of item 0 (padding held at zero)."""
    valid = mask[0, 0].bool()
    x0 = x[0][:, valid]  # [c, t_valid]

    def on_valid(values):
        full = torch.zeros_like(x[:1])
        full[0][:, valid] = values
        z = fn(full, mask[:1])
        return z[0][:, valid]

    jac = torch.autograd.functional.jacobian(on_valid, x0, vectorize=True)  # [c, t, c, t]
    n = x0.numel()
    return torch.linalg.slogdet(jac.reshape(n, n)).logabsdet


@pytest.mark.parametrize("name", list(flow_layers()))
def test_layer_logdet_equals_log_abs_det_jacobian(name):
    layer = flow_layers()[name].double().eval()
    x, mask = batch(8, frames=(6, 9), dtype=torch.float64)
    g = torch.randn(1, 5, 1, dtype=torch.float64) if "speaker" in name else None
    expected = log_abs_det_jacobian(lambda v, m: layer(v, m, g=g)[0], x, mask)
    _, logdet = layer(x[:1], mask[:1], g=g)
    assert abs(logdet.item() - expected.item()) < 1e-3, (logdet.item(), expected.item())


def test_decoder_logdet_equals_log_abs_det_jacobian_with_padding():
    """The summed log-det of squeeze + 3 flow steps + unsqueeze, on the 5 valid frames of a
    7-frame item (the padding frames do not count)."""
    torch.manual_seed(0)
    decoder = perturb_(FlowSpecDecoder(4, 8, kernel_size=3, dilation_rate=1, n_blocks=3, n_layers=2,
                                       n_sqz=2, n_split=4), scale=0.2).double().eval()
    y, mask = batch(4, frames=(6, 8), dtype=torch.float64)
    expected = log_abs_det_jacobian(lambda v, m: decoder(v, m)[0], y, mask)
    _, logdet = decoder(y[:1], mask[:1])
    assert abs(expected.item()) > 1.0, "a trivial Jacobian would not test anything"
    assert abs(logdet.item() - expected.item()) < 1e-3, (logdet.item(), expected.item())


def test_invconv_groups_channels_across_the_two_halves():
    """With c=8, n_split=4: group 0 = channels (0, 1 | 4, 5), group 1 = (2, 3 | 6, 7).

    A weight that swaps slot 0 with slot 2 (first-half channel <-> second-half channel)
    must therefore swap channels 0<->4, 1<->5, 2<->6 and 3<->7.
    """
    layer = InvConvNear(8, n_split=4)
    swap = torch.eye(4)[[2, 1, 0, 3]]
    with torch.no_grad():
        layer.weight.copy_(swap)
    x = torch.arange(8.0).view(1, 8, 1)
    z, logdet = layer(x)
    assert z.flatten().tolist() == [4.0, 1.0, 6.0, 3.0, 0.0, 5.0, 2.0, 7.0]
    # A permutation has |det| = 1: log-det 0 (the original's logdet of det = -1 was NaN).
    assert logdet.item() == 0.0
    # A fresh layer starts as a proper rotation: W W^T = I, det W = +1.
    fresh = InvConvNear(8, n_split=4).weight.detach()
    torch.testing.assert_close(fresh @ fresh.T, torch.eye(4), atol=1e-5, rtol=0)
    assert abs(torch.linalg.det(fresh).item() - 1.0) < 1e-5


def test_squeeze_layout_mask_and_round_trip():
    x = torch.arange(2 * 3 * 7, dtype=torch.float32).view(2, 3, 7)
    mask = commons.sequence_mask(torch.tensor([7, 4]), 7).unsqueeze(1).float()
    x = x * mask
    x_sqz, m_sqz = commons.squeeze(x, mask, n_sqz=2)
    assert x_sqz.shape == (2, 6, 3) and m_sqz.shape == (2, 1, 3)
    # channel k*c + ch of output frame f is channel ch of input frame 2f + k
    assert x_sqz[0, :, 1].tolist() == [x[0, 0, 2], x[0, 1, 2], x[0, 2, 2], x[0, 0, 3], x[0, 1, 3], x[0, 2, 3]]
    assert m_sqz[1, 0].tolist() == [1.0, 1.0, 0.0]  # item 1 has 4 frames = 2 groups
    back, m_back = commons.unsqueeze(x_sqz, m_sqz, n_sqz=2)
    assert torch.equal(back, x[:, :, :6]) and torch.equal(m_back, mask[:, :, :6])
    x3 = torch.randn(1, 2, 9)
    x3_sqz, m3 = commons.squeeze(x3, n_sqz=3)  # no mask: all frames valid
    assert torch.equal(m3, torch.ones(1, 1, 3))
    assert torch.equal(commons.unsqueeze(x3_sqz, m3, n_sqz=3)[0], x3)


def test_generate_path_hand_checked():
    duration = torch.tensor([[2.0, 1.0, 3.0], [1.0, 2.0, 0.0]])
    mask = (commons.sequence_mask(torch.tensor([3, 2]), 3).unsqueeze(2)
            & commons.sequence_mask(torch.tensor([6, 3]), 6).unsqueeze(1)).float()
    path = commons.generate_path(duration, mask)
    assert path[0].tolist() == [[1, 1, 0, 0, 0, 0],
                                [0, 0, 1, 0, 0, 0],
                                [0, 0, 0, 1, 1, 1]]
    assert path[1].tolist() == [[1, 0, 0, 0, 0, 0],
                                [0, 1, 1, 0, 0, 0],
                                [0, 0, 0, 0, 0, 0]]
    # Durations longer than the frames available are cut by the mask; integer input works.
    short = commons.generate_path(torch.tensor([[2, 3]]), torch.ones(1, 2, 4))
    assert short[0].tolist() == [[1, 1, 0, 0], [0, 0, 1, 1]]


def test_sequence_mask():
    mask = commons.sequence_mask(torch.tensor([3, 0, 1]), 4)
    assert mask.dtype == torch.bool
    assert mask.int().tolist() == [[1, 1, 1, 0], [0, 0, 0, 0], [1, 0, 0, 0]]
    assert commons.sequence_mask(torch.tensor([2, 1])).shape == (2, 2)


def test_actnorm_data_dependent_init_normalises_the_valid_frames():
    layer = ActNorm(6, ddi=True)
    x, mask = batch(6, frames=(10, 4))
    x = (x * torch.arange(1.0, 7.0).view(1, 6, 1) + 3.0) * mask
    z, _ = layer(x, mask)
    assert layer.initialized
    n = mask.sum()
    mean = (z * mask).sum([0, 2]) / n
    std = (((z - mean.view(1, -1, 1)) ** 2 * mask).sum([0, 2]) / n).sqrt()
    torch.testing.assert_close(mean, torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(std, torch.ones(6), atol=1e-4, rtol=0)
    # The second call uses the stored parameters (no re-initialisation on new data).
    logs_before = layer.logs.detach().clone()
    layer(x * 5, mask)
    assert torch.equal(layer.logs.detach(), logs_before)


def test_flow_generator_ddi_arms_every_actnorm_and_nothing_else():
    model = FlowGenerator_DDI(20, 16, 32, 16, 8, n_layers_enc=1, n_blocks_dec=2, n_block_layers=2, n_sqz=2)
    actnorms = [f for f in model.decoder.flows if isinstance(f, ActNorm)]
    assert len(actnorms) == 2 and all(not f.initialized for f in actnorms)
    plain = FlowGenerator(20, 16, 32, 16, 8, n_layers_enc=1, n_blocks_dec=2, n_block_layers=2, n_sqz=2)
    assert all(f.initialized for f in plain.decoder.flows if isinstance(f, ActNorm))
    assert plain.state_dict().keys() == model.state_dict().keys()


def test_cached_inverse_is_not_used_once_the_weight_changes():
    layer = perturb_(InvConvNear(8, n_split=4))
    x, mask = batch(8)
    layer.store_inverse()
    with torch.no_grad():
        layer.weight.copy_(perturb_(InvConvNear(8, n_split=4), seed=5).weight)  # e.g. a load
        z, _ = layer(x, mask)
        x_back, _ = layer(z, mask, reverse=True)
    torch.testing.assert_close(x_back, x, atol=1e-4, rtol=0)


def test_store_inverse_under_inference_mode_leaves_a_trainable_model():
    decoder = perturb_(FlowSpecDecoder(4, 8, kernel_size=3, dilation_rate=1, n_blocks=1, n_layers=2, n_sqz=2))
    y, mask = batch(4, frames=(6, 4))
    with torch.inference_mode():
        decoder.store_inverse()
    folded = decoder.flows[2].wn.in_layers[0].weight
    assert isinstance(folded, torch.nn.Parameter) and not folded.is_inference()
    z, _ = decoder(y, mask)
    y_back, _ = decoder(z, mask, reverse=True)  # uses the cached inverse, with autograd on
    (z.sum() + y_back.sum()).backward()
    assert folded.grad is not None


def test_fresh_sigmoid_scale_coupling_scales_the_second_half_by_sigmoid_of_two():
    """A fresh coupling's ``end`` layer is zero, so m = 0 and the raw log-scale is 0; with
    sigmoid_scale the scale is sigmoid(0 + 2) (plus the 1e-6 floor), i.e. 1 / (1 + e^-2),
    and the log-det counts log of that once per valid value of the second half."""
    torch.manual_seed(0)
    layer = CouplingBlock(8, 16, 3, 1, 2, sigmoid_scale=True).eval()
    x, mask = batch(8)
    scale = 1e-6 + 1.0 / (1.0 + math.exp(-2.0))           # 0.8807981..., from the definition
    with torch.no_grad():
        z, logdet = layer(x, mask)
    torch.testing.assert_close(z[:, :4], x[:, :4], rtol=0, atol=0)   # first half passes through
    torch.testing.assert_close(z[:, 4:], x[:, 4:] * scale, rtol=1e-6, atol=1e-7)
    valid_values = mask.sum([1, 2]) * 4                   # frames x channels of the second half
    torch.testing.assert_close(logdet, valid_values * math.log(scale), rtol=1e-5, atol=1e-5)
