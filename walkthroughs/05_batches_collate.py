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
import warnings

import koreanize_matplotlib  # noqa: F401  (Hangul in figure labels)
import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader

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
    print(f"T_x={text.shape[0]:3d}  T_y={mel.shape[1]:4d}  {sequence_to_text(text)[:12]}…")

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
assert y_lengths.tolist() == [mel_lens[i] for i in order]       # each mel stays with its text
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
assert torch.LongTensor(2).dtype == torch.int64 and torch.IntTensor(2).dtype == torch.int32
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
assert x_lengths[0] == x.shape[1]                                   # the longest fills its row

# %% [markdown]
# ## `y` and `y_lengths`
#
# <a id="claim-1-2-4-3-y-numpy"></a>
#
# > **The notes say** (§1.2.4.3, item `y`) that `y` holds the mels "in NumPy form", shaped
# > like `[196, 80, 140]`. **In fact** `y` is a `torch.Tensor` of `float32`: the mel is
# > computed with torch in `__getitem__` and `TextMelCollate` copies it into a tensor. The
# > shape reading is right: `[batch, mel channels, frames of the longest mel]`.
# > So: **Partly right** on the type; **Right** on the three dimensions.

# %%
assert isinstance(y, torch.Tensor) and not hasattr(y, "__array_interface__")
assert type(y).__module__ == "torch" and y.dtype == torch.float32
assert y.shape[1] == hps.data.n_mel_channels == 80

# %% [markdown]
# <a id="claim-1-2-4-3-y-lengths"></a>
#
# > **The notes say** (§1.2.4.3, item `y.length`) that `y_lengths` holds the frame counts
# > *sorted*, and (§1.2.4.2) that the collate sorts by the longest text *and* mel.
# > **In fact** only the text length is sorted on, and `y_lengths` follows that order:
# > row $i$ of `y` belongs to row $i$ of `x`, so `y_lengths[i]` is the frame count of the
# > sentence in row $i$, whatever its size. A longer text usually means a longer mel, but
# > not always: speaking rate and pauses differ. A batch where this happens makes
# > `y_lengths` unsorted. So: **Partly right**, both times: the lengths are per-utterance
# > frame counts, and the sorting is by text length only.
#
# We look through the corpus for two sentences where the one with more tokens has *fewer*
# frames, and collate them.

# %%
lengths = list(zip(dataset.text_lengths, dataset.mel_lengths))
pair = next((i, j) for i in range(len(lengths)) for j in range(len(lengths))
            if lengths[i][0] > lengths[j][0] and lengths[i][1] < lengths[j][1])
print("text lengths", [lengths[k][0] for k in pair], "mel lengths", [lengths[k][1] for k in pair])
x2, x2_lengths, y2, y2_lengths = collate([dataset[pair[1]], dataset[pair[0]]])
print("x_lengths", x2_lengths.tolist(), "y_lengths", y2_lengths.tolist())

# %%
assert x2_lengths[0] > x2_lengths[1]            # sorted by text length ...
assert y2_lengths[0] < y2_lengths[1]            # ... so the mel lengths are not sorted
assert y2.shape[2] == int(y2_lengths.max())     # the padded length is the longest mel, wherever it is

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
silence_floor = torch.log(torch.tensor(1e-5))
assert y[y_mask.expand_as(y) == 0].eq(0).all()     # the padding is 0.0 ...
assert 0.0 > silence_floor + 11                      # ... far above silence

# %% [markdown]
# ## The picture: a padded batch
#
# Left, the token ids of `x` (padding in white); right, the four mels of `y`, rows of one
# tensor, with the padding at the end of each row hatched. On the same colour scale as the
# speech, the padding value 0.0 is a bright block: in log-mel terms it is loud.

# %%
fig, axes = plt.subplots(1, 5, figsize=(12, 3.2), gridspec_kw={"width_ratios": [1.3, 1, 1, 1, 1]})
ids = x.float().masked_fill(x == 0, float("nan"))
axes[0].imshow(ids, aspect="auto", cmap="viridis", interpolation="nearest")
axes[0].set(title="x: 토큰 id [B, T_x]", xlabel="토큰 위치", ylabel="배치 행 (text 길이 순)",
            yticks=range(4))
for row in range(4):
    ax = axes[row + 1]
    ax.imshow(y[row], origin="lower", aspect="auto", cmap="magma", vmin=-11.5, vmax=2)
    ax.axvspan(int(y_lengths[row]) - 0.5, y.shape[2] - 0.5, facecolor="none", edgecolor="0.6", hatch="//")
    ax.set(title=f"y[{row}]: {int(y_lengths[row])} / {y.shape[2]} 프레임", xlabel="프레임")
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
loader = DataLoader(dataset, batch_size=hps.train.batch_size, shuffle=True, drop_last=True,
                    collate_fn=collate)
for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(loader):
    B = hps.train.batch_size
    print(batch_idx, tuple(x.shape), tuple(x_lengths.shape), tuple(y.shape), tuple(y_lengths.shape))
    assert x.shape == (B, int(x_lengths.max())) and x_lengths.shape == (B,)
    assert y.shape == (B, 80, int(y_lengths.max())) and y_lengths.shape == (B,)
    assert torch.all(y_lengths >= x_lengths)     # the data set keeps only T_y >= T_x
assert batch_idx + 1 == len(loader) == len(dataset) // B

# %% [markdown]
# <a id="claim-2-2-2-x-length"></a>
#
# > **The notes say** (§2.2.2) that `x_length` is `len(x[i])` for each row and that the
# > second dimension of `x` is `max(x[i])`; likewise `len(y[i])` and `max(y[i])` for `y`.
# > **Partly right**: the meaning is right (one length per utterance; the padded width is
# > that of the longest utterance), but on a padded batch those expressions compute
# > something else. `len(x[i])` is the padded width $T_x$, equal for every row, and
# > `max(x[i])` is the largest token *id* in row $i$; `len(y[i])` is 80, the number of mel
# > channels, and `max(y[i])` a log-mel value. The lengths were measured by
# > `TextMelCollate` before padding: `x_lengths[i]` counts the non-pad tokens of row $i$,
# > and `x.shape[1]` is `max(x_lengths)`. The last batch of the loop above shows it.

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
# the CPU waits. With `pin_memory=True` the loader puts each batch into pinned memory
# (in a background thread of the main process), and then
# `x.cuda(rank, non_blocking=True)` can start the transfer and return at once, so the copy
# overlaps with the GPU's work.
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
    pinned_x, *_ = next(iter(DataLoader(dataset, batch_size=4, pin_memory=True, collate_fn=collate)))
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
# On the CPU, a `non_blocking` copy to the device the tensor is already on is no copy at
# all: `.to()` returns the same tensor. The training loop can therefore say
# `x.to(device, non_blocking=True)` and run unchanged on a CPU or a GPU.

# %%
device = torch.device("cuda", 0) if has_gpu else torch.device("cpu")
moved = pinned_x.to(device, non_blocking=True)
assert moved.device.type == device.type
if not has_gpu:
    assert moved is pinned_x
