"""Glow-TTS: text encoder + duration predictor + flow decoder, tied by monotonic alignment.

Training (``gen=False``): the encoder turns tokens into a Gaussian prior per token
(mean ``x_m``, log-std ``x_logs``); the flow decoder maps the mel ``y`` to a latent ``z``
of the same shape; monotonic alignment search (MAS) finds the token-to-frame alignment that
makes ``z`` most likely under the prior; the losses are the negative log-likelihood of ``z``
(plus the flow's log-determinant) and the duration predictor's error against the durations
MAS found.

Inference (``gen=True``): the duration predictor gives each token a number of frames, the
prior means are repeated accordingly, a sample ``z`` (scaled by ``noise_scale``) goes
through the decoder in reverse, and out comes a mel.

Shapes: ``b`` batch, ``t_x`` tokens, ``t_y`` mel frames, ``c`` mel channels (80).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch
from torch import nn
from torch.nn import functional as F

from glow_tts import attentions, commons, modules, monotonic_align


class DurationPredictor(nn.Module):
    """Two (conv -> ReLU -> LayerNorm -> dropout) layers and a 1x1 projection to one value
    per token: the predicted log-duration ``log w`` (frames).

    Its input is the encoder output *detached* (see ``TextEncoder``), so the duration loss
    trains only this predictor and never reshapes the encoder.
    x: [b, in_channels, t_x], x_mask: [b, 1, t_x] -> logw [b, 1, t_x] (zero on padding).
    """

    def __init__(self, in_channels: int, filter_channels: int, kernel_size: int, p_dropout: float):
        super().__init__()
        self.in_channels = in_channels
        self.filter_channels = filter_channels
        self.kernel_size = kernel_size
        self.p_dropout = p_dropout

        self.drop = nn.Dropout(p_dropout)
        self.conv_1 = nn.Conv1d(in_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_1 = modules.LayerNorm(filter_channels)
        self.conv_2 = nn.Conv1d(filter_channels, filter_channels, kernel_size, padding=kernel_size // 2)
        self.norm_2 = modules.LayerNorm(filter_channels)
        self.proj = nn.Conv1d(filter_channels, 1, 1)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.norm_1(torch.relu(self.conv_1(x * x_mask))))
        x = self.drop(self.norm_2(torch.relu(self.conv_2(x * x_mask))))
        return self.proj(x * x_mask) * x_mask


class TextEncoder(nn.Module):
    """Token ids -> per-token prior ``N(x_m, exp(x_logs)^2)`` over ``out_channels`` values,
    plus predicted log-durations.

    embedding (scaled by ``sqrt(hidden)``) -> optional ``ConvReluNorm`` prenet -> transformer
    ``Encoder`` -> 1x1 projections to ``x_m`` (and ``x_logs`` unless ``mean_only``, where
    the prior has unit variance: ``x_logs = 0``). The duration predictor reads the encoder
    output detached, concatenated with the speaker vector ``g`` when there is one.

    x: [b, t_x] ids, x_lengths: [b], g: [b, gin_channels, 1] or None.
    Returns ``x_m, x_logs, logw`` ([b, out_channels, t_x] twice, [b, 1, t_x]) and ``x_mask`` [b, 1, t_x].
    """

    def __init__(self, n_vocab: int, out_channels: int, hidden_channels: int, filter_channels: int,
                 filter_channels_dp: int, n_heads: int, n_layers: int, kernel_size: int,
                 p_dropout: float, window_size: Optional[int] = None,
                 block_length: Optional[int] = None, mean_only: bool = False, prenet: bool = False,
                 gin_channels: int = 0, proximal_bias: bool = False, proximal_init: bool = False):
        super().__init__()
        self.n_vocab = n_vocab
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.filter_channels = filter_channels
        self.filter_channels_dp = filter_channels_dp
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.kernel_size = kernel_size
        self.p_dropout = p_dropout
        self.window_size = window_size
        self.block_length = block_length
        self.mean_only = mean_only
        self.prenet = prenet
        self.gin_channels = gin_channels

        self.emb = nn.Embedding(n_vocab, hidden_channels)
        nn.init.normal_(self.emb.weight, 0.0, hidden_channels ** -0.5)
        if prenet:
            self.pre = modules.ConvReluNorm(hidden_channels, hidden_channels, hidden_channels,
                                            kernel_size=5, n_layers=3, p_dropout=0.5)
        self.encoder = attentions.Encoder(
            hidden_channels, filter_channels, n_heads, n_layers, kernel_size, p_dropout,
            window_size=window_size, block_length=block_length,
            proximal_bias=proximal_bias, proximal_init=proximal_init)
        self.proj_m = nn.Conv1d(hidden_channels, out_channels, 1)
        if not mean_only:
            self.proj_s = nn.Conv1d(hidden_channels, out_channels, 1)
        self.proj_w = DurationPredictor(hidden_channels + gin_channels, filter_channels_dp,
                                        kernel_size, p_dropout)

    def forward(self, x: torch.Tensor, x_lengths: torch.Tensor, g: Optional[torch.Tensor] = None):
        x = self.emb(x) * math.sqrt(self.hidden_channels)  # [b, t_x, h]
        x = x.transpose(1, 2)  # [b, h, t_x]
        x_mask = commons.sequence_mask(x_lengths, x.size(2)).unsqueeze(1).to(x.dtype)  # [b, 1, t_x]

        if self.prenet:
            x = self.pre(x, x_mask)
        x = self.encoder(x, x_mask)

        x_dp = x.detach()  # durations must not push gradients into the encoder
        if g is not None:
            x_dp = torch.cat([x_dp, g.expand(-1, -1, x.size(-1))], 1)

        x_m = self.proj_m(x) * x_mask
        if self.mean_only:
            x_logs = torch.zeros_like(x_m)
        else:
            x_logs = self.proj_s(x) * x_mask
        logw = self.proj_w(x_dp, x_mask)
        return x_m, x_logs, logw, x_mask


class FlowSpecDecoder(nn.Module):
    """The invertible decoder: mel ``y`` [b, in_channels, t_y] <-> latent ``z`` (same shape).

    The mel is first squeezed (``n_sqz`` frames folded into channels), then passes
    ``n_blocks`` flow steps of (ActNorm -> InvConvNear -> CouplingBlock), then is unsqueezed.
    Forward returns ``(z, logdet)`` with logdet [b] summed over all layers; ``reverse=True``
    runs the layers backwards and returns ``(y, None)``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int, dilation_rate: int,
                 n_blocks: int, n_layers: int, p_dropout: float = 0., n_split: int = 4,
                 n_sqz: int = 2, sigmoid_scale: bool = False, gin_channels: int = 0):
        super().__init__()
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.dilation_rate = dilation_rate
        self.n_blocks = n_blocks
        self.n_layers = n_layers
        self.p_dropout = p_dropout
        self.n_split = n_split
        self.n_sqz = n_sqz
        self.sigmoid_scale = sigmoid_scale
        self.gin_channels = gin_channels

        flow_channels = in_channels * n_sqz
        self.flows = nn.ModuleList()
        for _ in range(n_blocks):
            self.flows.append(modules.ActNorm(channels=flow_channels))
            self.flows.append(modules.InvConvNear(channels=flow_channels, n_split=n_split))
            self.flows.append(modules.CouplingBlock(
                flow_channels, hidden_channels, kernel_size=kernel_size, dilation_rate=dilation_rate,
                n_layers=n_layers, gin_channels=gin_channels, p_dropout=p_dropout,
                sigmoid_scale=sigmoid_scale))

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor, g: Optional[torch.Tensor] = None,
                reverse: bool = False):
        if self.n_sqz > 1:
            x, x_mask = commons.squeeze(x, x_mask, self.n_sqz)
        if not reverse:
            logdet_tot = 0
            for flow in self.flows:
                x, logdet = flow(x, x_mask, g=g, reverse=False)
                logdet_tot = logdet_tot + logdet
        else:
            logdet_tot = None
            for flow in reversed(self.flows):
                x, _ = flow(x, x_mask, g=g, reverse=True)
        if self.n_sqz > 1:
            x, x_mask = commons.unsqueeze(x, x_mask, self.n_sqz)
        return x, logdet_tot

    def store_inverse(self) -> None:
        """Precompute what inference can reuse (inverse 1x1 weights, folded weight norm)."""
        for flow in self.flows:
            flow.store_inverse()


class InferenceResult(NamedTuple):
    """What :meth:`FlowGenerator.infer` returns."""

    mel: torch.Tensor  # [b, out_channels, t_y] log-mel, zero past each item's length
    mel_lengths: torch.Tensor  # [b] frames per item (a multiple of n_sqz)
    attn: torch.Tensor  # [b, t_x, t_y] hard alignment: 1 where frame y belongs to token x
    durations: torch.Tensor  # [b, t_x] frames given to each token (attn.sum(-1))


class FlowGenerator(nn.Module):
    """The whole Glow-TTS acoustic model (the original's name and keywords).

    Keyword defaults are the original class's (which differ from its ``base.json``: e.g.
    ``dilation_rate=5``, ``n_sqz=1``, ``mean_only=False``); build it from a config with
    ``FlowGenerator(n_vocab, out_channels=80, **hps.model)``. ``hidden_channels_enc`` /
    ``hidden_channels_dec`` override ``hidden_channels`` for the encoder / decoder.
    ``proximal_bias`` / ``proximal_init`` (off by default) reach the encoder's attention; the
    original accepted and ignored them. Other unknown keywords are ignored, as the original.
    """

    def __init__(self, n_vocab: int, hidden_channels: int, filter_channels: int,
                 filter_channels_dp: int, out_channels: int, kernel_size: int = 3, n_heads: int = 2,
                 n_layers_enc: int = 6, p_dropout: float = 0., n_blocks_dec: int = 12,
                 kernel_size_dec: int = 5, dilation_rate: int = 5, n_block_layers: int = 4,
                 p_dropout_dec: float = 0., n_speakers: int = 0, gin_channels: int = 0,
                 n_split: int = 4, n_sqz: int = 1, sigmoid_scale: bool = False,
                 window_size: Optional[int] = None, block_length: Optional[int] = None,
                 mean_only: bool = False, hidden_channels_enc: Optional[int] = None,
                 hidden_channels_dec: Optional[int] = None, prenet: bool = False,
                 proximal_bias: bool = False, proximal_init: bool = False, **kwargs):
        super().__init__()
        self.n_vocab = n_vocab
        self.hidden_channels = hidden_channels
        self.filter_channels = filter_channels
        self.filter_channels_dp = filter_channels_dp
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.n_heads = n_heads
        self.n_layers_enc = n_layers_enc
        self.p_dropout = p_dropout
        self.n_blocks_dec = n_blocks_dec
        self.kernel_size_dec = kernel_size_dec
        self.dilation_rate = dilation_rate
        self.n_block_layers = n_block_layers
        self.p_dropout_dec = p_dropout_dec
        self.n_speakers = n_speakers
        self.gin_channels = gin_channels
        self.n_split = n_split
        self.n_sqz = n_sqz
        self.sigmoid_scale = sigmoid_scale
        self.window_size = window_size
        self.block_length = block_length
        self.mean_only = mean_only
        self.hidden_channels_enc = hidden_channels_enc
        self.hidden_channels_dec = hidden_channels_dec
        self.prenet = prenet

        self.encoder = TextEncoder(
            n_vocab, out_channels, hidden_channels_enc or hidden_channels, filter_channels,
            filter_channels_dp, n_heads, n_layers_enc, kernel_size, p_dropout,
            window_size=window_size, block_length=block_length, mean_only=mean_only,
            prenet=prenet, gin_channels=gin_channels,
            proximal_bias=proximal_bias, proximal_init=proximal_init)
        self.decoder = FlowSpecDecoder(
            out_channels, hidden_channels_dec or hidden_channels, kernel_size_dec, dilation_rate,
            n_blocks_dec, n_block_layers, p_dropout=p_dropout_dec, n_split=n_split, n_sqz=n_sqz,
            sigmoid_scale=sigmoid_scale, gin_channels=gin_channels)
        if n_speakers > 1:
            self.emb_g = nn.Embedding(n_speakers, gin_channels)
            nn.init.uniform_(self.emb_g.weight, -0.1, 0.1)

    def forward(self, x: torch.Tensor, x_lengths: torch.Tensor, y: Optional[torch.Tensor] = None,
                y_lengths: Optional[torch.Tensor] = None, g: Optional[torch.Tensor] = None,
                gen: bool = False, noise_scale: float = 1., length_scale: float = 1.):
        """x: [b, t_x] token ids, x_lengths: [b]; y: [b, c, t_y] mel, y_lengths: [b] (training);
        g: [b] speaker ids (only with ``n_speakers > 1``).

        Returns ``((z_or_y, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_))``:

        * training (``gen=False``): ``z`` [b, c, t_y'] the mel through the flow, with
          ``t_y'`` = t_y rounded down to a multiple of ``n_sqz``; ``logdet`` [b];
        * generation (``gen=True``): the generated mel ``y`` in the first slot, ``logdet`` None;
        * ``z_m``, ``z_logs``: [b, c, t_y'] the prior expanded along the alignment;
          ``z_mask`` [b, 1, t_y']; ``x_m``, ``x_logs`` [b, c, t_x], ``x_mask`` [b, 1, t_x];
        * ``attn`` [b, 1, t_x, t_y'] hard alignment; ``logw`` [b, 1, t_x] predicted and
          ``logw_`` [b, 1, t_x] aligned log-durations (``log(1e-8 + frames)``).
        """
        if (g is not None) != (self.n_speakers > 1):
            raise ValueError(
                f"this model has n_speakers={self.n_speakers}: pass speaker ids g ([b] ints) "
                "exactly when n_speakers > 1" + ("" if g is None else " (got g, but no speaker embedding)"))
        if g is not None:
            g = F.normalize(self.emb_g(g)).unsqueeze(-1)  # [b, gin_channels, 1], unit length
        x_m, x_logs, logw, x_mask = self.encoder(x, x_lengths, g=g)

        if gen:
            w = torch.exp(logw) * x_mask * length_scale  # [b, 1, t_x] frames per token
            w_ceil = torch.ceil(w)
            y_lengths = torch.clamp_min(torch.sum(w_ceil, [1, 2]), 1).long()
            y_max_length = None
        else:
            if y is None or y_lengths is None:
                raise ValueError("FlowGenerator.forward(gen=False) needs the mel y and y_lengths")
            y_max_length = y.size(2)
        y, y_lengths, y_max_length = self.preprocess(y, y_lengths, y_max_length)
        z_mask = commons.sequence_mask(y_lengths, y_max_length).unsqueeze(1).to(x_mask.dtype)  # [b, 1, t_y]
        attn_mask = x_mask.unsqueeze(-1) * z_mask.unsqueeze(2)  # [b, 1, t_x, t_y]

        if gen:
            attn = commons.generate_path(w_ceil.squeeze(1), attn_mask.squeeze(1)).unsqueeze(1)
            z_m, z_logs, logw_ = self._expand_prior(attn, x_m, x_logs, x_mask)
            # The noise is drawn even at noise_scale 0, into a [b, c, t_y] view of [b, t_y, c]
            # memory: that is the layout the original's randn_like saw (its z_m was a
            # transposed product), and torch fills strided and contiguous tensors in different
            # orders, so this keeps "same seed, same sample as the original".
            b, c, t_y = z_m.shape
            noise = torch.empty(b, t_y, c, device=z_m.device, dtype=z_m.dtype).transpose(1, 2).normal_()
            z = (z_m + torch.exp(z_logs) * noise * noise_scale) * z_mask
            y, logdet = self.decoder(z, z_mask, g=g, reverse=True)
            return (y, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_)

        z, logdet = self.decoder(y, z_mask, g=g, reverse=False)
        with torch.no_grad():
            logp = gaussian_log_likelihood_matrix(z, x_m, x_logs)  # [b, t_x, t_y]
            attn = monotonic_align.maximum_path(logp, attn_mask.squeeze(1)).unsqueeze(1).detach()
        z_m, z_logs, logw_ = self._expand_prior(attn, x_m, x_logs, x_mask)
        return (z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_)

    def _expand_prior(self, attn, x_m, x_logs, x_mask):
        """Repeat each token's prior over its frames: [b, c, t_x] -> [b, c, t_y]; also the
        aligned log-durations ``log(1e-8 + frames per token)`` [b, 1, t_x]."""
        path = attn.squeeze(1)  # [b, t_x, t_y]
        z_m = torch.matmul(x_m, path)  # [b, c, t_x] @ [b, t_x, t_y]
        z_logs = torch.matmul(x_logs, path)
        logw_ = torch.log(1e-8 + torch.sum(attn, -1)) * x_mask
        return z_m, z_logs, logw_

    def preprocess(self, y, y_lengths, y_max_length):
        """Trim the mel and its lengths down to a multiple of ``n_sqz`` frames (the squeeze
        needs whole groups). ``y``/``y_max_length`` may be None (generation)."""
        if y_max_length is not None:
            y_max_length = (y_max_length // self.n_sqz) * self.n_sqz
            y = y[:, :, :y_max_length]
        y_lengths = (y_lengths // self.n_sqz) * self.n_sqz
        return y, y_lengths, y_max_length

    def store_inverse(self) -> None:
        """Prepare for inference: cache inverse 1x1 weights and fold weight norm. Call after
        training/loading; it changes the state-dict keys of the WN layers."""
        self.decoder.store_inverse()

    @torch.no_grad()
    def infer(self, x: torch.Tensor, x_lengths: torch.Tensor, noise_scale: float = 0.667,
              length_scale: float = 1.0, g: Optional[torch.Tensor] = None) -> InferenceResult:
        """Text -> mel, for readers: the generation branch of ``forward`` with named outputs.

        x: [b, t_x] token ids, x_lengths: [b]; ``noise_scale`` scales the prior's standard
        deviation when sampling (0 gives the mean: deterministic); ``length_scale`` multiplies
        every predicted duration (2 = half the speaking rate). Runs without autograd and in
        whatever train/eval mode the model is in: call ``model.eval()`` first.
        """
        (mel, *_, z_mask), _, (attn, _, _) = self.forward(
            x, x_lengths, g=g, gen=True, noise_scale=noise_scale, length_scale=length_scale)
        attn = attn.squeeze(1)
        mel_lengths = z_mask.squeeze(1).sum(-1).long()
        return InferenceResult(mel=mel, mel_lengths=mel_lengths, attn=attn,
                               durations=attn.sum(-1).long())


def gaussian_log_likelihood_matrix(z: torch.Tensor, x_m: torch.Tensor, x_logs: torch.Tensor) -> torch.Tensor:
    """``logp[b, i, j] = log N(z[:, :, j]; x_m[:, :, i], exp(x_logs[:, :, i])^2)`` summed over channels.

    z: [b, c, t_y], x_m / x_logs: [b, c, t_x] -> [b, t_x, t_y]: how well token i explains
    frame j, the value MAS maximises along a monotonic path. Expanding
    ``-(z - m)^2 / (2 s^2)`` into ``-z^2/(2s^2) + z m / s^2 - m^2/(2s^2)`` turns the
    all-pairs computation into two matrix products instead of a [b, c, t_x, t_y] tensor.
    """
    inv_var = torch.exp(-2 * x_logs)  # 1 / s^2, [b, c, t_x]
    per_token = torch.sum(-0.5 * math.log(2 * math.pi) - x_logs - 0.5 * x_m ** 2 * inv_var, 1)  # [b, t_x]
    cross = torch.matmul((x_m * inv_var).transpose(1, 2), z)  # [b, t_x, t_y]
    quadratic = torch.matmul(inv_var.transpose(1, 2), -0.5 * z ** 2)  # [b, t_x, t_y]
    return per_token.unsqueeze(-1) + quadratic + cross


class FlowGenerator_DDI(FlowGenerator):
    """``FlowGenerator`` whose ActNorm layers initialise themselves from the first batch
    they see (data-dependent initialisation); nothing else differs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for flow in self.decoder.flows:
            if isinstance(flow, modules.ActNorm):
                flow.set_ddi(True)


# --- Loading the original's state dicts ----------------------------------------------
# The original used torch.nn.utils.weight_norm, which stores a weight-normalised conv as
# `<name>.weight_g` (magnitude, [out, 1, 1]) and `<name>.weight_v` (direction, same shape as
# the weight). torch.nn.utils.parametrizations.weight_norm stores the same two tensors as
# `<name>.parametrizations.weight.original0` and `...original1`. Nothing else differs.
_ORIGINAL_TO_OURS = {".weight_g": ".parametrizations.weight.original0",
                     ".weight_v": ".parametrizations.weight.original1"}


def convert_original_state_dict(state_dict: dict) -> dict:
    """The original's ``FlowGenerator`` state dict -> ours (same tensors, renamed keys).

    Renames ``*.weight_g`` / ``*.weight_v`` to the parametrization keys and strips a
    ``module.`` prefix (a state dict saved from a DDP wrapper). Keys already in our layout
    pass through, so converting twice is harmless.
    """
    if state_dict and all(key.startswith("module.") for key in state_dict):
        state_dict = {key[len("module."):]: value for key, value in state_dict.items()}
    converted = {}
    for key, value in state_dict.items():
        for old, new in _ORIGINAL_TO_OURS.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
                break
        converted[key] = value
    return converted


def to_original_state_dict(state_dict: dict) -> dict:
    """Ours -> the original's key layout (the inverse of :func:`convert_original_state_dict`)."""
    converted = {}
    for key, value in state_dict.items():
        for old, new in _ORIGINAL_TO_OURS.items():
            if key.endswith(new):
                key = key[: -len(new)] + old
                break
        converted[key] = value
    return converted


_G, _V = ".parametrizations.weight.original0", ".parametrizations.weight.original1"


def match_weight_norm_form(state_dict: dict, own: dict) -> dict:
    """Bridge weight-normalised and folded convolutions between a state dict and a model
    (``own`` is the model's state dict); ``checkpoint.load_weights`` calls it.

    After ``store_inverse()`` (ours or the original's) a WN convolution holds one plain
    ``weight = g * v / |v|``. A folded state dict loads into a parametrized model as
    ``v = weight, g = |weight|`` (the same weight); a ``g, v`` state dict loads into a
    folded model as ``g * v / |v|``. Norms run over every axis but the output channels.
    """
    state_dict = dict(state_dict)
    for key in own:
        if key.endswith(_G):
            prefix = key[: -len(_G)]
            folded = state_dict.get(prefix + ".weight")
            if folded is not None and key not in state_dict:
                del state_dict[prefix + ".weight"]
                dims = tuple(range(1, folded.dim()))
                state_dict[prefix + _V] = folded
                state_dict[key] = torch.linalg.vector_norm(folded, dim=dims, keepdim=True)
        elif key.endswith(".weight") and key not in state_dict:
            prefix = key[: -len(".weight")]
            g, v = state_dict.get(prefix + _G), state_dict.get(prefix + _V)
            if g is not None and v is not None:
                del state_dict[prefix + _G], state_dict[prefix + _V]
                state_dict[key] = torch._weight_norm(v, g, 0)
    return state_dict


# --- The one constructor ----------------------------------------------------------------

def build_model(hps, model_class=None) -> FlowGenerator:
    """``FlowGenerator`` (or ``model_class``, e.g. ``FlowGenerator_DDI``) for a config.

    The vocabulary is the symbol table plus one blank id when ``data.add_blank`` is on (the
    original spelled this ``len(symbols) + getattr(hps.data, "add_blank", False)`` wherever
    it built a model); the mel channels come from ``data``, everything else from ``model``.
    With ``train.fast`` (the default) the speed devices of ``glow_tts.fast`` are switched
    on: same parameters and results, dropout masks from another random stream.
    """
    from glow_tts import fast
    from glow_tts.text.symbols import symbols

    model_class = model_class or FlowGenerator
    model = model_class(n_vocab=len(symbols) + int(hps.data.add_blank),
                        out_channels=hps.data.n_mel_channels, **hps.model)
    if hps.train.fast:
        fast.enable(model)
    return model
