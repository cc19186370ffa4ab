"""Small tensor helpers shared by the model, the losses and the training loop.

The original's ``commons.py`` too: ``intersperse``, the Noam-scheduled ``Adam``, masks and
alignment paths, the flow's ``squeeze``/``unsqueeze``, the two losses and gradient clipping.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional, Union

import torch
from torch.nn import functional as F


def intersperse(seq: list, item) -> list:
    """``[a, b, c] -> [item, a, item, b, item, c, item]`` (the ``add_blank`` layout).

    A sequence of length n becomes 2n + 1 long: every symbol sits between two blanks.
    """
    result = [item] * (len(seq) * 2 + 1)
    result[1::2] = seq
    return result


# --- Noam-scheduled Adam -------------------------------------------------------------


def _fused_adam_supported(params) -> bool:
    """Whether torch's single-kernel ("fused") Adam can take every tensor in ``params``.

    The fused kernel updates all parameters in one pass instead of one loop per
    operation; it exists for floating-point tensors on the CPU and CUDA. ``params`` is a
    list of tensors or of param-group dicts.
    """
    tensors = [t for item in params
               for t in (item["params"] if isinstance(item, dict) else [item])]
    return bool(tensors) and all(t.is_floating_point() and t.device.type in ("cpu", "cuda")
                                 for t in tensors)


class Adam:
    """``torch.optim.Adam`` driven by the Noam learning-rate schedule, as the original's.

    ``lr(s) = lr0 · d^-0.5 · min(s^-0.5, s · w^-1.5)`` for step ``s = 1, 2, ...``: a linear
    warm-up over ``w = warmup_steps`` steps to a peak at ``s = w``, then a decay like
    ``1/sqrt(s)``. ``d = dim_model`` (the hidden width) scales it so wider models take smaller
    steps; ``lr0 = lr`` is a plain multiplier (1.0 in the original's config). With d=192,
    w=4000, lr0=1: 2.85e-7 at s=1 and a peak of 1.141e-3 at s=4000. Any ``scheduler`` other
    than ``"noam"`` gives the constant rate ``lr``.

    The first call of :meth:`step` uses ``lr(1)``, the next ``lr(2)`` and so on; ``step_num``
    is the step whose rate the *next* update will use. The original's ``state_dict`` held
    only the inner Adam's state; its ``train.py`` rebuilt the count on resume as
    ``(epoch - 1) * len(train_loader)`` (+1), which is exact only while every epoch has had
    the same number of batches (same filelist, batch size and GPU count). Here
    :meth:`state_dict` also carries ``step_num``.

    ``fused`` picks torch's one-kernel Adam, which updates every parameter in a single pass
    (on this project's 2-core CPU the optimizer step of the base model takes 20 ms instead
    of 47 ms). The update is the same formula; only the rounding of the last bit can differ
    from the default multi-tensor loop. ``None`` (the default) uses it wherever every
    parameter is a floating-point tensor on the CPU or CUDA.

    Attributes kept from the original: ``_optim`` (the wrapped ``torch.optim.Adam``, e.g. for
    a ``GradScaler``), ``step_num``, ``cur_lr`` (the rate in use), ``lr`` (the multiplier).
    """

    def __init__(self, params, scheduler, dim_model, warmup_steps=4000, lr=1.0,
                 betas=(0.9, 0.98), eps=1e-9, fused: Optional[bool] = None):
        self.scheduler = scheduler
        self.dim_model = dim_model
        self.warmup_steps = warmup_steps
        self.lr = lr
        self.betas = tuple(betas)
        self.eps = eps
        self.step_num = 1
        self.cur_lr = self.lr_at(self.step_num)
        params = list(params)
        if fused is None:
            fused = _fused_adam_supported(params)
        self.fused = fused
        self._optim = torch.optim.Adam(params, lr=self.cur_lr, betas=self.betas, eps=eps,
                                       fused=fused)

    def lr_scale(self, step_num: int) -> float:
        """The schedule's factor at ``step_num`` (1-based); 1.0 for a constant rate."""
        if self.scheduler != "noam":
            return 1.0
        return self.dim_model ** -0.5 * min(step_num ** -0.5, step_num * self.warmup_steps ** -1.5)

    def lr_at(self, step_num: int) -> float:
        """Learning rate used by update number ``step_num`` (1-based)."""
        return self.lr * self.lr_scale(step_num)

    def _update_learning_rate(self) -> None:
        """Advance the step count and write the new rate into every parameter group."""
        self.step_num += 1
        self._set_lr(self.lr_at(self.step_num))

    def _set_lr(self, value: float) -> None:
        self.cur_lr = value
        for group in self._optim.param_groups:
            group["lr"] = value

    def get_lr(self) -> float:
        """The learning rate the next :meth:`step` will use."""
        return self.cur_lr

    @property
    def param_groups(self):
        return self._optim.param_groups

    def step(self) -> None:
        self._optim.step()
        self._update_learning_rate()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optim.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        """The inner Adam's state plus the schedule position (``step_num``)."""
        return {"optim": self._optim.state_dict(), "step_num": self.step_num,
                "scheduler": self.scheduler, "dim_model": self.dim_model,
                "warmup_steps": self.warmup_steps, "lr": self.lr}

    def load_state_dict(self, state: dict) -> None:
        """Restore from :meth:`state_dict`, or from the original's bare Adam state.

        The original saved only ``torch.optim.Adam.state_dict()``; its moments carry the
        number of updates done (``state[i]["step"]``), from which the schedule position is
        recovered (``step_num = updates + 1``), so even an original checkpoint resumes at
        the right learning rate.
        """
        if "optim" in state and "step_num" in state:
            self._optim.load_state_dict(state["optim"])
            self.step_num = int(state["step_num"])
        elif "state" in state and "param_groups" in state:
            self._optim.load_state_dict(state)
            steps = [int(s["step"]) for s in state["state"].values() if "step" in s]
            self.step_num = (max(steps) if steps else 0) + 1
        else:
            raise ValueError(
                "optimizer state has neither our layout ('optim', 'step_num') nor torch's "
                f"('state', 'param_groups'); keys: {sorted(state)}")
        # The saved param_groups hold the rate of the saved run; recompute it from this
        # optimizer's schedule so a changed lr/warm-up in the config takes effect. They
        # also hold the saved run's kernel choice (the original's checkpoints: not fused);
        # keep this optimizer's, so a resumed run takes the same arithmetic as a fresh one.
        for group in self._optim.param_groups:
            group["fused"] = self.fused
        self._set_lr(self.lr_at(self.step_num))


# --- Masks, alignment paths, squeezing, losses, gradient clipping --------------------


def sequence_mask(length: torch.Tensor, max_length: Optional[int] = None) -> torch.Tensor:
    """Boolean mask of the valid positions of each sequence in a padded batch.

    length: [b] (int or float); returns [b, max_length] with ``mask[i, t] = t < length[i]``.
    ``max_length`` defaults to ``length.max()``. Float lengths work too (``generate_path``
    passes cumulative float durations): position ``t`` counts as valid while ``t < length``.
    """
    if max_length is None:
        max_length = length.max()
    positions = torch.arange(max_length, dtype=length.dtype, device=length.device)  # [t]
    return positions.unsqueeze(0) < length.unsqueeze(1)


def generate_path(duration: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Hard monotonic alignment from per-token durations (frames).

    duration: [b, t_x] (whole numbers, int or float); mask: [b, t_x, t_y] (valid pairs).
    Returns path [b, t_x, t_y] in ``mask``'s dtype: ``path[i, x, y] = 1`` when frame ``y``
    belongs to token ``x``, i.e. ``end[x-1] <= y < end[x]`` with ``end = cumsum(duration)``.
    Frames past the last token's end, and pairs outside ``mask``, are 0.
    """
    batch, t_x, t_y = mask.shape
    token_end = torch.cumsum(duration, dim=1)  # [b, t_x]: first frame *after* each token
    # before_end[i, x, y] = 1 when frame y comes before the end of token x.
    before_end = sequence_mask(token_end.reshape(-1), t_y).reshape(batch, t_x, t_y).to(mask.dtype)
    # Frames before the end of token x but not before the end of token x-1 belong to x.
    before_previous_end = F.pad(before_end, (0, 0, 1, 0))[:, :-1]
    return (before_end - before_previous_end) * mask


def squeeze(x: torch.Tensor, x_mask: Optional[torch.Tensor] = None, n_sqz: int = 2):
    """Fold groups of ``n_sqz`` neighbouring frames into the channel axis.

    x: [b, c, t] -> [b, c * n_sqz, t // n_sqz]; a trailing ``t % n_sqz`` frames are dropped.
    Channel ``k * c + ch`` of output frame ``f`` holds channel ``ch`` of input frame
    ``f * n_sqz + k``. x_mask: [b, 1, t] -> [b, 1, t // n_sqz], taking the mask of the *last*
    frame of each group (a group counts as valid only when all its frames are, since
    lengths are whole groups in practice). Without a mask, an all-ones mask is returned.
    Returns ``(x_squeezed * mask, mask)``.
    """
    batch, channels, frames = x.shape
    frames = (frames // n_sqz) * n_sqz
    x = x[:, :, :frames]
    grouped = x.reshape(batch, channels, frames // n_sqz, n_sqz)  # [b, c, t', k]
    x_sqz = grouped.permute(0, 3, 1, 2).reshape(batch, channels * n_sqz, frames // n_sqz)
    if x_mask is not None:
        x_mask = x_mask[:, :, n_sqz - 1::n_sqz]
    else:
        x_mask = torch.ones(batch, 1, frames // n_sqz, device=x.device, dtype=x.dtype)
    return x_sqz * x_mask, x_mask


def unsqueeze(x: torch.Tensor, x_mask: Optional[torch.Tensor] = None, n_sqz: int = 2):
    """Inverse of :func:`squeeze`: [b, c * n_sqz, t'] -> [b, c, t' * n_sqz].

    x_mask: [b, 1, t'] -> [b, 1, t' * n_sqz] (each group's mask repeated over its frames).
    Returns ``(x_unsqueezed * mask, mask)``.
    """
    batch, channels, frames = x.shape
    grouped = x.reshape(batch, n_sqz, channels // n_sqz, frames)  # [b, k, c, t']
    x_unsqz = grouped.permute(0, 2, 3, 1).reshape(batch, channels // n_sqz, frames * n_sqz)
    if x_mask is not None:
        x_mask = x_mask.unsqueeze(-1).repeat(1, 1, 1, n_sqz).reshape(batch, 1, frames * n_sqz)
    else:
        x_mask = torch.ones(batch, 1, frames * n_sqz, device=x.device, dtype=x.dtype)
    return x_unsqz * x_mask, x_mask


def mle_loss(z: torch.Tensor, m: torch.Tensor, logs: torch.Tensor, logdet: torch.Tensor,
             mask: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood of the mel under the flow, in nats per mel value.

    z, m, logs: [b, c, t] (latent, aligned prior mean and log-std, already zero on padding);
    logdet: [b] (log|det dz/dy| of the decoder); mask: [b, 1, t].

    ``-log p(y) = sum over valid (c, t) of [log s + (z - m)^2 / (2 s^2) + log(2 pi) / 2]
    - logdet``, summed over the batch and divided by the number of valid values
    ``N = sum(mask) * c``. The sums run over the whole tensors: padding contributes nothing
    because z, m and logs are zero there (log 0 = 0, (0 - 0)^2 = 0), which is why the
    constant ``log(2 pi) / 2`` is added once after dividing rather than inside the sum.
    """
    value_count = torch.sum(torch.ones_like(z) * mask)  # N = valid frames x channels
    nll = torch.sum(logs) + 0.5 * torch.sum(torch.exp(-2 * logs) * (z - m) ** 2)
    nll = nll - torch.sum(logdet)
    return nll / value_count + 0.5 * math.log(2 * math.pi)


def duration_loss(logw: torch.Tensor, logw_: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Squared error of the predicted log-durations, averaged over the valid tokens.

    logw: [b, 1, t_x] predicted, logw_: [b, 1, t_x] from the alignment (``log(1e-8 + d)``),
    both zero on padding; lengths: [b] token counts. Returns ``sum((logw - logw_)^2) /
    sum(lengths)``.
    """
    return torch.sum((logw - logw_) ** 2) / torch.sum(lengths)


def clip_grad_value_(parameters: Union[torch.Tensor, Iterable[torch.Tensor]],
                     clip_value: Optional[float], norm_type: float = 2) -> torch.Tensor:
    """Clamp every gradient element to ``[-clip_value, clip_value]`` in place.

    Returns the total ``norm_type``-norm of all gradients *before* clipping, as a 0-dim
    tensor on the gradients' device (``float(...)`` or ``.item()`` it when logging; 0.0
    when no parameter has a gradient). ``clip_value=None`` only measures.

    The original summed ``p.grad.norm().item() ** norm_type`` parameter by parameter, one
    host sync per parameter (about 200 per step, each waiting for a GPU); torch's
    ``get_total_norm`` computes the same norm without leaving the device, and
    ``torch.nn.utils.clip_grad_value_`` clamps, as the original's ``clamp_`` did.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = [p for p in parameters if p.grad is not None]
    total_norm = torch.nn.utils.get_total_norm([p.grad for p in parameters], norm_type)
    if clip_value is not None:
        torch.nn.utils.clip_grad_value_(parameters, float(clip_value))
    return total_norm
