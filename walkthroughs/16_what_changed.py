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
# # What changed since 2020, checked
#
# *Reviews:* the original's `modules.py` (`InvConvNear.__init__`, `WN.__init__`),
# `utils.py` (`plot_spectrogram_to_numpy`, `latest_checkpoint_path`, `get_hparams`, the
# module-level `logging.basicConfig`), `data_utils.py` (`TextMelLoader.get_mel`) and
# `train.py` (`train_and_eval`'s `try: ... except:` around the resume).
#
# The chapter "What changed since 2020" lists the original's dated APIs and its small
# bugs. Most are shown where they belong (the port in the process-group walkthrough, the
# optimizer's step count in the Noam walkthrough, the gen sample in the training-loop
# walkthrough). This page collects the rest, each with the old behaviour reproduced
# against today's libraries and the new behaviour asserted against `glow_tts`.
#
# covers: T05, T06, T33

# %%
import logging
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import soundfile as sf
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from torch.overrides import TorchFunctionMode

from glow_tts import modules, utils
from glow_tts.audio import load_wav
from glow_tts.checkpoint import (CheckpointError, latest_checkpoint_path,
                                 load_newest_checkpoint, save_checkpoint)
from glow_tts.hparams import ConfigError, get_hparams
from glow_tts.models import (FlowGenerator, convert_original_state_dict,
                             to_original_state_dict)

workdir = tempfile.mkdtemp(prefix="glow_tts_16_")

# %% [markdown]
# ## `torch.qr` → `torch.linalg.qr`
#
# `InvConvNear` starts from a random rotation: the $Q$ of a QR decomposition of a Gaussian
# matrix, with one column flipped if needed so that $\det Q = +1$. The original called
# `torch.qr`, which PyTorch now keeps only as a deprecated alias. Its warning comes from
# C++ (`TORCH_WARN_ONCE` in ATen's `BatchLinearAlgebra.cpp`), so it is given **once per
# process**, whatever Python's warning filters say: even with `simplefilter("always")`,
# three calls give one warning, then none. A fresh interpreter shows it (in this kernel an
# earlier call may already have used the warning up):

# %%
QR_PROBE = r"""
import warnings, torch
counts = []
for _ in range(3):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.qr(torch.randn(4, 4))
    counts.append(len(caught))
    if caught:
        first = caught[0]
print(counts)
print(first.category.__name__, str(first.message).splitlines()[0])
print(str(first.message).splitlines()[-1].split("(Triggered internally at ")[-1])
"""
qr_counts, qr_warning, qr_origin = subprocess.run(
    [sys.executable, "-c", QR_PROBE], capture_output=True, text=True, check=True
).stdout.splitlines()
print(qr_counts, qr_warning, qr_origin, sep="\n")

# %%
assert qr_counts == "[1, 0, 0]"                      # warned on the first call only
assert qr_warning.startswith(
    "UserWarning torch.qr is deprecated in favor of torch.linalg.qr")
assert "BatchLinearAlgebra.cpp" in qr_origin         # raised by ATen, in C++

# %% [markdown]
# Which QR does ours call? Not a question for its source text: a `TorchFunctionMode`
# sees every torch function called while it is active, so we record the calls made while
# an `InvConvNear` is built.

# %%
class RecordTorchCalls(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.funcs = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.funcs.append(func)
        return func(*args, **(kwargs or {}))


with RecordTorchCalls() as recorder:
    layer = modules.InvConvNear(channels=8, n_split=4)
w = layer.weight.detach()                                  # [n_split, n_split]
print(sorted({getattr(f, "__name__", str(f)) for f in recorder.funcs
              if getattr(f, "__module__", "") and "torch" in f.__module__}))

# %%
assert torch.linalg.qr in recorder.funcs and torch.qr not in recorder.funcs
assert torch.allclose(w @ w.T, torch.eye(4), atol=1e-6)    # orthogonal
assert torch.linalg.det(w) > 0                              # a rotation

# %% [markdown]
# ## `nn.utils.weight_norm` → `parametrizations.weight_norm`
#
# The coupling layers' WaveNet-like stack normalises its convolution weights:
# $w = g \, v / \lVert v \rVert$. The old hook stored $g$ and $v$ as `weight_g` and
# `weight_v`; it now warns that it is deprecated. The parametrization stores the same two
# tensors as `parametrizations.weight.original0` ($g$) and `original1` ($v$), so an
# original checkpoint maps over by renaming keys alone.

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    old_style = torch.nn.utils.weight_norm(torch.nn.Conv1d(4, 4, 3))
assert any(issubclass(w.category, FutureWarning) for w in caught)
assert {"weight_g", "weight_v"} <= {n for n, _ in old_style.named_parameters()}

torch.manual_seed(0)
tiny = FlowGenerator(10, hidden_channels=16, filter_channels=32, filter_channels_dp=16,
                     out_channels=8, n_blocks_dec=2, n_layers_enc=1, n_block_layers=2,
                     n_sqz=2, window_size=4, mean_only=True)
ours = tiny.state_dict()
as_original = to_original_state_dict(ours)
print([k for k in as_original if k.endswith(("weight_g", "weight_v"))][:2])
assert any(k.endswith("parametrizations.weight.original0") for k in ours)
assert not any("parametrizations" in k for k in as_original)
back = convert_original_state_dict(as_original)
assert back.keys() == ours.keys() and all(torch.equal(back[k], ours[k]) for k in ours)

# %% [markdown]
# ## matplotlib's `tostring_rgb`
#
# The original turned its TensorBoard figures into arrays with `fig.canvas.tostring_rgb()`,
# which matplotlib 3.10 removed: on today's matplotlib the first logged sample would stop
# training. `buffer_rgba()` is the supported call.

# %%
assert not hasattr(FigureCanvasAgg, "tostring_rgb")
spectrogram = np.random.default_rng(0).standard_normal((80, 50))
image = utils.plot_spectrogram_to_numpy(spectrogram)
assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8   # [H, W, RGB]

# %% [markdown]
# ## The sample-rate check that raised the wrong error
#
# `TextMelLoader.get_mel` compared the file's rate with the config's and meant to raise
# `ValueError("{} {} SR doesn't match target {} SR")`. The message has three `{}` and the
# call passes two values, so Python raised `IndexError` from inside `str.format` instead,
# with no word about the file. The same message shape shows it:

# %%
try:
    "{} {} SR doesn't match target {} SR".format(44100, 22050)
    format_error = None
except IndexError as error:
    format_error = error
assert isinstance(format_error, IndexError)

# %% [markdown]
# Here a file at another rate is simply resampled (KSS ships 44.1 kHz audio), with a log
# line naming the file.

# %%
path_44k = os.path.join(workdir, "tone_44k.wav")
seconds = 0.5
t = np.arange(int(44100 * seconds)) / 44100
tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
sf.write(path_44k, tone, 44100, subtype="PCM_16")
wav = load_wav(path_44k, 22050)                  # [T] float32 in [-1, 1]
assert wav.dtype == torch.float32 and abs(wav.numel() - 22050 * seconds) <= 1

# %% [markdown]
# ## `latest_checkpoint_path`: sorting by every digit in the path
#
# The original sorted checkpoint paths by the number formed by *all* the digits in the
# path. In one folder with plain `G_<step>.pth` names that happens to work, since the
# folder's digits are a common prefix. Any other digit in a matching name breaks it: a
# copy kept as `G_1000_v2.pth` reads as 10002 and beats `G_2000.pth` (2000). Here the step
# is read from the file name's first number.

# %%
ckpt_dir = os.path.join(workdir, "run2")
os.makedirs(ckpt_dir)
for name in ("G_1000_v2.pth", "G_2000.pth", "G_500.pth"):
    open(os.path.join(ckpt_dir, name), "wb").close()
names = os.listdir(ckpt_dir)


def every_digit(name):  # the original's sort key, applied to the whole path
    return int("".join(c for c in os.path.join(ckpt_dir, name) if c.isdigit()))


digits_of_whole_path = max(names, key=every_digit)
print("every digit of the path:", digits_of_whole_path,
      "| step in the name:", os.path.basename(latest_checkpoint_path(ckpt_dir)))
assert digits_of_whole_path == "G_1000_v2.pth"
assert os.path.basename(latest_checkpoint_path(ckpt_dir)) == "G_2000.pth"
# no checkpoint: None, not IndexError
assert latest_checkpoint_path(os.path.join(workdir)) is None

# %% [markdown]
# ## A broken checkpoint no longer means "start from scratch"
#
# The original wrapped the whole resume in a bare `except:`: a truncated newest
# checkpoint (a full disk, a job killed while saving) made it start training from step 0
# without a word. Here the broken file is reported and the previous one is used; if none
# loads, training stops with the list of errors.

# %%
run_dir = os.path.join(workdir, "resume")
os.makedirs(run_dir)
optimizer = torch.optim.Adam(tiny.parameters())
save_checkpoint(tiny, optimizer, 1.0, 1, os.path.join(run_dir, "G_100.pth"))
save_checkpoint(tiny, optimizer, 1.0, 2, os.path.join(run_dir, "G_200.pth"))
with open(os.path.join(run_dir, "G_200.pth"), "r+b") as f:
    f.truncate(200)                                       # the newest file is damaged

log = logging.getLogger("walkthrough16")
path, loaded = load_newest_checkpoint(run_dir, log)
assert os.path.basename(path) == "G_100.pth" and loaded["iteration"] == 1

os.remove(os.path.join(run_dir, "G_100.pth"))
try:
    load_newest_checkpoint(run_dir, log)
    resume_error = None
except CheckpointError as error:
    resume_error = str(error)
assert resume_error is not None and "G_200.pth" in resume_error

# %% [markdown]
# ## `get_hparams` no longer overwrites the run's config
#
# The original copied the `-c` file into `model_dir/config.json` on every launch. Restart
# a run with an edited config by mistake and the record of what the checkpoints were
# trained with is gone. Here the copy is written once; a different config is refused with
# the list of differences (pass `--force` to mean it).

# %%
base = os.path.abspath("../configs/base.json")
model_dir = os.path.join(workdir, "logs_run")
hps = get_hparams(args=["-c", base, "-m", model_dir])
assert os.path.isfile(os.path.join(model_dir, "config.json"))
# same: fine
assert get_hparams(args=["-c", base, "-m", model_dir]).train.seed == hps.train.seed

edited = os.path.join(workdir, "edited.json")
with open(base) as f_in, open(edited, "w") as f_out:
    f_out.write(f_in.read().replace('"seed": 1234', '"seed": 4321'))
try:
    get_hparams(args=["-c", edited, "-m", model_dir])
    config_error = None
except ConfigError as error:
    config_error = str(error)
print(config_error.splitlines()[1])
assert "train.seed: 1234 -> 4321" in config_error
assert get_hparams(args=["-c", edited, "-m", model_dir, "--force"]).train.seed == 4321

# %% [markdown]
# ## Importing the package configures no logging
#
# The original's `utils.py` called
# `logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)` when imported, so every
# library's debug output (matplotlib's font search, numba's compiler…) flooded the
# console. A fresh interpreter shows the root logger untouched after importing ours:

# %%
probe = ("import logging, glow_tts.utils, glow_tts.train, glow_tts.models; "
         "root = logging.getLogger(); print(root.level, len(root.handlers))")
level, handlers = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                 text=True, check=True).stdout.split()

assert (int(level), int(handlers)) == (logging.WARNING, 0)
