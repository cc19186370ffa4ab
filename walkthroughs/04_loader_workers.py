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
# # DataLoader worker processes: where `__getitem__` runs, seeds, memory and debugging
#
# *Reviews:* `train.py`, `train_and_eval` — the `num_workers=8` of
# `train_loader = DataLoader(train_dataset, num_workers=8, ...)`, and the notes' remarks
# on single- and multi-process loading (§1.2.4.1.2). Ours: `glow_tts/data_utils.py`.
#
# You will learn:
#
# * which process runs the sampler, `__getitem__` and `collate_fn`, with `num_workers=0`
#   and with `num_workers=2`;
# * what the start method (`fork`, `spawn`) changes, and what workers cost in memory;
# * how workers are seeded, and how our loader makes the noise of an item independent of
#   which process loads it;
# * why debugging is easier without workers.
#
# The previous walkthrough (04, `TextMelLoader` and `DataLoader`) built the data set and
# the loader; this one looks at the processes behind them.
#
# covers: T10

# %%
import multiprocessing
import os
import sys
import tempfile
import warnings

import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelLoader
from glow_tts.hparams import get_hparams_from_file

torch.set_num_threads(1)

# %% [markdown]
# The same small corpus as walkthrough 04: forty Korean sentences spoken by eSpeak NG.

# %%
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_04w_"), limit=40, progress=False)
hps = get_hparams_from_file("../configs/base.json")
train_dataset = TextMelLoader(corpus.filelists["train"], hps.data)
print(len(train_dataset), "training utterances")

# %% [markdown]
# <a id="claim-1-2-4-1-main-process"></a>
#
# ## Where `__getitem__` runs: `num_workers`
#
# With `num_workers=0` (the default) the loader calls `__getitem__` in the training
# process itself, one sample after another, between training steps. With
# `num_workers=k` it starts $k$ worker processes. The *sampler* still runs in the main
# process: the loader's iterator draws the next list of indices there and puts it on one
# worker's index queue, in turn (round robin). The worker runs `__getitem__` for each
# index and `collate_fn` on the samples, and sends the finished batch back through a
# result queue, so reading audio and computing mels overlaps with training. The original
# uses 8 workers per GPU.
#
# To see which process runs `__getitem__`, this data set wraps the real one and returns the
# process id along with the sample's size.

# %%
class WhereItRuns(Dataset):
    """Wraps a data set; each item also reports the process that computed it."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, idx):
        text, mel = self.inner[idx]
        info = get_worker_info()  # None in the main process
        return {"pid": os.getpid(), "parent": os.getppid(),
                "worker": -1 if info is None else info.id,
                "seed": torch.initial_seed(), "frames": mel.shape[1]}


def processes(num_workers):
    loader = DataLoader(WhereItRuns(train_dataset), batch_size=4, num_workers=num_workers,
                        collate_fn=lambda samples: samples, multiprocessing_context=
                        "fork" if num_workers else None)
    return [sample for batch in loader for sample in batch]


main_pid = os.getpid()
single = processes(0)
multi = processes(2)
print("num_workers=0:", {s["pid"] for s in single}, " main process:", main_pid)
print("num_workers=2:", {s["pid"] for s in multi})

# %%
assert {s["pid"] for s in single} == {main_pid}                   # in this process
multi_pids = {s["pid"] for s in multi}
assert len(multi_pids) == 2 and main_pid not in multi_pids        # in two other processes
assert {s["parent"] for s in multi} == {main_pid}  # ... started by this one
# same samples, same order
assert [s["frames"] for s in single] == [s["frames"] for s in multi]

# %% [markdown]
# Who samples, and who loads what: a batch sampler that notes the process drawing each
# index list, and the data set above, which notes the worker loading each index.

# %%
class NotedBatches(torch.utils.data.BatchSampler):
    """A BatchSampler that also records, for every index list, the process drawing it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.drawn_in = []

    def __iter__(self):
        for batch in super().__iter__():
            self.drawn_in.append(os.getpid())
            yield batch


batches = NotedBatches(torch.utils.data.SequentialSampler(train_dataset), batch_size=4,
                       drop_last=False)
loader = DataLoader(WhereItRuns(train_dataset), batch_sampler=batches, num_workers=2,
                    collate_fn=lambda samples: samples, multiprocessing_context="fork")
loaded = [[s["worker"] for s in batch] for batch in loader]
print("index lists drawn in:", set(batches.drawn_in), "(main process:", main_pid, ")")
print("worker that loaded each batch:", [b[0] for b in loaded])

# %%
assert set(batches.drawn_in) == {main_pid}  # the sampler ran here, not in a worker
assert len(batches.drawn_in) >= len(loaded)  # one index list per batch (and prefetch)
# a whole batch comes from one worker
assert all(len(set(workers)) == 1 for workers in loaded)
assert [b[0] for b in loaded] == [i % 2 for i in range(len(loaded))]  # handed out in turn

# %% [markdown]
# <a id="claim-1-2-4-1-single-process"></a>
#
# > **The notes say** (§1.2.4.1.2) that single-process loading, the default, is the choice
# > when resources share the data set, which they equate with a data set small enough to
# > sit in memory. **Partly right**: it is the default (`num_workers=0`), and a data set
# > that fits in memory is one of the two cases PyTorch's documentation names. The other
# > case is turned around: one process is preferred when the resources *for sharing data
# > between processes* are scarce, shared memory and file descriptors, since every batch
# > a worker sends back travels through them. And the two cases are alternatives, not one
# > condition said twice. A batch built by a worker arrives in shared memory (on Linux by
# > default each such tensor holds a file descriptor while it is being passed on); a
# > batch built in the main process does not.

# %%
numbers = torch.utils.data.TensorDataset(torch.arange(8))
from_main = next(iter(DataLoader(numbers, batch_size=4)))[0]
from_worker = next(iter(DataLoader(numbers, batch_size=4, num_workers=1,
                                   multiprocessing_context="fork")))[0]
strategy = torch.multiprocessing.get_sharing_strategy()
print("sharing strategy:", strategy, "| in shared memory: main", from_main.is_shared(),
      "worker", from_worker.is_shared())
assert DataLoader(numbers).num_workers == 0                     # the default
assert not from_main.is_shared() and from_worker.is_shared()
assert strategy == "file_descriptor"

# %% [markdown]
# <a id="claim-1-2-4-1-cpu-gpu"></a>
#
# > **The notes say** (§1.2.4.1.2) that loading in the main process turns into a bottleneck
# > when it causes much traffic between the CPU and the GPU, a trade-off.
# > **Partly right**: there is a bottleneck, and a trade-off (workers cost processes and
# > memory), but CPU–GPU traffic is not its cause. The `DataLoader` copies nothing to a GPU, with
# > or without workers: its batches are CPU tensors (pinned at most), and the copy to the
# > GPU is the training loop's `.cuda(rank, non_blocking=True)`. What single-process
# > loading costs is time: `__getitem__` (reading audio, computing the mel, on the CPU)
# > runs in the training process between steps, so the model waits while the next batch
# > is made; with workers, the next batches are made during the step. A counter of
# > `__getitem__` calls, shared with the workers, shows it: while the first "training
# > step" runs, nothing more is loaded with `num_workers=0`, and two workers load ahead.

# %%
import time


class Counted(Dataset):
    """Items 0..n-1; counts __getitem__ calls in a counter shared with forked workers."""

    def __init__(self, n, counter):
        self.n, self.counter = n, counter

    def __len__(self):
        return self.n

    def __getitem__(self, idx):
        with self.counter.get_lock():
            self.counter.value += 1
        return torch.tensor(idx)


def loaded_during_first_step(num_workers, batch_size=2, patience_s=20.0):
    """(the first batch, how many items were loaded by the end of the first step)"""
    context = multiprocessing.get_context("fork")
    counter = context.Value("i", 0)
    loader = DataLoader(Counted(16, counter), batch_size=batch_size,
                        num_workers=num_workers,
                        multiprocessing_context=context if num_workers else None)
    batches = iter(loader)
    first = next(batches)
    deadline = time.monotonic() + (patience_s if num_workers else 0.5)
    while counter.value <= batch_size and time.monotonic() < deadline:
        time.sleep(0.01)                        # the "training step"
    loaded = counter.value
    del batches                                 # ends the workers
    return first, loaded


first_single, loaded_single = loaded_during_first_step(0)
first_multi, loaded_multi = loaded_during_first_step(2)
print("items loaded by the end of step 1: num_workers=0 ->", loaded_single,
      "| num_workers=2 ->", loaded_multi)
assert loaded_single == len(first_single)       # the step waits; nothing else is loaded
assert loaded_multi > len(first_multi)          # the workers load the next batches
assert first_single.device.type == first_multi.device.type == "cpu"   # no GPU

# %% [markdown]
# The workers here are started with `fork`: the child is a copy of this process, so it
# already has the data set object and even a class defined in a notebook cell. It is the
# default on Linux up to Python 3.13 (3.14 switched the default to `forkserver`). With
# `spawn` (the default on macOS and Windows) or `forkserver`, the data set is *pickled*
# and sent to a fresh interpreter, which must be able to import its class: a class defined
# in a notebook cell lives in the kernel's `__main__` and cannot be found there. Defining
# data sets in a module (as `glow_tts.data_utils`) works with every start method.
#
# Memory: a forked worker shares the parent's memory pages until one of them writes to a
# page (copy-on-write). Python writes reference counts into every object it touches, so
# a large list of Python objects (a filelist of 12,000 lines) gradually gets copied into
# every worker; in the worst case memory grows with the number of workers times the
# parent's size. That is one reason to keep the data set's own state small (paths and
# strings, not preloaded audio).

# %%
assert "fork" in multiprocessing.get_all_start_methods()
if sys.platform == "linux" and sys.version_info < (3, 14):
    assert multiprocessing.get_start_method() == "fork"
assert torch.utils.data.get_worker_info() is None  # this cell runs in the main process

# %% [markdown]
# <a id="claim-1-2-4-1-worker-memory"></a>
#
# > **The notes say** (§1.2.4.1.2), after PyTorch's documentation, that the memory used is
# > `num_workers` times the size of the parent process. **Partly right**: that is the
# > worst case the documentation warns of, not what a worker costs as such. A forked
# > worker starts out sharing every page of its parent and gets a private copy of a page
# > only when it writes to it. Reading a Python object writes its reference count, so a
# > worker that walks a large list of Python objects copies the pages that hold them, and
# > with enough of that every worker ends up with a copy of the parent. The cell measures
# > a worker's private memory (Linux's `/proc/self/smaps_rollup`) before and after it
# > reads a million strings that the parent made.

# %%
def memory_mb(*fields):
    """Sum of the given smaps_rollup fields of the calling process, in MB (Linux)."""
    found = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            name, _, rest = line.partition(":")
            if name in fields:
                found[name] = int(rest.split()[0]) / 1024
    return sum(found.values())


strings = [str(i) for i in range(1_000_000)]          # Python objects of the parent


class ReadsStrings(Dataset):
    def __len__(self):
        return 1

    def __getitem__(self, idx):
        before = memory_mb("Private_Clean", "Private_Dirty")
        characters = sum(len(s) for s in strings)      # reading writes reference counts
        after = memory_mb("Private_Clean", "Private_Dirty")
        return torch.tensor([memory_mb("Rss"), before, after, characters])


parent_rss = memory_mb("Rss")
one_worker = DataLoader(ReadsStrings(), batch_size=None, num_workers=1,
                        multiprocessing_context="fork")
worker_rss, private_before, private_after, characters = next(iter(one_worker)).tolist()
del strings
print(f"parent resident {parent_rss:.0f} MB | worker resident {worker_rss:.0f} MB, "
      f"private {private_before:.0f} MB before reading, {private_after:.0f} MB after")
assert private_before < parent_rss / 4                  # a fresh worker copies little
assert private_after - private_before > 20      # reading copied the strings' pages

# %% [markdown]
# <a id="claim-1-2-4-1-cpu-cores"></a>
#
# > **The notes say** (§1.2.4.1.2) that the number of worker subprocesses is a matter of
# > giving them a suitable number of CPU cores. **Right**, and it is PyTorch's own rule.
# > A worker is one process that PyTorch runs with a single thread
# > (`torch.set_num_threads(1)` at the top of its loop,
# > `torch/utils/data/_utils/worker.py`), so it keeps at most one core busy with torch's
# > work (other libraries' threads aside), and workers beyond the free cores only add
# > memory (above) and switching. The `DataLoader` checks the count when it is built
# > (`check_worker_number_rationality` in `torch/utils/data/dataloader.py`): more workers
# > than the CPUs this process may run on (`os.sched_getaffinity`, so a container's limit
# > counts) gets a warning; that many or fewer, none. No worker is started for the check.

# %%
class Probe(Dataset):
    """One item: the number of torch threads of the process that loads it."""

    def __len__(self):
        return 1

    def __getitem__(self, idx):
        return torch.tensor(torch.get_num_threads())


threads_in_worker = next(iter(DataLoader(Probe(), batch_size=None, num_workers=1,
                                         multiprocessing_context="fork")))
cpus = len(os.sched_getaffinity(0))
warned = {}
for n in (cpus, cpus + 1):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DataLoader(Probe(), num_workers=n)
    warned[n] = [str(w.message) for w in caught if "worker processes" in str(w.message)]
print(f"CPUs for this process: {cpus}; threads in a worker: {int(threads_in_worker)}; "
      f"main process: {torch.get_num_threads()}")
print(warned[cpus + 1][0][:150] if warned[cpus + 1] else "no warning")

# %%
assert int(threads_in_worker) == 1                   # one worker, one thread
assert warned[cpus] == []                            # as many workers as CPUs: fine
assert len(warned[cpus + 1]) == 1                    # one more: PyTorch warns
assert f"suggested max number of worker in current system is {cpus}" \
    in warned[cpus + 1][0]

# %% [markdown]
# **Worker seeding.** Each worker gets its own seed, `base_seed + worker_id`, where the
# loader draws `base_seed` from the main process's generator at the start of each epoch.
# PyTorch seeds `torch` and Python's `random` with it in every worker, and NumPy with a
# value derived from it. That matters here: `add_noise` draws fresh noise inside
# `__getitem__` from whatever generator the loading process has, and two workers with the
# same seed would add identical noise.

# %%
seeds = {s["worker"]: s["seed"] for s in multi}
assert sorted(seeds) == [0, 1]
assert seeds[1] == seeds[0] + 1

# %% [markdown]
# Per-worker seeds still leave the noise a function of *who* loads an item and *what it
# loaded before*: with 2 workers instead of 0, or after resuming half-way through an epoch,
# the same utterance gets different noise. Our training loop therefore calls
# `train_dataset.set_epoch(epoch, seed)` before each epoch; from then on item `i` draws its
# noise from a generator seeded with `(seed, epoch, i)` alone. Below, the same three items
# loaded in the main process and by two workers get bit-identical mels, and the next epoch
# gets new noise.

# %%
def mels(num_workers, indices=(0, 1, 2)):
    loader = DataLoader(torch.utils.data.Subset(train_dataset, indices), batch_size=1,
                        num_workers=num_workers, collate_fn=lambda samples: samples[0][1],
                        multiprocessing_context="fork" if num_workers else None)
    return list(loader)


train_dataset.set_epoch(5, seed=1234)
in_main, in_workers = mels(0), mels(2)
assert all(torch.equal(a, b) for a, b in zip(in_main, in_workers))
train_dataset.set_epoch(6, seed=1234)
assert not torch.equal(mels(0)[0], in_main[0])   # a new epoch, new noise

# %% [markdown]
# <a id="claim-1-2-4-1-debugging"></a>
#
# **Debugging.** With workers, an exception in `__getitem__` happens in another process.
# The loader catches it there, sends it back, and raises it again in the main process with
# the worker's traceback as *text* inside the message: a debugger started on the error
# (`%debug`, `pdb.post_mortem`) lands in the loader, not in your `__getitem__`. With
# `num_workers=0` the exception is raised in place, with live frames to inspect. This is
# the notes' point that single-process loading is easier to debug.

# %%
class Broken(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, idx):
        if idx == 2:
            raise ValueError(f"cannot read utterance {idx}")
        return torch.tensor(idx)


messages = {}
for workers in (0, 2):
    try:
        list(DataLoader(Broken(), batch_size=1, num_workers=workers,
                        multiprocessing_context="fork" if workers else None))
    except ValueError as err:
        messages[workers] = str(err)
print(messages[2].splitlines()[0])
assert messages[0] == "cannot read utterance 2"
assert messages[2].startswith("Caught ValueError in DataLoader worker process")
assert "cannot read utterance 2" in messages[2]  # the worker's traceback, as text
