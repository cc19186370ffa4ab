"""Small tensor helpers shared by the model, the losses and the training loop."""

from __future__ import annotations


def intersperse(seq: list, item) -> list:
    """``[a, b, c] -> [item, a, item, b, item, c, item]`` (the ``add_blank`` layout).

    A sequence of length n becomes 2n + 1 long: every symbol sits between two blanks.
    """
    result = [item] * (len(seq) * 2 + 1)
    result[1::2] = seq
    return result


# --- Noam-scheduled Adam -------------------------------------------------------------
# The imports sit here so this block can be read (and was appended) on its own.
import torch  # noqa: E402


class Adam:
    """``torch.optim.Adam`` driven by the Noam learning-rate schedule, as the original's.

    ``lr(s) = lr0 · d^-0.5 · min(s^-0.5, s · w^-1.5)`` for step ``s = 1, 2, ...``: a linear
    warm-up over ``w = warmup_steps`` steps to a peak at ``s = w``, then a decay like
    ``1/sqrt(s)``. ``d = dim_model`` (the hidden width) scales it so wider models take smaller
    steps; ``lr0 = lr`` is a plain multiplier (1.0 in the original's config). With d=192,
    w=4000, lr0=1: 2.85e-7 at s=1 and a peak of 1.141e-3 at s=4000. Any ``scheduler`` other
    than ``"noam"`` gives the constant rate ``lr``.

    The first call of :meth:`step` uses ``lr(1)``, the next ``lr(2)`` and so on; ``step_num``
    is the step whose rate the *next* update will use. Unlike the original, whose
    ``state_dict`` held only the inner Adam's moments (so a resumed run restarted the
    warm-up at step 1), :meth:`state_dict` also carries ``step_num``.

    Attributes kept from the original: ``_optim`` (the wrapped ``torch.optim.Adam``, e.g. for
    a ``GradScaler``), ``step_num``, ``cur_lr`` (the rate in use), ``lr`` (the multiplier).
    """

    def __init__(self, params, scheduler, dim_model, warmup_steps=4000, lr=1.0,
                 betas=(0.9, 0.98), eps=1e-9):
        self.scheduler = scheduler
        self.dim_model = dim_model
        self.warmup_steps = warmup_steps
        self.lr = lr
        self.betas = tuple(betas)
        self.eps = eps
        self.step_num = 1
        self.cur_lr = self.lr_at(self.step_num)
        self._optim = torch.optim.Adam(params, lr=self.cur_lr, betas=self.betas, eps=eps)

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
        # optimizer's schedule so a changed lr/warm-up in the config takes effect.
        self._set_lr(self.lr_at(self.step_num))
