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
# # The training loop: one step, train() and eval(), and the gen sample
#
# *Reviews:* `train.py`, `train_and_eval` (the `if rank == 0:` block with the logger,
# `check_git_hash` and the two `SummaryWriter`s; `generator = DDP(generator)`), `train`
# (`generator.train()`, the loop over `(x, x_lengths, y, y_lengths)`, the two losses,
# `backward`, `clip_grad_value_`, `step`, and every `log_interval` batches
# `generator.module(x[:1], x_lengths[:1], gen=True)` plus `utils.summarize`) and `evaluate`.
# Ours: `glow_tts/train.py`, the same three functions.
#
# You will learn:
#
# * the four tensors a step receives and what the model returns for them;
# * what one step does: forward, `mle_loss + duration_loss`, backward, clip, update;
# * when the generated sample really runs, counted in a real run, and what `gen=True`
#   returns.
#
# What changes with more than one process (rank 0's bookkeeping, `DDP` and `.module`, the
# gradient all-reduce) is the next page's subject (12, training on several ranks).
#
# Everything below drives the real `glow_tts.train.train_and_eval(rank, n_gpus, hps)` on a
# small slice of the embedded Korean corpus, with a micro version of `configs/tiny.json`
# (a few seconds on a CPU).
#
# covers: T28, T29

# %%
import inspect
import os
import tempfile

import torch
import torch.distributed as dist
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn.parallel import DistributedDataParallel as DDP

import glow_tts.train
from glow_tts import commons
from glow_tts.corpus import build_corpus
from glow_tts.data_utils import TextMelLoader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols
from glow_tts.data_utils import build_train_loader
from glow_tts.train import train_and_eval, unwrap

torch.set_num_threads(1)

# %% [markdown]
# ## A micro run
#
# Forty sentences (36 for training), batches of 4: 9 batches per epoch. The model keeps
# every part of the tiny config but with fewer and narrower layers. `log_interval = 4` and
# `max_steps = 12` make the run stop three batches into the second epoch.

# %%
work = tempfile.mkdtemp(prefix="glow_tts_12_")
corpus = build_corpus(os.path.join(work, "corpus"), limit=40, progress=False)

hps = get_hparams_from_file("../configs/tiny.json")
hps.data.training_files = corpus.filelists["train"]
hps.data.validation_files = corpus.filelists["val"]
for key, value in {"hidden_channels": 32, "hidden_channels_enc": 32, "hidden_channels_dec": 32,
                   "filter_channels": 64, "filter_channels_dp": 32, "n_layers_enc": 1,
                   "n_blocks_dec": 2, "n_block_layers": 2}.items():
    hps.model[key] = value
hps.train.batch_size = 4
hps.train.log_interval = 4
hps.train.max_steps = 12
hps.train.checkpoint_interval = 1000
hps.train.ddi = False
hps.train.use_cuda = False
hps.model_dir = os.path.join(work, "run")
os.makedirs(hps.model_dir)

# %% [markdown]
# ## What one step receives
#
# `train` loops `for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader)`.
# With the loader `train_and_eval` builds (`build_train_loader`: a `DistributedSampler`
# shard, `drop_last=True`, `TextMelCollate`), one batch is:
#
# | name | shape | dtype |
# |---|---|---|
# | `x` | `[B, T_x]` | int64 token ids, zero-padded |
# | `x_lengths` | `[B]` | int64, descending |
# | `y` | `[B, 80, T_y]` | float32 log-mel, zero-padded |
# | `y_lengths` | `[B]` | int64, in the rows' (text) order |
#
# Walkthrough 05 takes this batch apart, including the notes' two slips about it: `y` is a
# float **tensor**, not a NumPy array (§1.2.4.3), and `y_lengths` follows the **text**
# order rather than being sorted (same section). Here we only check the four on a batch
# from the real training loader.

# %%
dataset = TextMelLoader(hps.data.training_files, hps.data)
sampler, train_loader = build_train_loader(dataset, hps.train.batch_size,
                                           hps.train.num_workers, hps.train.seed,
                                           rank=0, world_size=1)
sampler.set_epoch(1)
x, x_lengths, y, y_lengths = next(iter(train_loader))
B = hps.train.batch_size
print(tuple(x.shape), x.dtype, tuple(x_lengths.shape), tuple(y.shape), y.dtype, tuple(y_lengths.shape))

# %%
assert len(train_loader) == len(dataset) // B == 9
assert x.shape == (B, int(x_lengths.max())) and x.dtype == torch.int64
assert x_lengths.shape == (B,) and torch.all(x_lengths[:-1] >= x_lengths[1:])
assert y.shape == (B, hps.data.n_mel_channels, int(y_lengths.max())) and y.dtype == torch.float32
assert isinstance(y, torch.Tensor) and y_lengths.dtype == torch.int64

# %% [markdown]
# ## One step, by hand
#
# The body of `train` for one batch, with a fresh model:
#
# 1. `generator(x, x_lengths, y, y_lengths, gen=False)` runs the mel *forward* through the
#    flow to `z`, finds the alignment with MAS and returns the nested tuple
#    `((z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_))`;
# 2. `l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)`: the negative
#    log-likelihood of the mel per frame and channel, and
#    `l_length = commons.duration_loss(logw, logw_, x_lengths)`: the squared error of the
#    predicted log-durations (walkthrough 07);
# 3. `loss_g = l_mle + l_length`, `backward()`, `commons.clip_grad_value_(params, 5)`
#    (clips every gradient element to $[-5, 5]$ and returns the gradient norm before
#    clipping), `optimizer_g.step()`.
#
# The flow folds pairs of frames (`n_sqz = 2`), so `z` has $T_y$ rounded down to an even
# number of frames.

# %%
torch.manual_seed(hps.train.seed)
generator = FlowGenerator(len(symbols) + hps.data.add_blank, out_channels=80, **hps.model)
optimizer_g = commons.Adam(generator.parameters(), scheduler=hps.train.scheduler,
                           dim_model=hps.model.hidden_channels, warmup_steps=hps.train.warmup_steps,
                           lr=hps.train.learning_rate, betas=hps.train.betas, eps=hps.train.eps)
generator.train()
optimizer_g.zero_grad()
(z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = \
    generator(x, x_lengths, y, y_lengths, gen=False)
l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
l_length = commons.duration_loss(logw, logw_, x_lengths)
loss_g = l_mle + l_length
loss_g.backward()
grad_norm = commons.clip_grad_value_(generator.parameters(), hps.train.grad_clip)
optimizer_g.step()
T_y = y.shape[2] // 2 * 2
print(f"z {tuple(z.shape)}  attn {tuple(attn.shape)}  logw {tuple(logw.shape)}  "
      f"l_mle {l_mle.item():.3f}  l_length {l_length.item():.3f}  grad_norm {grad_norm:.2f}")

# %%
assert z.shape == z_m.shape == (B, 80, T_y) and z_mask.shape == (B, 1, T_y)   # [b, c, t_y']
assert logdet.shape == (B,) and x_m.shape == (B, 80, x.shape[1])              # [b], [b, c, t_x]
assert attn.shape == (B, 1, x.shape[1], T_y) and logw.shape == logw_.shape == (B, 1, x.shape[1])
assert torch.equal(attn.sum(dim=(2, 3)).squeeze(1), (y_lengths // 2 * 2).float())  # every frame used once
assert all(p.grad is None or p.grad.abs().max() <= hps.train.grad_clip for p in generator.parameters())
norm_after = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in generator.parameters() if p.grad is not None]))
assert grad_norm >= norm_after                       # the returned norm is the one before clipping
assert torch.isfinite(loss_g) and optimizer_g.step_num == 2

# %% [markdown]
# ## The real run, instrumented
#
# To see *how* the loop calls the model, we wrap `FlowGenerator.forward` for the duration
# of the run: the wrapper notes, for every call, whether it generates (`gen`), the
# module's `training` flag, and whether autograd and inference mode are on, then calls
# the real method. (`train_and_eval` builds its model inside; patching the class reaches
# it.) The run is `train_and_eval(0, 1, hps)`: rank 0 of a world of one, as `main` calls
# it on a one-CPU, one-process run.

# %%
calls = []
real_forward = FlowGenerator.forward


def watched_forward(self, x, x_lengths, *args, gen=False, **kwargs):
    calls.append({"gen": gen, "training": self.training, "grad": torch.is_grad_enabled(),
                  "inference_mode": torch.is_inference_mode_enabled(), "batch": x.shape[0],
                  "step": glow_tts.train.global_step})
    return real_forward(self, x, x_lengths, *args, gen=gen, **kwargs)


FlowGenerator.forward = watched_forward
step_losses = []   # on_step: the loop calls it after every update with the step's losses
try:
    result = train_and_eval(0, 1, hps,
                            on_step=lambda step, l, _: step_losses.append([step, *l]))
finally:
    FlowGenerator.forward = real_forward
print("steps:", result["global_step"], "| epochs:", result["epoch"],
      "| forward calls:", len(calls), "| files:", sorted(os.listdir(hps.model_dir)))

# %% [markdown]
# `train_and_eval` returns the global step and the trained model (a convenience of ours,
# for tests and the demo); the losses of every step came through `on_step`. Twelve steps:

# %%
steps, mle_losses, duration_losses = zip(*step_losses)
print([f"{m:.2f}" for m in mle_losses])
assert list(steps) == list(range(1, 13)) and result["global_step"] == 12 and result["epoch"] == 2
assert all(torch.isfinite(torch.tensor(v)) for v in mle_losses + duration_losses)

# %% [markdown]
# <a id="claim-2-1-3-train-and-eval"></a>
#
# ## `train()` and `eval()`
#
# `train` calls `generator.train()` before its loop; `evaluate` calls
# `generator.eval()` and runs under `torch.no_grad()`. The forward calls confirm it:
# training steps run in train mode with autograd on; evaluation runs in eval mode with
# autograd off. Both are the plain `nn.Module` switches (walkthrough 06 shows what they
# change: dropout).

# %%
train_calls = [c for c in calls if not c["gen"] and c["training"]]
eval_calls = [c for c in calls if not c["gen"] and not c["training"]]
sample_calls = [c for c in calls if c["gen"]]
assert len(train_calls) == 12 and all(c["grad"] for c in train_calls)
assert eval_calls and not any(c["grad"] for c in eval_calls)
assert len(calls) == len(train_calls) + len(eval_calls) + len(sample_calls)

# %% [markdown]
# ## When the gen sample runs
#
# <a id="claim-2-2-2-gen-sample"></a>
#
# > **The notes say** (§2.2.2) that the line
# > `(y_gen, *_), *_ = generator.module(x[:1], x_lengths[:1], gen=True)` runs when
# > `batch_idx` is 0. **In fact** the original runs it under
# > `if batch_idx % hps.train.log_interval == 0`: every `log_interval` batches (20 in the
# > shipped config), so batches 0, 20, 40, … of every epoch; with the notes' 750 batches
# > per epoch that is 38 samples per epoch, not one. Ours counts the same way over the
# > whole run, `(global_step - 1) % log_interval == 0`, which is the same rule in the
# > first epoch and does not restart every epoch. And ours runs the sample in
# > **eval mode under `torch.inference_mode()`**, where the original generated in train
# > mode (dropout on) with autograd recording. So: **Partly right**: batch 0 is one of the
# > batches that run it (on rank 0), not the only one.
#
# Our run has 9 batches per epoch, `log_interval = 4` and 12 steps. Step $s$ (counted
# from 1) is batch $(s - 1) \bmod 9$ of epoch $\lfloor (s - 1) / 9 \rfloor + 1$. The three
# rules pick different steps:
#
# * the notes' reading, `batch_idx == 0`: steps 1 and 10 (the first batch of each epoch);
# * the original, `batch_idx % 4 == 0`: batches 0, 4, 8 of epoch 1 and 0 of epoch 2,
#   steps 1, 5, 9, 10 (two samples in a row where the epoch wraps);
# * ours, `(global_step - 1) % 4 == 0`: steps 1, 5, 9, evenly spaced.

# %%
batches_per_epoch = len(train_loader)
batch_idx_of = {s: (s - 1) % batches_per_epoch for s in range(1, 13)}
notes_rule = [s for s, b in batch_idx_of.items() if b == 0]
original_rule = [s for s, b in batch_idx_of.items() if b % hps.train.log_interval == 0]
ours_rule = [s for s in batch_idx_of if (s - 1) % hps.train.log_interval == 0]
observed = [c["step"] for c in sample_calls]
print("sample calls at steps:", observed, "| notes:", notes_rule, "| original:", original_rule)

# %%
assert (notes_rule, original_rule, ours_rule) == ([1, 10], [1, 5, 9, 10], [1, 5, 9])
assert observed == ours_rule                                       # the run follows our rule
assert all(c["batch"] == 1 for c in sample_calls)                 # x[:1]: the first utterance only
assert all(not c["training"] and c["inference_mode"] for c in sample_calls)
assert -(-750 // 20) == len(range(0, 750, 20)) == 38                # the notes' epoch, every 20 batches

# %% [markdown]
# ## What `gen=True` returns
#
# The same nested tuple as training, with the generated mel in the first slot:
# `((y_gen, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_))`.
# `logdet` is `None` (the flow ran backwards; no likelihood is computed), and `attn` is the
# path built from the *predicted* durations rather than from MAS. The original's
# `(y_gen, *_), *_ = ...` keeps only `y_gen`: `[1, 80, T]`, with $T$ the sum of the
# rounded-up predicted durations (walkthrough 13).

# %%
model = result["generator"]
model.eval()
with torch.inference_mode():
    (y_gen, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = \
        model(x[:1], x_lengths[:1], gen=True, noise_scale=0.667)
frames = int(torch.ceil(torch.exp(logw) * x_mask).sum())
print(tuple(y_gen.shape), logdet, tuple(attn.shape), frames)

# %%
assert y_gen.shape == (1, 80, y_gen.shape[2]) and logdet is None
assert int(z_mask.sum()) == int(attn.sum()) == y_gen.shape[2] == frames // 2 * 2   # trimmed to whole squeeze pairs
assert attn.shape == (1, 1, int(x_lengths[0]), y_gen.shape[2])
