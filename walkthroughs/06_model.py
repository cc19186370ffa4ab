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
# # The model: text encoder, duration predictor, flow decoder, and `train()` / `eval()`
#
# *Reviews:* `models.py`, `FlowGenerator` (`__init__`, `forward`), `TextEncoder`,
# `DurationPredictor`, `FlowSpecDecoder`; `modules.py`, `ActNorm`, `InvConvNear`,
# `CouplingBlock`; `attentions.py`, `MultiHeadAttention` (relative positions);
# `commons.py`, `squeeze`/`unsqueeze`; and `train.py`, `train`, which calls
# `generator.train()` before its loop (`evaluate` calls `generator.eval()`). Ours:
# `glow_tts/models.py`, `modules.py`, `attentions.py`, `commons.py`.
#
# You will learn:
#
# * the three parts of `FlowGenerator` and the shape of every tensor between them;
# * what makes the decoder a *flow*: each layer can be run backwards exactly, and its
#   log-determinant is known, which is what turns it into a likelihood;
# * how `squeeze` folds pairs of frames into channels, and back;
# * what `generator.train()` and `generator.eval()` change (dropout) and what they do not
#   (gradients), and where `train()` comes from.
#
# covers: T14, T33

# %%
import tempfile

import matplotlib.pyplot as plt
import torch
from torch import nn

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts import commons, fast
from glow_tts.fast.dropout import GeometricDropout
from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.models import FlowGenerator, FlowSpecDecoder
from glow_tts.text.symbols import symbols

torch.set_num_threads(1)
torch.manual_seed(0)

# %% [markdown]
# ## The parts, at the original's size
#
# `FlowGenerator(n_vocab, out_channels=80, **hps.model)` with `configs/base.json` is the
# original's model: 28.6 million parameters. Its parts:
#
# * **`encoder`** (`TextEncoder`): embedding of the token ids, a small convolutional
#   *prenet*, six transformer layers, and 1×1 projections to a Gaussian prior per token,
#   mean $\mu$ (`x_m`) and log standard deviation $\log\sigma$ (`x_logs`; zero with
#   `mean_only`, the shipped setting). Its attention uses *relative* positions: instead of
#   adding a position to every token, each attention score gets a learned term for the
#   offset between query and key, for offsets up to `window_size` = 4 in either direction.
# * **`encoder.proj_w`** (`DurationPredictor`): two convolutions that predict each token's
#   log-duration in frames, $\log w$.
# * **`decoder`** (`FlowSpecDecoder`): 12 flow blocks, each *ActNorm → invertible 1×1
#   convolution → affine coupling*, between a `squeeze` and an `unsqueeze`.

# %%
base = get_hparams_from_file("../configs/base.json")
big = FlowGenerator(len(symbols), out_channels=80, **base.model)
n_params = sum(p.numel() for p in big.parameters())
print(f"{n_params:,} parameters")

# %%
assert n_params == 28_595_473 + 192 * len(symbols)  # 192 per vocabulary entry
assert big.encoder.emb.weight.shape == (len(symbols), 192)
assert len(big.encoder.encoder.attn_layers) == 6
kinds = [type(f).__name__ for f in big.decoder.flows]
assert kinds == ["ActNorm", "InvConvNear", "CouplingBlock"] * 12
del big

# %% [markdown]
# ## One training forward pass, tensor by tensor
#
# The rest of this walkthrough uses `configs/tiny.json` (64 channels, fewer flow blocks), which
# has the same structure and runs in milliseconds. A batch of four utterances from the
# embedded corpus goes through `forward(x, x_lengths, y, y_lengths)`; the return value is
# the original's nested tuple.

# %%
hps = get_hparams_from_file("../configs/tiny.json")
print(f"tiny.json: {hps.model.hidden_channels} channels, "
      f"{hps.model.n_blocks_dec} flow blocks")
assert hps.model.hidden_channels == 64 and hps.model.n_blocks_dec < 12
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_06_"), limit=12, progress=False)
dataset = TextMelLoader(corpus.filelists["train"], hps.data)
x, x_lengths, y, y_lengths = TextMelCollate(1)([dataset[i] for i in range(4)])
model = FlowGenerator(len(symbols), out_channels=80, **hps.model)


def shape_of(value):
    """The shape of a tensor, or of the first tensor in a tuple (decoder: (z, logdet))."""
    while isinstance(value, (tuple, list)):
        value = value[0]
    return tuple(value.shape)


records = []  # (module path, class, input shape, output shape), in call order
hooks = [module.register_forward_hook(
             lambda m, args, out, name=name: records.append(
                 (name, type(m).__name__, shape_of(args), shape_of(out))))
         for name, module in model.named_modules() if name and name.count(".") <= 1
         and not isinstance(module, nn.ModuleList)]
(z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = model(
    x, x_lengths, y, y_lengths, gen=False)
for hook in hooks:
    hook.remove()
B, T_x, T_y = x.shape[0], x.shape[1], y.shape[2] // 2 * 2
for name, t in [("x", x), ("y", y), ("x_m", x_m), ("x_logs", x_logs), ("x_mask", x_mask),
                ("logw", logw), ("z", z), ("logdet", logdet), ("z_mask", z_mask),
                ("attn", attn), ("z_m", z_m), ("logw_", logw_)]:
    print(f"{name:7} {tuple(t.shape)}")

# %% [markdown]
# * `x_m`, `x_logs` `[B, 80, T_x]`: one 80-dimensional Gaussian per token.
# * `logw` `[B, 1, T_x]`: predicted log-durations.
# * `z` `[B, 80, T_y]`: the mel pushed through the flow; `logdet` `[B]`: the flow's
#   log-determinant per utterance. (`T_y` is cut to an even number: `n_sqz` = 2.)
# * `attn` `[B, 1, T_x, T_y]`: the hard alignment that monotonic alignment search picked,
#   a 1 where frame $j$ belongs to token $i$ (walkthrough 07).
# * `z_m` `[B, 80, T_y]`: each token's mean repeated over its frames, $\mu_{a(j)}$; and
#   `logw_` `[B, 1, T_x]` the log of the durations that alignment implies, the target
#   for `logw`.

# %%
assert x_m.shape == x_logs.shape == (B, 80, T_x) and x_mask.shape == (B, 1, T_x)
assert logw.shape == logw_.shape == (B, 1, T_x)
assert z.shape == z_m.shape == z_logs.shape == (B, 80, T_y)
assert z_mask.shape == (B, 1, T_y)
assert logdet.shape == (B,) and attn.shape == (B, 1, T_x, T_y)
assert torch.all(x_logs == 0)  # mean_only: sigma = 1
assert torch.allclose(z_m, x_m @ attn.squeeze(1), atol=1e-6)  # prior expanded along attn
# every frame has one token
assert torch.equal(attn.sum(dim=(1, 2, 3)), z_mask.sum(dim=(1, 2)))

# %% [markdown]
# The same forward pass, as the hooks recorded it: each part of the model with the shape
# of the tensor it received and the one it returned (a forward hook on every submodule up
# to two levels deep; the alignment in the middle is `monotonic_align.maximum_path`, a
# function, so its shape comes from the returned `attn`). The encoder's parts run inside
# `encoder`, so they finish before it.

# %%
for name, kind, shape_in, shape_out in records:
    print(f"{name:18} {kind:18} {str(shape_in):16} -> {shape_out}")
by_name = {name: (shape_in, shape_out) for name, _, shape_in, shape_out in records}
assert by_name["encoder.emb"] == ((B, T_x), (B, T_x, hps.model.hidden_channels))
assert by_name["encoder.proj_m"][1] == (B, 80, T_x)
assert by_name["encoder.proj_w"][1] == (B, 1, T_x)
assert by_name["decoder"] == ((B, 80, T_y), (B, 80, T_y))  # a flow keeps the shape
assert [name for name, *_ in records][-1] == "decoder"

# %% tags=["plot"]
figures.model_shapes(records, attn_shape=tuple(attn.shape))

# %% [markdown]
# ## Relative positions: attention that sees only the offset
#
# Each of the encoder's attention layers adds to the score of query $i$ and key $j$ a term
# that depends on the *offset* $j - i$ alone: $r_{j-i} = q_i \cdot e_{j-i} / \sqrt{d}$,
# with one learned vector $e_d$ (`emb_rel_k`, shared by the heads) for each offset
# $|d| \le$ `window_size`, and nothing for keys farther away. To see that in the layer's
# behaviour, feed it a sequence where every position holds the *same* vector. Then the
# content part of every score is equal, and the attention weights can differ only through
# $r$: the log-weight of key $i+d$ minus that of key $i$ must be $r_d - r_0$, the same for
# every query $i$, and the same constant $-r_0$ for every key outside the window.

# %%
layer = model.encoder.encoder.attn_layers[0].eval()
w, T, d_head = layer.window_size, 14, layer.k_channels
# [1, C, T]
same = torch.randn(1, hps.model.hidden_channels, 1).expand(-1, -1, T).contiguous()
with torch.no_grad():
    layer(same, same, attn_mask=torch.ones(1, 1, T, T))
    q = layer.conv_q(same)[0, :, 0].view(layer.n_heads, d_head)        # [heads, d_head]
    expected = (q @ layer.emb_rel_k[0].T) / d_head ** 0.5  # [heads, 2w+1]: r_d
log_p = layer.attn[0].log()                                               # [heads, T, T]
# log p[i, j] - log p[i, i]
relative = log_p - log_p.diagonal(dim1=1, dim2=2).unsqueeze(2)
for d in range(-(T - 1), T):
    queries = range(max(0, -d), min(T, T - d))
    values = torch.stack([relative[:, i, i + d] for i in queries], dim=1)  # [heads, n]
    r_d = expected[:, d + w] if abs(d) <= w else torch.zeros(layer.n_heads)
    assert torch.allclose(values, (r_d - expected[:, w]).unsqueeze(1), atol=1e-5), d
print(f"window {w}: r_d - r_0 for d = -{w}..{w}, head 0:",
      [round(v, 3) for v in (expected[0] - expected[0, w]).tolist()])

# %% [markdown]
# ## Why a flow: exact inverse, known log-determinant
#
# The decoder is a function $z = f(y)$ that can be run backwards exactly, $y = f^{-1}(z)$.
# Training makes $z$ likely under the text's Gaussian prior. Because $f$ is invertible,
# the likelihood of the mel follows from the change-of-variables formula,
#
# $$\log p(y) = \log \mathcal{N}(f(y);\ \mu, \sigma) + \log \left| \det \frac{\partial f}{\partial y} \right|,$$
#
# and at synthesis a sample $z$ from the prior goes through $f^{-1}$ to become a mel. Each
# layer is built so that both the inverse and $\log|\det|$ are cheap:
#
# * **ActNorm**: $z = e^{s} \odot x + b$ per channel; $\log|\det| = T \sum_c s_c$.
# * **Invertible 1×1 convolution** (`InvConvNear`): groups of 4 channels mixed by one
#   $4\times4$ matrix $W$; $\log|\det| = \frac{C}{4}\, T \log|\det W|$.
# * **Affine coupling**: the first half of the channels passes unchanged and, through a
#   WaveNet-like network, predicts a shift $m$ and log-scale $\log s$ for the second half:
#   $z_1 = m + e^{\log s} \odot x_1$. The inverse recomputes $m, \log s$ from the unchanged
#   half. $\log|\det| = \sum \log s$.
#
# The coupling's last layer starts at zero (so a fresh coupling is the identity). To test
# invertibility on something that is not the identity, we randomise every parameter of
# the tiny model's decoder first.

# %%
decoder = model.decoder
with torch.no_grad():
    for p in decoder.parameters():
        p.add_(0.05 * torch.randn_like(p))
decoder.eval()
y_pair, mask_pair = y[:2, :, :T_y], z_mask[:2]                # two utterances suffice
with torch.no_grad():
    z_f, logdet_f = decoder(y_pair, mask_pair)                 # y -> z
    y_back, _ = decoder(z_f, mask_pair, reverse=True)          # z -> y
print("max |y - f^-1(f(y))| =", float((y_back - y_pair * mask_pair).abs().max()))
assert not torch.allclose(z_f, y_pair * mask_pair, atol=1e-2)  # f is not the identity ...
assert torch.allclose(y_back, y_pair * mask_pair, atol=1e-3)   # ... and f^-1 undoes it

# %% [markdown]
# The log-determinant each layer reports is the real one. For a decoder small enough to
# write its Jacobian out (4 mel channels, 6 frames: a $24 \times 24$ matrix), PyTorch's
# `torch.autograd.functional.jacobian` gives $\partial z / \partial y$, and its
# $\log|\det|$ must equal the decoder's `logdet`.

# %%
small = FlowSpecDecoder(in_channels=4, hidden_channels=8, kernel_size=3, dilation_rate=1,
                        n_blocks=2, n_layers=2, n_split=4, n_sqz=2)
with torch.no_grad():
    for p in small.parameters():
        p.add_(0.3 * torch.randn_like(p))
small.eval()
y_small = torch.randn(1, 4, 6, dtype=torch.float64)
small = small.double()
mask_small = torch.ones(1, 1, 6, dtype=torch.float64)
# [1,4,6,1,4,6]
jac = torch.autograd.functional.jacobian(lambda v: small(v, mask_small)[0], y_small)
sign, logabsdet = torch.linalg.slogdet(jac.reshape(24, 24))
with torch.no_grad():
    _, logdet_small = small(y_small, mask_small)                              # [1]
print("autograd log|det J| =", float(logabsdet), " decoder logdet =", float(logdet_small))
assert torch.allclose(logabsdet, logdet_small[0], atol=1e-6)

# %% [markdown]
# Per layer, the same check reads off each formula above:

# %%
actnorm, invconv = small.flows[0], small.flows[1]
x8 = torch.randn(1, 8, 3, dtype=torch.float64)  # after squeeze: 8 channels, 3 frames
_, ld_act = actnorm(x8)
_, ld_inv = invconv(x8)
assert torch.allclose(ld_act, actnorm.logs.sum() * 3)
assert torch.allclose(ld_inv, torch.linalg.slogdet(invconv.weight)[1] * (8 / 4) * 3)
for flow in small.flows:
    out, _ = flow(x8)
    back, _ = flow(out, reverse=True)
    assert torch.allclose(back, x8, atol=1e-10), type(flow).__name__

# %% [markdown]
# ## `squeeze` and `unsqueeze`
#
# Before the flow, `commons.squeeze` folds every two neighbouring frames into the channel
# axis: `[B, 80, T]` becomes `[B, 160, T/2]`. Frame $2f$ goes to channels 0–79 of the new
# frame $f$, frame $2f+1$ to channels 80–159. The couplings then see two frames at once
# (their convolutions reach twice as far in time), and `unsqueeze` puts the frames back.
# With `n_sqz` = 2 the mel length must be even, which is why `forward` trims `T_y`.

# %%
# value = 8 * channel + frame
demo = torch.arange(3 * 8, dtype=torch.float32).reshape(1, 3, 8)
squeezed, sq_mask = commons.squeeze(demo, None, 2)                 # [1, 6, 4]
restored, _ = commons.unsqueeze(squeezed, sq_mask, 2)              # [1, 3, 8]
assert squeezed.shape == (1, 6, 4) and torch.equal(restored, demo)
assert torch.equal(squeezed[0, :3], demo[0, :, 0::2])  # even frames -> first 3 channels
assert torch.equal(squeezed[0, 3:], demo[0, :, 1::2])  # odd frames -> last 3 channels

# %% tags=["plot"]
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3),
                               gridspec_kw={"width_ratios": [2, 1.2]})
frame_of = (demo[0] % 8)
ax0.imshow(frame_of.numpy(), cmap="tab10", vmin=0, vmax=9, aspect="auto")
ax1.imshow((squeezed[0] % 8).numpy(), cmap="tab10", vmin=0, vmax=9, aspect="auto")
for ax, data in [(ax0, demo[0]), (ax1, squeezed[0])]:
    cells = torch.cartesian_prod(torch.arange(data.shape[0]), torch.arange(data.shape[1]))
    for (row, col), value in zip(cells.tolist(), data.flatten().tolist()):
        ch, fr = divmod(int(value), 8)
        ax.text(col, row, f"c{ch}\nf{fr}", ha="center", va="center", fontsize=7)
ax0.set_yticks(range(3))
ax0.set_title(f"{figures.both('before squeeze', '스퀴즈 전')}: [1, 3, 8] "
              f"({figures.both('channel x frame', '채널 x 프레임')})",
              family=figures.BILINGUAL)
ax0.set_xlabel(figures.both("frame", "프레임"), family=figures.BILINGUAL)
ax0.set_ylabel(figures.both("channel", "채널"), family=figures.BILINGUAL)
ax1.set_title(f"{figures.both('after squeeze', '스퀴즈 후')}: [1, 6, 4]",
              family=figures.BILINGUAL)
ax1.set_xlabel(figures.both("new frame", "새 프레임"), family=figures.BILINGUAL)
ax1.set_ylabel(figures.both("new channel", "새 채널"), family=figures.BILINGUAL)
plt.tight_layout()
plt.show()

# %% [markdown]
# <a id="claim-1-2-4-3-train-mode"></a>
#
# ## `generator.train()` and `generator.eval()`
#
# `train()` and `eval()` are not Glow-TTS code: they are methods of `torch.nn.Module`,
# which `FlowGenerator` subclasses. `model.train()` sets the flag `training = True` on the
# model and every submodule; `model.eval()` is `model.train(False)`. Layers that behave
# differently while training read that flag. Here that is **dropout**
# (`p_dropout` 0.1 in the encoder, 0.5 in the prenet, `p_dropout_dec` in the flow): in
# training mode it zeroes random activations and scales the rest by $1/(1-p)$; in
# evaluation mode it does nothing. (There is no batch norm here, the other common such
# layer; `LayerNorm` behaves the same in both modes.) The model code uses plain
# `nn.Dropout`, as the original does. `glow_tts.fast.enable(model)`, which
# `models.build_model` calls when the config says `train.fast`, swaps each for a
# `fast.dropout.GeometricDropout`: an `nn.Dropout` that draws masks of the same
# distribution from fewer random numbers on the CPU (see the "What changed" chapter). It
# reads the same flag.
#
# The notes (§1.2.4.3) say exactly this much: that `train()` comes from the
# `torch.nn` base class. What it does *not* do is equally worth knowing: `eval()` does not
# turn off gradients; `torch.no_grad()` does.

# %%
assert FlowGenerator.train is nn.Module.train and FlowGenerator.eval is nn.Module.eval
model = FlowGenerator(len(symbols), out_channels=80, **hps.model)
model.train()
assert model.training and all(m.training for m in model.modules())
dropouts = [m for m in model.modules() if isinstance(m, nn.Dropout)]
print(len(dropouts), "dropout layers, p =", sorted({m.p for m in dropouts}))
assert any(m.p > 0 for m in dropouts)
assert all(type(m) is nn.Dropout for m in dropouts)          # the original's layers
fast.enable(model)                                            # what build_model does
swapped = [m for m in model.modules() if isinstance(m, nn.Dropout)]
assert all(type(m) is GeometricDropout for m in swapped)
assert [m.p for m in swapped] == [m.p for m in dropouts] and model.training

# %% [markdown]
# How `GeometricDropout` draws its mask: in a row of independent coins that land "drop"
# with probability $p$, the distance from one drop to the next is a geometric count with
# mean $1/p$. Drawing those distances directly takes one random number per *dropped*
# element instead of one per element, 20 times fewer at $p = 0.05$. The result is
# ordinary dropout: about $p$ of the elements are zero, the rest are scaled by $1/(1-p)$.

# %%
torch.manual_seed(0)
ones = torch.ones(400_000)
dropped_out = GeometricDropout(0.05).train()(ones)
drops = torch.nonzero(dropped_out == 0).flatten()      # positions of the zeros
rate, mean_gap = len(drops) / len(ones), torch.diff(drops).double().mean().item()
print(f"dropped {rate:.4f} of the elements; mean distance between drops {mean_gap:.2f}")
# within 6 standard deviations
assert abs(rate - 0.05) < 6 * (0.05 * 0.95 / len(ones)) ** 0.5
assert abs(mean_gap - 1 / 0.05) < 0.5
assert torch.all(dropped_out[dropped_out != 0] == torch.tensor(1 / 0.95))

# %%
def encoder_means(model):
    x_m, _, _, _ = model.encoder(x, x_lengths)
    return x_m


torch.manual_seed(1)
first, second = encoder_means(model), encoder_means(model)
assert not torch.allclose(first, second)  # train mode: dropout differs call to call

model.eval()
assert not model.training and not any(m.training for m in model.modules())
first, second = encoder_means(model), encoder_means(model)
assert torch.equal(first, second)                  # eval mode: deterministic

# %% [markdown]
# In evaluation mode the outputs still carry gradients, and a backward pass fills
# `.grad`: `eval()` changes layer behaviour, not autograd. Wrapping the call in
# `torch.no_grad()` is what stops the graph from being built (and saves its memory).

# %%
assert not model.training
means = encoder_means(model)
assert means.requires_grad
means.pow(2).mean().backward()
grad = model.encoder.proj_m.weight.grad
assert grad is not None and grad.abs().sum() > 0
with torch.no_grad():
    out = encoder_means(model)
assert not out.requires_grad
