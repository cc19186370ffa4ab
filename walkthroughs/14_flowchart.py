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
# # The whole of `train.py` in one picture, recorded from a real run
#
# *Reviews:* the original `train.py` from top to bottom: `main`, `train_and_eval`,
# `train`, `evaluate`. Ours: `glow_tts/train.py` and the modules it calls.
#
# You will learn the path from the command line to a saved checkpoint: every step on the
# way, in the order the code takes it, once in the original and once in ours, side by
# side. Our side is not typed in by hand: a micro training run with two processes
# executes while a *profiler hook* writes down every function the training code calls, and
# the chart is drawn from that record. If `train.py` changes, rerunning this page redraws
# the chart, and the asserts below say which order changed. The original's side is read
# from its source (it needs CUDA and NVIDIA's apex, so it cannot run here); each of its
# steps carries its line number in the original `train.py`.
#
# covers: T30

# %%
import json
import os
import socket
import subprocess
import sys
import tempfile

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import ConnectionPatch, FancyBboxPatch

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
import glow_tts.train
from glow_tts.corpus import build_corpus
from glow_tts.hparams import get_hparams_from_file

torch.set_num_threads(1)

# %% [markdown]
# ## The original's order, from its source
#
# One entry per step: a short key, the label drawn, and the line of the original
# `train.py` where it happens. `main` runs once in the parent process; `train_and_eval`
# once per GPU process; `train` and `evaluate` once per epoch (the batch steps once per
# batch).

# %%
ORIGINAL = [  # (key, label, line in the original train.py)
    ("config", "utils.get_hparams(): -c config, -m model_dir", 33),
    ("launch", "MASTER_ADDR/PORT; mp.spawn(train_and_eval, nprocs=n_gpus)", 34),
    ("logger", "rank 0: utils.get_logger(model_dir); logger.info(hps)", 40),
    ("git", "rank 0: utils.check_git_hash(model_dir)", 42),
    ("writers", "rank 0: SummaryWriter(model_dir), SummaryWriter(.../eval)", 43),
    ("group", "dist.init_process_group('nccl', 'env://')", 46),
    ("seed", "torch.manual_seed(hps.train.seed)", 47),
    ("device", "torch.cuda.set_device(rank)", 48),
    ("dataset", "TextMelLoader(training_files, hps.data)", 50),
    ("sampler", "DistributedSampler(dataset, n_gpus, rank, shuffle=True)", 51),
    ("loader", "DataLoader(..., collate_fn=TextMelCollate(1), drop_last=True)", 57),
    ("model", "models.FlowGenerator(n_vocab, out_channels, **hps.model)", 66),
    ("optimizer", "commons.Adam(parameters, noam, ...)", 70),
    ("ddp", "generator = DDP(generator)  (apex's DDP)", 73),
    ("resume", "load the newest G_*.pth, else ddi_G.pth", 77),
    ("train", "for epoch: train(rank, epoch, ...)", 88),
    ("set_epoch", "train_loader.sampler.set_epoch(epoch)", 96),
    ("train_mode", "generator.train()", 99),
    ("batch", "for batch_idx, (x, x_lengths, y, y_lengths)", 100),
    ("zero_grad", "optimizer_g.zero_grad()", 105),
    ("forward", "generator(x, x_lengths, y, y_lengths, gen=False)", 107),
    ("mle", "commons.mle_loss(z, z_m, z_logs, logdet, z_mask)", 108),
    ("duration", "commons.duration_loss(logw, logw_, x_lengths)", 109),
    ("backward", "loss_g.backward()", 119),
    ("clip", "commons.clip_grad_value_(parameters, 5)", 120),
    ("step", "optimizer_g.step()", 121),
    ("summarize", "rank 0, every log_interval: gen=True sample; utils.summarize", 134),
    ("evaluate", "rank 0: evaluate(...): eval(), no_grad, validation loss", 89),
    ("save", "rank 0: utils.save_checkpoint(..., G_{epoch}.pth)", 90),
]
len(ORIGINAL)

# %% [markdown]
# ## Recording ours
#
# `sys.setprofile(f)` makes Python call `f(frame, event, arg)` on every function call and
# return. Ours keeps a `"call"` event when the caller is a function of the training code
# (the `glow_tts` modules that set up and drive a run, not the model's layers): it notes
# the pair (caller, callee) the first time it occurs. For a call into `glow_tts`, the
# caller is the nearest `glow_tts` frame up the stack, so `generator(x, ...)` shows up as
# `train` calling `FlowGenerator.forward`, although `nn.Module.__call__` sits in between.
# A call through a decorator's wrapper is named after the function it wraps
# (`init_process_group` goes through `torch.distributed`'s logging wrapper, and once
# `torch._dynamo` has been imported, `torch.manual_seed` goes through one too).

# %%
DRIVING = ("glow_tts.train", "glow_tts.distributed", "glow_tts.checkpoint",
           "glow_tts.hparams", "glow_tts.utils", "glow_tts.data_utils", "glow_tts.init")


def module_of(frame):
    return frame.f_globals.get("__name__", "")


def name_of(frame):
    code = frame.f_code
    if code.co_name in ("wrapper", "inner"):    # a wrapper: name what it wraps
        for variable in ("func", "fn"):
            wrapped = frame.f_locals.get(variable)
            if callable(wrapped) and hasattr(wrapped, "__qualname__"):
                return f"{wrapped.__module__}.{wrapped.__qualname__}"
    return f"{module_of(frame)}.{code.co_qualname}"


class CallRecorder:
    """Records (caller, callee) pairs, in the order each pair first occurs."""

    def __init__(self):
        self.calls, self._seen = [], set()

    def __call__(self, frame, event, arg):
        if event != "call":
            return
        callee = name_of(frame)
        caller = frame.f_back
        if callee.startswith("glow_tts."):
            while caller is not None and not module_of(caller).startswith("glow_tts."):
                caller = caller.f_back
        if caller is None or not callee.startswith(("glow_tts.", "torch.")):
            return
        if module_of(caller) in DRIVING or caller.f_code.co_name == "build_model":
            pair = (f"{module_of(caller)}.{caller.f_code.co_qualname}", callee)
            if pair not in self._seen:
                self._seen.add(pair)
                self.calls.append(pair)

    def __enter__(self):
        self._before = sys.getprofile()           # put back whatever was there
        sys.setprofile(self)
        return self

    def __exit__(self, *exc):
        sys.setprofile(self._before)

# %% [markdown]
# ## The micro run
#
# Twenty-odd sentences of the embedded corpus, a model a fraction of the tiny config's
# size, batches of 4, three updates: two epochs, so the epoch loop, the evaluation and
# the checkpoint all happen. Two processes train together over gloo, started the way
# `torchrun` starts them: each gets `RANK`, `LOCAL_RANK`, `WORLD_SIZE`, `MASTER_ADDR` and
# `MASTER_PORT` in its environment and runs `python -m glow_tts train -c ... -m ...`,
# that is `glow_tts.train.main`. Rank 1 is a subprocess; rank 0 is this notebook's own
# process, under the recorder. (Started without those variables, `main` would launch the
# processes itself with `mp.spawn`, walkthrough 10; the rest of the path is the same.)

# %%
work = tempfile.mkdtemp(prefix="glow_tts_14_")
corpus = build_corpus(os.path.join(work, "corpus"), limit=24, progress=False)
config = get_hparams_from_file("../configs/tiny.json").to_dict()
config["data"].update(training_files=corpus.filelists["train"],
                      validation_files=corpus.filelists["val"])
config["model"].update(hidden_channels=32, hidden_channels_enc=32, hidden_channels_dec=32,
                       filter_channels=64, filter_channels_dp=32, n_layers_enc=1,
                       n_blocks_dec=2, n_block_layers=2)
config["train"].update(batch_size=4, max_steps=3, log_interval=2, use_cuda=False,
                       checkpoint_interval=1000, ddi=False, num_workers=0)
config_path = os.path.join(work, "micro.json")
with open(config_path, "w") as f:
    json.dump(config, f)
command = ["-c", config_path, "-m", os.path.join(work, "run")]

with socket.socket() as probe:                 # a free port for the rendezvous
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
rendezvous = {"WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}

as_rank1 = {**os.environ, **rendezvous, "RANK": "1", "LOCAL_RANK": "1",
            "OMP_NUM_THREADS": "1"}
run_main = "import sys, glow_tts.train; glow_tts.train.main(sys.argv[1:])"
rank1 = subprocess.Popen([sys.executable, "-c", run_main, *command], env=as_rank1,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

saved_env = {key: os.environ.get(key) for key in [*rendezvous, "RANK", "LOCAL_RANK"]}
os.environ.update(rendezvous, RANK="0", LOCAL_RANK="0")
try:
    with CallRecorder() as recorder:
        glow_tts.train.main(command)
finally:
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    rank1_errors = rank1.communicate(timeout=600)[1]
print(len(recorder.calls), "distinct (caller, callee) pairs; rank 1 exit status",
      rank1.returncode)
assert rank1.returncode == 0, rank1_errors[-2000:]

# %% [markdown]
# The record, as an indented call tree: each `glow_tts` function under the function
# that first called it, in the order of the calls (the calls into PyTorch are in the
# record too, but left out of this listing):

# %%
def short(name):
    return name.removeprefix("glow_tts.").replace(".<locals>", "")


def print_tree(calls, root, depth=0, shown=None, max_depth=3):
    """Each glow_tts function under the one that first called it (no comprehensions)."""
    shown = set() if shown is None else shown
    for caller, callee in calls:
        if caller == root and callee.startswith("glow_tts.") and callee not in shown:
            shown.add(callee)
            if "<" not in callee and depth <= max_depth:
                print("    " * depth + short(callee))
                print_tree(calls, callee, depth + 1, shown, max_depth)


print_tree(recorder.calls, "glow_tts.train.main")

# %% [markdown]
# ## From the record to the steps
#
# Each step of the chart is recognised by the function that does it: the table maps a
# callee (the end of its qualified name) to a step key of the original's list. A step's
# position in our order is where its first call happened in the record; the caller is
# noted beside it. Reading the config and launching happen once, before the ranks start;
# every other step is one that each rank takes, so it counts only where it happens
# inside `train_and_eval` (what `train_and_eval` calls, directly or further down). Ours
# has one step the original lacks: before it writes anything, `main` checks what the run
# will read (`check_run`: both filelists, every audio header, the checkpoint it would
# resume from), so a bad input stops it before a process is started.

# %%
STEP_OF = {  # end of the callee's name -> step key
    "check_run": "preflight",
    "get_hparams": "config", "load_hparams": "config",
    "spawn_with_free_port": "launch", "multiprocessing.spawn.spawn": "launch",
    "get_logger": "logger", "check_git_hash": "git",
    "SummaryWriter.__init__": "writers",
    "init_process_group": "group", "random.manual_seed": "seed",
    "cuda.set_device": "device",
    "TextMelLoader.__init__": "dataset", "DistributedSampler.__init__": "sampler",
    "DataLoader.__init__": "loader",
    "FlowGenerator.__init__": "model", "build_model": "model",
    "Adam.__init__": "optimizer",
    "DistributedDataParallel.__init__": "ddp",
    "load_newest_checkpoint": "resume", "train.resume": "resume",
    "train.train": "train", "set_epoch": "set_epoch",
    "Module.train": "train_mode", "DistributedDataParallel.train": "train_mode",
    "TextMelCollate.__call__": "batch", "Adam.zero_grad": "zero_grad",
    "FlowGenerator.forward": "forward",
    "mle_loss": "mle", "duration_loss": "duration", "Tensor.backward": "backward",
    "clip_grad_value_": "clip", "Adam.step": "step", "utils.summarize": "summarize",
    "train.evaluate": "evaluate", "checkpoint.save_checkpoint": "save",
}


BEFORE_THE_RANKS = {"config", "launch", "preflight"}


def called_under(calls, root):
    """root and every function it called, directly or further down."""
    found, todo = {root}, [root]
    while todo:
        function = todo.pop()
        for caller, callee in calls:
            if caller == function and callee not in found:
                found.add(callee)
                todo.append(callee)
    return found


def steps_in(calls):
    """[(step key, caller, callee)] in the order of each step's first call."""
    in_rank = called_under(calls, "glow_tts.train.train_and_eval")
    found = {}
    for caller, callee in calls:
        for ending, key in STEP_OF.items():
            if (callee.endswith("." + ending) and key not in found
                    and (key in BEFORE_THE_RANKS or caller in in_rank)):
                found[key] = (short(caller), short(callee))
    return [(key, caller, callee) for key, (caller, callee) in found.items()]


ours = steps_in(recorder.calls)
for key, caller, callee in ours:
    print(f"{key:11} {callee}  <- {caller}")

# %% [markdown]
# ## The picture
#
# Left, the original (line numbers of its `train.py`); right, ours as recorded: the
# function called and, after the arrow, the function that called it. A line joins the same step on both sides. Where lines
# cross, the order differs (red); a step with no partner did not happen on that side
# (yellow: a step of ours the original does not have).

# %% tags=["plot"]
row_of_ours = {key: row for row, (key, _, _) in enumerate(ours)}
fig, ax = plt.subplots(figsize=(13, 0.42 * max(len(ORIGINAL), len(ours)) + 1.2))
box_w, left_x, right_x = 5.6, 0.0, 7.6


def box(x, row, text, colour):
    ax.add_patch(FancyBboxPatch((x, -row - 0.4), box_w, 0.8, facecolor=colour,
                                boxstyle="round,pad=0.02,rounding_size=0.1",
                                edgecolor="0.4", lw=0.6))
    ax.text(x + 0.1, -row, text, va="center", fontsize=7.5, family="monospace")


for row, (key, label, line) in enumerate(ORIGINAL):
    box(left_x, row, f"{line:3d}  {label}"[:74], "#dbe9f6")
for row, (key, caller, callee) in enumerate(ours):
    if callee.startswith("torch."):              # torch.a.b.Class.method -> Class.method
        callee = ".".join(callee.split(".")[-2:])
    colour = "#fff2b3" if key not in {k for k, _, _ in ORIGINAL} else "#fbe5d6"
    box(right_x, row, f"{callee}  <- {caller}"[:74], colour)
for row, (key, _, _) in enumerate(ORIGINAL):
    if key in row_of_ours:
        other = row_of_ours[key]
        crossed = any((r < row) != (row_of_ours[k] < other)
                      for r, (k, _, _) in enumerate(ORIGINAL)
                      if k in row_of_ours and k != key)

        ax.add_artist(ConnectionPatch((left_x + box_w, -row), (right_x, -other), "data",
                                      color="#c0392b" if crossed else "0.5",
                                      lw=1.4 if crossed else 0.7))
ax.text(left_x, 1.0, figures.both("original train.py (from its source; line numbers)",
                                  "원본 train.py (소스에서; 줄 번호)", sep="\n"),
        fontsize=10, weight="bold", family=figures.BILINGUAL)
ax.text(right_x, 1.0,
        figures.both("ours (recorded on rank 0 of a 2-process run: callee <- caller)",
                     "우리 코드 (프로세스 2개 실행의 랭크 0에서 기록: 피호출 <- 호출)", sep="\n"),
        fontsize=10, weight="bold", family=figures.BILINGUAL)
ax.set_xlim(-0.2, right_x + box_w + 0.2)
ax.set_ylim(-max(len(ORIGINAL), len(ours)), 1.6)
ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What the record shows
#
# Every step of the original happened in our run, except two, for stated reasons:
# `torch.cuda.set_device` (a GPU call; this run is on the CPU) and the launch through
# `mp.spawn` (these processes were started `torchrun`-style, so `main` called
# `train_and_eval` directly). The one step of ours with no partner is the check before
# anything is written, and it comes before the ranks start.

# %%
original_keys = [key for key, _, _ in ORIGINAL]
our_keys = [key for key, _, _ in ours]
position = {key: i for i, key in enumerate(our_keys)}
print("not in this run:", [key for key in original_keys if key not in position])

# %%
assert set(original_keys) - set(our_keys) == {"device", "launch"}
assert set(our_keys) - set(original_keys) == {"preflight"}
assert position["preflight"] < position["logger"]          # before any rank's first write

# %% [markdown]
# The batch's steps keep the original's order: gradients zeroed, the forward pass, the
# two losses, `backward`, clipping, the optimizer step; and each epoch trains, then
# evaluates, then saves. The process group exists before the data and the model are
# built, and every process seeds torch before building the model, so all ranks start
# from the same weights.

# %%
def in_order(*keys):
    return [position[key] for key in keys] == sorted(position[key] for key in keys)


assert in_order("batch", "zero_grad", "forward", "mle", "duration", "backward", "clip",
                "step")
assert in_order("train", "evaluate", "save")
assert in_order("group", "seed", "dataset", "model", "optimizer")

# %% [markdown]
# One crossing: the original wraps the model in apex's `DDP` and *then* loads a
# checkpoint into it; ours loads first and wraps after. Both end with the same weights on
# every rank: each rank reads the same file, and building a DDP wrapper (apex's or
# PyTorch's, whose constructor calls `_sync_module_states(..., src=0)`) broadcasts rank
# 0's parameters to the others. Loading before wrapping keeps the loader away from the
# wrapper's `module.` prefix, so one loading function serves training, DDI and inference.

# %%
original_position = {key: i for i, key in enumerate(original_keys)}
assert original_position["ddp"] < original_position["resume"]
assert position["resume"] < position["ddp"]

# %% [markdown]
# The other differences are not about order, and other walkthroughs show them:
#
# | step | original | ours | where |
# |---|---|---|---|
# | `MASTER_PORT` | `'80000'`: above 65535; accepted up to about PyTorch 1.8, a `TypeError` in 1.10, a `ValueError` since 1.11 | a free port | walkthrough 10 |
# | backend | always `nccl` | `nccl` on GPU, `gloo` on CPU | walkthrough 10 |
# | `init_process_group` | always | only when `world_size > 1` | walkthrough 10 |
# | resume | bare `except:`; step count rebuilt from the epoch | newest loadable checkpoint, optimizer step, RNG | walkthroughs 09, 16 |
# | gen sample | train mode, autograd on, `batch_idx % log_interval` | eval mode, `inference_mode`, global step | walkthrough 12 |
# | checkpoint | `G_{epoch}.pth` every epoch | `G_{step}.pth` every `checkpoint_interval` and at epoch end | walkthrough 12 |
#
# > **The notes** (§3) describe the flow of `train.py` in one line and leave the chart to
# > an image. The chart above is the flow recorded from the code it describes.
