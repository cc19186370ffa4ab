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
# # Monotonic alignment search and the two losses
#
# *Reviews:* `models.py`, `FlowGenerator.forward` (the `gen=False` branch: the
# log-likelihood matrix `logp`, `monotonic_align.maximum_path(logp, attn_mask)`, and the
# expansion of the prior along `attn`); `monotonic_align/core.pyx`, `maximum_path_c`;
# `commons.py`, `generate_path`, `mle_loss`, `duration_loss`; and `train.py`, `train`,
# where `l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)` and
# `l_length = commons.duration_loss(logw, logw_, x_lengths)` are added into `loss_g`.
# Ours: `glow_tts/monotonic_align.py`, `glow_tts/commons.py`, `glow_tts/models.py`.
#
# Glow-TTS learns to align text and speech without being told the alignment. You will
# learn:
#
# * the log-likelihood matrix: how well each token's Gaussian explains each frame;
# * what monotonic alignment search (MAS) finds in it, and how `generate_path` turns
#   durations into the same kind of path;
# * what `mle_loss` and `duration_loss` compute, and how to read their values.
#
# covers: T34, T35

# %%
import itertools
import math
import tempfile

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.distributions import Normal

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts import commons
from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator, gaussian_log_likelihood_matrix
from glow_tts.monotonic_align import maximum_path, maximum_path_reference
from glow_tts.text.symbols import symbols

torch.set_num_threads(1)
torch.manual_seed(0)

# %% [markdown]
# ## A toy utterance with a known alignment
#
# Five tokens, each with its own mean $\mu_i$ in 8 channels ($\sigma = 1$, as with
# `mean_only`), speak for 3, 1, 4, 2 and 5 frames. Each frame $z_j$ is its token's mean plus
# noise. MAS will be given only the means and the frames, and must find the durations.
#
# `generate_path(durations, mask)` draws an alignment from durations: `path[i, j] = 1`
# when frame $j$ belongs to token $i$, i.e. when
# $\sum_{k<i} d_k \le j < \sum_{k \le i} d_k$.

# %%
durations = torch.tensor([[3, 1, 4, 2, 5]])              # [b=1, t_x=5] frames per token
t_x, t_y = durations.shape[1], int(durations.sum())      # 5 tokens, 15 frames
mask = torch.ones(1, t_x, t_y)                           # [b, t_x, t_y], all pairs valid
true_path = commons.generate_path(durations, mask)       # [1, 5, 15]
print(true_path[0].int())

# %%
assert true_path.shape == (1, t_x, t_y)
assert torch.equal(true_path.sum(dim=2), durations.float())  # row sums: the durations
# each frame: exactly one token
assert torch.equal(true_path.sum(dim=1), torch.ones(1, t_y))
# token 0 owns frames 0-2, token 1 frame 3
assert true_path[0, 0, :3].sum() == 3 and true_path[0, 1, 3] == 1

# %% [markdown]
# ## The log-likelihood matrix
#
# For every pair (token $i$, frame $j$),
#
# $$\text{logp}[i, j] = \sum_{c} \log \mathcal{N}\left(z_{c,j};\ \mu_{c,i},\ \sigma_{c,i}\right),$$
#
# how likely frame $j$ is if token $i$ produced it. `gaussian_log_likelihood_matrix`
# computes it for a whole batch with two matrix products; PyTorch's `Normal` computes the
# same numbers one pair at a time.

# %%
channels = 8
x_m = 2.0 * torch.randn(1, channels, t_x)                # [b, c, t_x] token means
x_logs = torch.zeros(1, channels, t_x)                   # [b, c, t_x] log sigma = 0
z = x_m @ true_path + 0.5 * torch.randn(1, channels, t_y)   # [b, c, t_y] frames
logp = gaussian_log_likelihood_matrix(z, x_m, x_logs)    # [b, t_x, t_y]

prior = Normal(x_m[0].T.unsqueeze(1), x_logs[0].T.exp().unsqueeze(1))   # [t_x, 1, c]
direct = prior.log_prob(z[0].T.unsqueeze(0)).sum(-1)                   # [t_x, t_y]
assert logp.shape == (1, t_x, t_y)
assert torch.allclose(logp[0], direct, atol=1e-4)        # [t_x, t_y] pair by pair

# %% [markdown]
# ## Monotonic alignment search
#
# An alignment of speech to text is *monotonic* (the tokens are spoken in order) and
# *surjective* (every token is spoken, for at least one frame). As a path through the
# matrix: start at (0, 0), end at $(t_x - 1, t_y - 1)$, and at each frame either stay on
# the same token or move to the next one. MAS finds the path with the largest total
# log-likelihood by dynamic programming:
#
# $$Q[i, j] = \text{logp}[i, j] + \max\left(Q[i, j-1],\ Q[i-1, j-1]\right),$$
#
# then reads the path backwards from the last cell. It costs $O(t_x \cdot t_y)$, although
# there are $\binom{t_y - 1}{t_x - 1}$ possible paths (1,001 here; astronomically many for
# a real sentence).

# %%
found = maximum_path(logp, mask)                         # [1, 5, 15], 0/1
print(found[0].int())
assert torch.equal(found, true_path)                     # the durations are recovered
assert torch.equal(found.sum(dim=2).long(), durations)

# %% [markdown]
# It is the best path, not just a good one: for this size we can list every monotonic
# path (choose where tokens 1 to 4 start among frames 1 to 14), build each with
# `generate_path`, and score it.

# %%
def score(path):
    return float((logp * path).sum())


best = -math.inf
count = 0
for starts in itertools.combinations(range(1, t_y), t_x - 1):
    bounds = (0,) + starts + (t_y,)
    d = torch.tensor([[bounds[k + 1] - bounds[k] for k in range(t_x)]])
    best = max(best, score(commons.generate_path(d, mask)))
    count += 1
print(count, "paths; best", round(best, 3), "MAS", round(score(found), 3))
assert count == math.comb(t_y - 1, t_x - 1) == 1001
assert abs(score(found) - best) < 1e-4

# %% [markdown]
# ## The table and its back-pointers
#
# The dynamic programme itself, written out for the toy utterance: `Q[i, j]` is the best
# score of a path that ends with frame $j$ on token $i$, and `came_from[i, j]` records which
# of the two moves won (1: token $i$ started at this frame, coming from $(i-1, j-1)$;
# 0: token $i$ went on, from $(i, j-1)$). Cells a complete path cannot pass through (a
# token before its frame could start, or too late for the remaining tokens to get one
# frame each) stay at $-\infty$. Reading `came_from` back from the last cell must give
# exactly the path the real `maximum_path` returned, and the last cell's score must be the
# best path's score.

# %%
lp = logp[0].double()                                     # [t_x, t_y]
Q = torch.full((t_x, t_y), -math.inf, dtype=torch.float64)
came_from = torch.zeros(t_x, t_y, dtype=torch.long)       # 1: advance, 0: stay
for j in range(t_y):
    for i in range(max(0, t_x - (t_y - j)), min(t_x - 1, j) + 1):
        if j == 0:
            Q[i, j] = lp[i, j]                            # only (0, 0) starts a path
            continue
        stay, advance = Q[i, j - 1], Q[i - 1, j - 1] if i > 0 else -math.inf
        came_from[i, j] = int(advance > stay)            # ties stay, as the original does
        Q[i, j] = max(stay, advance) + lp[i, j]
traced, i = torch.zeros(t_x, t_y), t_x - 1
for j in range(t_y - 1, -1, -1):
    traced[i, j] = 1
    if j > 0 and came_from[i, j] == 1:
        i -= 1
print("Q[t_x-1, t_y-1] =", round(float(Q[-1, -1]), 3),
      "| best path score", round(best, 3))

# %%
assert torch.equal(traced, found[0])                     # back-pointers give MAS's path
assert abs(float(Q[-1, -1]) - best) < 1e-4  # the last cell holds the best score
band = sum(min(t_x - 1, j) - max(0, t_x - (t_y - j)) + 1 for j in range(t_y))
assert int(torch.isinf(Q).sum()) == t_x * t_y - band     # exactly the cells off the band

# %% tags=["plot"]
figures.mas_table(Q, came_from, found[0])

# %% [markdown]
# The compiled `maximum_path` and the plain-Python `maximum_path_reference` (a line-by-line
# transcription of the recursion above) agree on a random batch with different lengths;
# outside each item's lengths the path is zero.

# %%
x_len, y_len = torch.tensor([7, 4, 6]), torch.tensor([20, 9, 6])
# [3, 7, 20]
batch_mask = (commons.sequence_mask(x_len).unsqueeze(2)
              * commons.sequence_mask(y_len).unsqueeze(1)).float()
values = torch.randn(3, 7, 20) * batch_mask
fast, slow = maximum_path(values, batch_mask), maximum_path_reference(values, batch_mask)
assert torch.equal(fast, slow)
assert torch.equal(fast * batch_mask, fast)  # nothing outside the lengths
assert torch.equal(fast.sum(dim=(1, 2)), y_len.float())  # one token per valid frame
# t_y == t_x: one frame each
assert torch.equal(fast[2], torch.eye(7, 20) * batch_mask[2])

# %% [markdown]
# Every token needs at least one frame, so a mel shorter than its text has no monotonic
# path at all. The original's Cython code did not check and returned a broken path;
# ours says which item is the problem (and `TextMelLoader` drops such utterances up front).

# %%
try:
    maximum_path(torch.zeros(1, 5, 3), torch.ones(1, 5, 3))
    raise AssertionError("t_y < t_x was accepted")
except ValueError as err:
    print(err)
    assert "t_x=5" in str(err) and "t_y=3" in str(err)

# %% [markdown]
# ## The picture
#
# The log-likelihood matrix of the toy utterance (bright: likely) with the path MAS chose.
# The path runs through the bright cells, moving down one token at a time.

# %% tags=["plot"]
fig, ax = plt.subplots(figsize=(7, 2.8))
im = ax.imshow(logp[0].numpy(), aspect="auto", cmap="viridis", origin="lower")
ys, xs = torch.nonzero(found[0], as_tuple=True)
ax.plot(xs, ys, "w.-", lw=1.5, ms=8, label=figures.both("MAS path", "MAS 경로"))
ax.set_xlabel(figures.both("mel frame j", "멜 프레임 j"), family=figures.BILINGUAL)
ax.set_ylabel(figures.both("token i", "토큰 i"), family=figures.BILINGUAL)
ax.set_title(figures.both("log-likelihood matrix logp[i, j] and the monotonic alignment",
                          "로그 우도 행렬 logp[i, j]와 단조 정렬", sep="\n"),
             family=figures.BILINGUAL)
ax.legend(loc="upper left", prop={"family": figures.BILINGUAL, "size": 8})
fig.colorbar(im, ax=ax, label=r"$\log\,\mathcal{N}(z_j;\ \mu_i, \sigma_i)$")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## `mle_loss`: the negative log-likelihood of the mel
#
# With the alignment fixed, every frame has its prior, $\mu_{a(j)}$ and $\sigma_{a(j)}$
# (`z_m` and `z_logs`, the token means copied along the path). The flow's change of
# variables (walkthrough 06) gives the likelihood of the mel $y$:
#
# $$-\log p(y) = -\sum_{c, j} \log \mathcal{N}(z_{c,j};\ \mu_{c,a(j)},\ \sigma_{c,a(j)}) - \log\left|\det \tfrac{\partial z}{\partial y}\right|.$$
#
# `mle_loss` returns this divided by the number of valid values $N = 80 \cdot T_y$ summed
# over the batch: **nats per mel value**. We check it against `Normal.log_prob`:

# %%
z_m = x_m @ found  # [1, c, t_y] prior along the path
z_logs = x_logs @ found
z_mask = torch.ones(1, 1, t_y)
logdet = torch.tensor([3.0])  # [b] pretend the flow contributes 3 nats
loss = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
log_likelihood = Normal(z_m, z_logs.exp()).log_prob(z).sum() + logdet.sum()
expected = -log_likelihood / (channels * t_y)
print(float(loss), float(expected))
assert torch.allclose(loss, expected, atol=1e-5)

# %% [markdown]
# How to read the number: if $z$ were exactly standard normal around its means and the
# flow did nothing ($\log|\det| = 0$), the expected loss is the entropy of a standard
# normal, $\frac{1}{2}\log(2\pi e) \approx 1.419$ nats. A flow that can spread or squeeze
# the data moves it below that: each nat of log-determinant per value lowers it by one.
# So the value is not bounded below by 0, and negative `l_mle` values in a training log
# are normal; what matters is that it goes down.

# %%
big_z = torch.randn(1, 80, 4000)
zeros = torch.zeros_like(big_z)
baseline = commons.mle_loss(big_z, zeros, zeros, torch.zeros(1), torch.ones(1, 1, 4000))
assert abs(float(baseline) - 0.5 * math.log(2 * math.pi * math.e)) < 0.01
shifted = commons.mle_loss(big_z, zeros, zeros, torch.tensor([80 * 4000 * 2.0]),
                           torch.ones(1, 1, 4000))
assert abs(float(baseline - shifted) - 2.0) < 1e-4  # +2 nats of logdet per value: 2 lower

# %% [markdown]
# Padding does not count: `z`, `z_m` and `z_logs` are zero on padded frames and $N$ counts
# only valid ones, so appending padding to a batch leaves the loss unchanged.

# %%
pad = 7
padded_loss = commons.mle_loss(F.pad(z, (0, pad)), F.pad(z_m, (0, pad)),
                               F.pad(z_logs, (0, pad)), logdet, F.pad(z_mask, (0, pad)))
assert torch.allclose(padded_loss, loss, atol=1e-6)

# %% [markdown]
# ## `duration_loss`: teaching the duration predictor
#
# At synthesis there is no mel to align, so the durations must be predicted. MAS provides
# the training targets: `logw_` $= \log(10^{-8} + d_i)$ from the path's row sums; the
# duration predictor outputs `logw`. `duration_loss` is their squared difference, summed
# over the batch's valid tokens and divided by their number: a mean squared error in
# log-frames. Predicting every duration twice too long costs $(\ln 2)^2 \approx 0.48$.

# %%
logw_ = torch.log(1e-8 + found.sum(dim=2, keepdim=True)).transpose(1, 2)   # [1, 1, t_x]
x_lengths = torch.tensor([t_x])
assert commons.duration_loss(logw_, logw_, x_lengths) == 0
twice = commons.duration_loss(logw_ + math.log(2), logw_, x_lengths)
assert abs(float(twice) - math.log(2) ** 2) < 1e-6

# %% [markdown]
# ## Both losses in the real model
#
# One forward pass of a (tiny, untrained) `FlowGenerator` on two corpus utterances gives
# everything the two losses need. Two properties are worth checking there:
#
# * `logw_` is exactly the log of the durations in `attn`, the path MAS found;
# * the duration predictor reads the encoder's output *detached*, so `duration_loss` trains
#   only the predictor; gradients of the alignment-derived likelihood shape the encoder.

# %%
hps = get_hparams_from_file("../configs/tiny.json")
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_07_"), limit=6, progress=False)
dataset = TextMelLoader(corpus.filelists["train"], hps.data)
x, x_lengths, y, y_lengths = TextMelCollate(1)([dataset[0], dataset[1]])
model = FlowGenerator(len(symbols), out_channels=80, **hps.model)
(z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = model(
    x, x_lengths, y, y_lengths, gen=False)
l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
l_length = commons.duration_loss(logw, logw_, x_lengths)
# untrained: far above 1.42
print(f"l_mle {l_mle.item():.3f}  l_length {l_length.item():.3f}")

# %%
assert torch.allclose(logw_, torch.log(1e-8 + attn.sum(-1)) * x_mask)
assert torch.isfinite(l_mle) and l_length >= 0
l_length.backward()
encoder_grads = [p.grad for p in model.encoder.encoder.parameters()]
predictor_grads = [p.grad for p in model.encoder.proj_w.parameters()]
assert all(g is None for g in encoder_grads)  # nothing reaches the encoder
assert any(g is not None and g.abs().sum() > 0 for g in predictor_grads)
