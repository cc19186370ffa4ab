"""The text encoder's transformer: post-norm layers of relative-position self-attention
and a convolutional feed-forward network.

Tensors are channel-first, ``[b, channels, t]``, like the rest of the model (convolutions
want that layout); masks are ``[b, 1, t]`` with 1 on valid tokens.

Relative positions (Shaw et al., 2018): besides the usual content term ``q_i . k_j``, a
query at position ``i`` adds ``q_i . r^K_{j-i}`` to its score for key ``j`` and mixes
``r^V_{j-i}`` into its output, for offsets ``|j - i| <= window_size``; farther keys get no
positional term. The embeddings ``emb_rel_k`` / ``emb_rel_v`` ([1, 2w+1, d_head]) are
shared by all heads, as the original's ``heads_share=True``.

``CouplingBlock``, which the original kept in this file, lives in ``modules.py``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F

from glow_tts.modules import LayerNorm


class Encoder(nn.Module):
    """``n_layers`` post-norm transformer layers:
    ``x = LN(x + drop(attn(x)))``, then ``x = LN(x + drop(ffn(x)))``.

    x: [b, hidden_channels, t], x_mask: [b, 1, t] -> [b, hidden_channels, t] (zero on padding).
    """

    def __init__(self, hidden_channels: int, filter_channels: int, n_heads: int, n_layers: int,
                 kernel_size: int = 1, p_dropout: float = 0., window_size: Optional[int] = None,
                 block_length: Optional[int] = None, proximal_bias: bool = False,
                 proximal_init: bool = False, **kwargs):
        super().__init__()
        self.hidden_channels = hidden_channels
        self.filter_channels = filter_channels
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.p_dropout = p_dropout
        self.window_size = window_size
        self.block_length = block_length

        self.drop = nn.Dropout(p_dropout)
        self.attn_layers = nn.ModuleList()
        self.norm_layers_1 = nn.ModuleList()
        self.ffn_layers = nn.ModuleList()
        self.norm_layers_2 = nn.ModuleList()
        for _ in range(n_layers):
            self.attn_layers.append(MultiHeadAttention(
                hidden_channels, hidden_channels, n_heads, window_size=window_size,
                p_dropout=p_dropout, block_length=block_length,
                proximal_bias=proximal_bias, proximal_init=proximal_init))
            self.norm_layers_1.append(LayerNorm(hidden_channels))
            self.ffn_layers.append(FFN(hidden_channels, hidden_channels, filter_channels, kernel_size,
                                       p_dropout=p_dropout))
            self.norm_layers_2.append(LayerNorm(hidden_channels))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        attn_mask = x_mask.unsqueeze(2) * x_mask.unsqueeze(-1)  # [b, 1, t_query, t_key]
        for attn, norm_1, ffn, norm_2 in zip(self.attn_layers, self.norm_layers_1,
                                             self.ffn_layers, self.norm_layers_2):
            x = x * x_mask
            x = norm_1(x + self.drop(attn(x, x, attn_mask)))
            x = norm_2(x + self.drop(ffn(x, x_mask)))
        return x * x_mask


class MultiHeadAttention(nn.Module):
    """Multi-head attention with optional windowed relative positions, proximal bias and a
    local block mask.

    x (queries): [b, channels, t_q], c (keys/values): [b, channels, t_k],
    attn_mask: [b, 1, t_q, t_k] (1 = may attend) -> [b, out_channels, t_q].
    The last attention weights are kept in ``self.attn`` ([b, n_heads, t_q, t_k]) for plots.

    * ``window_size``: relative position embeddings for offsets within ``±window_size``
      (self-attention only).
    * ``proximal_bias``: adds ``-log(1 + |i - j|)`` to the scores (favours near tokens).
    * ``block_length``: with a mask, keys farther than ``block_length`` are masked out.
    * ``proximal_init``: the key projection starts as a copy of the query projection.
    """

    def __init__(self, channels: int, out_channels: int, n_heads: int,
                 window_size: Optional[int] = None, heads_share: bool = True, p_dropout: float = 0.,
                 block_length: Optional[int] = None, proximal_bias: bool = False,
                 proximal_init: bool = False):
        super().__init__()
        if channels % n_heads != 0:
            raise ValueError(f"channels ({channels}) must be divisible by n_heads ({n_heads})")
        self.channels = channels
        self.out_channels = out_channels
        self.n_heads = n_heads
        self.window_size = window_size
        self.heads_share = heads_share
        self.block_length = block_length
        self.proximal_bias = proximal_bias
        self.p_dropout = p_dropout
        self.attn: Optional[torch.Tensor] = None

        self.k_channels = channels // n_heads
        self.conv_q = nn.Conv1d(channels, channels, 1)
        self.conv_k = nn.Conv1d(channels, channels, 1)
        self.conv_v = nn.Conv1d(channels, channels, 1)
        if window_size is not None:
            n_heads_rel = 1 if heads_share else n_heads
            rel_stddev = self.k_channels ** -0.5
            # Row r holds the embedding of offset (key - query) = r - window_size.
            self.emb_rel_k = nn.Parameter(
                torch.randn(n_heads_rel, 2 * window_size + 1, self.k_channels) * rel_stddev)
            self.emb_rel_v = nn.Parameter(
                torch.randn(n_heads_rel, 2 * window_size + 1, self.k_channels) * rel_stddev)
        self.conv_o = nn.Conv1d(channels, out_channels, 1)
        self.drop = nn.Dropout(p_dropout)

        nn.init.xavier_uniform_(self.conv_q.weight)
        nn.init.xavier_uniform_(self.conv_k.weight)
        if proximal_init:
            with torch.no_grad():
                self.conv_k.weight.copy_(self.conv_q.weight)
                self.conv_k.bias.copy_(self.conv_q.bias)
        nn.init.xavier_uniform_(self.conv_v.weight)

    def forward(self, x: torch.Tensor, c: torch.Tensor,
                attn_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        q, k, v = self.conv_q(x), self.conv_k(c), self.conv_v(c)
        x, self.attn = self.attention(q, k, v, mask=attn_mask)
        return self.conv_o(x)

    def attention(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  mask: Optional[torch.Tensor] = None):
        """query: [b, d, t_q], key/value: [b, d, t_k] -> ([b, d, t_q], weights [b, h, t_q, t_k])."""
        b, d, t_k = key.shape
        t_q = query.size(2)
        # [b, d, t] -> [b, heads, t, d_head]
        query = query.view(b, self.n_heads, self.k_channels, t_q).transpose(2, 3)
        key = key.view(b, self.n_heads, self.k_channels, t_k).transpose(2, 3)
        value = value.view(b, self.n_heads, self.k_channels, t_k).transpose(2, 3)

        scale = 1.0 / math.sqrt(self.k_channels)
        scores = torch.matmul(query, key.transpose(-2, -1)) * scale  # [b, h, t_q, t_k]
        if self.window_size is not None:
            if t_q != t_k:
                raise ValueError("relative attention works only for self-attention (t_q == t_k)")
            # q_i . r^K_o for each offset o in [-w, w]: [b, h, t, 2w+1], then placed at key j = i + o.
            rel_logits = torch.matmul(query, self.emb_rel_k.unsqueeze(0).transpose(-2, -1))
            scores = scores + band_to_matrix(rel_logits, self.window_size) * scale
        if self.proximal_bias:
            if t_q != t_k:
                raise ValueError("proximal bias works only for self-attention (t_q == t_k)")
            scores = scores + proximal_bias_matrix(t_q).to(device=scores.device, dtype=scores.dtype)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e4)
            if self.block_length is not None:
                block = torch.ones_like(scores).triu(-self.block_length).tril(self.block_length)
                scores = scores * block + -1e4 * (1 - block)
        p_attn = self.drop(F.softmax(scores, dim=-1))  # [b, h, t_q, t_k]
        output = torch.matmul(p_attn, value)  # [b, h, t_q, d_head]
        if self.window_size is not None:
            # Mix in r^V_o weighted by the attention paid to the key at offset o.
            weights_by_offset = matrix_to_band(p_attn, self.window_size)  # [b, h, t, 2w+1]
            output = output + torch.matmul(weights_by_offset, self.emb_rel_v.unsqueeze(0))
        output = output.transpose(2, 3).reshape(b, d, t_q)  # [b, h, t, d_head] -> [b, d, t]
        return output, p_attn


def band_to_matrix(band: torch.Tensor, window: int) -> torch.Tensor:
    """Place per-offset values on their diagonals: [..., t, 2w+1] -> [..., t, t].

    ``out[..., i, j] = band[..., i, j - i + w]`` when ``|j - i| <= w``, else 0.

    The "skew" trick, without gathers: pad each row with zeros to width ``t + 2w + 1`` and
    read the flat buffer back with rows one element shorter; row ``i`` then starts ``i``
    elements later, so offset ``o`` of row ``i`` lands in column ``i + o + w``. The elements
    that wrap around between rows are all padding zeros.
    """
    *lead, t, width = band.shape
    row = t + width  # t + 2w + 1
    padded = F.pad(band, (0, t))  # [..., t, row]
    flat = padded.reshape(*lead, t * row)[..., : t * (row - 1)]
    shifted = flat.reshape(*lead, t, row - 1)  # row i shifted right by i
    return shifted[..., window: window + t]


def matrix_to_band(matrix: torch.Tensor, window: int) -> torch.Tensor:
    """Read diagonals out of a square matrix: [..., t, t] -> [..., t, 2w+1].

    ``out[..., i, o + w] = matrix[..., i, i + o]`` for ``|o| <= w`` (0 where ``i + o`` falls
    outside ``[0, t)``). The inverse skew of :func:`band_to_matrix`: pad ``w`` zeros on both
    sides, then read rows one element *longer*, which shifts row ``i`` left by ``i``.
    """
    *lead, t, _ = matrix.shape
    padded = F.pad(matrix, (window, window))  # [..., t, t + 2w]
    row = t + 2 * window
    flat = F.pad(padded.reshape(*lead, t * row), (0, t))  # t * (row + 1) elements
    shifted = flat.reshape(*lead, t, row + 1)  # row i shifted left by i
    return shifted[..., : 2 * window + 1]


def proximal_bias_matrix(length: int) -> torch.Tensor:
    """``-log(1 + |i - j|)`` as [1, 1, length, length]: a score bonus for nearby tokens."""
    positions = torch.arange(length, dtype=torch.float32)
    distance = (positions.unsqueeze(0) - positions.unsqueeze(1)).abs()
    return -torch.log1p(distance)[None, None]


class FFN(nn.Module):
    """Position-wise feed-forward block made of two convolutions (kernel ``kernel_size``).

    ``conv_2(drop(relu(conv_1(x))))`` with the mask applied before each convolution so no
    padding value enters a valid position; ``activation="gelu"`` uses the sigmoid GELU
    approximation ``x * sigmoid(1.702 x)`` instead of ReLU, as the original allows.
    x: [b, in_channels, t], x_mask: [b, 1, t] -> [b, out_channels, t].
    """

    def __init__(self, in_channels: int, out_channels: int, filter_channels: int, kernel_size: int,
                 p_dropout: float = 0., activation: Optional[str] = None):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.filter_channels = filter_channels
        self.kernel_size = kernel_size
        self.p_dropout = p_dropout
        self.activation = activation

        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.conv_2 = nn.Conv1d(filter_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.drop = nn.Dropout(p_dropout)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.conv_1(x * x_mask)
        if self.activation == "gelu":
            x = x * torch.sigmoid(1.702 * x)
        else:
            x = torch.relu(x)
        x = self.conv_2(self.drop(x) * x_mask)
        return x * x_mask
