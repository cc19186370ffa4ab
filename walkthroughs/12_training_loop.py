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
# *Reviews:* `train.py`, `train` (`generator.train()`, the loop over
# `(x, x_lengths, y, y_lengths)`, the two losses, `backward`, `clip_grad_value_`, `step`, and every `log_interval` batches
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
import os
import tempfile

import torch

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
import glow_tts.train
from glow_tts import commons
from glow_tts.corpus import build_corpus
from glow_tts.data_utils import TextMelLoader, build_train_loader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols
from glow_tts.train import train_and_eval

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
micro = {"hidden_channels": 32, "hidden_channels_enc": 32, "hidden_channels_dec": 32,
         "filter_channels": 64, "filter_channels_dp": 32, "n_layers_enc": 1,
         "n_blocks_dec": 2, "n_block_layers": 2}
for key, value in micro.items():
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
print(tuple(x.shape), x.dtype, tuple(x_lengths.shape), tuple(y.shape), y.dtype,
      tuple(y_lengths.shape))

# %%
assert len(train_loader) == len(dataset) // B == 9
assert x.shape == (B, int(x_lengths.max())) and x.dtype == torch.int64
assert x_lengths.shape == (B,) and torch.all(x_lengths[:-1] >= x_lengths[1:])
assert y.shape == (B, hps.data.n_mel_channels, int(y_lengths.max()))
assert y.dtype == torch.float32
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
                           dim_model=hps.model.hidden_channels,
                           warmup_steps=hps.train.warmup_steps,
                           lr=hps.train.learning_rate, betas=hps.train.betas,
                           eps=hps.train.eps)
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
      f"l_mle {l_mle.item():.3f}  l_length {l_length.item():.3f}  "
      f"grad_norm {grad_norm:.2f}")

# %%
# [b, c, t_y']
assert z.shape == z_m.shape == (B, 80, T_y) and z_mask.shape == (B, 1, T_y)
assert logdet.shape == (B,) and x_m.shape == (B, 80, x.shape[1])  # [b], [b, c, t_x]
assert attn.shape == (B, 1, x.shape[1], T_y)
assert logw.shape == logw_.shape == (B, 1, x.shape[1])
# every frame used once
assert torch.equal(attn.sum(dim=(2, 3)).squeeze(1), (y_lengths // 2 * 2).float())
grads = [p.grad for p in generator.parameters() if p.grad is not None]
assert all(g.abs().max() <= hps.train.grad_clip for g in grads)
norm_after = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
assert grad_norm >= norm_after  # the returned norm is the one before clipping
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
                  "inference_mode": torch.is_inference_mode_enabled(),
                  "batch": x.shape[0],
                  "step": glow_tts.train.global_step})
    return real_forward(self, x, x_lengths, *args, gen=gen, **kwargs)


FlowGenerator.forward = watched_forward
step_losses = []   # on_step: the loop calls it after every update with the step's losses
try:
    result = train_and_eval(0, 1, hps,
                            on_step=lambda step, ls, _: step_losses.append([step, *ls]))
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
assert list(steps) == list(range(1, 13))
assert result["global_step"] == 12 and result["epoch"] == 2
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

# %% [markdown]
# ## When the gen sample runs
#
# <a id="claim-2-2-2-gen-sample"></a>
#
# > **The notes say** (§2.2.2) that the line
# > `(y_gen, *_), *_ = generator.module(x[:1], x_lengths[:1], gen=True)` runs when
# > `batch_idx` is 0. **Partly right**: it does run at batch 0, on rank 0, but that is
# > not the line's condition. **In fact** the original runs it under
# > `if batch_idx % hps.train.log_interval == 0` (`train.py:123-125`), every
# > `log_interval` batches (20 in the shipped config), so batches 0, 20, 40, … of every
# > epoch; with the notes' 750 batches per epoch that is 38 samples per epoch, not one. Ours counts the same way over the whole run, `(global_step - 1) % log_interval
# > == 0`, which is the same rule in the first epoch and does not restart every epoch.
# > And ours runs the sample in
# > **eval mode under `torch.inference_mode()`**, where the original generated in train
# > mode (dropout on) with autograd recording.
#
# Our run has 9 batches per epoch, `log_interval = 4` and 12 steps. To apply the
# original's rule we walk the real training loader over the same two epochs the way the
# original's `train` does, `for batch_idx, ... in enumerate(train_loader)` (its batch
# sampler only: the indices, without loading audio), count the steps, and note where each
# condition holds. Ours we do not compute: the instrumented run above recorded it.

# %%
def steps_where(condition, loader, sampler, n_steps):
    """Global steps (from 1) of a run over `loader` where `condition(batch_idx)` holds."""
    picked, step, epoch = [], 0, 0
    while step < n_steps:
        epoch += 1
        sampler.set_epoch(epoch)
        for batch_idx, _ in enumerate(loader.batch_sampler):
            step += 1
            if condition(batch_idx):
                picked.append(step)
            if step == n_steps:
                break
    return picked


n_steps = result["global_step"]
every = hps.train.log_interval
original_rule = steps_where(lambda b: b % every == 0, train_loader, sampler, n_steps)
notes_rule = steps_where(lambda b: b == 0, train_loader, sampler, n_steps)
observed = [c["step"] for c in sample_calls]
print("ours (observed):", observed, "| original's rule:", original_rule,
      "| notes' reading:", notes_rule)

# %%
assert observed == [s for s in range(1, n_steps + 1) if (s - 1) % every == 0]
assert set(observed) < set(original_rule)  # the original adds the epoch wrap ...
assert original_rule[-2:] == [9, 10]                  # ... two samples in a row
assert set(notes_rule) < set(original_rule) and len(notes_rule) == 2   # once per epoch
assert all(c["batch"] == 1 for c in sample_calls)     # x[:1]: the first utterance only
assert all(not c["training"] and c["inference_mode"] for c in sample_calls)

# %% [markdown]
# The three rules on one time line: a mark where a rule takes the sample, the dotted line
# where epoch 2 begins.

# %% tags=["plot"]
figures.sample_timeline({"notes' reading: batch_idx == 0": notes_rule,
                         "original: batch_idx % log_interval == 0": original_rule,
                         "ours: (global_step - 1) % log_interval == 0": observed},
                        n_steps=n_steps, epoch_starts=[1, len(train_loader) + 1])

# %% [markdown]
# And the notes' own epoch: 12,000 utterances on one GPU in batches of 16 (750 batches)
# with the shipped `log_interval` of 20. The original's rule, run on a real loader of that
# size, samples 38 times per epoch, not once.

# %%
notes_data = torch.utils.data.TensorDataset(torch.arange(12_000))
notes_sampler = torch.utils.data.DistributedSampler(notes_data, num_replicas=1, rank=0)
notes_loader = torch.utils.data.DataLoader(notes_data, batch_size=16,
                                           sampler=notes_sampler, drop_last=True)
shipped = get_hparams_from_file("../configs/base.json").train.log_interval
per_epoch = steps_where(lambda b: b % shipped == 0, notes_loader, notes_sampler,
                        len(notes_loader))
print(len(notes_loader), "batches, log_interval", shipped, "->", len(per_epoch),
      "samples")
assert len(notes_loader) == 750 and len(per_epoch) == 38

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
# trimmed to whole squeeze pairs
assert int(z_mask.sum()) == int(attn.sum()) == y_gen.shape[2] == frames // 2 * 2
assert attn.shape == (1, 1, int(x_lengths[0]), y_gen.shape[2])
