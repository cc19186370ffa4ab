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
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts import commons
from glow_tts.hparams import get_hparams_from_file

hps = get_hparams_from_file("../configs/base.json")

# %% [markdown]
# <a id="claim-1-1-2-arguments"></a>
#
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
optimizer_g = commons.Adam(params, scheduler=hps.train.scheduler,
                           dim_model=hps.model.hidden_channels,
                           warmup_steps=hps.train.warmup_steps,
                           lr=hps.train.learning_rate,
                           betas=hps.train.betas, eps=hps.train.eps)
d, w = hps.model.hidden_channels, hps.train.warmup_steps
steps = torch.arange(1, 20_001)
rates = torch.tensor([optimizer_g.lr_at(int(s)) for s in steps], dtype=torch.float64)
peak_step = int(steps[rates.argmax()])
print(f"lr(1) = {rates[0]:.3g}, peak lr({peak_step}) = {rates.max():.4g}, "
      f"lr(20000) = {rates[-1]:.3g}")

# %%
assert (d, w) == (192, 4000)
assert peak_step == w
assert abs(rates.max().item() - 1.141e-3) < 1e-6
assert abs(rates.max().item() - d ** -0.5 * w ** -0.5) < 1e-12
assert abs(rates[0].item() - 2.85e-7) < 1e-9
assert optimizer_g.get_lr() == optimizer_g.lr_at(1)   # the first update uses lr(1)

# %% tags=["plot"]
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(steps, rates * 1e3)
ax.axvline(w, color="gray", ls="--", lw=1)
ax.annotate(f"{figures.both('peak', '최댓값')} at s = w = {w}\n{rates.max() * 1e3:.3f}e-3",
            (w, rates.max() * 1e3), xytext=(w * 1.6, rates.max() * 1e3 * 0.92),
            arrowprops=dict(arrowstyle="->"), family=figures.BILINGUAL)
ax.set_xlabel(figures.both("update s", "업데이트 s"), family=figures.BILINGUAL)
ax.set_ylabel(figures.both("learning rate (×1e-3)", "학습률 (×1e-3)"),
              family=figures.BILINGUAL)
ax.set_title(figures.both("Noam schedule", "Noam 스케줄") + ", d = 192, w = 4000, lr0 = 1",
             family=figures.BILINGUAL)
fig.tight_layout()
plt.show()

# %% [markdown]
# <a id="claim-1-1-2-noam"></a>
#
# The notes (§1.1.2) describe the schedule as a linear warm-up followed by an inverse
# square root, the learning-rate schedule of "Attention Is All You Need". Right on both
# counts. Before the peak, doubling the step doubles the rate; after it, four times the
# step gives half the rate; and every rate is the paper's formula (its section 5.3),
# $d^{-1/2} \min(s^{-1/2}, s\,w^{-3/2})$, times `lr`.

# %%
lr_at = optimizer_g.lr_at
assert all(abs(lr_at(2 * s) / lr_at(s) - 2) < 1e-12 for s in (1, 10, 1000, w // 2))
assert all(abs(lr_at(4 * s) / lr_at(s) - 0.5) < 1e-12 for s in (w, 2 * w, 5 * w))
for s in range(1, 3 * w, 97):
    paper = d ** -0.5 * min(s ** -0.5, s * w ** -1.5)                # Vaswani et al.
    assert abs(hps.train.learning_rate * paper / lr_at(s) - 1) < 1e-12

# %% [markdown]
# <a id="claim-1-1-2-commons-adam"></a>
#
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
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, 1))
twin = copy.deepcopy(model)
d_small, w_small = 16, 50

ours = commons.Adam(model.parameters(), "noam", dim_model=d_small, warmup_steps=w_small)
assert ours.fused
torch_adam = torch.optim.Adam(twin.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9,
                              fused=True)
noam = torch.optim.lr_scheduler.LambdaLR(
    torch_adam,
    lambda k: d_small ** -0.5 * min((k + 1) ** -0.5, (k + 1) * w_small ** -1.5))

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
constant = commons.Adam([torch.nn.Parameter(torch.zeros(1))], scheduler="constant",
                        dim_model=192, lr=3e-4)
for _ in range(5):
    constant.step()
assert constant.get_lr() == 3e-4

# %% [markdown]
# ## What a resumed run needs
#
# The schedule's position is the step count. The original's `commons.Adam` kept it in a
# Python attribute, `step_num`, and its `state_dict()` returned only the inner
# `torch.optim.Adam`'s state (moments and the current rate), so a checkpoint does not hold
# it. The original's `train.py` rebuilds it on resume from the epoch number instead:
#
# ```python
# epoch_str += 1                                          # the epoch to run next
# optimizer_g.step_num = (epoch_str - 1) * len(train_loader)
# optimizer_g._update_learning_rate()                     # step_num += 1, set the rate
# ```
#
# A fresh run starts at `step_num = 1` and adds one per update, so after $E$ epochs of
# $L$ batches it stands at $E L + 1$. The rebuild gives $(E + 1 - 1) \cdot L' + 1$, where
# $L'$ = `len(train_loader)` *of the resumed run*. It is exact when $L' = L$ for every
# epoch before, and off by $E\,(L' - L)$ steps otherwise. $L$ is the number of batches
# one process draws per epoch: with the original's `DistributedSampler` and
# `drop_last=True`, $L = \lfloor \lceil N / W \rceil / B \rfloor$ for $N$ utterances, $W$
# GPUs and batch size $B$. So a resume is exact as long as the filelist, the batch size and
# the number of GPUs stay the same; change any of them and the warm-up jumps.
#
# The cells below run that rule on a small Noam optimizer (ours, which has the
# original's `step_num` and `_update_learning_rate`), with the batch counts of real
# `DataLoader`s, and compare the rates the resumed run uses with those of a run that
# never stopped.

# %%
def batches_per_epoch(n_items, batch_size, n_gpus):
    """len(train_loader) of one process, built the way the original builds it."""
    dataset = TensorDataset(torch.arange(n_items))
    sampler = DistributedSampler(dataset, num_replicas=n_gpus, rank=0, shuffle=True)
    loader = DataLoader(dataset, batch_size=batch_size, sampler=sampler, drop_last=True)
    return len(loader)


def new_noam():   # a new process: step_num starts at 1
    return commons.Adam([torch.nn.Parameter(torch.zeros(1))], "noam",
                        dim_model=d_small, warmup_steps=w_small)


def rates_used(optimizer, n_updates):
    """The learning rate of each of the next n_updates updates."""
    used = []
    for _ in range(n_updates):
        used.append(optimizer.get_lr())
        optimizer.step()
    return used


def resume_like_the_original(epochs_done, len_train_loader):
    optimizer = new_noam()                       # only the inner Adam's state is loaded
    epoch_str = epochs_done + 1
    optimizer.step_num = (epoch_str - 1) * len_train_loader
    optimizer._update_learning_rate()
    return optimizer


L = batches_per_epoch(100, batch_size=8, n_gpus=1)
never_stopped = rates_used(new_noam(), 3 * L)               # epochs 1-3, no interruption
same = rates_used(resume_like_the_original(2, L), L)        # stopped after epoch 2
L_2gpus = batches_per_epoch(100, batch_size=8, n_gpus=2)
L_batch4 = batches_per_epoch(100, batch_size=4, n_gpus=1)
on_2gpus = resume_like_the_original(2, L_2gpus)
on_batch4 = resume_like_the_original(2, L_batch4)
print(f"L = {L}; after 2 epochs the next update is number {2 * L + 1}")
print(f"resumed, same loader:         step_num {resume_like_the_original(2, L).step_num}")
print(f"resumed on 2 GPUs (L = {L_2gpus}):    step_num {on_2gpus.step_num}")
print(f"resumed with batch 4 (L = {L_batch4}): step_num {on_batch4.step_num}")


# %%
assert same == never_stopped[2 * L:]                         # exact, rate for rate
assert on_2gpus.step_num == 2 * L_2gpus + 1 != 2 * L + 1     # warm-up set back
assert on_batch4.step_num == 2 * L_batch4 + 1 != 2 * L + 1   # warm-up pushed ahead
assert on_2gpus.get_lr() < never_stopped[2 * L] < on_batch4.get_lr()   # the rate jumps

# %% [markdown]
# Here `state_dict()` carries `step_num`, so a resumed run continues from the step it
# stopped at, whatever its loader looks like now:

# %%
saved = ours.state_dict()
restored = commons.Adam(copy.deepcopy(model).parameters(), "noam",
                        dim_model=d_small, warmup_steps=w_small)
assert restored.step_num == 1
restored.load_state_dict(saved)
assert restored.step_num == ours.step_num == 201
assert restored.get_lr() == ours.get_lr()
