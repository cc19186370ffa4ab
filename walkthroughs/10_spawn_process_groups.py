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
import pickle
import signal
import subprocess
import sys
import tempfile
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.distributed import probe, read_reports
from glow_tts.distributed import find_free_port as free_port  # an unused port


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
# > and that a debugging run on six GPUs printed 0 to 5. **Right**, both; and on one
# > machine under `mp.spawn` the rank is also the GPU's index. One word of caution: the
# > "process ID" here is the rank, the process's number within the process group,
# > $0 \dots W-1$, given by the launcher (`mp.spawn` passes its loop index, `torchrun`
# > sets `RANK`) and registered by `init_process_group`. It is not the operating
# > system's process ID (the PID, `os.getpid()`): launching again makes new processes
# > with new PIDs and the same ranks.

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
# interpreter). Pickling stores a function by its module and name only, so a lambda
# fails in the parent, before any child starts:

# %%
try:
    mp.spawn(lambda i: None, nprocs=1)
    spawn_error = None
except Exception as error:
    spawn_error = error
print(type(spawn_error).__name__, ":", str(spawn_error)[:100])
assert isinstance(spawn_error, pickle.PicklingError)
assert "<lambda>" in str(spawn_error)

# %% [markdown]
# The child also *runs the parent's main script* (under the name `__mp_main__`) to find
# the functions it must call. A script that starts processes at its top level, without an
# `if __name__ == "__main__":` guard, therefore asks the child to start a process too. It
# does not spawn again: `multiprocessing` notices that the child is still bootstrapping
# and raises a `RuntimeError` there; the child dies with exit code 1 and the parent
# carries on. (`torch.multiprocessing.spawn` uses the same machinery: there the parent
# then raises `ProcessExitedException`.) A five-line script without the guard:

# %%
UNGUARDED = """
import multiprocessing as mp, time
child = mp.get_context("spawn").Process(target=time.sleep, args=(0,))
child.start()
child.join()
print("child exit code:", child.exitcode)
"""
script = os.path.join(fresh_dir(), "unguarded.py")
with open(script, "w") as f:
    f.write(UNGUARDED)
unguarded = subprocess.run([sys.executable, script], capture_output=True, text=True,
                           timeout=60)
error_lines = unguarded.stderr.splitlines()
start = next(i for i, line in enumerate(error_lines) if line.startswith("RuntimeError"))
print(unguarded.stdout.strip())
print("the child's stderr ends with:",
      *[line.strip() for line in error_lines[start:start + 4]], sep="\n  ")

# %%
assert unguarded.stdout.strip() == "child exit code: 1"      # the parent went on
assert sum(l.startswith("RuntimeError") for l in error_lines) == 1  # one child, one error
assert "has finished its bootstrapping phase" in unguarded.stderr

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
# <a id="claim-2-1-2-daemon"></a>
#
# > **The notes say** (§2.1.2) that with `daemon=False` a child is not ended when its
# > parent ends, and that the parent, before it exits, joins the child and waits for it to
# > finish. **Right.** `daemon` is Python's `multiprocessing` flag. When the parent's
# > interpreter shuts down, an exit handler of `multiprocessing` *terminates* the daemonic
# > children and *joins* the others, so the parent waits, as the notes say.
# >
# > What the notes leave out: that exit handler only runs when the parent exits normally.
# > A parent ended by `os._exit` or by `SIGKILL` runs no handler, and then children of
# > either kind live on as orphans. `torch.multiprocessing.spawn` adds one safeguard of its
# > own on Linux: each child asks the kernel for a `SIGINT` when its parent dies
# > (`prctl(PR_SET_PDEATHSIG)` in `torch/multiprocessing/spawn.py`, `_wrap`), so the
# > children of `mp.spawn` end with their parent even then.
#
# The experiment: a parent script starts one child that sleeps 3 s, waits until the child
# runs, then ends in one of three ways: it returns normally, calls `os._exit(0)`, or is
# killed with `SIGKILL`. We time the parent and look at the child right after.

# %%
PARENT = """
import multiprocessing as mp, os, signal, sys, time


def sleeper(ready_path, seconds):
    open(ready_path, "w").close()
    time.sleep(seconds)


if __name__ == "__main__":
    daemon, ending, ready = sys.argv[1] == "daemonic", sys.argv[2], sys.argv[3]
    child = mp.get_context("spawn").Process(target=sleeper, args=(ready, 3.0),
                                            daemon=daemon)
    child.start()
    print(child.pid, flush=True)
    while not os.path.exists(ready):
        time.sleep(0.01)
    if ending == "os._exit":
        os._exit(0)
    if ending == "SIGKILL":
        os.kill(os.getpid(), signal.SIGKILL)
"""
parent_script = os.path.join(fresh_dir(), "parent.py")
with open(parent_script, "w") as f:
    f.write(PARENT)


def alive(pid: int) -> bool:
    """A running process (Linux /proc; an exited, unreaped child shows state Z)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def run_parent(script: str, *args: str) -> tuple[int, float]:
    """Run a parent script that prints its child's pid; return the pid and the parent's
    lifetime. The child inherits stdout: read one line, then wait for the parent only."""
    start = time.perf_counter()
    ready = os.path.join(fresh_dir(), "ready")
    parent = subprocess.Popen([sys.executable, script, *args, ready],
                              stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    parent.wait(timeout=60)
    return child_pid, time.perf_counter() - start


endings = {}
for kind in ("daemonic", "non-daemonic"):
    for ending in ("return", "os._exit", "SIGKILL"):
        child_pid, seconds = run_parent(parent_script, kind, ending)
        endings[kind, ending] = (seconds, alive(child_pid))
        if alive(child_pid):
            os.kill(child_pid, signal.SIGTERM)  # an orphan: clean up after the experiment
        print(f"{kind:13s} parent {ending:9s} -> parent lived {seconds:.1f} s, "
              f"child alive after: {endings[kind, ending][1]}")

# %%
daemonic_return = endings["daemonic", "return"]
plain_return = endings["non-daemonic", "return"]
assert daemonic_return[0] < 2.5 and not daemonic_return[1]  # terminated, not waited for
assert plain_return[0] >= 3 and not plain_return[1]  # joined: the parent waited 3 s
for kind in ("daemonic", "non-daemonic"):
    for ending in ("os._exit", "SIGKILL"):
        seconds, child_alive = endings[kind, ending]
        assert child_alive and seconds < 2.5   # no exit handler: the child outlives it

# %% [markdown]
# And the safeguard of `torch.multiprocessing.spawn`: the same `os._exit` parent, but the
# child started by `mp.spawn(..., join=False)` (daemon=False, the default). Its child is
# gone a moment after the parent.

# %%
TORCH_PARENT = """
import os, sys, time
import torch.multiprocessing as mp


def sleeper(index, ready_path, seconds):
    open(ready_path, "w").close()
    time.sleep(seconds)


if __name__ == "__main__":
    context = mp.spawn(sleeper, args=(sys.argv[1], 30.0), nprocs=1, join=False)
    print(context.pids()[0], flush=True)
    while not os.path.exists(sys.argv[1]):
        time.sleep(0.01)
    os._exit(0)
"""
torch_parent_script = os.path.join(fresh_dir(), "torch_parent.py")
with open(torch_parent_script, "w") as f:
    f.write(TORCH_PARENT)
child_pid, _ = run_parent(torch_parent_script)
deadline = time.monotonic() + 10
while alive(child_pid) and time.monotonic() < deadline:
    time.sleep(0.05)
print("mp.spawn child alive after its parent's os._exit:", alive(child_pid))
assert not alive(child_pid)   # SIGINT from the kernel when the parent died

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
# > **The notes say** (§2.1.3, under `init_process_group`) that the backend gives access
# > to CUDA, cuDNN, MKL and OpenMP functions.
# > **In fact** those are *compute* libraries, switched in `torch.backends`. The
# > `backend` argument of `init_process_group` names a **collective-communication
# > library**: the code that moves tensors between processes for `all_reduce`,
# > `broadcast`, `all_gather`. gloo works on CPU tensors (and GPU), NCCL on CUDA tensors
# > only, MPI where PyTorch was built with it. This CPU wheel has gloo only.
# > So: **Wrong**: the notes describe `torch.backends`, not a process group's backend.

#
# Two observations separate the two. The compute libraries work with no process group at
# all: a matrix product runs, and `torch.backends` reports on MKL-DNN and OpenMP, while
# `torch.distributed` is not even initialised. And the names a process group accepts,
# `dist.Backend.backend_list`, are communication libraries only; none of the compute
# libraries is among them.

# %%
assert not dist.is_initialized()
product = torch.randn(64, 64) @ torch.randn(64, 64)          # compute needs no group
print("mkldnn:", torch.backends.mkldnn.is_available(),
      "| openmp:", torch.backends.openmp.is_available())
print("process-group backends:", dist.Backend.backend_list)
print("gloo:", dist.is_gloo_available(), "| nccl:", dist.is_nccl_available(),
      "| mpi:", dist.is_mpi_available())

# %%
assert product.shape == (64, 64) and not dist.is_initialized()
assert {"gloo", "nccl", "mpi"} <= set(dist.Backend.backend_list)
assert not {"cuda", "cudnn", "mkl", "mkldnn", "openmp"} & set(dist.Backend.backend_list)
assert dist.is_gloo_available()
assert {r["backend"] for r in reports} == {"gloo"}         # what the two ranks above used

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
# > ranks is the subject of the training walkthroughs.) The original wraps the model in
# > apex's `DistributedDataParallel` (`train.py:12, 73`), which does the same job, an
# > averaging all-reduce of the gradients over the NCCL group; the demo uses PyTorch's
# > own, its successor.

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
assert all(torch.equal(p.grad, q.grad)
           for p, q in zip(net.parameters(), twin.parameters()))

# %% [markdown]
# During training, DDP uses the backend for one thing above all: after `backward()`, it
# all-reduces every gradient and divides by the world size, so each rank applies the same
# averaged gradient and the replicas stay equal. `all_reduce_sum` above is that operation
# on a single number; walkthrough 12 (training on several ranks) runs it on a model, with
# two ranks that see different data.
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
# 65,535. PyTorch of 2020 accepted the value; PyTorch 1.10 failed with a `TypeError` when
# building the rendezvous store, and since 1.11 the `env://` rendezvous checks the range
# first (`torch/distributed/rendezvous.py`) and raises a `ValueError` (the chapter "What
# changed since 2020" has the history).

# %%
os.environ["MASTER_PORT"] = "80000"
try:
    dist.init_process_group("gloo", init_method="env://", world_size=1, rank=0)
    port_error = None
except ValueError as error:
    port_error = str(error)
print(port_error)
assert port_error is not None and "80000" in port_error and "65535" in port_error
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
    subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes=2",
                      f"--node-rank={node}", "--nproc-per-node=2", "--rdzv-backend=c10d",
                      f"--rdzv-endpoint={rdzv}", "--rdzv-id=walkthrough",
                      "-m", "glow_tts.distributed", reports_dir],
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
# The job as torchrun laid it out, drawn from the four reports: two nodes (torchrun's
# `GROUP_RANK`), two processes on each, every process with its global and local rank and
# its own pid, all meeting at the rendezvous endpoint, where node 0's agent hosts the
# c10d store. (The rendezvous only *matches* the processes up; the all-reduce itself then
# runs over gloo's own connections between the ranks.)

# %% tags=["plot"]
figures.rank_layout(reports, rdzv)

# %% [markdown]
# On real machines, run the same command on each node with its own `--node-rank` and the
# rendezvous endpoint set to a host every node can reach (see the README's multi-node
# command).
#
# <a id="claim-2-1-3-set-device"></a>
#
# ## `torch.cuda.set_device(rank)`: the local rank picks the device
#
# The original pins each process to GPU `rank` and moves tensors with `.cuda(rank)`. That
# is right only because `mp.spawn` runs one node, where rank equals local rank. A GPU
# index is local to a machine: node 1 of the job above has its own `cuda:0` and `cuda:1`
# and no `cuda:2`. The device must come from the **local** rank, as ours does
# (`train_and_eval` reads `LOCAL_RANK` and falls back to `rank` under `mp.spawn`). In the
# torchrun job, the global rank names devices that a two-process node does not have; the
# local rank never does:

# %%
per_node = {int(r["env"]["LOCAL_WORLD_SIZE"]) for r in reports}
by_global = sorted(int(r["env"]["RANK"]) for r in reports)
by_local = sorted(int(r["env"]["LOCAL_RANK"]) for r in reports)
print("devices per node:", per_node, "| cuda index by RANK:", by_global,
      "| by LOCAL_RANK:", by_local)
assert per_node == {2}
assert max(by_global) >= 2             # cuda:2 and cuda:3 do not exist on a 2-GPU node
assert max(by_local) < 2               # every local rank names a device of its own node

# %% [markdown]
# On a machine without a GPU, the original's call itself fails: this CPU build of PyTorch
# has no CUDA runtime to ask.

# %%
try:
    torch.cuda.set_device(0)
    set_device_error = None
except (AttributeError, RuntimeError, AssertionError) as error:
    set_device_error = error
print(type(set_device_error).__name__, ":", set_device_error)
assert torch.cuda.is_available() or set_device_error is not None

# %% [markdown]
# A device-agnostic program asks `torch.accelerator` (PyTorch 2.6 and later) which kind
# of accelerator the machine has, if any, and builds the device from that and the local
# rank; with none it trains on the CPU and never calls a CUDA function. Here it answers
# "none", so the program lands on the CPU.

# %%
def device_for(local_rank: int) -> torch.device:
    accelerator = torch.accelerator.current_accelerator()   # None without a GPU
    return torch.device("cpu") if accelerator is None else torch.device(accelerator.type,
                                                                          local_rank)


print(torch.accelerator.current_accelerator(), "->", device_for(1))
no_accelerator = torch.accelerator.current_accelerator() is None
assert no_accelerator == (not torch.cuda.is_available())
if not torch.cuda.is_available():
    assert device_for(1) == torch.device("cpu")
