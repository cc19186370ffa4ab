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
# # `init.py`: `FlowGenerator_DDI` and the data-dependent initialisation
#
# *Reviews:* `init.py`, the class `FlowGenerator_DDI(models.FlowGenerator)` and `main`,
# which builds it, runs **one** batch through it and saves `ddi_G.pth`; `modules.py`,
# `ActNorm` (`ddi`, `initialized`, `initialize`). Ours: `glow_tts/init.py` (`run_ddi`,
# `main`), `glow_tts/models.py` (`FlowGenerator_DDI`), `glow_tts/modules.py` (`ActNorm`).
#
# You will learn:
#
# * what `FlowGenerator_DDI` is: a `FlowGenerator` (hence a `torch.nn.Module`) with exactly
#   the same layers and parameters, whose only difference is a switch on its ActNorm layers;
# * what an ActNorm layer computes on its first batch in that mode, and why: every ActNorm
#   output starts with mean 0 and standard deviation 1 per channel, which we measure with
#   forward hooks during the real `glow_tts.init` run;
# * what `ddi_G.pth` holds, that it loads like any checkpoint, and that after the first
#   batch the layers behave like ordinary ones again.
#
# covers: T01, T36

# %%
import os
import tempfile

import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
import glow_tts.init
import glow_tts.models
from glow_tts import modules
from glow_tts.checkpoint import load_checkpoint, load_checkpoint_dict
from glow_tts.corpus import build_corpus
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import get_hparams_from_file
from glow_tts.init import FlowGenerator_DDI, run_ddi
from glow_tts.models import FlowGenerator, build_model

torch.set_num_threads(1)

# %% [markdown]
# ## A subclass, and a `torch.nn.Module`
#
# The original's `init.py` declares `class FlowGenerator_DDI(models.FlowGenerator)`. The
# parentheses name the *base class*: `FlowGenerator_DDI` inherits everything of
# `FlowGenerator`: its `__init__` (which it calls with the same arguments), its `forward`,
# its layers. `FlowGenerator` in turn subclasses `torch.nn.Module`, which is where
# `parameters()`, `train()`, `state_dict()` and the hook machinery come from.
#
# The original's class body is short: its `__init__(*args, **kwargs)` passes every
# argument on to `FlowGenerator.__init__` (through `super()`), then switches on the DDI
# mode of each decoder flow that has one (`set_ddi(True)`, which only ActNorm has).
#
# <a id="claim-1-1-ddi-models"></a>
#
# > **The notes say** (§1.1) that `FlowGenerator_DDI(models.FlowGenerator)` inherits the
# > `__init__` of a class imported from `models.py` and hands its arguments to the model,
# > and that `FlowGenerator_DDI` in `models.py` shows it inheriting from the `torch.nn`
# > module. **Partly right**. The inheritance is as described: the base class is
# > `models.FlowGenerator`, the constructor passes its arguments through to it, and the
# > class is an `nn.Module`; the cell below proves that half. The other half rests on the
# > original's source, which no cell here can run: the original defines
# > `FlowGenerator_DDI` in `init.py` (line 17), not in `models.py`; what `models.py` holds
# > is its base, `FlowGenerator` (line 188), the class that derives from `nn.Module`
# > directly. `FlowGenerator_DDI` is a Module one step further up the chain. This project
# > differs here: it defines the class in `glow_tts/models.py` and `glow_tts/init.py`
# > re-exports the same object, so both of the original's import paths work (the map
# > chapter records the move).

# %%
print([cls.__name__ for cls in FlowGenerator_DDI.__mro__])

# %%
assert glow_tts.init.FlowGenerator_DDI is glow_tts.models.FlowGenerator_DDI
assert FlowGenerator_DDI.__bases__ == (FlowGenerator,)      # the direct parent
assert FlowGenerator.__bases__ == (nn.Module,)
# ... and so a Module, one step up
assert issubclass(FlowGenerator_DDI, nn.Module)
# ours differs from the original here (init.py:17 there): defined in our models.py and
# re-exported by init, so this line is no evidence about the original
assert FlowGenerator_DDI.__module__ == "glow_tts.models"

# %% [markdown]
# <a id="claim-1-1-subclass"></a>
#
# ## The same model with one switch flipped
#
# Build both with the tiny config and the same seed. They have the same modules, in the
# same order, with the same parameter names and the same initial values; the DDI one
# differs in one attribute of its ActNorm layers, `initialized`, which is `False` until
# the layer has seen a batch.

# %%
hps = get_hparams_from_file("../configs/tiny.json")
torch.manual_seed(hps.train.seed)
plain = build_model(hps)                          # FlowGenerator
torch.manual_seed(hps.train.seed)
ddi = build_model(hps, FlowGenerator_DDI)         # the same arguments, the DDI class

plain_modules = [(name, type(m).__name__) for name, m in plain.named_modules()]
ddi_modules = [(name, type(m).__name__) for name, m in ddi.named_modules()]
actnorms = [name for name, m in ddi.named_modules() if isinstance(m, modules.ActNorm)]
print(len(plain_modules), "modules;", len(actnorms), "ActNorm layers:", actnorms)

# %%
assert isinstance(ddi, FlowGenerator) and isinstance(ddi, nn.Module)
assert plain_modules[1:] == ddi_modules[1:]        # every submodule: same name, same type
assert plain_modules[0] == ("", "FlowGenerator")
assert ddi_modules[0] == ("", "FlowGenerator_DDI")
assert list(plain.state_dict()) == list(ddi.state_dict())    # same parameter names
assert all(torch.equal(a, b)
           for a, b in zip(plain.state_dict().values(), ddi.state_dict().values()))
# one ActNorm per flow block
assert len(actnorms) == hps.model.n_blocks_dec
assert all(plain.get_submodule(n).initialized for n in actnorms)       # ordinary mode
assert not any(ddi.get_submodule(n).initialized for n in actnorms)     # waiting for data
# Every other attribute the two models' modules hold is the same:
differing = {name for (name, a), (_, b) in zip(plain.named_modules(), ddi.named_modules())
             for key in vars(a)
             if not key.startswith("_") and vars(a)[key] != vars(b)[key]}
print("modules with a differing attribute:", sorted(differing))
assert differing == set(actnorms)

# %% [markdown]
# ## What ActNorm does with its first batch
#
# ActNorm is a per-channel affine flow, $z = x \cdot e^{s} + b$, with $s$ (`logs`) and
# $b$ (`bias`) of shape `[1, c, 1]`, and log-determinant $\sum_c s_c$ times the number of
# valid frames. Its parameters start at zero: $z = x$.
#
# With DDI armed, the first forward call measures the batch it receives. Over the valid
# frames (the mask excludes padding) of every item, per channel $c$, it takes the mean
# $\mu_c$ and standard deviation $\sigma_c$, and sets
#
# $$ s_c = -\log \sigma_c, \qquad b_c = -\mu_c / \sigma_c, \qquad\text{so}\qquad
# z = \frac{x - \mu_c}{\sigma_c}. $$
#
# Each ActNorm output therefore starts with mean 0 and standard deviation 1 per channel.
# The flow decoder is a stack of `n_blocks_dec` blocks (the count of ActNorm layers
# printed above: one per block) of ActNorm → invertible 1×1 convolution → affine
# coupling, so each block begins by re-standardising what the previous block produced: the first
# training steps do not have to fight badly scaled activations (a log-mel frame has values
# from about −11.5 to 2), and the log-likelihood starts in a sane range. This is Glow's
# recipe (Kingma & Dhariwal, 2018), which Glow-TTS keeps.
#
# ## The real run, watched with forward hooks
#
# `glow_tts.init.run_ddi(hps)` is the body of the original's `main`: it loads the
# training data, builds `FlowGenerator_DDI`, pushes one batch through it and saves
# `model_dir/ddi_G.pth`. The model is created inside the function, so we cannot attach a
# hook to it beforehand. PyTorch has a *global* forward hook for that,
# `torch.nn.modules.module.register_module_forward_hook`, called after every module's
# forward; ours records the input mask and output of each ActNorm call.
#
# Data: forty sentences of the embedded Korean corpus, spoken by eSpeak NG into a
# temporary folder.

# %%
work = tempfile.mkdtemp(prefix="glow_tts_08_")
corpus = build_corpus(os.path.join(work, "corpus"), limit=40, progress=False)
hps.data.training_files = corpus.filelists["train"]
hps.data.validation_files = corpus.filelists["val"]
hps.model_dir = os.path.join(work, "run")
os.makedirs(hps.model_dir)

seen = []  # (layer, its output z [b, c, t], the mask [b, 1, t]) per ActNorm call


def record_actnorm(module, args, output):
    if isinstance(module, modules.ActNorm):
        x_mask = args[1]                 # ActNorm.forward(x, x_mask, ...)
        z, _logdet = output
        seen.append((module, z.detach(), x_mask.detach()))


handle = torch.nn.modules.module.register_module_forward_hook(record_actnorm)
try:
    ddi_path = run_ddi(hps)
finally:
    handle.remove()                     # a global hook must not outlive its use
print(ddi_path, "|", len(seen), "ActNorm calls; n_blocks_dec =", hps.model.n_blocks_dec,
      "| n_sqz =", hps.model.n_sqz)

# %% [markdown]
# There was one ActNorm call per flow block (the count printed above), and each saw the
# squeezed mel: `n_sqz` folds groups of `n_sqz` frames into channels, so the
# `n_mel_channels` mel bands become `n_mel_channels · n_sqz` channels and $T_y$ frames
# become $T_y / n_{sqz}$ (the shapes printed below). For each call, the masked mean and
# standard deviation per channel over the batch:
#
# $$ \bar z_c = \frac{\sum_{b,t} z_{b,c,t}\, m_{b,t}}{\sum_{b,t} m_{b,t}}, \qquad
# \mathrm{sd}_c = \sqrt{\frac{\sum_{b,t} (z_{b,c,t} - \bar z_c)^2\, m_{b,t}}{\sum_{b,t} m_{b,t}}} $$


# %%
def masked_stats(z, mask):  # z [b, c, t], mask [b, 1, t] -> mean [c], std [c]
    count = mask.sum(dim=(0, 2))
    mean = (z * mask).sum(dim=(0, 2)) / count
    var = (((z - mean[None, :, None]) ** 2) * mask).sum(dim=(0, 2)) / count
    return mean, var.sqrt()


stats = [masked_stats(z, mask) for _, z, mask in seen]
# run_ddi's own ActNorm layers, in call order
ddi_layers = [layer for layer, _, _ in seen]
for i, ((_, z, mask), (mean, std)) in enumerate(zip(seen, stats)):
    print(f"ActNorm {i}: z {tuple(z.shape)}  |mean| max {mean.abs().max():.1e}  "
          f"std in [{std.min():.5f}, {std.max():.5f}]")

# %%
# one call per layer
assert len(seen) == hps.model.n_blocks_dec
assert all(z.shape[1] == hps.data.n_mel_channels * hps.model.n_sqz for _, z, _ in seen)
for mean, std in stats:
    # mean 0 per channel
    assert mean.abs().max() < 1e-4
    # std 1 per channel
    assert (std - 1).abs().max() < 1e-3
# and now armed no more
assert all(layer.initialized for layer, _, _ in seen)

# %% [markdown]
# Without DDI, the same place in the network sees nothing of the sort. The first ActNorm
# of a plain `FlowGenerator` passes the squeezed log-mel through unchanged (its parameters
# are zero), so its "standardised" output has the mel's own statistics: means around −6,
# spreads of a few units.

# %%
loader = DataLoader(TextMelLoader(hps.data.training_files, hps.data), batch_size=8,
                    collate_fn=TextMelCollate(1))
x, x_lengths, y, y_lengths = next(iter(loader))   # [b, T_x], [b], [b, 80, T_y], [b]
seen.clear()
handle = torch.nn.modules.module.register_module_forward_hook(record_actnorm)
try:
    with torch.no_grad():
        plain(x, x_lengths, y, y_lengths)
finally:
    handle.remove()
plain_mean, plain_std = masked_stats(seen[0][1], seen[0][2])
print(f"plain model, first ActNorm: mean in [{plain_mean.min():.1f}, "
      f"{plain_mean.max():.1f}], std in [{plain_std.min():.2f}, {plain_std.max():.2f}]")

# %%
# far from standardised
assert plain_mean.max() < -1 and (plain_std - 1).abs().max() > 0.1

# %% tags=["plot"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
panels = ((axes[0], (plain_mean, plain_std),
           figures.both("no DDI: first ActNorm output", "DDI 없음: 첫 ActNorm 출력",
                        sep="\n")),
          (axes[1], stats[0],
           figures.both("after DDI: first ActNorm output", "DDI 후: 첫 ActNorm 출력",
                        sep="\n")))
for ax, (mean, std), title in panels:
    ax.plot(mean.numpy(), label=figures.both("mean per channel", "채널별 평균"))
    ax.plot(std.numpy(), label=figures.both("std per channel", "채널별 표준편차"))
    ax.axhline(0, color="gray", lw=0.5)
    ax.axhline(1, color="gray", lw=0.5, ls="--")
    ax.set_title(title, family=figures.BILINGUAL)
    ax.set_xlabel(figures.both(f"channel ({mean.numel()} after the squeeze)",
                               f"채널 (스퀴즈 후 {mean.numel()}개)"), family=figures.BILINGUAL)
axes[0].legend(prop={"family": figures.BILINGUAL})
fig.tight_layout()
plt.show()

# %% [markdown]
# ## What `ddi_G.pth` holds
#
# `run_ddi` saves the model with the same `save_checkpoint` as training does: a dict with
# the weights under `model`, `iteration` 0, the optimizer's state (still at its first step:
# DDI trains nothing) and the learning rate. It is an ordinary checkpoint: `load_checkpoint`
# puts it into a plain `FlowGenerator`, and `glow_tts.train` starts from it when a run
# directory has no `G_*.pth` yet (walkthrough 12).
#
# The only weights DDI changed are the ActNorm ones; everything else is the seeded random
# initialisation.

# %%
saved = load_checkpoint_dict(ddi_path)
print(sorted(saved), "| iteration", saved["iteration"])
fresh = build_model(hps)
_, _, learning_rate, iteration = load_checkpoint(ddi_path, fresh)

# %%
assert {"model", "iteration", "optimizer", "learning_rate"} <= set(saved)
assert iteration == 0 and learning_rate == hps.train.learning_rate
# no update yet
assert saved["optimizer"]["step_num"] == 1 and not saved["optimizer"]["optim"]["state"]
assert all(torch.equal(fresh.state_dict()[k], v) for k, v in saved["model"].items())
changed = {k for k in saved["model"]
           if not torch.equal(saved["model"][k], plain.state_dict()[k])}

assert changed == {f"{n}.{p}" for n in actnorms for p in ("logs", "bias")}
# The saved logs/bias are the ones the layers computed from the batch inside run_ddi:
for layer, name in zip(ddi_layers, actnorms):
    assert torch.equal(saved["model"][f"{name}.logs"], layer.logs.detach())
    assert torch.equal(saved["model"][f"{name}.bias"], layer.bias.detach())
# loaded = normal mode
assert all(fresh.get_submodule(n).initialized for n in actnorms)

# %% [markdown]
# ## After the first batch: an ordinary layer
#
# DDI happens once. The flag flips to `initialized = True` during the first forward, and
# from then on ActNorm is the plain affine map with learnable $s, b$, which training
# updates by gradient descent like any other parameter. A second batch, with different
# statistics, leaves the values untouched (and the layer's output is then *not* exactly
# standardised any more).

# %%
torch.manual_seed(0)
model = build_model(hps, FlowGenerator_DDI)
batches = iter(loader)
first, second = next(batches), next(batches)
with torch.no_grad():
    model(*first)
after_first = {n: model.get_submodule(n).logs.clone() for n in actnorms}
with torch.no_grad():
    model(*second)
after_second = {n: model.get_submodule(n).logs.clone() for n in actnorms}

# %%
assert all(model.get_submodule(n).initialized for n in actnorms)
# set by the first batch
assert all(after_first[n].abs().sum() > 0 for n in actnorms)
# not reset by the second
assert all(torch.equal(after_first[n], after_second[n]) for n in actnorms)
# ordinary parameters now
assert all(model.get_submodule(n).logs.requires_grad for n in actnorms)
