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
# # `TextMelLoader` and `DataLoader`: items, batches, epochs and `collate_fn`
#
# *Reviews:* `data_utils.py`, `TextMelLoader` (`__init__`, `__len__`, `__getitem__`), and
# `train.py`, `train_and_eval` — `train_dataset = TextMelLoader(hps.data.training_files,
# hps.data)` and `train_loader = DataLoader(train_dataset, num_workers=8, shuffle=False,
# batch_size=..., pin_memory=True, drop_last=True, collate_fn=collate_fn, sampler=...)`,
# and the same for `val_loader`. Ours: `glow_tts/data_utils.py`.
#
# You will learn:
#
# * what makes `TextMelLoader` a *map-style* data set, what each of its three methods
#   does, and where it comes from;
# * how a `DataLoader` walks a data set: batches, a new order every epoch with
#   `shuffle=True`, and the samples `drop_last=True` leaves out;
# * what a `collate_fn` is, why the default one cannot batch speech, and what automatic
#   batching on and off means (including what happens to NumPy arrays).
#
# The worker processes behind `num_workers` have a page of their own (04, worker
# processes); padding, sorting and `pin_memory` are walkthrough 05's subject.
#
# covers: T07, T08, T09

# %%
import random
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import get_hparams_from_file

torch.set_num_threads(1)

# %% [markdown]
# ## A small corpus
#
# The project ships Korean sentences that eSpeak NG speaks into WAV files laid out like
# the KSS corpus. Forty of them, in a temporary folder, are enough here (a second or so).
# The filelists hold one `path|text` line per utterance.

# %%
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_04_"), limit=40, progress=False)
print(corpus)
hps = get_hparams_from_file("../configs/base.json")
train_lines = Path(corpus.filelists["train"]).read_text(encoding="utf-8").splitlines()
print(train_lines[0])

# %% [markdown]
# <a id="claim-1-2-4-dataset"></a>
#
# ## `TextMelLoader` is a map-style `Dataset`
#
# PyTorch knows two kinds of data sets. A *map-style* one is anything with `__getitem__`
# (index → sample) and `__len__` (how many samples); an *iterable-style* one only yields
# samples in its own order. `TextMelLoader` subclasses `torch.utils.data.Dataset` and is
# map-style, which is what lets a sampler pick any index in any order (and lets
# `DistributedSampler` give each GPU its own indices, walkthrough 11).
#
# The class comes from NVIDIA's Tacotron 2 code, as the notes say (§1.2.4). The record
# shows it: NVIDIA/tacotron2's `data_utils.py` has the same `TextMelLoader` docstring
# word for word, the same `random.seed(1234)` shuffle, and a `TextMelCollate` with the
# same sort-and-pad code and comments (original `data_utils.py:12-17, 32-33, 88-98`).
# Glow-TTS extended the loader with `add_noise` and `add_blank` and dropped Tacotron's
# stop-token ("gate") padding from the collate. Its three methods:
#
# * `__init__(audiopaths_and_text, hparams)` reads the filelist, keeps the text and audio
#   settings, builds the mel extractor, and shuffles the lines once with seed 1234. Ours
#   also checks every line and every audio path up front, and drops utterances whose mel is
#   shorter than their text (walkthrough 07 shows why the alignment needs that).
# * `__len__()` is the number of utterances.
# * `__getitem__(idx)` reads line `idx`, turns its text into ids (walkthrough 02) and its
#   audio into a log-mel (walkthrough 03), and returns the pair.

# %%
train_dataset = TextMelLoader(corpus.filelists["train"], hps.data)
text, mel = train_dataset[0]
print(len(train_dataset), text.shape, text.dtype, mel.shape, mel.dtype)

# %%
assert isinstance(train_dataset, Dataset)
assert len(train_dataset) == len(train_lines) == corpus.counts["train"]
assert text.dim() == 1 and text.dtype == torch.int32                      # [T_x]
assert mel.shape[0] == 80 and mel.dtype == torch.float32                  # [80, T_y]
assert mel.shape[1] == train_dataset.mel_lengths[0] >= text.shape[0]       # T_y >= T_x

# %% [markdown]
# The shuffle in `__init__` is fixed (seed 1234), so every process that builds the loader,
# on every GPU and in every run, sees the same order of lines. The original called
# `random.seed(1234)` for it, which also reset Python's global random generator as a side
# effect; ours uses a private `random.Random(1234)` and leaves the global state alone.

# %%
random.seed(7)
state_before = random.getstate()
again = TextMelLoader(corpus.filelists["train"], hps.data)
assert random.getstate() == state_before
assert again.audiopaths_and_text == train_dataset.audiopaths_and_text
shuffled_paths = [path for path, _ in train_dataset.audiopaths_and_text]
assert shuffled_paths != [line.split("|")[0] for line in train_lines]

# %% [markdown]
# <a id="claim-1-2-4-1-iterate"></a>
#
# ## Iterating a `DataLoader`
#
# A `DataLoader` asks a *sampler* for indices, groups them into batches of `batch_size`,
# calls `dataset[i]` for each, and hands the list of samples to `collate_fn`, which makes
# one batch out of them. Speech items have different lengths, so the original passes
# `TextMelCollate` (walkthrough 05); here it is enough to know that a batch is four tensors.
#
# The order alone can be read without loading any audio: `loader.batch_sampler` yields
# the index lists that the loader would fetch.

# %%
N, B = len(train_dataset), 8
collate_fn = TextMelCollate(1)
loader = DataLoader(train_dataset, batch_size=B, shuffle=True, drop_last=True,
                    collate_fn=collate_fn)
x, x_lengths, y, y_lengths = next(iter(loader))
print(N, "utterances, batch", B, "->", len(loader), "batches;", x.shape, y.shape)
assert x.shape[0] == y.shape[0] == B

# %% [markdown]
# **`shuffle=True`** gives a new random order for every pass over the loader (every
# epoch), drawn from PyTorch's global generator: `torch.manual_seed` makes the sequence
# of epoch orders reproducible, and each epoch differs from the one before.
#
# <a id="claim-1-2-4-1-shuffle"></a>
#
# > **The notes say** (§1.2.4.1.2) that the data is shuffled after all batches have been
# > iterated. **Right**, in the words of PyTorch's own docstring (`shuffle`: "reshuffled
# > at every epoch", `torch/utils/data/dataloader.py`): every epoch gets a new order. What
# > the sentence leaves out is *when* the order is drawn: when an epoch *starts*. Each
# > `for` loop over the loader creates an iterator whose `RandomSampler` draws a fresh
# > order, so the first epoch is shuffled too. That matters for the notes' own file:
# > §1.2 is `init.py`, whose loader has `shuffle=True` (line 36) and whose loop stops
# > after the first batch (lines 47-52), so the batch that data-dependent initialisation
# > sees is already a shuffled one.

# %%
def epoch_order(loader):
    return [i for batch in loader.batch_sampler for i in batch]


torch.manual_seed(0)
first_run = [epoch_order(loader) for _ in range(3)]
torch.manual_seed(0)
second_run = [epoch_order(loader) for _ in range(3)]
assert first_run == second_run                       # same seed, same orders
assert len({tuple(order) for order in first_run}) == 3   # three epochs, three orders
assert first_run[0] != list(range(N))[:len(first_run[0])]  # epoch 1 is shuffled too

# %% [markdown]
# <a id="claim-1-2-4-1-drop-last"></a>
#
# **`drop_last=True`** throws away the incomplete last batch. With $N$ samples and batch
# size $B$ the loader has $\lfloor N/B \rfloor$ batches instead of $\lceil N/B \rceil$, and
# $N \bmod B$ samples are not used in that epoch. With shuffling, a *different* set is left
# out each time, so over many epochs every sample is seen.

# %%
kept = DataLoader(train_dataset, batch_size=B, shuffle=True, drop_last=True,
                  collate_fn=collate_fn)
every = DataLoader(train_dataset, batch_size=B, shuffle=True, drop_last=False,
                   collate_fn=collate_fn)
print(f"N={N}, B={B}: {len(kept)} batches with drop_last, {len(every)} without; "
      f"{N % B} samples left out per epoch")
assert len(kept) == N // B and len(every) == -(-N // B)
torch.manual_seed(1)
seen, left_out = set(), []
for epoch in range(10):
    order = epoch_order(kept)
    assert len(order) == len(kept) * B == N - N % B
    left_out.append(frozenset(set(range(N)) - set(order)))
    seen.update(order)
assert seen == set(range(N)) and len(set(left_out)) > 1

# %% [markdown]
# Six epochs of this loader, drawn: each row is an epoch, each column one utterance of the
# data set, coloured by the batch it landed in; the grey cells are the ones `drop_last`
# left out of that epoch.

# %%
torch.manual_seed(2)
grid = torch.full((6, N), float("nan"))                  # [epoch, sample] -> batch number
for epoch in range(6):
    for batch_number, batch in enumerate(kept.batch_sampler):
        grid[epoch, batch] = batch_number
assert all(int(torch.isnan(row).sum()) == N % B for row in grid)

# %% tags=["plot"]
figures.epoch_grid(grid, title=f"shuffle=True, drop_last=True: {N % B} samples left out "
                               "per epoch (grey); colour = batch number")

# %% [markdown]
# The original uses `drop_last=True` for the *validation* loader as well, with
# `shuffle=False`: the same last utterances are never evaluated, and a validation list
# shorter than one batch gives no batch at all. With this small corpus and the config's
# batch size of 32, `evaluate` would have nothing to average:

# %%
val_dataset = TextMelLoader(corpus.filelists["val"], hps.data)
val_loader = DataLoader(val_dataset, batch_size=hps.train.batch_size, shuffle=False,
                        drop_last=True, collate_fn=collate_fn)
print(len(val_dataset), "validation utterances ->", len(val_loader), "batches")
assert len(val_dataset) < hps.train.batch_size and len(val_loader) == 0

# %% [markdown]
# <a id="claim-1-2-4-1-collate"></a>
#
# ## `collate_fn`: from a list of samples to a batch
#
# Without a `collate_fn`, the loader uses `default_collate`, which stacks tensors along a
# new first dimension. Stacking needs equal shapes, and two sentences almost never have the
# same number of tokens or frames:

# %%
pair = [train_dataset[0], train_dataset[1]]
try:
    default_collate(pair)
    raise AssertionError("default_collate stacked tensors of different sizes")
except RuntimeError as err:
    print("default_collate:", err)
    assert "stack expects each tensor to be equal size" in str(err)
padded = collate_fn(pair)
assert [t.shape[0] for t in padded] == [2, 2, 2, 2]

# %% [markdown]
# **Automatic batching** is what the loader does when `batch_size` is a number: it
# collects `batch_size` samples and collates them. With `batch_size=None` it is *disabled*:
# each sample goes out on its own (useful when the data set already returns whole
# batches), passed through `default_convert` instead of `default_collate`.
#
# Both paths turn NumPy arrays into tensors. The difference is the batch dimension: the
# enabled path stacks (and adds one), the disabled path only converts.
#
# <a id="claim-1-2-4-1-batching-disabled"></a>
#
# > **The notes say** (§1.2.4.1.2) that automatic batching is disabled for a data set that
# > is read batch by batch, and that the loader then turns NumPy arrays into PyTorch
# > tensors. **Right.** They leave out that the enabled (default) path converts NumPy
# > arrays too, while stacking them into a batch: what disabling changes is only that
# > nothing is stacked.

# %%
class NumpyItems(Dataset):
    """Five samples, each a NumPy array [3], as a data set built on NumPy returns them."""

    def __len__(self):
        return 5

    def __getitem__(self, idx):
        return np.full(3, idx, dtype=np.float64)


unbatched = next(iter(DataLoader(NumpyItems(), batch_size=None)))
batched = next(iter(DataLoader(NumpyItems(), batch_size=2)))
print(type(unbatched).__name__, tuple(unbatched.shape), "|",
      type(batched).__name__, tuple(batched.shape))
# converted, not stacked
assert isinstance(unbatched, torch.Tensor) and unbatched.shape == (3,)
# converted and stacked
assert isinstance(batched, torch.Tensor) and batched.shape == (2, 3)
assert unbatched.dtype == batched.dtype == torch.float64  # the NumPy dtype is kept
