"""Speed devices, kept apart from the model code and switched on in one place.

The model files (``models.py``, ``modules.py``, ``attentions.py``, ``commons.py``,
``monotonic_align.py``) read like the original: ``nn.Dropout``, the plain alignment
programme. Two devices make training faster without changing what it computes:

* :mod:`glow_tts.fast.dropout`: the dropout mask drawn from geometric gaps between dropped
  elements (same Bernoulli(p) distribution, about ``p`` times as many random numbers);
* :mod:`glow_tts.fast.mas`: the alignment search with the batch shared over threads, exactly
  the plain programme's paths.

``enable(model)`` switches both on for one model; ``models.build_model`` calls it when the
config says ``train.fast`` (the default), so every command (train, init, synthesize, demo)
gets the same model. Nothing else changes: parameters, state dicts, train/eval behaviour
and the alignment paths are the same; only the dropout masks come from another random
stream (same distribution, so a run is not bit-identical to one with ``train.fast: false``).

How the alignment hook works: ``monotonic_align.maximum_path`` runs the plain programme
unless a kernel has been set with ``monotonic_align.use_kernel``; ``enable`` registers a
forward pre-hook and an always-called forward hook on the model that open and close that
block around each forward pass. So ``models.py`` keeps calling
``monotonic_align.maximum_path(...)`` exactly as the original does, the fast kernel is used
only inside this model's forward pass (other models, and direct calls, get the plain
programme), and an exception inside the forward still closes the block.
"""

from __future__ import annotations

from torch import nn

from glow_tts import monotonic_align
from glow_tts.fast import dropout, mas

__all__ = ["enable", "is_enabled"]


class _FastAlignmentHooks:
    """Forward hooks that run a model's forward pass inside
    ``monotonic_align.use_kernel(fast.mas.maximum_path)``."""

    def __init__(self):
        self._open = []   # one context per forward pass in progress (a stack, in case of nesting)

    def enter(self, module, args):
        context = monotonic_align.use_kernel(mas.maximum_path)
        context.__enter__()
        self._open.append(context)

    def leave(self, module, args, output):
        self._open.pop().__exit__(None, None, None)


def enable(model: nn.Module) -> nn.Module:
    """Switch the speed devices on for ``model`` (in place) and return it.

    * every plain ``nn.Dropout`` becomes a ``fast.dropout.GeometricDropout`` (same ``p``,
      same train/eval flag);
    * the model's forward pass runs its alignment search with ``fast.mas.maximum_path``.

    Idempotent: a second call changes nothing. Call it after building the model, before
    wrapping it (DDP calls the wrapped model, so its hooks run).
    """
    dropout.swap_dropouts(model)
    if not is_enabled(model):
        hooks = _FastAlignmentHooks()
        model._glow_tts_fast_alignment = hooks
        model.register_forward_pre_hook(hooks.enter)
        model.register_forward_hook(hooks.leave, always_call=True)
    return model


def is_enabled(model: nn.Module) -> bool:
    """Whether :func:`enable` has been called on ``model``."""
    return isinstance(getattr(model, "_glow_tts_fast_alignment", None), _FastAlignmentHooks)
