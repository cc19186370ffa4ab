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
# `train`, `generator.module(x[:1], x_lengths[:1], gen=True)` for the sample. Ours:
# `glow_tts/train.py`, the same functions.
#
# You will learn:
#
# * what `DistributedDataParallel` does to the gradients: after `backward()` every rank
#   holds the *mean* of the ranks' gradients, so the replicas stay identical, shown with
#   two real ranks that see different data;
# * which work only rank 0 does, seen from a real two-rank training run: which files each
#   process writes, and the two TensorBoard logs read back with TensorBoard's own reader;
# * what `.module` is on a DDP model, and what calling the wrapper instead would do.
#
# The previous walkthrough (12, the training loop) took one step apart in one process.
# Everything here runs on this machine's CPU with the gloo backend, in a few seconds.
#
# covers: T20, T21

# %%
import importlib.util
import json
import os
import pickle
import shlex
import subprocess
import sys
import tempfile

import torch
import torch.distributed as dist
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.nn.parallel import DistributedDataParallel as DDP

from glow_tts.corpus import build_corpus
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols
from glow_tts.train import unwrap
from glow_tts.utils import check_git_hash

torch.set_num_threads(1)
work = tempfile.mkdtemp(prefix="glow_tts_12r_")

# %% [markdown]
# ## The gradient all-reduce, on two real ranks
#
# `DDP(model)` wraps a model so that `backward()` does one more thing: as the gradients
# of each bucket of parameters become ready, the wrapper **all-reduces** them over the
# process group (through the backend, gloo here) and divides by the world size. Every rank
# then holds the same averaged gradient, applies the same update, and the copies of the
# model stay equal without ever sending the weights themselves.
#
# The script below is all of it: two processes started by `mp.spawn`, one tiny model built
# from the same seed on both, and a different batch on each rank (seeded by rank and
# step). Each rank records its gradients right after `backward()` and its parameters after
# each of three SGD steps. After the first step, rank 0 alone also calls the wrapped model
# once, as the original's sample would if it went through the wrapper (more on that below).

# %%
DDP_SCRIPT = '''
import sys
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP


def build():
    torch.manual_seed(0)                                  # the same weights on every rank
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(),
                               torch.nn.Linear(16, 1))


def batch(rank, step):
    g = torch.Generator().manual_seed(1000 * step + rank)   # each rank its own data
    return torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)


def loss_of(model, x, y):
    return ((model(x) - y) ** 2).mean()


def worker(rank, world_size, init_method, out_dir):
    dist.init_process_group("gloo", init_method=init_method, world_size=world_size,
                            rank=rank)
    model = DDP(build())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    record = {"grads": [], "params": []}
    for step in range(3):
        optimizer.zero_grad()
        loss_of(model, *batch(rank, step)).backward()     # the all-reduce happens in here
        record["grads"].append([p.grad.clone() for p in model.parameters()])
        optimizer.step()
        record["params"].append([p.detach().clone() for p in model.parameters()])
        if rank == 0 and step == 0:
            model(torch.zeros(1, 4))            # rank 0 alone, through the wrapper
    torch.save(record, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, args=(2, sys.argv[1], sys.argv[2]), nprocs=2)
'''
ddp_dir = os.path.join(work, "ddp")
os.makedirs(ddp_dir)
ddp_script = os.path.join(ddp_dir, "ddp_two_ranks.py")
with open(ddp_script, "w") as f:
    f.write(DDP_SCRIPT)
rendezvous = "file://" + os.path.join(ddp_dir, "rendezvous")
ddp_run = subprocess.run([sys.executable, ddp_script, rendezvous, ddp_dir],
                         capture_output=True, text=True, timeout=300)
assert ddp_run.returncode == 0, ddp_run.stderr
records = [torch.load(os.path.join(ddp_dir, f"rank{r}.pt")) for r in (0, 1)]
print("steps recorded per rank:", [len(r["grads"]) for r in records])

# %% [markdown]
# Now the same computation without DDP, in this process: load the script's own functions,
# and for each step take the parameters both ranks had before it, compute each rank's
# gradient alone on that rank's batch, and average the two.

# %%
spec = importlib.util.spec_from_file_location("ddp_two_ranks", ddp_script)
demo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(demo)


def alone(rank, step, params):
    """The gradient one process would compute on rank `rank`'s batch, without DDP."""
    model = demo.build()
    with torch.no_grad():
        for p, value in zip(model.parameters(), params):
            p.copy_(value)
    demo.loss_of(model, *demo.batch(rank, step)).backward()
    return [p.grad for p in model.parameters()]


before = [[p.detach() for p in demo.build().parameters()]] + records[0]["params"][:-1]
for step in range(3):
    g0, g1 = alone(0, step, before[step]), alone(1, step, before[step])
    mean = [(a + b) / 2 for a, b in zip(g0, g1)]
    for rank in (0, 1):
        got = records[rank]["grads"][step]
        assert all(torch.allclose(a, m, atol=1e-6) for a, m in zip(got, mean))
    assert not all(torch.allclose(a, b) for a, b in zip(g0, g1))   # the ranks' own differ
    same = zip(records[0]["params"][step], records[1]["params"][step])
    assert all(torch.equal(a, b) for a, b in same)                # identical replicas
print("step 0, first weight's gradient: rank 0 alone", round(float(g0[0][0, 0]), 4),
      "| rank 1 alone", round(float(g1[0][0, 0]), 4),
      "| both ranks under DDP", round(float(records[0]["grads"][0][0][0, 0]), 4))

# %% [markdown]
# Every gradient on both ranks is the mean of the two single-process gradients, and the
# parameters are bit for bit the same on both ranks after every step. Note what did *not*
# happen: no gradient was computed by the backend. Each process ran its own autograd;
# gloo only moved and summed the results (NCCL does the same on GPUs).

# %% [markdown]
# <a id="claim-2-1-3-rank0-files"></a>
#
# ## A real two-rank training run: who writes what
#
# The original gives rank 0 all the bookkeeping: under `if rank == 0:` it creates the
# logger (`train.log` in the run folder), runs `check_git_hash` (the `githash` file) and
# opens two `SummaryWriter`s, `model_dir` for training and `model_dir/eval` for
# validation (two folders make two *runs* in TensorBoard, drawn on one chart per tag).
# Other ranks pass `None` for them, evaluate nothing and save no checkpoint.
#
# To see that from the outside, we run the real `train_and_eval` on two ranks, launched as
# the original does (`mp.spawn(train_and_eval, nprocs=2, args=(2, hps))`), with one
# addition: each process first installs a Python *audit hook* that notes every file the
# process opens for writing, renames into place or creates as a folder, wherever in the
# code that happens. The run is the previous page's micro configuration: 36 sentences,
# batches of 4 per rank, so $\lfloor 18 / 4 \rfloor = 4$ batches per rank and epoch;
# `max_steps = 6` stops it two batches into epoch 2.

# %%
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
hps.train.max_steps = 6
hps.train.checkpoint_interval = 1000
hps.train.ddi = False
hps.train.use_cuda = False
hps.model_dir = os.path.join(work, "run")
os.makedirs(hps.model_dir)

TRACED_RUN = '''
import json, os, pickle, socket, sys
import torch.multiprocessing as mp


def traced_rank(rank, n_gpus, hps, report_dir):
    """train_and_eval(rank, n_gpus, hps), noting every file this process writes."""
    written = []

    def note(event, args):
        if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
            mode, flags = args[1], args[2]
            if (mode is not None and set(mode) & set("wax+")) or (
                    mode is None and flags & (os.O_WRONLY | os.O_RDWR)):
                written.append(os.path.abspath(os.fsdecode(args[0])))
        elif event in ("os.rename", "os.mkdir"):
            target = args[1] if event == "os.rename" else args[0]
            written.append(os.path.abspath(os.fsdecode(target)))

    sys.addaudithook(note)          # sees every open() of this process from here on
    from glow_tts.train import train_and_eval
    train_and_eval(rank, n_gpus, hps)
    noted = list(written)
    with open(os.path.join(report_dir, f"rank{rank}.json"), "w") as f:
        json.dump(noted, f)


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        hps = pickle.load(f)
    with socket.socket() as s:                     # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    mp.spawn(traced_rank, args=(2, hps, sys.argv[2]), nprocs=2)
'''
trace_dir = os.path.join(work, "trace")
os.makedirs(trace_dir)
traced_script = os.path.join(trace_dir, "traced_run.py")
with open(traced_script, "w") as f:
    f.write(TRACED_RUN)
with open(os.path.join(trace_dir, "hps.pickle"), "wb") as f:
    pickle.dump(hps, f)
hps_file = os.path.join(trace_dir, "hps.pickle")
traced = subprocess.run([sys.executable, traced_script, hps_file, trace_dir],
                        capture_output=True, text=True, timeout=600)
assert traced.returncode == 0, traced.stderr[-3000:]
writes = {}
for rank in (0, 1):
    with open(os.path.join(trace_dir, f"rank{rank}.json")) as f:
        writes[rank] = json.load(f)
in_run = {rank: sorted({os.path.relpath(p, hps.model_dir) for p in paths
                        if p.startswith(hps.model_dir + os.sep)})
          for rank, paths in writes.items()}
for rank in (0, 1):
    print(f"rank {rank} wrote in the run folder: {in_run[rank]}")

# %%
assert in_run[1] == []  # rank 1: no log, event, checkpoint
names = in_run[0]
assert "train.log" in names and "githash" in names and "eval" in names
assert any(n.startswith("events.out.tfevents") for n in names)
assert any(n.startswith(os.path.join("eval", "events.out.tfevents")) for n in names)
assert any(n.startswith("G_") and n.endswith(".pth") for n in names)

# %% [markdown]
# Rank 1 trained every step (it must: its gradients are half of every all-reduce) but did
# not write a single file in the run folder. Everything there came from rank 0: the log,
# the commit, the checkpoints, and one TensorBoard event file in each of the two folders.

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
both = "import sys; print(1, flush=True); print(2, file=sys.stderr); sys.exit(3)"
merged = subprocess.getoutput(f"{shlex.quote(sys.executable)} -c {shlex.quote(both)}")
elsewhere = tempfile.mkdtemp(prefix="glow_tts_no_git_")
outside = subprocess.getoutput(f"cd {shlex.quote(elsewhere)} && git rev-parse HEAD")
with open(os.path.join(hps.model_dir, "githash")) as f:
    saved_hash = f.read()
print(repr(merged), "|", outside, "|", saved_hash)

# %%
assert merged == "1\n2"                                    # stdout and stderr, one string
assert outside.startswith("fatal: not a git repository")   # an error, as text
assert check_git_hash(hps.model_dir) == saved_hash         # the commit rank 0 recorded
assert len(saved_hash) == 40 and set(saved_hash) <= set("0123456789abcdef")  # commit id

# %% [markdown]
# <a id="claim-2-1-3-summarywriter"></a>
#
# ## What TensorBoard reads
#
# TensorBoard's `EventAccumulator` reads the event files as TensorBoard does. The training
# run holds the original's scalar names, `loss/g/total`, `learning_rate`, `grad_norm`,
# `loss/g/0` (MLE) and `loss/g/1` (duration), plus two readable aliases of ours
# (`loss/g/mle`, `loss/g/dur`); the images `y_org`, `y_gen` and `attn`; and the sample's
# audio (Griffin-Lim). All at the sample steps, 1 and 5 here (`log_interval = 4`). The
# eval run has the loss scalars once per evaluation: at the end of epoch 1 (step 4) and
# when the run stops (step 6).

# %%
train_events = EventAccumulator(hps.model_dir).Reload()
eval_events = EventAccumulator(os.path.join(hps.model_dir, "eval")).Reload()
tags = train_events.Tags()
print("train scalars:", tags["scalars"])
print("images:", tags["images"], "| audio:", tags["audio"])
print("eval scalars:", eval_events.Tags()["scalars"])
with open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8") as f:
    log = f.read()

# %%
original_scalars = {"loss/g/total", "learning_rate", "grad_norm", "loss/g/0", "loss/g/1"}
assert original_scalars <= set(tags["scalars"])
assert set(tags["images"]) == {"y_org", "y_gen", "attn"}
assert tags["audio"] == ["gen/audio"]
assert [e.step for e in train_events.Scalars("loss/g/total")] == [1, 5]
assert [e.step for e in train_events.Images("y_gen")] == [1, 5]       # one per sample
assert {"loss/g/total", "loss/g/0", "loss/g/1"} <= set(eval_events.Tags()["scalars"])
assert [e.step for e in eval_events.Scalars("loss/g/total")] == [4, 6]
assert '"batch_size": 4' in log                                      # logger.info(hps)

# %% [markdown]
# ## `generator.module`: the model inside DDP
#
# `DistributedDataParallel` is itself an `nn.Module`; the model it wraps is its attribute
# `.module`. The original takes its sample with `generator.module(x[:1], x_lengths[:1],
# gen=True)`: the inner model's plain forward, on rank 0 only. Ours writes
# `unwrap(generator)`, which also accepts a bare model (a one-process run has no DDP).
#
# What going *through* the wrapper would add is worth knowing precisely. The wrapper's
# forward (`DistributedDataParallel.forward` in `torch/nn/parallel/distributed.py`)
# does two things around the inner forward:
#
# 1. if the model has **buffers** (tensors that are state but not parameters, such as
#    batch norm's running statistics), it first broadcasts them from rank 0
#    (`broadcast_buffers=True` by default). That broadcast is a collective: every rank
#    must make the same call, so a forward on rank 0 alone would wait for the others.
# 2. with autograd on, it prepares its reducer for a backward pass.
#
# `FlowGenerator` has no buffers at all, so for this model (1) does not arise; the rank-0
# call in the two-rank script above went through the wrapper alone, and the run went on
# with identical replicas. Using `.module` is still right: it states that the sample is
# not part of training, and it would stay correct for a model with buffers.

# %%
model = FlowGenerator(len(symbols) + hps.data.add_blank, out_channels=80, **hps.model)
dist.init_process_group("gloo", init_method="file://" + os.path.join(work, "one_rank"),
                        world_size=1, rank=0)
try:
    wrapped = DDP(model)
    inner_keys, wrapped_keys = list(model.state_dict()), list(wrapped.state_dict())
finally:
    dist.destroy_process_group()
print(type(wrapped).__name__, "->", type(wrapped.module).__name__, "|", wrapped_keys[0])
print("buffers in FlowGenerator:", [name for name, _ in model.named_buffers()])

# %%
assert isinstance(wrapped, torch.nn.Module) and wrapped.module is model
assert unwrap(wrapped) is model and unwrap(model) is model
# why checkpoints save the inner
assert wrapped_keys == ["module." + k for k in inner_keys]
assert not hasattr(wrapped, "store_inverse") and hasattr(model, "store_inverse")
assert list(model.named_buffers()) == []
