"""Dropout whose mask is drawn from geometric gaps: same distribution, fewer random numbers.

A speed device, off the reading path: the model files use ``nn.Dropout`` as the original
does, and :func:`glow_tts.fast.enable` swaps every one of them for :class:`GeometricDropout`.

Why it pays on a CPU: ``nn.Dropout`` draws one Mersenne-Twister number per element, and a
training step of the base config drops out 48 decoder tensors of ``[b, 2 * 192, t]``
plus the encoder's. In a row of independent Bernoulli(p) coins the distances between
heads are independent Geometric(p) counts on ``{1, 2, ...}``; drawing those distances
gives the same mask from about ``n * p`` random numbers instead of ``n`` (20 times fewer
at p = 0.05). The masks are not ``nn.Dropout``'s masks for the same seed (the random
stream differs); only their distribution is the same, which the tests check.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn


def bernoulli_drop_positions(n: int, p: float, first_draw: Optional[int] = None) -> torch.Tensor:
    """Flat indices in ``[0, n)`` where independent Bernoulli(p) coins come up heads.

    A Geometric(p) count is ``floor(log(1 - u) / log(1 - p)) + 1`` for ``u ~ U[0, 1)``.
    Gaps are drawn in a batch a little larger than the expected number of heads (mean +
    10 standard deviations) and topped up until their running sum passes ``n``, so the
    result is exact, not an approximation. ``first_draw`` overrides the first batch size
    (tests use it to force a top-up).

    Returns int64 indices, sorted, each in ``[0, n)``.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"drop probability must be in (0, 1), got {p}")
    log_keep = math.log1p(-p)  # log(1 - p) < 0
    if first_draw is None:
        first_draw = int(n * p + 10.0 * math.sqrt(n * p * (1.0 - p)) + 16)
    positions, reached, draw = [torch.zeros(0, dtype=torch.long)], 0, first_draw
    while reached < n:
        u = torch.rand(draw, dtype=torch.float64)  # torch's global generator, as nn.Dropout
        gaps = torch.floor(torch.log1p(-u) / log_keep).long() + 1  # [draw], each >= 1
        heads = reached - 1 + torch.cumsum(gaps, 0)  # index of each head, increasing
        reached = int(heads[-1]) + 1
        positions.append(heads)
        draw = max(16, int((n - reached) * p * 2) + 16)
    heads = torch.cat(positions)  # sorted; only the last few can lie beyond n - 1
    return heads[:int(torch.searchsorted(heads, n))]


class GeometricDropout(nn.Dropout):
    """``nn.Dropout`` with its CPU training mask drawn by :func:`bernoulli_drop_positions`.

    Each element is zeroed with probability ``p`` and the rest are scaled by ``1 / (1 - p)``,
    as ``nn.Dropout``. On other devices (whose dropout kernels are already fast), in eval
    mode and at p = 0 or 1 it *is* ``nn.Dropout``. Same constructor, no parameters, no state.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or x.device.type != "cpu" or not 0.0 < self.p < 1.0:
            return super().forward(x)
        keep_scale = 1.0 / (1.0 - self.p)
        mask = torch.full((x.numel(),), keep_scale, dtype=x.dtype)  # [n]
        mask[bernoulli_drop_positions(x.numel(), self.p)] = 0.0
        mask = mask.view(x.shape)
        if self.inplace:
            return x.mul_(mask)
        return x * mask


def swap_dropouts(model: nn.Module) -> int:
    """Replace every plain ``nn.Dropout`` inside ``model`` by a :class:`GeometricDropout`
    with the same ``p``, ``inplace`` and train/eval flag. Returns how many were replaced
    (0 when they already were: calling it twice is harmless)."""
    replaced = 0
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.Dropout:     # exactly nn.Dropout: not subclasses, not ours
                fast = GeometricDropout(child.p, inplace=child.inplace)
                fast.train(child.training)
                setattr(parent, name, fast)   # also works inside nn.Sequential ("1", ...)
                replaced += 1
    return replaced
