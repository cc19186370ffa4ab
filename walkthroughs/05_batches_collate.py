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
# # One batch: `TextMelCollate`, `x`, `x_lengths`, `y`, `y_lengths` and `pin_memory`
#
# *Reviews:* `data_utils.py`, `TextMelCollate.__call__`; `train.py`, `train_and_eval`
# (`DataLoader(..., pin_memory=True, collate_fn=collate_fn)`) and `train`, the loop
# `for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader)` with its
# `.cuda(rank, non_blocking=True)` copies. Ours: `glow_tts/data_utils.py`,
# `TextMelCollate`.
#
# You will learn:
#
# * what `TextMelCollate` does: sort by text length, zero-pad the text and the mel, and
#   return four tensors, which are exactly `x`, `x_lengths`, `y`, `y_lengths`;
# * the shape, dtype and order of each of the four, and the two places where the notes'
#   description differs from the code;
# * why padding needs a mask afterwards;
# * what `pin_memory=True` and `non_blocking=True` are for, and what they do on a machine
#   without a GPU (this one).
#
# covers: T12, T13, T15, T16, T28

# %%
import tempfile
import threading
import time
import warnings

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader, Dataset, get_worker_info

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.commons import sequence_mask
from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.text import sequence_to_text

torch.set_num_threads(1)
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_05_"), limit=40, progress=False)
hps = get_hparams_from_file("../configs/base.json")
dataset = TextMelLoader(corpus.filelists["train"], hps.data)
collate = TextMelCollate(1)
len(dataset)

# %% [markdown]
# ## What `TextMelCollate` receives and returns
#
# The loader hands `collate_fn` a plain list of `batch_size` samples, each a pair
# `(text IntTensor [T_x], mel FloatTensor [80, T_y])` of its own lengths. Here are four.

# %%
samples = [dataset[i] for i in range(4)]
for text, mel in samples:
    print(f"T_x={text.shape[0]:3d}  T_y={mel.shape[1]:4d}  {sequence_to_text(text)[:12]}")

# %% [markdown]
# <a id="claim-1-2-4-2-collate-pads"></a>
#
# `TextMelCollate` then
#
# 1. sorts the samples by **text length, longest first** (`torch.sort(..., descending=True)`);
# 2. creates `text_padded` `[B, max T_x]` filled with 0, and copies each text into the
#    front of its row; 0 is the pad symbol `_`, so padding reads as "no token";
# 3. creates `mel_padded` `[B, 80, max T_y]` filled with 0.0 and copies each mel into the
#    front of its row, in the same sorted order;
# 4. returns `(text_padded, input_lengths, mel_padded, output_lengths)`: the training loop
#    calls them `x, x_lengths, y, y_lengths`.

# %%
x, x_lengths, y, y_lengths = collate(samples)
print(x.shape, x.dtype, "|", x_lengths.tolist())
print(y.shape, y.dtype, "|", y_lengths.tolist())

# %%
text_lens = [s[0].shape[0] for s in samples]
mel_lens = [s[1].shape[1] for s in samples]
order = sorted(range(4), key=lambda i: -text_lens[i])          # longest text first
assert x.shape == (4, max(text_lens)) and y.shape == (4, 80, max(mel_lens))
assert x_lengths.tolist() == [text_lens[i] for i in order]
assert y_lengths.tolist() == [mel_lens[i] for i in order]  # each mel stays with its text
for row, i in enumerate(order):
    assert torch.equal(x[row, :text_lens[i]], samples[i][0].long())
    assert (x[row, text_lens[i]:] == 0).all()                   # pad id 0
    assert torch.equal(y[row, :, :mel_lens[i]], samples[i][1])
    assert (y[row, :, mel_lens[i]:] == 0).all()                 # pad value 0.0

# %% [markdown]
# <a id="claim-1-2-4-2-longtensor"></a>
#
# ## Dtypes: `torch.LongTensor` is int64
#
# The original builds the text batch with `torch.LongTensor(len(batch), max_input_len)`.
# "Long" is a 64-bit integer: `x` and both length tensors are `int64`, even though the
# data set returned `int32` ids (`IntTensor`). The embedding layer accepts both; lengths
# feed `sequence_mask` and the loss, where int64 is PyTorch's default integer type.
# `y` is `float32` (`torch.FloatTensor`).

# %%
assert torch.LongTensor(2).dtype == torch.int64
assert torch.IntTensor(2).dtype == torch.int32
assert samples[0][0].dtype == torch.int32
assert x.dtype == x_lengths.dtype == y_lengths.dtype == torch.int64
assert y.dtype == torch.float32

# %% [markdown]
# <a id="claim-1-2-4-3-x-lengths"></a>
#
# ## `x` and `x_lengths`
#
# `x` is `[B, T_x]`: row $i$ is the $i$-th sentence's token ids followed by zeros up to
# the longest sentence of the batch. `x_lengths[i]` is how many of those are real tokens,
# and the rows are in decreasing length order. Since every real id is at least 1, the
# length is also the count of non-zero ids.
#
# (The sorting is inherited from Tacotron 2, whose recurrent encoder used
# `pack_padded_sequence`, which wanted the batch sorted. Glow-TTS's transformer encoder
# does not need it; it is harmless.)

# %%
assert torch.equal(x_lengths, (x != 0).sum(dim=1))
assert torch.all(x_lengths[:-1] >= x_lengths[1:])                 # sorted, descending
assert x_lengths[0] == x.shape[1]  # the longest fills its row

# %% [markdown]
# ## `y` and `y_lengths`
#
# <a id="claim-1-2-4-3-y-numpy"></a>
#
# > **The notes say** (§1.2.4.3, item `y`) that `y` holds the mels "in NumPy form", shaped
# > like `[196, 80, 140]`. **In fact** `y` is a `torch.Tensor` of `float32`: the mel is
# > computed with torch in `__getitem__` (or loaded with `torch.from_numpy`) and
# > `TextMelCollate` copies it into a `FloatTensor` (original `data_utils.py:44-55, 108`).
# > The shape reading is right: `[batch, mel channels, frames of the longest mel]`.
# > So: **Wrong** on the type, **Right** on the three dimensions; the sentence as a whole
# > is **Partly right**.

# %%
assert isinstance(y, torch.Tensor) and not hasattr(y, "__array_interface__")
assert type(y).__module__ == "torch" and y.dtype == torch.float32
assert y.shape[1] == hps.data.n_mel_channels == 80

# %% [markdown]
# <a id="claim-1-2-4-3-y-lengths"></a>
#
# > **The notes say** (§1.2.4.3, item `y.length`) that `y_lengths` is a tensor of the
# > mel frame counts, the *largest* ones, *sorted*. **Partly right**: it is a tensor of
# > the frame counts, but each is one utterance's own count (not a maximum), and they are
# > not sorted (§1.2.4.2, which names text and mel together when it describes the
# > sorting, is loose in the same way). **In fact** only the text length is sorted on,
# > and `y_lengths` follows that order:
# > row $i$ of `y` belongs to row $i$ of `x`, so `y_lengths[i]` is the frame count of the
# > sentence in row $i$, whatever its size. A longer text usually means a longer mel, but
# > not always: speaking rate and pauses differ. A batch where this happens makes
# > `y_lengths` unsorted. §1.2.4.2's description of the collate is therefore
# > **Partly right**: it sorts by text length only (and zero-pads both, as it says).
#
# We look through the corpus for two sentences where the one with more tokens has *fewer*
# frames, and collate them.

# %%
lengths = list(zip(dataset.text_lengths, dataset.mel_lengths))
pair = next((i, j) for i in range(len(lengths)) for j in range(len(lengths))
            if lengths[i][0] > lengths[j][0] and lengths[i][1] < lengths[j][1])
print("text lengths", [lengths[k][0] for k in pair],
      "mel lengths", [lengths[k][1] for k in pair])
x2, x2_lengths, y2, y2_lengths = collate([dataset[pair[1]], dataset[pair[0]]])
print("x_lengths", x2_lengths.tolist(), "y_lengths", y2_lengths.tolist())

# %%
assert x2_lengths[0] > x2_lengths[1]            # sorted by text length ...
assert y2_lengths[0] < y2_lengths[1]            # ... so the mel lengths are not sorted
# the padded length is the longest mel, wherever it is
assert y2.shape[2] == int(y2_lengths.max())

# %% [markdown]
# ## Padding is not silence: the masks
#
# The value 0.0 that pads `y` is a log-mel value: $\ln m = 0$ means $m = 1$, a *loud*
# frame, far from silence at $\ln 10^{-5} \approx -11.5$. Nothing may treat padding as
# data. The model builds masks from the lengths with `commons.sequence_mask` and
# multiplies by them: `x_mask` `[B, 1, T_x]`, `y_mask` `[B, 1, T_y]`. Every sum in the
# loss runs over masked positions only (walkthrough 07).

# %%
x_mask = sequence_mask(x_lengths, x.shape[1]).unsqueeze(1).to(y.dtype)   # [B, 1, T_x]
y_mask = sequence_mask(y_lengths, y.shape[2]).unsqueeze(1).to(y.dtype)   # [B, 1, T_y]
assert x_mask.shape == (4, 1, x.shape[1]) and y_mask.shape == (4, 1, y.shape[2])
assert torch.equal(y_mask.sum(dim=(1, 2)).long(), y_lengths)
real = y[y_mask.expand_as(y) == 1]                 # the log-mel values of real frames
print(f"real frames: min {real.min():.2f}, median {real.median():.2f}, "
      f"max {real.max():.2f};"
      f" share >= 0.0: {(real >= 0).float().mean():.2%}")

# %%
assert y[y_mask.expand_as(y) == 0].eq(0).all()                  # the padding is 0.0 ...
# silence: the ln(1e-5) floor
assert abs(real.min() - torch.log(torch.tensor(1e-5))) < 1e-4
assert (real >= 0).float().mean() < 0.05  # ... louder than 95% of speech

# %% [markdown]
# ## The picture: a padded batch
#
# Left, the token ids of `x` (padding in white); right, the four mels of `y`, rows of one
# tensor, with the padding at the end of each row hatched. On the same colour scale as the
# speech, the padding value 0.0 is a bright block: in log-mel terms it is loud.

# %% tags=["plot"]
fig, axes = plt.subplots(1, 5, figsize=(12, 3.2),
                         gridspec_kw={"width_ratios": [1.3, 1, 1, 1, 1]})
ids = x.float().masked_fill(x == 0, float("nan"))
axes[0].imshow(ids.numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
axes[0].set_yticks(range(4))
axes[0].set_title(figures.both("x: token ids [B, T_x]", "x: 토큰 ID [B, T_x]", sep="\n"),
                  family=figures.BILINGUAL)
axes[0].set_xlabel(figures.both("token position", "토큰 위치"), family=figures.BILINGUAL)
axes[0].set_ylabel(figures.both("batch row (by text length)", "배치 행 (텍스트 길이순)",
                                sep="\n"), family=figures.BILINGUAL)
for row in range(4):
    ax = axes[row + 1]
    ax.imshow(y[row].numpy(), origin="lower", aspect="auto", cmap="magma",
              vmin=-11.5, vmax=2)
    ax.axvspan(int(y_lengths[row]) - 0.5, y.shape[2] - 0.5, facecolor="none",
               edgecolor="0.6", hatch="//")
    row_frames = f"y[{row}]: {int(y_lengths[row])} / {y.shape[2]}"
    ax.set_title(figures.both(f"{row_frames} frames", f"{row_frames} 프레임", sep="\n"),
                 family=figures.BILINGUAL)
    ax.set_xlabel(figures.both("frame", "프레임"), family=figures.BILINGUAL)
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Inside the training loop: the shapes
#
# With the config's batch size (32 per process), every training step receives these four
# tensors. The sizes of the last dimension change from batch to batch (the longest
# sentence and the longest mel of that batch), the others do not.
#
# | name | shape | dtype | meaning |
# |---|---|---|---|
# | `x` | `[B, T_x]` | int64 | token ids, zero-padded, rows sorted by text length |
# | `x_lengths` | `[B]` | int64 | real tokens per row, descending |
# | `y` | `[B, 80, T_y]` | float32 | log-mel frames, zero-padded |
# | `y_lengths` | `[B]` | int64 | real frames per row, in the rows' (text) order |

# %%
loader = DataLoader(dataset, batch_size=hps.train.batch_size, shuffle=True,
                    drop_last=True,
                    collate_fn=collate)
for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(loader):
    B = hps.train.batch_size
    print(batch_idx, tuple(x.shape), tuple(x_lengths.shape), tuple(y.shape),
          tuple(y_lengths.shape))
    assert x.shape == (B, int(x_lengths.max())) and x_lengths.shape == (B,)
    assert y.shape == (B, 80, int(y_lengths.max())) and y_lengths.shape == (B,)
    assert torch.all(y_lengths >= x_lengths)     # the data set keeps only T_y >= T_x
assert batch_idx + 1 == len(loader) == len(dataset) // B

# %% [markdown]
# <a id="claim-2-2-2-x-length"></a>
#
# > **The notes say** (§2.2.2) that `x_length` is `len(x[i])` for each row and that the
# > second dimension of `x` is `max(x[i])`; likewise for `y`, whose shape they give as
# > `[batch_size, mel_size, max(y[i])]`, defining `y[i]` as the i-th mel's frame count.
# > **Right**, in the notes' own notation: `x[i]` is the i-th text *before* padding and
# > `y[i]` the i-th mel. One length per utterance, and the padded width is that of the
# > longest, which is what `TextMelCollate` computes (original `data_utils.py:88-114`).
# >
# > A warning for the reader who types these expressions into Python: on the *padded*
# > batch they compute something else. `len(x[i])` is then the padded width $T_x$, equal
# > for every row, and `max(x[i])` the largest token *id* of row $i$; `len(y[i])` is 80,
# > the number of mel channels, and `max(y[i])` a log-mel value. The lengths were measured
# > by `TextMelCollate` before padding: `x_lengths[i]` counts the non-pad tokens of row
# > $i$, and `x.shape[1]` is `max(x_lengths)`. The last batch of the loop above shows it.

# %%
rows = range(x.shape[0])
assert [len(x[i]) for i in rows] == [x.shape[1]] * len(rows) != x_lengths.tolist()
assert [int(x[i].max()) for i in rows] != x_lengths.tolist()      # ids, not lengths
assert [len(y[i]) for i in rows] == [y.shape[1]] * len(rows) == [80] * len(rows)
assert torch.equal(x_lengths, (x != 0).sum(dim=1)) and x.shape[1] == int(x_lengths.max())
assert torch.equal(y_lengths, (y != 0).any(dim=1).sum(dim=1))   # non-padding frames
assert y.shape[2] == int(y_lengths.max())

# %% [markdown]
# <a id="claim-1-2-4-1-pin-memory"></a>
#
# ## `pin_memory=True` and `non_blocking=True`
#
# A copy from CPU memory to a GPU goes through DMA, which needs *page-locked* ("pinned")
# host memory: memory the operating system promises not to move or swap out. From
# ordinary memory, CUDA first copies into a pinned staging buffer, then to the GPU, and
# the CPU waits. With `pin_memory=True` the loader puts each batch into pinned memory, and
# then `x.cuda(rank, non_blocking=True)` can start the transfer and return at once, so the
# copy overlaps with the GPU's work.
#
# *Where* the loader pins depends on `num_workers`. With workers, a background thread of
# the main process (`pin_memory_thread`) takes each batch off the workers' result queue,
# pins it and queues it for the training loop, so pinning overlaps with training too. With
# `num_workers=0` there is no such thread: the loader pins inline, in `__next__`, right
# after `collate_fn`, on the training loop's own time (PyTorch's
# `torch/utils/data/dataloader.py`: `_SingleProcessDataLoaderIter._next_data` and
# `_MultiProcessingDataLoaderIter.__init__`).
#
# Workers return CPU tensors, never CUDA tensors: a worker forked from a process that has
# already initialised CUDA cannot use CUDA at all ("Cannot re-initialize CUDA in forked
# subprocess"), and sharing CUDA tensors between processes has many pitfalls (PyTorch's
# "CUDA in multiprocessing" notes). Pinning in the main process gives the fast transfer
# without them.
#
# This machine has no GPU. Pinning then has nothing to pin *for*: PyTorch warns and
# returns ordinary tensors. (Under `python -W error`, the warning is an error.) The
# device-agnostic way is `pin_memory=torch.cuda.is_available()`, which is what
# `glow_tts.train` does.

# %%
has_gpu = torch.cuda.is_available()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pinning = DataLoader(dataset, batch_size=4, pin_memory=True, collate_fn=collate)
    pinned_x, *_ = next(iter(pinning))
pin_warnings = [str(w.message) for w in caught if "pin_memory" in str(w.message)]
print("GPU:", has_gpu, "| warnings:", pin_warnings, "| pinned:", pinned_x.is_pinned())

# %%
if not has_gpu:
    assert pin_warnings and "no accelerator is found" in pin_warnings[0]
    assert not pinned_x.is_pinned()
else:
    assert not pin_warnings and pinned_x.is_pinned()
with warnings.catch_warnings():
    warnings.simplefilter("error")               # any warning would now be an exception
    next(iter(DataLoader(dataset, batch_size=4, pin_memory=has_gpu, collate_fn=collate)))

# %% [markdown]
# The loader's iterators show it. With workers and an accelerator, the iterator holds a
# live `_pin_memory_thread`; with no accelerator (this machine) PyTorch pins nothing and
# starts no thread; with `num_workers=0` it never starts one. The same cell, run on a GPU
# machine, finds the thread in the first case only.

# %%
def pin_threads(num_workers):
    """Threads a pinning loader's iterator starts, and whether it holds a pin thread."""
    before = set(threading.enumerate())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the no-accelerator warning, seen above
        context = "fork" if num_workers else None
        loader = DataLoader(dataset, batch_size=4, pin_memory=True, collate_fn=collate,
                            num_workers=num_workers, multiprocessing_context=context)
        iterator = iter(loader)
    next(iterator)
    started = [t.name for t in set(threading.enumerate()) - before]
    has_pin_thread = hasattr(iterator, "_pin_memory_thread")
    del iterator
    return started, has_pin_thread


accelerator = torch.accelerator.is_available()
inline, threaded = pin_threads(0), pin_threads(2)
print("accelerator:", accelerator, "| 0 workers:", inline, "| 2 workers:", threaded)

# %%
assert inline == ([], False)                              # 0 workers: never a pin thread
assert threaded[1] == accelerator  # 2 workers: a pin thread iff pinning

# %% [markdown]
# What pinning and workers are *for* is overlap: while the training loop computes on
# batch $k$, the workers already load batch $k+1$ and later ones (two per worker ahead,
# `prefetch_factor=2`). We time it: each worker notes when it starts and ends each
# `__getitem__`, and the loop notes its compute (a stack of convolutions over `y`, standing
# in for a training step). `time.monotonic()` is one clock for all processes on Linux.
# On a GPU machine the pin thread and the `non_blocking` copy would be one more lane
# between the two; this machine has neither, so the picture shows only what ran here.

# %%
class Timed(Dataset):
    """Wraps a data set; each item also carries (worker id, start, end) of its loading."""

    def __init__(self, inner):
        self.inner = inner

    def __len__(self):
        return len(self.inner)

    def __getitem__(self, idx):
        start = time.monotonic()
        item = self.inner[idx]
        return item, (get_worker_info().id, start, time.monotonic())


def timed_collate(samples):
    return collate([item for item, _ in samples]), [times for _, times in samples]


conv = torch.nn.Conv1d(80, 80, 5, padding=2)
loads, computes = [], []
timed_loader = DataLoader(Timed(dataset), batch_size=4, num_workers=2,
                          collate_fn=timed_collate, multiprocessing_context="fork")
with torch.no_grad():
    for (x_b, x_len_b, y_b, y_len_b), times in timed_loader:
        start = time.monotonic()
        h = y_b
        for _ in range(30):
            h = conv(h)                                   # [B, 80, T_y]
        computes.append((start, time.monotonic()))
        loads.extend(times)
overlapping = [(w, a, b) for w, a, b in loads
               if any(a < d and c < b for c, d in computes)]
print(f"{len(loads)} items loaded, {len(computes)} steps computed; "
      f"{len(overlapping)} loads ran while the loop computed")

# %%
assert len(loads) == len(dataset) and {w for w, _, _ in loads} == {0, 1}
assert overlapping  # loading ran during compute: the point of workers

# %% tags=["plot"]
figures.load_compute_timeline(loads, computes)

# %% [markdown]
# On the CPU, a `non_blocking` copy to the device the tensor is already on is no copy at
# all: `.to()` returns the same tensor. The training loop can therefore say
# `x.to(device, non_blocking=True)` and run unchanged on a CPU or a GPU.

# %%
device = torch.device("cuda", 0) if has_gpu else torch.device("cpu")
moved = pinned_x.to(device, non_blocking=True)
assert moved.device.type == device.type
if not has_gpu:
    assert moved is pinned_x
