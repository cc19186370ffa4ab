"""Building blocks of the encoder prenet and of the flow decoder.

* ``LayerNorm`` normalises over the channel axis of ``[b, c, t]`` tensors.
* ``ConvReluNorm`` is the encoder's convolutional prenet (a residual stack).
* ``WN`` is the WaveNet-like gated convolution stack inside every coupling layer.
* ``ActNorm``, ``InvConvNear`` and ``CouplingBlock`` are the three invertible layers of one
  flow step. Each maps ``(x, x_mask) -> (z, logdet)`` forward and ``z -> x`` with
  ``reverse=True``; ``logdet`` is ``log|det dz/dx|`` per batch item, shape ``[b]``, counted
  over the valid frames only (``None`` in reverse, as in the original).

``CouplingBlock`` lived in the original's ``attentions.py``; it belongs with the other flow
layers, so it is here. Parameter names follow the original so its state dicts load: the
only renaming is weight normalisation's ``weight_g`` / ``weight_v``, which the modern
``torch.nn.utils.parametrizations.weight_norm`` stores as
``parametrizations.weight.original0`` / ``original1`` (see ``models.convert_original_state_dict``).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import weight_norm


class LayerNorm(nn.Module):
    """Layer normalisation over the channel axis (dim 1) of ``[b, c, t]`` or ``[b, c, ...]``.

    ``y = (x - mean_c(x)) / sqrt(var_c(x) + eps) * gamma + beta``, with the biased variance
    and ``eps = 1e-4`` as the original. Parameters ``gamma`` and ``beta``: [c].
    """

    def __init__(self, channels: int, eps: float = 1e-4):
        super().__init__()
        self.channels = channels
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.layer_norm normalises the *last* axis; move channels there and back.
        x = x.transpose(1, -1)
        x = F.layer_norm(x, (self.channels,), self.gamma, self.beta, self.eps)
        return x.transpose(1, -1)


class ConvReluNorm(nn.Module):
    """Encoder prenet: ``n_layers`` of (conv -> LayerNorm -> ReLU -> dropout), then a 1x1
    projection added back to the input.

    The projection starts at zero, so at initialisation the prenet is the identity and the
    embeddings reach the transformer unchanged. x: [b, in_channels, t], x_mask: [b, 1, t];
    returns [b, out_channels, t] (``out_channels == in_channels`` for the residual sum).
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 kernel_size: int, n_layers: int, p_dropout: float):
        super().__init__()
        if n_layers < 2:
            raise ValueError(f"ConvReluNorm needs n_layers >= 2, got {n_layers}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.n_layers = n_layers
        self.p_dropout = p_dropout

        self.conv_layers = nn.ModuleList()
        self.norm_layers = nn.ModuleList()
        for i in range(n_layers):
            layer_in = in_channels if i == 0 else hidden_channels
            self.conv_layers.append(
                nn.Conv1d(layer_in, hidden_channels, kernel_size, padding=kernel_size // 2))
            self.norm_layers.append(LayerNorm(hidden_channels))
        self.relu_drop = nn.Sequential(nn.ReLU(), nn.Dropout(p_dropout))
        self.proj = nn.Conv1d(hidden_channels, out_channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        residual = x
        for conv, norm in zip(self.conv_layers, self.norm_layers):
            x = conv(x * x_mask)  # mask before each conv so padding never leaks in
            x = self.relu_drop(norm(x))
        return (residual + self.proj(x)) * x_mask


def gated_activation(x_in: torch.Tensor, n_channels: int) -> torch.Tensor:
    """WaveNet's gate: ``tanh(first half) * sigmoid(second half)`` of the channel axis.

    x_in: [b, 2 * n_channels, t] -> [b, n_channels, t].
    """
    # split, not two slices: split's backward concatenates the two gradients, while each
    # slice's backward would write into its own zero-filled full-size tensor.
    filter_half, gate_half = x_in.split(n_channels, dim=1)
    return torch.tanh(filter_half) * torch.sigmoid(gate_half)


class WN(nn.Module):
    """Non-causal WaveNet stack: dilated gated convolutions with residual and skip outputs.

    Layer ``i`` uses dilation ``dilation_rate ** i``. Every convolution is weight-normalised.
    The conditioning ``g`` ([b, gin_channels, 1] or [b, gin_channels, t], e.g. a speaker
    embedding) enters every layer's gate through one shared 1x1 ``cond_layer``.

    x: [b, hidden_channels, t], x_mask: [b, 1, t] -> skip sum [b, hidden_channels, t].
    ``in_channels`` is accepted for the original's signature but unused (the caller
    projects to ``hidden_channels`` first).
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int,
                 dilation_rate: int, n_layers: int, gin_channels: int = 0, p_dropout: float = 0):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"WN kernel_size must be odd (centred convolution), got {kernel_size}")
        if hidden_channels % 2 != 0:
            raise ValueError(f"WN hidden_channels must be even, got {hidden_channels}")
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.n_layers = n_layers
        self.gin_channels = gin_channels
        self.p_dropout = p_dropout

        self.in_layers = nn.ModuleList()
        self.res_skip_layers = nn.ModuleList()
        self.drop = nn.Dropout(p_dropout)
        if gin_channels != 0:
            self.cond_layer = weight_norm(nn.Conv1d(gin_channels, 2 * hidden_channels * n_layers, 1))

        for i in range(n_layers):
            dilation = dilation_rate ** i
            padding = (kernel_size * dilation - dilation) // 2  # keeps the length ("same")
            self.in_layers.append(weight_norm(nn.Conv1d(
                hidden_channels, 2 * hidden_channels, kernel_size, dilation=dilation, padding=padding)))
            # Every layer but the last emits a residual half and a skip half; the last only
            # feeds the skip sum, so its residual half would be unused.
            res_skip_channels = 2 * hidden_channels if i < n_layers - 1 else hidden_channels
            self.res_skip_layers.append(weight_norm(nn.Conv1d(hidden_channels, res_skip_channels, 1)))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: Optional[torch.Tensor] = None,
                **kwargs) -> torch.Tensor:
        hidden = self.hidden_channels
        output = torch.zeros_like(x)
        if g is not None:
            g = self.cond_layer(g)  # [b, 2 * hidden * n_layers, t or 1]
        for i in range(self.n_layers):
            x_in = self.drop(self.in_layers[i](x))
            if g is not None:
                x_in = x_in + g[:, i * 2 * hidden:(i + 1) * 2 * hidden]
            acts = gated_activation(x_in, hidden)
            res_skip = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                residual, skip = res_skip.split(hidden, dim=1)
                x = (x + residual) * x_mask
                output = output + skip
            else:
                output = output + res_skip
        return output * x_mask

    def remove_weight_norm(self) -> None:
        """Fold ``g * v / |v|`` into a plain ``weight`` (faster inference; changes state-dict keys)."""
        layers = list(self.in_layers) + list(self.res_skip_layers)
        if self.gin_channels != 0:
            layers.append(self.cond_layer)
        # Under no_grad, torch would register the folded weight as a buffer, not a Parameter;
        # under inference_mode it would be an inference tensor that training cannot use.
        with torch.inference_mode(False), torch.enable_grad():
            for layer in layers:
                if parametrize.is_parametrized(layer, "weight"):
                    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)


class ActNorm(nn.Module):
    """Per-channel affine flow ``z = x * exp(logs) + bias``; log-det ``sum(logs) * frames``.

    With ``ddi=True`` (data-dependent initialisation) the first forward call sets ``logs``
    and ``bias`` so that this layer's output has zero mean and unit variance per channel over
    the valid frames of that batch, then behaves normally. ``initialized`` records whether
    that has happened; it is not part of the state dict (the original's behaviour: a loaded
    checkpoint is simply used as is).

    x: [b, channels, t], x_mask: [b, 1, t]. Parameters ``logs``, ``bias``: [1, channels, 1].
    """

    def __init__(self, channels: int, ddi: bool = False, **kwargs):
        super().__init__()
        self.channels = channels
        self.initialized = not ddi
        self.logs = nn.Parameter(torch.zeros(1, channels, 1))
        self.bias = nn.Parameter(torch.zeros(1, channels, 1))

    def forward(self, x: torch.Tensor, x_mask: Optional[torch.Tensor] = None, reverse: bool = False,
                **kwargs):
        if x_mask is None:
            x_mask = torch.ones(x.size(0), 1, x.size(2), device=x.device, dtype=x.dtype)
        if not self.initialized:
            self.initialize(x, x_mask)
            self.initialized = True

        if reverse:
            return (x - self.bias) * torch.exp(-self.logs) * x_mask, None
        frames = torch.sum(x_mask, [1, 2])  # [b] valid frames per item
        z = (self.bias + torch.exp(self.logs) * x) * x_mask
        logdet = torch.sum(self.logs) * frames  # [b]
        return z, logdet

    def store_inverse(self) -> None:
        """Nothing to precompute: the inverse is a per-channel affine map."""

    def set_ddi(self, ddi: bool) -> None:
        """Arm (``True``) or disarm data-dependent initialisation for the next forward."""
        self.initialized = not ddi

    @torch.no_grad()
    def initialize(self, x: torch.Tensor, x_mask: torch.Tensor) -> None:
        """Set ``bias``/``logs`` from the batch statistics of ``x`` over the valid frames."""
        count = torch.sum(x_mask, [0, 2])  # [c] (every channel sees the same frames)
        mean = torch.sum(x * x_mask, [0, 2]) / count
        mean_sq = torch.sum(x * x * x_mask, [0, 2]) / count
        variance = mean_sq - mean ** 2
        log_std = 0.5 * torch.log(torch.clamp_min(variance, 1e-6))
        # z = (x - mean) / std = x * exp(-log_std) + (-mean * exp(-log_std))
        self.bias.copy_((-mean * torch.exp(-log_std)).view_as(self.bias))
        self.logs.copy_((-log_std).view_as(self.logs))


class InvConvNear(nn.Module):
    """Invertible 1x1 convolution over groups of ``n_split`` channels (Glow-TTS's variant).

    A full ``c x c`` mixing matrix would cost ``c^3`` for its determinant; instead the
    channels are split into ``c / n_split`` groups of ``n_split`` and the *same*
    ``n_split x n_split`` matrix ``W`` mixes each group. Group ``j`` takes ``n_split / 2``
    channels from the first half of the channel axis and the matching ``n_split / 2`` from
    the second half (so the mixing crosses the halves the coupling layer splits). Channel
    ``ch`` of half ``h`` is ``h * c/2 + ch``; with ``q = n_split // 2`` it goes to group
    ``ch // q`` at slot ``h * q + ch % q``.

    Log-det per item: ``log|det W| * (c / n_split) * frames``. ``W`` starts as a random
    rotation (QR of a Gaussian matrix, first column flipped if needed so ``det W = +1``).

    x: [b, channels, t], x_mask: [b, 1, t]. Parameter ``weight``: [n_split, n_split].
    """

    def __init__(self, channels: int, n_split: int = 4, no_jacobian: bool = False, **kwargs):
        super().__init__()
        if n_split % 2 != 0:
            raise ValueError(f"InvConvNear n_split must be even, got {n_split}")
        if channels % n_split != 0:
            raise ValueError(f"InvConvNear channels ({channels}) must be a multiple of n_split ({n_split})")
        self.channels = channels
        self.n_split = n_split
        self.no_jacobian = no_jacobian
        # Cached W^-1 (see store_inverse): a non-persistent buffer, so it follows .to()
        # but stays out of the state dict, like the original's plain attribute.
        self.register_buffer("weight_inv", None, persistent=False)
        self._inverse_of_version = -1

        rotation = torch.linalg.qr(torch.randn(n_split, n_split)).Q
        if torch.linalg.det(rotation) < 0:
            rotation[:, 0] = -rotation[:, 0]
        self.weight = nn.Parameter(rotation)

    def _to_groups(self, x: torch.Tensor) -> torch.Tensor:
        """[b, c, t] -> [b, n_split, (c / n_split) * t]: slot axis first, ready for ``W @``."""
        b, c, t = x.shape
        half_slots = self.n_split // 2
        x = x.reshape(b, 2, c // self.n_split, half_slots, t)  # [b, half, group, slot-in-half, t]
        return x.permute(0, 1, 3, 2, 4).reshape(b, self.n_split, (c // self.n_split) * t)

    def _from_groups(self, z: torch.Tensor, c: int, t: int) -> torch.Tensor:
        """Inverse of :meth:`_to_groups`."""
        b = z.shape[0]
        half_slots = self.n_split // 2
        z = z.reshape(b, 2, half_slots, c // self.n_split, t)
        return z.permute(0, 1, 3, 2, 4).reshape(b, c, t)

    def forward(self, x: torch.Tensor, x_mask: Optional[torch.Tensor] = None, reverse: bool = False,
                **kwargs):
        b, c, t = x.shape
        if c != self.channels:
            raise ValueError(f"InvConvNear built for {self.channels} channels got input with {c}")
        if x_mask is None:
            x_mask = torch.ones(b, 1, t, device=x.device, dtype=x.dtype)

        if reverse:
            if self.weight_inv is not None and self._inverse_of_version == self.weight._version:
                weight = self.weight_inv
            else:
                weight = torch.linalg.inv(self.weight.float()).to(self.weight.dtype)
            logdet = None
        else:
            weight = self.weight
            if self.no_jacobian:
                logdet = 0
            else:
                frames = torch.sum(x_mask, [1, 2])  # [b]
                # log|det W| (the original's torch.logdet is NaN when det W < 0; slogdet's
                # absolute value is the correct Jacobian term either way, equal otherwise).
                logdet = torch.linalg.slogdet(weight).logabsdet * (c / self.n_split) * frames

        z = torch.matmul(weight, self._to_groups(x))  # mixes the n_split slots of each group
        return self._from_groups(z, c, t) * x_mask, logdet

    def store_inverse(self) -> None:
        """Cache ``W^-1`` for repeated inference.

        The cache remembers the weight's version counter (bumped by every in-place change:
        optimizer steps, ``load_state_dict``), and ``reverse`` ignores a stale cache instead
        of silently using it (the original would)."""
        with torch.inference_mode(False):  # a normal tensor, usable outside inference mode
            self.weight_inv = torch.linalg.inv(self.weight.detach().float()).to(self.weight.dtype)
        self._inverse_of_version = self.weight._version


class CouplingBlock(nn.Module):
    """Affine coupling: the first half of the channels predicts a shift and log-scale for
    the second half.

    ``x_0, x_1 = split(x)``; ``(m, logs) = end(WN(start(x_0)))``; ``z = [x_0, m + exp(logs) * x_1]``.
    ``x_0`` passes through unchanged, so the inverse ``x_1 = (z_1 - m) * exp(-logs)`` can
    recompute ``m, logs`` from ``z_0 = x_0``. Log-det: ``sum(logs)`` over the valid positions.
    ``end`` starts at zero, so every coupling starts as the identity (stable early training).
    With ``sigmoid_scale`` the scale is ``sigmoid(logs + 2)`` (bounded by 1) instead of ``exp``.

    x: [b, in_channels, t], x_mask: [b, 1, t], g: optional conditioning [b, gin_channels, 1].
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int, dilation_rate: int,
                 n_layers: int, gin_channels: int = 0, p_dropout: float = 0, sigmoid_scale: bool = False):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.n_layers = n_layers
        self.gin_channels = gin_channels
        self.p_dropout = p_dropout
        self.sigmoid_scale = sigmoid_scale

        self.start = weight_norm(nn.Conv1d(in_channels // 2, hidden_channels, 1))
        self.end = nn.Conv1d(hidden_channels, in_channels, 1)  # -> (m, logs) for the second half
        nn.init.zeros_(self.end.weight)
        nn.init.zeros_(self.end.bias)
        self.wn = WN(in_channels, hidden_channels, kernel_size, dilation_rate, n_layers,
                     gin_channels, p_dropout)

    def forward(self, x: torch.Tensor, x_mask: Optional[torch.Tensor] = None, reverse: bool = False,
                g: Optional[torch.Tensor] = None, **kwargs):
        if x_mask is None:
            x_mask = torch.ones(x.size(0), 1, x.size(2), device=x.device, dtype=x.dtype)
        half = self.in_channels // 2
        x_0, x_1 = x.split(half, dim=1)

        h = self.wn(self.start(x_0) * x_mask, x_mask, g)
        out = self.end(h)
        m, logs = out.split(half, dim=1)
        if self.sigmoid_scale:
            logs = torch.log(1e-6 + torch.sigmoid(logs + 2))

        if reverse:
            z_1 = (x_1 - m) * torch.exp(-logs) * x_mask
            logdet = None
        else:
            z_1 = (m + torch.exp(logs) * x_1) * x_mask
            logdet = torch.sum(logs * x_mask, [1, 2])  # [b]
        return torch.cat([x_0, z_1], 1), logdet

    def store_inverse(self) -> None:
        """Fold the WN stack's weight normalisation into plain weights for inference, as the
        original does. Afterwards the state dict has ``...weight`` where it had
        ``...parametrizations.weight.original0/1``: save checkpoints before calling this."""
        self.wn.remove_weight_norm()
