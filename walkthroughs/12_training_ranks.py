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
# # Training on several ranks: rank 0's bookkeeping, DDP and the gradient all-reduce
#
# *Reviews:* `train.py`, `train_and_eval` — the `if rank == 0:` block with the logger,
# `check_git_hash` and the two `SummaryWriter`s; `generator = DDP(generator)`; and in
# `train`, `generator.module(...)` for the sample. Ours: `glow_tts/train.py`.
#
# You will learn:
#
# * which work only rank 0 does, and what lands on disk: `train.log`, `githash`, and two
#   TensorBoard logs, read back here with TensorBoard's own reader;
# * what `.module` is on a `DistributedDataParallel` model.
#
# The previous walkthrough (12, the training loop) took one step apart; this one looks at
# what changes when more than one process trains.
#
# covers: T20

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

# %%
step_losses = []   # on_step: the loop calls it after every update with the step's losses
result = train_and_eval(0, 1, hps, on_step=lambda step, l, _: step_losses.append([step, *l]))
steps, mle_losses, duration_losses = zip(*step_losses)

# %% [markdown]
# ## Rank 0's bookkeeping
#
# Only rank 0 logs. In `train_and_eval`, under `if rank == 0:`, it makes
#
# * `logger = utils.get_logger(hps.model_dir)`, which writes `train.log` in the run folder
#   (and the console), then logs the whole config with `logger.info(hps)`;
# * `utils.check_git_hash(hps.model_dir)`, which runs `git rev-parse HEAD` in a
#   subprocess and writes the commit to `githash` (warning when it changed since);
# * two `SummaryWriter`s: `writer` for training in `model_dir` and `writer_eval` for
#   validation in `model_dir/eval`. Two folders make two *runs* in TensorBoard, so the
#   training and validation curves of the same tag (`loss/g/total`) are drawn on one chart.
#
# Other ranks pass `None` for the logger and writers; `evaluate` returns at once unless
# `rank == 0`. In the source:

# %%
source = inspect.getsource(glow_tts.train.train_and_eval)
rank0_block = source[source.index("if rank == 0:"):source.index("if n_gpus > 1:")]
print(rank0_block)
assert all(name in rank0_block for name in ("get_logger", "check_git_hash", "SummaryWriter(log_dir=hps.model_dir)",
                                            'os.path.join(hps.model_dir, "eval")'))
assert inspect.getsource(glow_tts.train.evaluate).count("if rank != 0:") == 1

# %% [markdown]
# <a id="claim-2-1-3-rank0-files"></a>
#
# What the run left on disk: the log, the commit, the checkpoint, and one TensorBoard
# event file in each of the two folders.

# %%
with open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8") as f:
    log = f.read()
event_files = {folder: [n for n in os.listdir(folder) if n.startswith("events.out.tfevents")]
               for folder in (hps.model_dir, os.path.join(hps.model_dir, "eval"))}
print(log.splitlines()[0][:100], "…")
print(event_files)

# %%
assert '"batch_size": 4' in log and "Train Epoch: 1 [0/36 (0%)]" in log   # logger.info(hps), then the loop
assert os.path.isfile(os.path.join(hps.model_dir, "githash"))
assert all(len(names) == 1 for names in event_files.values())
assert os.path.isfile(os.path.join(hps.model_dir, "G_12.pth"))

# %% [markdown]
# <a id="claim-2-1-3-check-git-hash"></a>
#
# > **The notes say** (§2.1.3) that `check_git_hash`, through `subprocess.getoutput`,
# > returns the stdout and stderr of subprocesses. **Partly right**:
# > `subprocess.getoutput(cmd)` does return one shell command's stdout and stderr, merged
# > into one string (the exit status dropped, the last newline stripped). But
# > `check_git_hash` uses it only to read the current commit with `git rev-parse HEAD`;
# > it writes that to `model_dir/githash` on the first run, warns when a later run's
# > commit differs, and returns nothing (original `utils.py`, lines 194–211; ours returns
# > the hash, or `None` outside a git checkout). Merging stderr has a cost there: the
# > original checks that its *source* folder is a git checkout but runs `git` in the
# > *current* folder, so started from another folder it records git's error message as
# > the "hash".

# %%
import shlex
import subprocess
import sys

from glow_tts.utils import check_git_hash

both = "import sys; print(1, flush=True); print(2, file=sys.stderr); sys.exit(3)"
merged = subprocess.getoutput(f"{shlex.quote(sys.executable)} -c {shlex.quote(both)}")
elsewhere = tempfile.mkdtemp(prefix="glow_tts_no_git_")
outside = subprocess.getoutput(f"cd {shlex.quote(elsewhere)} && git rev-parse HEAD")
with open(os.path.join(hps.model_dir, "githash")) as f:
    saved_hash = f.read()
print(repr(merged), "|", outside, "|", saved_hash)

# %%
assert merged == "1\n2"                                    # stdout and stderr, one string
assert outside.startswith("fatal: not a git repository")       # an error, as text
assert check_git_hash(hps.model_dir) == saved_hash          # the commit, already recorded
assert len(saved_hash) == 40 and set(saved_hash) <= set("0123456789abcdef")  # commit id

# %% [markdown]
# <a id="claim-2-1-3-summarywriter"></a>
#
# TensorBoard's `EventAccumulator` reads the event files as TensorBoard does. The training
# run holds the original's scalar names, `loss/g/total`, `learning_rate`, `grad_norm`,
# `loss/g/0` (MLE) and `loss/g/1` (duration), plus two readable aliases of ours
# (`loss/g/mle`, `loss/g/dur`); the images `y_org`, `y_gen` and `attn`; and the sample's
# audio (Griffin-Lim). All at the sample steps. The eval run has the loss scalars once per
# evaluation: at the end of epoch 1 (step 9) and when the run stops (step 12).

# %%
train_events = EventAccumulator(hps.model_dir).Reload()
eval_events = EventAccumulator(os.path.join(hps.model_dir, "eval")).Reload()
tags = train_events.Tags()
print("train scalars:", tags["scalars"], "| images:", tags["images"], "| audio:", tags["audio"])
print("eval scalars:", eval_events.Tags()["scalars"])

# %%
original_scalars = {"loss/g/total", "learning_rate", "grad_norm", "loss/g/0", "loss/g/1"}
assert original_scalars <= set(tags["scalars"])
assert set(tags["images"]) == {"y_org", "y_gen", "attn"} and tags["audio"] == ["gen/audio"]
assert [e.step for e in train_events.Scalars("loss/g/total")] == [1, 5, 9]
assert [e.step for e in train_events.Images("y_gen")] == [1, 5, 9]        # one image per sample call
assert {"loss/g/total", "loss/g/0", "loss/g/1"} <= set(eval_events.Tags()["scalars"])
assert [e.step for e in eval_events.Scalars("loss/g/total")] == [9, 12]
logged = {e.step: e.value for e in train_events.Scalars("loss/g/0")}
assert abs(logged[5] - mle_losses[4]) < 1e-5                               # the step's own loss

# %% [markdown]
# ## `generator.module`: the model inside DDP
#
# With several processes the original wraps the model: `generator = DDP(generator)`.
# `DistributedDataParallel` is itself an `nn.Module` whose forward calls the wrapped
# model's forward (and, during backward, all-reduces the gradients across ranks). The
# wrapped model is its attribute `.module`. The sample is taken with
# `generator.module(...)`: a plain forward of the inner model, outside DDP's gradient
# synchronisation, on rank 0 only (a DDP forward on one rank alone would leave the others
# waiting for it). Ours writes `unwrap(generator)`, which also accepts a bare model, since
# a one-process run has no DDP.
#
# A real DDP needs a process group. One process with gloo and a `file://` rendezvous is
# enough to build one here.

# %%
model = result["generator"]
dist.init_process_group("gloo", init_method="file://" + os.path.join(work, "rendezvous"),
                        world_size=1, rank=0)
try:
    wrapped = DDP(model)
    inner_keys = list(model.state_dict())
    wrapped_keys = list(wrapped.state_dict())
    has_store_inverse = hasattr(wrapped, "store_inverse")
finally:
    dist.destroy_process_group()
print(type(wrapped).__name__, "->", type(wrapped.module).__name__, "|", wrapped_keys[0])

# %%
assert isinstance(wrapped, torch.nn.Module) and wrapped.module is model
assert unwrap(wrapped) is model and unwrap(model) is model
assert wrapped_keys == ["module." + k for k in inner_keys]   # why checkpoints save the inner model
assert not has_store_inverse and hasattr(model, "store_inverse")   # DDP does not forward methods
assert not dist.is_initialized()

