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
# # Processes, ranks and process groups
#
# *Reviews:* `train.py`, `main` — `os.environ['MASTER_ADDR']`, `os.environ['MASTER_PORT']`,
# `mp.spawn(train_and_eval, nprocs=n_gpus, args=(n_gpus, hps,))` — and the first lines of
# `train_and_eval(rank, n_gpus, hps)`: `dist.init_process_group(backend='nccl',
# init_method='env://', world_size=n_gpus, rank=rank)` and `torch.cuda.set_device(rank)`.
#
# You will learn:
#
# * how `mp.spawn` starts one fresh interpreter per process and hands each its index as
#   the **first** argument, which is why `train_and_eval` takes `rank` first;
# * what `join` and `daemon` really do, and how an exception in one child reaches you;
# * what a backend is (and is not), and the three ways to meet: `env://`, `tcp://`,
#   `file://`;
# * rank, local rank, node and world size, shown with a real two-"node" `torchrun` job;
# * why `MASTER_PORT='80000'` fails today, and the device-agnostic form of
#   `torch.cuda.set_device(rank)`.
#
# Everything runs on this machine's CPU with the gloo backend. The function we launch is
# `glow_tts.distributed.probe`: each rank joins the group, all-reduces `rank + 1` and writes
# a small JSON report of what it saw.
#
# covers: T17, T18, T19, T21, T22, T24

# %%
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from glow_tts.distributed import probe, read_reports
from glow_tts.train import find_free_port as free_port  # asks the OS for an unused port


def fresh_dir() -> str:
    return tempfile.mkdtemp(prefix="glow_tts_dist_")


# %% [markdown]
# <a id="claim-2-1-1-environ"></a>
#
# ## `mp.spawn`: the index comes first
#
# `mp.spawn(fn, args=(a, b), nprocs=n)` calls `fn(i, a, b)` in process `i` for
# $i = 0, \dots, n-1$. The original passes `args=(n_gpus, hps)`, so each process runs
# `train_and_eval(i, n_gpus, hps)`: the index *becomes* the rank. Here `args` carries the
# world size, the rendezvous address and the report folder.
#
# `MASTER_ADDR` and `MASTER_PORT` tell rank 0 where to listen and the others where to
# call; `init_method="env://"` reads them, together with `world_size` and `rank` (given
# as arguments here, or read from `WORLD_SIZE` and `RANK` when omitted).

# %%
os.environ["MASTER_ADDR"] = "127.0.0.1"
os.environ["MASTER_PORT"] = str(free_port())
reports_dir = fresh_dir()
mp.spawn(probe, args=(2, "env://", reports_dir), nprocs=2, join=True)
reports = read_reports(reports_dir)
for r in reports:
    print(r)

# %%
assert [r["rank"] for r in reports] == [0, 1]            # process index == rank
assert all(r["world_size"] == 2 for r in reports)
assert all(r["all_reduce_sum"] == 1 + 2 for r in reports)  # every rank holds the sum
assert len({r["pid"] for r in reports} | {os.getpid()}) == 3  # two new processes

# %% [markdown]
# <a id="claim-2-1-2-signature"></a>
#
# The signature the notes quote (§2.1.2), with its defaults, is still the one of
# `torch.multiprocessing.spawn` today:

# %%
import inspect

defaults = {name: p.default for name, p in inspect.signature(mp.spawn).parameters.items()}
print(defaults)
assert list(defaults) == ["fn", "args", "nprocs", "join", "daemon", "start_method"]
assert defaults["args"] == () and defaults["nprocs"] == 1 and defaults["join"] is True
assert defaults["daemon"] is False and defaults["start_method"] == "spawn"

# %% [markdown]
# <a id="claim-2-1-3-rank"></a>
#
# > **The notes say** (§2.1.3) that `rank` is the ID of a process of the distributed run,
# > and that a debugging run on six GPUs printed 0 to 5. The observation is **Right**, and
# > on one machine under `mp.spawn` the rank is also the GPU's index. The definition is
# > **Partly right**: a rank does name one process, but it is not a process ID in the
# > operating system's sense (that is the PID, `os.getpid()`). It is the process's
# > position in the process group, $0 \dots W-1$, given by the launcher (`mp.spawn`
# > passes its loop index, `torchrun` sets `RANK`) and registered by
# > `init_process_group`. Launching again makes new processes with new PIDs and the same
# > ranks.

# %%
again_dir = fresh_dir()
os.environ["MASTER_PORT"] = str(free_port())
mp.spawn(probe, args=(2, "env://", again_dir), nprocs=2)
again = read_reports(again_dir)
print("first launch:", [(r["rank"], r["pid"]) for r in reports],
      "| second:", [(r["rank"], r["pid"]) for r in again])
assert [r["rank"] for r in again] == [r["rank"] for r in reports] == list(range(2))
assert {r["pid"] for r in reports}.isdisjoint(r["pid"] for r in again)   # new PIDs

# %% [markdown]
# <a id="claim-2-1-2-spawn-method"></a>
#
# The start method is `spawn`: each child is a **fresh Python interpreter** that imports
# the module holding `fn` and unpickles `fn` and `args`. That is why `fn` must be a
# module-level function (a lambda or a notebook-local function cannot be found by a fresh
# interpreter) and why a script that calls `mp.spawn` needs an
# `if __name__ == "__main__":` guard: the child imports the parent's main module, and
# without the guard it would spawn again.

# %%
try:
    mp.spawn(lambda i: None, nprocs=1)
    pickled = True
except Exception as error:  # pickling a lambda fails in the parent, before any child runs
    pickled = False
    print(type(error).__name__, ":", str(error)[:120])
assert not pickled

# %% [markdown]
# <a id="claim-2-1-2-join"></a>
#
# ## `join`, and what `daemon` means
#
# With `join=True` (the default) `mp.spawn` returns only after every child has exited.
# With `join=False` it returns a `ProcessContext` at once, and you call `join()` on it.

# %%
reports_dir = fresh_dir()
os.environ["MASTER_PORT"] = str(free_port())
context = mp.spawn(probe, args=(2, "env://", reports_dir), nprocs=2, join=False)
assert isinstance(context, mp.ProcessContext)
while not context.join():  # join() returns True once all processes have finished
    pass
assert len(read_reports(reports_dir)) == 2

# %% [markdown]
# > **The notes say** (§2.1.2) that with `daemon=False` a child keeps running after the
# > parent ends.
# > **In fact** `daemon` is Python's `multiprocessing` flag, and it works the other way
# > round: a *daemonic* child is terminated when its parent exits; a non-daemonic child
# > makes the parent wait for it at exit. Neither keeps a child alive past its parent.
#
# We check both with a short parent script: it starts a child that sleeps, prints the
# child's pid and exits at once.

# %%
PARENT = """
import multiprocessing as mp, sys, time
if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    child = ctx.Process(target=time.sleep, args=(float(sys.argv[2]),), daemon=sys.argv[1] == "1")
    child.start()
    print(child.pid, flush=True)
"""


def run_parent(daemon: bool, child_seconds: float) -> tuple[int, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PARENT, "1" if daemon else "0", str(child_seconds)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout), time.perf_counter() - start


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


daemon_pid, daemon_parent_seconds = run_parent(daemon=True, child_seconds=60)
plain_pid, plain_parent_seconds = run_parent(daemon=False, child_seconds=2)
print(f"daemonic child: parent took {daemon_parent_seconds:.1f}s, child alive: {alive(daemon_pid)}")
print(f"plain child:    parent took {plain_parent_seconds:.1f}s, child alive: {alive(plain_pid)}")

# %%
assert daemon_parent_seconds < 30 and not alive(daemon_pid)  # killed, not waited for 60 s
assert plain_parent_seconds >= 2 and not alive(plain_pid)     # the parent waited for it

# %% [markdown]
# ## A failing rank ends the job
#
# When one child raises, `mp.spawn` terminates the others and raises
# `ProcessRaisedException` in the parent, carrying the child's traceback and its index.
# `probe(..., fail_rank=1)` injects such a failure.

# %%
reports_dir = fresh_dir()
os.environ["MASTER_PORT"] = str(free_port())
start = time.perf_counter()
try:
    mp.spawn(probe, args=(2, "env://", reports_dir, "gloo", 1), nprocs=2)
    failure = None
except mp.ProcessRaisedException as error:
    failure = error
elapsed = time.perf_counter() - start
print(str(failure).splitlines()[0], f"... ({elapsed:.1f}s)")

# %%
assert failure is not None and failure.error_index == 1
assert "injected failure on rank 1" in str(failure)
assert elapsed < 60   # rank 0 was waiting for rank 1 in the rendezvous; it did not hang

# %% [markdown]
# ## What a backend is
#
# <a id="claim-2-1-3-backend"></a>
#
# > **The notes say** (§2.1.2, under `init_process_group`) that the backend gives access
# > to CUDA, cuDNN, MKL and OpenMP functions.
# > **In fact** those are *compute* libraries, switched in `torch.backends`. The
# > `backend` argument of `init_process_group` names a **collective-communication
# > library**: the code that moves tensors between processes for `all_reduce`,
# > `broadcast`, `all_gather`. gloo works on CPU tensors (and GPU), NCCL on CUDA tensors
# > only, MPI where PyTorch was built with it. This CPU wheel has gloo only.

# %%
print("gloo:", dist.is_gloo_available(), "| nccl:", dist.is_nccl_available(), "| mpi:", dist.is_mpi_available())
assert dist.is_gloo_available()
assert not dist.is_nccl_available() or torch.cuda.is_available()
assert hasattr(torch.backends, "cudnn") and not hasattr(dist.Backend, "CUDNN")

# %% [markdown]
# <a id="claim-2-1-3-backends"></a>
#
# What the notes say of the three backends themselves (§2.1.3) is right: gloo is the one
# for training on CPUs (the only one in this CPU wheel, and the one every process group on
# this page uses), NCCL is NVIDIA's library of collectives on CUDA tensors (it ships only
# with the CUDA builds of PyTorch), and MPI comes from high-performance computing
# (PyTorch has it only when built from source against an MPI library).

# %%
assert dist.is_gloo_available() and dist.Backend.GLOO == "gloo"
assert dist.is_nccl_available() == (torch.version.cuda is not None)   # CUDA builds only
assert not dist.is_mpi_available()                                     # not in pip wheels

# %% [markdown]
# <a id="claim-2-1-3-nccl-gradients"></a>
#
# > **The notes say** (§2.1.3) that a backend is needed because the results computed on
# > each GPU must be combined into the gradient: **Right**. They then describe NCCL, quoting
# > an article, as one of the ways to *compute and update* the gradient through
# > communication between GPUs: **Partly right**, since NCCL (like gloo) only communicates.
# > Each process computes its own gradients with autograd during `backward()`; DDP hands
# > them, bucket by bucket, to the backend, whose all-reduce sums them over the processes
# > (DDP divides by the world size); each process's optimizer then updates its own copy of
# > the weights. A DDP *communication hook* sees a bucket at the moment it is handed over:
# > its gradients are already complete, equal to those of a plain `backward()` without DDP
# > or any process group. (One process is enough to see the hand-over; the averaging across
# > ranks is the subject of the training walkthroughs.)

# %%
from torch.nn.parallel import DistributedDataParallel as DDP

torch.manual_seed(0)
net, twin = torch.nn.Linear(4, 2), torch.nn.Linear(4, 2)
twin.load_state_dict(net.state_dict())
inputs = torch.randn(8, 4)
twin(inputs).pow(2).sum().backward()          # autograd alone: no backend involved
handed_over = []                              # what DDP gives the backend


def record_then_all_reduce(state, bucket):
    handed_over.extend(g.clone() for g in bucket.gradients())
    work = dist.all_reduce(bucket.buffer(), async_op=True)   # the backend's whole job
    return work.get_future().then(lambda fut: fut.value()[0])


dist.init_process_group("gloo", init_method="file://" + os.path.join(fresh_dir(), "rdzv"),
                        world_size=1, rank=0)
try:
    ddp = DDP(net)
    ddp.register_comm_hook(None, record_then_all_reduce)
    ddp(inputs).pow(2).sum().backward()
finally:
    dist.destroy_process_group()
plain_grads = {tuple(p.shape): p.grad for p in twin.parameters()}

# %%
assert len(handed_over) == len(plain_grads) == 2                     # weight and bias
assert all(torch.equal(g, plain_grads[tuple(g.shape)]) for g in handed_over)
assert all(torch.equal(p.grad, q.grad) for p, q in zip(net.parameters(), twin.parameters()))

# %% [markdown]
# During training, DDP uses the backend for one thing above all: after `backward()`, it
# all-reduces every gradient and divides by the world size, so each rank applies the same
# averaged gradient and the replicas stay equal. `all_reduce_sum` above is that operation
# on a single number; the training-loop walkthrough shows it on a model.
#
# ## Three ways to meet: `env://`, `tcp://`, `file://`
#
# The `init_method` tells the processes how to find each other:
#
# | `init_method` | the rendezvous | needs |
# | --- | --- | --- |
# | `env://` | rank 0 listens on `MASTER_ADDR:MASTER_PORT` | the variables (and `RANK`, `WORLD_SIZE` unless passed) |
# | `tcp://host:port` | the same, with the address in the URL | a free port |
# | `file:///path` | a file on a shared file system | a path all ranks can see, not yet existing |

# %%
methods = {
    "tcp": f"tcp://127.0.0.1:{free_port()}",
    "file": "file://" + os.path.join(fresh_dir(), "rendezvous"),
}
for name, method in methods.items():
    reports_dir = fresh_dir()
    mp.spawn(probe, args=(2, method, reports_dir), nprocs=2)
    sums = [r["all_reduce_sum"] for r in read_reports(reports_dir)]
    print(f"{name:5s} {method:55s} sums={sums}")
    assert sums == [3.0, 3.0]

# %% [markdown]
# <a id="claim-2-1-3-init-method"></a>
#
# The notes (§2.1.3) describe `init_method` as the URL that tells the processes where to
# meet (a shared file, or an address for TCP) and give `env://` as the default. Right:
# given no `init_method` (and no store), `init_process_group` reads `MASTER_ADDR` and
# `MASTER_PORT` exactly as `env://` does, down to rejecting the same bad port.

# %%
os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(free_port())
dist.init_process_group("gloo", world_size=1, rank=0)                 # no init_method
try:
    joined = (dist.get_world_size(), dist.get_rank())
finally:
    dist.destroy_process_group()
os.environ["MASTER_PORT"] = "80000"
try:
    dist.init_process_group("gloo", world_size=1, rank=0)
    default_error = None
except ValueError as error:
    default_error = str(error)
assert joined == (1, 0)
assert default_error is not None and "80000" in default_error    # it read MASTER_PORT
assert not dist.is_initialized()

# %% [markdown]
# ## The original's port, today
#
# The original sets `MASTER_PORT = '80000'`. TCP ports are 16-bit numbers, at most
# 65,535; old versions of PyTorch let the value wrap around silently, PyTorch 2 checks it.

# %%
os.environ["MASTER_PORT"] = "80000"
try:
    dist.init_process_group("gloo", init_method="env://", world_size=1, rank=0)
    port_error = None
except ValueError as error:
    port_error = str(error)
print(port_error)
assert port_error is not None and "80000" in port_error
assert not dist.is_initialized()

# %% [markdown]
# <a id="claim-2-1-3-global-local-rank"></a>
#
# ## Rank, local rank, node, world size
#
# A **node** is one machine; a job has `nnodes` of them with `nproc_per_node` processes
# each. The **world size** $W$ is the total number of processes, the (global) **rank**
# numbers them $0 \dots W-1$ across the job, and the **local rank** numbers them within
# their own node, which is what picks the GPU (`cuda:local_rank`). With
# `node_rank` the node's index:
#
# $$ \text{rank} = \text{node\_rank} \cdot \text{nproc\_per\_node} + \text{local\_rank} $$
#
# Under a single-node `mp.spawn` there is one node, so rank equals local rank and the
# original can write `torch.cuda.set_device(rank)`.
#
# `torchrun` sets these as environment variables (`RANK`, `LOCAL_RANK`, `WORLD_SIZE`,
# `MASTER_ADDR`, `MASTER_PORT`, …) and starts the processes itself, so the script reads them
# instead of being passed an index. We fake two nodes on this machine: two `torchrun`
# launchers, node 0 and node 1, each with two processes, meeting at one rendezvous point.

# %%
rdzv = f"127.0.0.1:{free_port()}"
reports_dir = fresh_dir()
launchers = [
    subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node-rank={node}",
                      "--nproc-per-node=2", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv}",
                      "--rdzv-id=walkthrough", "-m", "glow_tts.distributed", reports_dir],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for node in (0, 1)
]
for launcher in launchers:
    output, _ = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, output
reports = read_reports(reports_dir)
for r in reports:
    print({k: r["env"][k] for k in ("RANK", "LOCAL_RANK", "GROUP_RANK", "WORLD_SIZE")})

# %%
assert [r["rank"] for r in reports] == [0, 1, 2, 3]
assert all(r["world_size"] == 4 and r["all_reduce_sum"] == 10 for r in reports)
for r in reports:
    env = r["env"]
    assert int(env["RANK"]) == int(env["GROUP_RANK"]) * 2 + int(env["LOCAL_RANK"])
assert sorted(int(r["env"]["LOCAL_RANK"]) for r in reports) == [0, 0, 1, 1]

# %% [markdown]
# On real machines, run the same command on each node with its own `--node-rank` and the
# rendezvous endpoint set to a host every node can reach (see the README's multi-node
# command).
#
# <a id="claim-2-1-3-set-device"></a>
#
# ## `torch.cuda.set_device(rank)` without a GPU
#
# The original pins each process to GPU `rank` and moves tensors with `.cuda(rank)`. A
# device-agnostic program picks a `torch.device` once, from the **local** rank, and uses
# `.to(device)` everywhere: on a GPU node `cuda:local_rank`, here the CPU. Setting the
# CUDA device, or moving a tensor with `.cuda()`, on a machine without CUDA is an error,
# which is why the original's calls must be guarded.

# %%
local_rank = 0
device = torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
print(device)
assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
if not torch.cuda.is_available():
    try:
        torch.zeros(1).cuda(local_rank)   # what the original's .cuda(rank) calls do here
        cuda_error = None
    except (RuntimeError, AssertionError) as error:
        cuda_error = error
    print(type(cuda_error).__name__, ":", cuda_error)
    assert cuda_error is not None
assert torch.ones(2).to(device).device.type == device.type
