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
# # Seeds, samplers and `batch_idx`: who sees which utterance
#
# *Reviews:* `train.py`, `train_and_eval` — `torch.manual_seed(hps.train.seed)`, the
# `DistributedSampler(...)` and `DataLoader(..., sampler=train_sampler, drop_last=True)`
# calls — and `train`, which starts with `train_loader.sampler.set_epoch(epoch)` and loops
# `for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader)`.
#
# You will learn:
#
# * why every rank builds *the same* model: one seed, one set of initial weights;
# * how a plain sampler differs from `DistributedSampler`, and why `shuffle=True` and
#   `sampler=` cannot be given together;
# * how `DistributedSampler` cuts the data set into disjoint, equal-sized shards, padding
#   when the data does not divide evenly;
# * what `set_epoch` changes, and what stays the same across ranks;
# * the exact number of `batch_idx` values per epoch, checked on the notes' two examples.
#
# covers: T11, T23, T25, T26, T27

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch.utils.data import (DataLoader, DistributedSampler, RandomSampler,
                              SequentialSampler, TensorDataset)

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols

# %% [markdown]
# <a id="claim-2-1-3-manual-seed"></a>
#
# ## One seed, the same weights on every rank
#
# Each rank of a distributed run is a separate process that builds its own copy of the
# model. DDP expects those copies to start equal; it broadcasts rank 0's weights when it
# wraps the model anyway, but the original also makes the ranks agree by construction:
# every process calls `torch.manual_seed(hps.train.seed)` before building the generator.
#
# `torch.manual_seed` seeds the default CPU generator (and every CUDA device's) and
# returns that `torch.Generator` object.

# %%
hps = get_hparams_from_file("../configs/tiny.json")
n_vocab = len(symbols) + hps.data.add_blank


def build_generator(seed: int) -> FlowGenerator:
    generator_rng = torch.manual_seed(seed)
    assert isinstance(generator_rng, torch.Generator)
    assert generator_rng.initial_seed() == seed
    return FlowGenerator(n_vocab, out_channels=hps.data.n_mel_channels, **hps.model)


rank0_model = build_generator(hps.train.seed)   # what rank 0 builds
rank1_model = build_generator(hps.train.seed)   # what rank 1 builds, in its own process
other_seed = build_generator(hps.train.seed + 1)

# %%
def weights(model):
    return list(model.state_dict().values())


same = all(torch.equal(a, b) for a, b in zip(weights(rank0_model), weights(rank1_model)))
differs = any(not torch.equal(a, b)
              for a, b in zip(weights(rank0_model), weights(other_seed)))
assert same and differs
print("same seed -> identical weights:", same,
      "| other seed -> different weights:", differs)

# %% [markdown]
# <a id="claim-1-2-4-1-sampler-image"></a>
#
# ## Plain samplers: one process sees everything
#
# A `DataLoader` asks its *sampler* for indices and its dataset for the samples at those
# indices. `shuffle=False` means a `SequentialSampler` ($0, 1, 2, \dots$), `shuffle=True`
# a `RandomSampler` (a fresh permutation every time the loader is iterated). Either way a
# single process walks over all $N$ indices.
#
# A twelve-item toy data set keeps the index layouts readable; the real `TextMelLoader`
# plugs into the same machinery.

# %%
toy = TensorDataset(torch.arange(12))
assert isinstance(DataLoader(toy, shuffle=False).sampler, SequentialSampler)
assert isinstance(DataLoader(toy, shuffle=True).sampler, RandomSampler)
assert sorted(RandomSampler(toy)) == list(range(12))

# %% [markdown]
# Once you pass your own `sampler`, the loader has no business shuffling: the sampler
# decides the order. PyTorch refuses the combination outright, which is why the original
# passes `shuffle=False` to the loader and `shuffle=True` to the `DistributedSampler`.

# %%
sampler = DistributedSampler(toy, num_replicas=2, rank=0, shuffle=True)
try:
    DataLoader(toy, sampler=sampler, shuffle=True)
    raised = None
except ValueError as error:
    raised = str(error)
print(raised)
assert raised is not None and "mutually exclusive" in raised

# %% [markdown]
# <a id="claim-2-1-3-sampler-ddp"></a>
#
# ## `DistributedSampler`: shards of equal size, disjoint when $W$ divides $N$
#
# With `num_replicas` ranks, each rank keeps every `num_replicas`-th index of one shared
# permutation, starting at its own rank. No process group is needed to build it when both
# `num_replicas` and `rank` are given, so we can build all ranks' samplers side by side.
#
# If $N$ is not a multiple of the world size $W$, the sampler repeats the first indices
# of the permutation until the total is $W \cdot \lceil N / W \rceil$: every rank gets
# the same number of samples, so no rank waits forever in a collective at the end of an
# epoch. The repeated indices land on other ranks, so then two ranks train on the same
# utterance in that epoch: the shards overlap.

# %%
def shards(n_items: int, world_size: int, epoch: int,
           shuffle: bool = True) -> list[list[int]]:
    dataset = TensorDataset(torch.arange(n_items))
    per_rank = []
    for rank in range(world_size):
        s = DistributedSampler(dataset, num_replicas=world_size, rank=rank,
                               shuffle=shuffle, seed=0)
        s.set_epoch(epoch)
        per_rank.append(list(s))
    return per_rank


even = shards(12, world_size=3, epoch=0)
assert all(len(part) == 4 for part in even)
assert sorted(sum(even, [])) == list(range(12))          # disjoint and covering

uneven = shards(10, world_size=3, epoch=0)                # 10 items, 3 ranks
assert [len(part) for part in uneven] == [4, 4, 4]        # ceil(10 / 3) = 4 each
flat = sum(uneven, [])
assert len(flat) == 12 and set(flat) == set(range(10))   # two indices appear twice
assert any(set(uneven[a]) & set(uneven[b]) for a in range(3) for b in range(a + 1, 3))
print("10 items on 3 ranks:", uneven)

# %% [markdown]
# <a id="claim-2-1-3-exclusive"></a>
#
# > **The notes say** (§2.1.3) that `DistributedSampler` draws each rank's subset of the
# > data set exclusively. **Partly right**: the shards are disjoint only when the data set
# > divides evenly by the world size. Otherwise the sampler pads the shared permutation
# > with its own first indices, and those utterances go to two ranks in the same epoch
# > (above, 10 items on 3 ranks: two of them twice). Passing `drop_last=True` to the
# > *sampler* cuts the tail instead: disjoint shards, but a few utterances skipped in
# > that epoch. (The word "exclusive" is PyTorch's own, from the class's docstring,
# > whose `drop_last` entry documents the padding: `torch/utils/data/distributed.py`.)

# %%
owners = {}
for rank, part in enumerate(uneven):
    for index in part:
        owners.setdefault(index, set()).add(rank)
on_two_ranks = sorted(i for i, ranks in owners.items() if len(ranks) > 1)
print("utterances on two ranks in this epoch:", on_two_ranks)
assert len(on_two_ranks) == 3 * math.ceil(10 / 3) - 10 == 2
ten = TensorDataset(torch.arange(10))
cut = [list(DistributedSampler(ten, num_replicas=3, rank=r, seed=0, drop_last=True))
       for r in range(3)]
assert [len(part) for part in cut] == [10 // 3] * 3
assert len(set(sum(cut, []))) == 9                   # disjoint; one utterance left out

# %% [markdown]
# ## `set_epoch`: a new order every epoch, agreed by all ranks
#
# The sampler's permutation comes from a generator seeded with `seed + epoch`. Every rank
# computes the *same* permutation for a given epoch and takes its own slice, so the
# shards stay disjoint. Forget `set_epoch` and the epoch stays 0: the same order, every
# epoch.

# %%
epoch1, epoch2 = shards(12, 3, epoch=1), shards(12, 3, epoch=2)
assert epoch1 != epoch2                                    # reshuffled
assert sorted(sum(epoch2, [])) == list(range(12))          # still a partition

forgetful = DistributedSampler(toy, num_replicas=3, rank=0, shuffle=True, seed=0)
assert list(forgetful) == list(forgetful) == shards(12, 3, epoch=0)[0]

# %% [markdown]
# <a id="claim-2-2-1-set-epoch"></a>
#
# > **The notes say** (§2.2.1) that `train_loader.sampler.set_epoch(epoch)` uses the
# > samples drawn by the `DistributedSampler`. **Partly right**: the loader's sampler is
# > that `DistributedSampler`, but `set_epoch` draws nothing and returns nothing. It only
# > stores the epoch number. The next time the sampler is iterated, it seeds a generator
# > with `seed + epoch`, draws one permutation of all $N$ indices (the same on every rank),
# > pads it and keeps every $W$-th index from its own rank on. The cell rebuilds rank 1's
# > order from `torch.randperm` alone.

# %%
by_epoch = DistributedSampler(toy, num_replicas=3, rank=1, shuffle=True, seed=0)
returned = by_epoch.set_epoch(7)
generator = torch.Generator()
generator.manual_seed(0 + 7)                                   # seed + epoch
permutation = torch.randperm(len(toy), generator=generator).tolist()
assert returned is None and by_epoch.epoch == 7
assert list(by_epoch) == permutation[1::3] == list(by_epoch)   # rank 1's slice, twice

# %% [markdown]
# The figure shows which rank owns each of twelve utterances in three epochs; a row is an
# epoch, a colour a rank.

# %% tags=["plot"]
fig, axes = plt.subplots(1, 3, figsize=(10, 2.6), sharey=True)
for epoch, ax in enumerate(axes):
    owner = torch.full((12,), -1)
    for rank, part in enumerate(shards(12, 3, epoch)):
        owner[torch.tensor(part)] = rank
    ax.imshow(owner[None, :].numpy(), cmap="Set2", vmin=0, vmax=7, aspect="auto")
    for i, r in enumerate(owner.tolist()):
        ax.text(i, 0, f"r{r}", ha="center", va="center", fontsize=8)
    ax.set_title(figures.both(f"epoch {epoch}: utterance -> rank",
                              f"에폭 {epoch}: 발화 -> 랭크", sep="\n"),
                 family=figures.BILINGUAL)
    ax.set_xticks(range(12))
    ax.set_yticks([])
    ax.set_xlabel(figures.both("utterance index", "발화 인덱스"), family=figures.BILINGUAL)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## How many `batch_idx` values does an epoch have?
#
# Each rank iterates its own loader. The loader of one rank sees
# $\lceil N / W \rceil$ indices and, with `drop_last=True`, makes
#
# $$ B_{\text{epoch}} = \left\lfloor \frac{\lceil N / W \rceil}{b} \right\rfloor $$
#
# batches of size $b$, so `batch_idx` runs from $0$ to $B_{\text{epoch}} - 1$.
# `len(train_loader)` is already that per-rank number.
#
# <a id="claim-2-2-2-batch-count"></a>
#
# > **The notes say** (§2.2.2) that the number of batches is `len(train_loader)` divided
# > by the world size and the batch size.
# > **In fact** `len(train_loader)` already counts *batches of one rank*: dividing it again
# > would be wrong. The division by $W$ and $b$ applies to the number of *samples* $N$,
# > with a ceiling for the sampler's padding and a floor for `drop_last`. For the notes'
# > examples the numbers come out the same; the formula differs on others.
# > So: **Partly right**: right for the notes' examples, with $N$ in place of
# > `len(train_loader)`; the exact count needs the ceiling and the floor.

# %%
def batches_per_epoch(n_items: int, world_size: int, batch_size: int) -> list[int]:
    """len(loader) of every rank, built with the real sampler and loader."""
    dataset = TensorDataset(torch.arange(n_items))
    lengths = []
    for rank in range(world_size):
        s = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True)
        loader = DataLoader(dataset, batch_size=batch_size, sampler=s, drop_last=True)
        lengths.append(len(loader))
    return lengths


def formula(n_items: int, world_size: int, batch_size: int) -> int:
    return math.ceil(n_items / world_size) // batch_size


# %%
# len(train_loader) is one rank's batch count already; divided again, it counts nothing
ten_items = TensorDataset(torch.arange(10))
rank0_loader = DataLoader(ten_items, batch_size=2, drop_last=True,
                          sampler=DistributedSampler(ten_items, num_replicas=3, rank=0))
assert len(rank0_loader) == len(list(rank0_loader)) == formula(10, 3, 2) == 2
assert len(rank0_loader) / 3 / 2 < 1


# %% [markdown]
# <a id="claim-2-2-2-examples"></a>
#
# The notes' first example: 12,000 utterances on 6 GPUs with a batch of 196 per GPU.
# Each rank sees $12000/6 = 2000$ utterances, $\lfloor 2000/196 \rfloor = 10$ batches:
# `batch_idx` $\in \{0, \dots, 9\}$, and $2000 - 10 \cdot 196 = 40$ utterances per rank are
# dropped this epoch.

# %%
six_gpus = batches_per_epoch(12_000, world_size=6, batch_size=196)
assert six_gpus == [10] * 6 == [formula(12_000, 6, 196)] * 6
dataset = TensorDataset(torch.arange(12_000))
loader = DataLoader(dataset, batch_size=196, drop_last=True,
                    sampler=DistributedSampler(dataset, num_replicas=6, rank=0))
assert [batch_idx for batch_idx, _ in enumerate(loader)] == list(range(10))

# %% [markdown]
# The second example: one GPU, a batch of 16: $12000 / 16 = 750$ batches exactly,
# `batch_idx` from 0 to 749, nothing dropped.

# %%
one_gpu = batches_per_epoch(12_000, world_size=1, batch_size=16)
assert one_gpu == [750] == [formula(12_000, 1, 16)]

# %% [markdown]
# A case where the notes' shortcut and the truth part ways: 10 utterances, 3 ranks,
# batch 2. The sampler pads to 12, each rank gets 4 and makes 2 batches; dividing the
# *batch count* of one loader (2) by $W$ and $b$ again gives $2 / 3 / 2 \approx 0.33$,
# which is no batch count at all, and $\lfloor 10 / 3 / 2 \rfloor = 1$ is one short.

# %%
def notes_rule(n_items: int, world_size: int, batch_size: int) -> int:
    """The notes' reading: divide the number of utterances by W and by b, round down."""
    return math.floor(n_items / world_size / batch_size)


real = batches_per_epoch(10, world_size=3, batch_size=2)
print("real loaders:", real, "| exact formula:", formula(10, 3, 2), "| notes' rule:",
      notes_rule(10, 3, 2))
assert real == [formula(10, 3, 2)] * 3 == [2, 2, 2]
assert notes_rule(10, 3, 2) < real[0]  # one batch short: padding ignored
assert notes_rule(12_000, 6, 196) == six_gpus[0]          # the notes' examples agree
assert notes_rule(12_000, 1, 16) == one_gpu[0]
