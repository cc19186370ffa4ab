"""fast.dropout.GeometricDropout draws its mask from geometric gaps; it must still be
Bernoulli(p) dropout.

The statistical checks use fixed seeds, so they are deterministic; their bounds are wide
enough (6 standard deviations, a chi-square far in the tail) that a correct sampler passes
with any seed, and narrow enough that an off-by-one in the gaps (rate p / (1 - p) or
p / (1 + p)) or a missing top-up fails by a wide margin.
"""

import math

import pytest
import torch
from glow_tts.fast.dropout import GeometricDropout as Dropout, bernoulli_drop_positions


def indicator(n, positions):
    hits = torch.zeros(n, dtype=torch.long)
    hits[positions] = 1
    return hits


@pytest.mark.parametrize("p", [0.05, 0.1, 0.5])
def test_positions_are_sorted_distinct_in_range_and_at_rate_p(p):
    torch.manual_seed(0)
    n = 2_000_000
    pos = bernoulli_drop_positions(n, p)
    assert pos.dtype == torch.long
    assert bool((pos[1:] > pos[:-1]).all())                  # sorted and distinct
    assert int(pos.min()) >= 0 and int(pos.max()) < n
    sd = math.sqrt(n * p * (1 - p))
    assert abs(len(pos) - n * p) < 6 * sd, (len(pos), n * p)
    # The far end of the range drops at the same rate as the start (the top-up covers it).
    tail = int((pos >= n - n // 10).sum())
    assert abs(tail - n * p / 10) < 6 * sd / math.sqrt(10)


@pytest.mark.parametrize("first_draw", [None, 1, 7])
def test_window_counts_follow_the_binomial(first_draw):
    """Counts of drops in windows of 20 positions ~ Binomial(20, p): rate and independence."""
    torch.manual_seed(1)
    p, window, n_windows = 0.05, 20, 50_000
    n = window * n_windows
    pos = bernoulli_drop_positions(n, p, first_draw=first_draw)
    counts = indicator(n, pos).view(n_windows, window).sum(1)
    observed = torch.bincount(counts, minlength=window + 1).double()
    expected = torch.tensor([math.comb(window, k) * p ** k * (1 - p) ** (window - k)
                             for k in range(window + 1)], dtype=torch.float64) * n_windows
    # Pool the sparse tail (k >= 4) into one cell, then a chi-square with 4 degrees of freedom.
    obs = torch.cat([observed[:4], observed[4:].sum(0, keepdim=True)])
    exp = torch.cat([expected[:4], expected[4:].sum(0, keepdim=True)])
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    assert chi2 < 25.0, (chi2, obs.tolist(), exp.tolist())   # P(chi2_4 > 25) ~ 5e-5


def test_neighbouring_positions_are_independent():
    torch.manual_seed(2)
    n, p = 1_000_000, 0.1
    hits = indicator(n, bernoulli_drop_positions(n, p)).double()
    lag1 = float(((hits[1:] - p) * (hits[:-1] - p)).mean() / (p * (1 - p)))
    assert abs(lag1) < 6 / math.sqrt(n), lag1


def test_edge_sizes_and_bad_probability():
    assert bernoulli_drop_positions(0, 0.1).numel() == 0
    assert bernoulli_drop_positions(1, 0.999999).tolist() in ([0], [])
    for p in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="drop probability"):
            bernoulli_drop_positions(10, p)


def test_dropout_zeroes_or_rescales_each_element_and_backpropagates_the_mask():
    torch.manual_seed(3)
    p = 0.2
    x = torch.rand(4, 64, 300) + 0.5          # no zeros in the input
    x.requires_grad_(True)
    drop = Dropout(p).train()
    y = drop(x)
    dropped = y == 0
    assert torch.allclose(y[~dropped], x[~dropped] / (1 - p))
    frac = float(dropped.double().mean())
    assert abs(frac - p) < 6 * math.sqrt(p * (1 - p) / x.numel())
    y.sum().backward()
    expected_grad = (~dropped).float() / (1 - p)
    assert torch.equal(x.grad, expected_grad)


def test_dropout_is_identity_in_eval_and_at_p_zero_and_reproducible_under_a_seed():
    x = torch.randn(2, 8, 50)
    assert torch.equal(Dropout(0.3).eval()(x), x)
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    torch.manual_seed(7)
    a = Dropout(0.3).train()(x)
    torch.manual_seed(7)
    b = Dropout(0.3).train()(x)
    assert torch.equal(a, b)
    inplace = x.clone()
    torch.manual_seed(7)
    out = Dropout(0.3, inplace=True).train()(inplace)
    assert out.data_ptr() == inplace.data_ptr() and torch.equal(out, a)
