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
# `utils.py` (`load_checkpoint`, `plot_spectrogram_to_numpy`, `latest_checkpoint_path`,
# `get_hparams`, `check_git_hash`, the module-level `logging.basicConfig`),
# `data_utils.py` (`TextMelLoader.get_mel`), `train.py` (`train_and_eval`'s
# `try: ... except:` around the resume, the validation loader), `commons.py` (`Adam`'s
# learning rate, the `torch.jit.script` gate, `maximum_path`'s `np.bool`, `TacotronSTFT`'s
# mel filter bank), `stft.py`, `text/__init__.py` (`_should_keep_symbol`) and
# `monotonic_align/setup.py`.
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
import pickle
import subprocess
import sys
import tempfile
import warnings

import librosa
import numpy as np
import soundfile as sf
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from torch.overrides import TorchFunctionMode

from glow_tts import commons, modules, utils
from glow_tts.audio import load_wav
from glow_tts.checkpoint import (CheckpointError, latest_checkpoint_path,
                                 load_checkpoint_dict, load_newest_checkpoint,
                                 save_checkpoint)
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import ConfigError, get_hparams, get_hparams_from_file
from glow_tts.models import (FlowGenerator, convert_original_state_dict,
                             to_original_state_dict)
from glow_tts.text import (UnknownSymbolError, clean_text, cleaned_to_sequence,
                           text_to_sequence)
from glow_tts.train import train_and_eval

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
# ## `torch.load` loads weights only
#
# Since PyTorch 2.6, `torch.load` unpickles with `weights_only=True` by default: tensors,
# plain containers and numbers, and no other global a file names. The original loaded
# its checkpoints with a bare `torch.load(checkpoint_path, map_location='cpu')`
# (`utils.py:19`), and its checkpoints hold one thing the safe unpickler refuses. Its
# Noam schedule computes the learning rate with `np.power` and `np.min`
# (`commons.py:128` and `:134`), so the rate is a NumPy `float64`; the wrapped
# `torch.optim.Adam` keeps it in `param_groups`, and `save_checkpoint` pickles
# `optimizer.state_dict()` with it (`utils.py:55-58`). We rebuild such a file from the same
# arithmetic at step 1 (`dim_model` 192, `warmup_steps` 4000, `lr` 1.0):

# %%
noam_scale = np.power(192, -0.5) * np.min([np.power(1, -0.5), 1 * np.power(4000, -1.5)])
old_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))],
                                 lr=1.0 * noam_scale)
print(type(old_optimizer.state_dict()["param_groups"][0]["lr"]))
old_path = os.path.join(workdir, "G_1_original.pth")
torch.save({"model": {}, "iteration": 1, "optimizer": old_optimizer.state_dict(),
            "learning_rate": 1.0}, old_path)
try:
    torch.load(old_path, map_location="cpu")          # the original's call
    weights_only_error = None
except pickle.UnpicklingError as error:
    weights_only_error = str(error)
print([line for line in weights_only_error.splitlines() if "Unsupported global" in line])

# %%
assert type(old_optimizer.state_dict()["param_groups"][0]["lr"]) is np.float64
assert weights_only_error is not None and "Weights only load failed" in weights_only_error
assert "Unsupported global: GLOBAL numpy" in weights_only_error   # what it refused

# %% [markdown]
# `glow_tts.checkpoint.load_checkpoint_dict` keeps `weights_only=True` and, when the
# refusal names a NumPy global, allows exactly the two helpers that rebuild a NumPy scalar
# from a dtype and raw bytes, then turns the scalars into Python numbers. An original
# checkpoint loads; nothing else gets through.

# %%
loaded_original = load_checkpoint_dict(old_path)
resumed_lr = loaded_original["optimizer"]["param_groups"][0]["lr"]
assert type(resumed_lr) is float and resumed_lr == float(noam_scale)

# %% [markdown]
# ## librosa 0.10: keyword-only arguments
#
# librosa 0.10 made most arguments keyword-only. The original passes them by position in
# three places: the mel filter bank, `librosa_mel_fn(sampling_rate, filter_length,
# n_mel_channels, mel_fmin, mel_fmax)` (`commons.py:170`); the window padding,
# `pad_center(fft_window, filter_length)` (`stft.py:68`, and `audio_processing.py:50`);
# and the CPU STFT, `stft(y, filter_length, hop_length, win_length, window)`
# (`stft.py:107`). With today's librosa each of them is a `TypeError`, so the original
# cannot even build its mel module. Ours computes the STFT and the filter bank in torch
# (walkthrough 03).

# %%
old_librosa_calls = {
    "filters.mel": lambda: librosa.filters.mel(22050, 1024, 80, 0.0, 8000.0),
    "util.pad_center": lambda: librosa.util.pad_center(np.hanning(1024), 1024),
    "stft": lambda: librosa.stft(np.zeros(4096, np.float32), 1024, 256, 1024, "hann"),
}
librosa_errors = {}
for name, call in old_librosa_calls.items():
    try:
        call()
    except TypeError as error:
        librosa_errors[name] = str(error)
print(librosa.__version__, *librosa_errors.values(), sep="\n")

# %%
assert librosa_errors.keys() == old_librosa_calls.keys()
assert all("positional argument" in m for m in librosa_errors.values())
# the same calls with keywords still work: only the calling convention changed
mel_basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmax=8000.0)
assert mel_basis.shape == (80, 513)

# %% [markdown]
# ## Deprecated, still running: `torch.jit.script` and `logging.warn`
#
# The original compiles its gated activation with the `@torch.jit.script` decorator
# (`commons.py:32`); PyTorch now deprecates TorchScript in favour of `torch.compile` and
# `torch.export`. Its `check_git_hash` warns through
# `logger.warn(...)` (`utils.py:197` and `:208`), where `logger` is the `logging` module
# itself (`utils.py:15`): `logging.warn` is a deprecated alias of `logging.warning`. Both
# still work, and both issue a `DeprecationWarning` (which Python shows by default only
# for code run as `__main__`; the filter below records every one). (The root logger gets a temporary
# handler so that `logging.warn` does not configure logging for this kernel.)

# %%
def gated(a, b):  # the shape of a WaveNet gate: tanh(a) * sigmoid(b)
    return torch.tanh(a) * torch.sigmoid(b)


records = []
catcher = logging.Handler()
catcher.emit = records.append
logging.getLogger().addHandler(catcher)
try:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted = torch.jit.script(gated)
        logging.warn("not a git repository")
finally:
    logging.getLogger().removeHandler(catcher)
deprecations = [str(w.message) for w in caught if w.category is DeprecationWarning]
print(*deprecations, sep="\n")

# %%
assert any("torch.jit.script" in m and "deprecated" in m for m in deprecations)
assert any("'warn' function is deprecated" in m for m in deprecations)
a, b = torch.randn(2, 3), torch.randn(2, 3)
assert torch.allclose(scripted(a, b), gated(a, b))       # it still compiles and runs
assert [r.levelno for r in records] == [logging.WARNING]  # and the record still goes out

# %% [markdown]
# Ours calls neither: the gate, `modules.gated_activation`, is a plain Python function,
# and the package logs with `warning`. No function of `commons` or `modules` is a
# TorchScript object:

# %%
script_types = (torch.jit.ScriptFunction, torch.jit.ScriptModule)
assert not any(isinstance(v, script_types) for v in vars(commons).values())
assert not any(isinstance(v, script_types) for v in vars(modules).values())
assert modules.gated_activation(torch.cat([a, b], 1), 3).shape == (2, 3)

# %% [markdown]
# ## NumPy: `np.bool` and `np.fromstring`
#
# `commons.maximum_path` converts its mask with `.astype(np.bool)` (`commons.py:70`). NumPy
# 1.20 deprecated that alias of Python's `bool`, and 1.24 to 1.26 raised
# `AttributeError` on it; NumPy 2.0 brought the name back as NumPy's own boolean scalar
# type, so on today's NumPy (2.x here) the line runs again, with the same result. (The
# function is dead code in the original: the model calls `monotonic_align.maximum_path`.)
#
# `plot_spectrogram_to_numpy` and `plot_alignment_to_numpy` read the figure with
# `np.fromstring(..., dtype=np.uint8, sep='')` (`utils.py:98` and `:127`). An empty `sep`
# is `fromstring`'s binary mode, deprecated since NumPy 1.14 in favour of `frombuffer` and
# removed in the NumPy installed here: the line would fail even with a matplotlib that
# still had `tostring_rgb` (gone, above).

# %%
print(np.__version__)
mask = np.array([[0.0, 1.0], [1.0, 0.0]])
assert np.bool is np.bool_ and mask.astype(np.bool).dtype == np.dtype(bool)
try:
    np.fromstring(b"\x00\x7f", dtype=np.uint8, sep="")
    fromstring_error = None
except ValueError as error:
    fromstring_error = str(error)
print(fromstring_error)
assert fromstring_error is not None
assert "binary mode of fromstring is removed" in fromstring_error
assert np.frombuffer(b"\x00\x7f", dtype=np.uint8).tolist() == [0, 127]

# %% [markdown]
# ## `s is not '_'`: a `SyntaxWarning`
#
# `_should_keep_symbol` (`text/__init__.py:98`) tests `s is not '_' and s is not '~'`:
# object identity, where equality was meant. Since Python 3.8 the compiler warns about
# `is` with a literal. Whether a `'_'` made at run time is the very object of the literal
# is up to the interpreter, which promises nothing (the cell prints what this one does
# for a `'_'` made by `chr(95)`, equal to the literal).

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    keep_rule = compile("s is not '_'", "text/__init__.py", "eval")
print(caught[0].message)
print("chr(95) == '_':", chr(95) == "_",
      "| chr(95) is not '_':", eval(keep_rule, {"s": chr(95)}))
assert [w.category for w in caught] == [SyntaxWarning]

# %% [markdown]
# Ours compares by value: the pad `'_'` is left out of the symbol table with `!=`, so a
# `'_'` that reaches the symbol lookup is reported as an unknown character instead of
# becoming padding. (The Korean cleaners already turn a typed `_` into a space; the
# lookup is called here on cleaned text directly.)

# %%
try:
    cleaned_to_sequence(clean_text("가나", ["korean_cleaners"]) + "_")
    underscore_error = None
except UnknownSymbolError as error:
    underscore_error = error
assert underscore_error is not None and underscore_error.char == "_"

# %% [markdown]
# ## `distutils`: prose only
#
# The original builds its Cython alignment search with `from distutils.core import setup`
# (`monotonic_align/setup.py:1`). Python 3.12 removed `distutils` from the standard library
# (PEP 632), so that script fails there with `ModuleNotFoundError` unless setuptools is
# installed to stand in for it. This page cannot show either outcome: it runs on Python
# 3.11, where the module still exists, and with setuptools installed even the import is
# answered by setuptools' own copy (`setuptools/_distutils`), not by the standard library.
# Ours has no build script of its own: numba compiles the search in
# `glow_tts.monotonic_align` when it is first called (walkthrough 07), and the package is
# built by setuptools from `pyproject.toml`.

# %% [markdown]
# ## Our own changes: the short-utterance filter
#
# The alignment search needs at least as many mel frames as text tokens: every token gets
# one frame or more. The original's loader checks nothing, so an utterance shorter than its
# text reaches the search, which then returns a path that is no valid alignment, without a
# word (walkthrough 07). Ours counts tokens
# and frames when the filelist is loaded, drops every utterance that cannot be aligned and
# says so once, naming the first one by line and path. It counts the frames the model will
# keep: the flow's squeeze cuts each mel to a multiple of `n_sqz` first
# (`glow_tts.data_utils.trimmed_frames`), so with `n_sqz = 2` an utterance with as many
# frames as tokens, an odd number of each, loses its last frame and no longer fits.
#
# A corpus of two sine tones: one second with a short sentence, and one whose sample
# count gives exactly as many frames as its sentence has tokens, an odd number.

# %%
data_hps = get_hparams_from_file("../configs/base.json").data
data_hps.add_noise = False
corpus_dir = os.path.join(workdir, "corpus")
os.makedirs(corpus_dir)


def write_tone(name, n_samples, freq):
    t = np.arange(n_samples) / data_hps.sampling_rate
    sf.write(os.path.join(corpus_dir, name), (0.3 * np.sin(2 * np.pi * freq * t)),
             data_hps.sampling_rate, subtype="PCM_16")


tight_text = "바람이 불고 비가 내렸다. 오늘은 날씨가 참 좋네요."
n_tokens = len(text_to_sequence(tight_text, data_hps.text_cleaners))
if n_tokens % 2 == 0:                         # make it odd, so trimming to even loses one
    tight_text += "!"
    n_tokens += 1
write_tone("long.wav", data_hps.sampling_rate, 220.0)                  # 1 s
# frames = 1 + samples // hop_length = n_tokens
write_tone("tight.wav", (n_tokens - 1) * data_hps.hop_length, 330.0)
short_list = os.path.join(corpus_dir, "short.txt")
with open(short_list, "w", encoding="utf-8") as f:
    f.write(f"long.wav|안녕하세요.\ntight.wav|{tight_text}\n")

# %%
untrimmed = TextMelLoader(short_list, data_hps, n_sqz=1)
tight = [p for p, _ in untrimmed.audiopaths_and_text].index(
    os.path.join(corpus_dir, "tight.wav"))
print("tokens", untrimmed.text_lengths[tight], "frames", untrimmed.mel_lengths[tight])
assert untrimmed.mel_lengths[tight] == untrimmed.text_lengths[tight] == n_tokens
assert len(untrimmed) == 2                    # n_sqz = 1 trims nothing: it fits, just

data_log = logging.getLogger("glow_tts.data")
records = []
catcher = logging.Handler(logging.WARNING)
catcher.emit = records.append
data_log.addHandler(catcher)
try:
    trimmed = TextMelLoader(short_list, data_hps, n_sqz=2)
finally:
    data_log.removeHandler(catcher)
print(records[0].getMessage())

# %%
assert len(trimmed) == 1 and trimmed.audiopaths_and_text[0][0].endswith("long.wav")
assert len(records) == 1
assert "dropped 1 of 2" in records[0].getMessage()
assert "line 2" in records[0].getMessage() and "tight.wav" in records[0].getMessage()

# %% [markdown]
# ## Our own changes: validation keeps its last batch
#
# The original builds its validation loader with `drop_last=True` (`train.py:62-64`), as
# for training. Any remainder of the validation set is never evaluated, and a set smaller
# than one batch gives no batch at all: `evaluate` then averages over an empty list and
# logs a total loss of 0 (`train.py:179-180`). Ours keeps `drop_last=True` for training,
# as the original does; validation runs on rank 0 only and gains nothing from skipping
# utterances, so there ours keeps the last batch (`drop_last=False`).
#
# With the original's settings, the one-utterance loader above and a batch of 2 give
# nothing to evaluate:

# %%
original_val_loader = torch.utils.data.DataLoader(
    trimmed, batch_size=2, shuffle=False, drop_last=True, collate_fn=TextMelCollate(1))
assert len(original_val_loader) == 0 and list(original_val_loader) == []

# %% [markdown]
# Ours, observed in a real run: one training step of a micro model (two training
# utterances, batch 2) and the one-utterance validation set. As in walkthrough 12, a
# wrapper around `FlowGenerator.forward` records each call: whether it generates, the
# module's train/eval mode and the batch size.

# %%
with open(os.path.join(corpus_dir, "train.txt"), "w", encoding="utf-8") as f:
    f.write("long.wav|안녕하세요.\nlong.wav|오늘은 날씨가 좋네요.\n")
run_hps = get_hparams_from_file("../configs/tiny.json")
run_hps.data.training_files = os.path.join(corpus_dir, "train.txt")
run_hps.data.validation_files = short_list   # its tight.wav is dropped: one utterance
for key, value in {"hidden_channels": 16, "hidden_channels_enc": 16,
                   "hidden_channels_dec": 16, "filter_channels": 32,
                   "filter_channels_dp": 16, "n_layers_enc": 1, "n_blocks_dec": 2,
                   "n_block_layers": 2}.items():
    run_hps.model[key] = value
for key, value in {"batch_size": 2, "max_steps": 1, "ddi": False, "use_cuda": False,
                   "checkpoint_interval": 1000, "num_workers": 0}.items():
    run_hps.train[key] = value
run_hps.model_dir = os.path.join(workdir, "val_run")
os.makedirs(run_hps.model_dir)

forward_calls = []
real_forward = FlowGenerator.forward


def watched_forward(self, x, x_lengths, *args, gen=False, **kwargs):
    forward_calls.append({"gen": gen, "training": self.training, "batch": x.shape[0]})
    return real_forward(self, x, x_lengths, *args, gen=gen, **kwargs)


FlowGenerator.forward = watched_forward
try:
    run_result = train_and_eval(0, 1, run_hps)
finally:
    FlowGenerator.forward = real_forward
print(forward_calls)

# %%
eval_calls = [c for c in forward_calls if not c["gen"] and not c["training"]]
assert run_result["global_step"] == 1
# the one utterance, evaluated in a batch of its own
assert [c["batch"] for c in eval_calls] == [1]

# %% [markdown]
# ## Importing the package configures no logging
#
# The original's `utils.py` calls
# `logging.basicConfig(stream=sys.stdout, level=logging.DEBUG)` when imported
# (`utils.py:14`), so every library's debug records reach the console. matplotlib is not
# the noise: the original sets the `matplotlib` logger to `WARNING` before each plot
# (`utils.py:84-85` and `:110-111`). numba is: librosa's mel filter bank and STFT are
# compiled by numba, whose compiler logs at `DEBUG`. Measured here (numba 0.68, librosa
# 0.11) for one `librosa.filters.mel` and one `librosa.stft` under that configuration:
# 34,504 records, all from `numba`, with an empty numba cache, and 313 once numba's
# on-disk cache holds the compiled functions. (Not run on this page: the cold run takes a
# minute.) A fresh interpreter shows the root logger untouched after importing ours:

# %%
probe = ("import logging, glow_tts.utils, glow_tts.train, glow_tts.models; "
         "root = logging.getLogger(); print(root.level, len(root.handlers))")
level, handlers = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                                 text=True, check=True).stdout.split()

assert (int(level), int(handlers)) == (logging.WARNING, 0)
