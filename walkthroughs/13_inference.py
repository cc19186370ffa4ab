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
# # Inference: text → durations → mel → waveform
#
# *Reviews:* the original `inference.ipynb` (build `FlowGenerator`, `load_checkpoint`,
# `model.decoder.store_inverse()`, `model.eval()`, then
# `model(x_tst, x_tst_lengths, gen=True, noise_scale=.667, length_scale=1.0)` and a
# WaveGlow vocoder) and the generation branch of `models.py`, `FlowGenerator.forward`
# (`gen=True`). Ours: `glow_tts/inference.py` (`build_model`, `text_to_ids`,
# `synthesize`, `mel_to_wav`), `FlowGenerator.infer` and `glow_tts.audio.griffin_lim`.
#
# You will learn:
#
# * how the model turns token ids into a mel without any audio: predicted durations,
#   the prior repeated along them, a sample, and the flow run backwards;
# * what `noise_scale` does (0 is deterministic; more is more varied) and what
#   `length_scale` does (2 is twice the frames), with the exact duration formula;
# * how a mel becomes a waveform here (Griffin-Lim, since no neural vocoder ships), its
#   length in samples, and how to listen to it in a notebook;
# * what `store_inverse` prepares, and why it comes after loading.
#
# covers: T37

# %%
import io
import os
import tempfile
import wave

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Audio, display

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts import modules
from glow_tts.audio import MelSpectrogram, griffin_lim
from glow_tts.checkpoint import checkpoint_paths, load_checkpoint
from glow_tts.corpus import build_corpus
from glow_tts.hparams import get_hparams_from_file
from glow_tts.inference import WAV_PEAK, mel_to_wav, synthesize, text_to_ids
from glow_tts.init import run_ddi
from glow_tts.models import build_model
from glow_tts.text import sequence_to_text
from glow_tts.train import train_and_eval

torch.set_num_threads(1)
QUICK = os.environ.get("GLOW_TTS_QUICK") == "1"

# %% [markdown]
# ## A model trained for a moment
#
# Inference needs a checkpoint. A micro version of `configs/tiny.json`, initialised with
# DDI (walkthrough 08) and trained for a few dozen steps on forty sentences of the
# embedded corpus, will not speak intelligibly; but its duration predictor has already
# learned how long a token lasts on average, which is all this chapter needs.
# (Walkthrough 15 trains a model that does speak.)

# %%
work = tempfile.mkdtemp(prefix="glow_tts_13_")
corpus = build_corpus(os.path.join(work, "corpus"), limit=40, progress=False)
hps = get_hparams_from_file("../configs/tiny.json")
hps.data.training_files = corpus.filelists["train"]
hps.data.validation_files = corpus.filelists["val"]
micro = {"hidden_channels": 32, "hidden_channels_enc": 32, "hidden_channels_dec": 32,
         "filter_channels": 64, "filter_channels_dp": 32, "n_layers_enc": 1,
         "n_blocks_dec": 2, "n_block_layers": 2}
for key, value in micro.items():
    hps.model[key] = value
hps.train.batch_size = 4
hps.train.warmup_steps = 10
hps.train.max_steps = 20 if QUICK else 80
hps.train.log_interval = 1000
hps.train.use_cuda = False
hps.model_dir = os.path.join(work, "run")
os.makedirs(hps.model_dir)
run_ddi(hps)
last_losses = {}


def keep_last(step, losses, _indices):   # train_and_eval's on_step callback
    last_losses.update(mle=losses[0], duration=losses[1])


trained = train_and_eval(0, 1, hps, on_step=keep_last)
checkpoint = checkpoint_paths(hps.model_dir)[0]
print(checkpoint, "| last losses:", {k: round(v, 3) for k, v in last_losses.items()})

# %% [markdown]
# ## Loading, as the notebook does
#
# The original notebook builds a `FlowGenerator` from the run's config, loads the newest
# checkpoint into it, calls `model.decoder.store_inverse()` and `model.eval()`. Ours is
# the same four steps (`glow_tts.inference.load_model` does them for a run folder).
#
# `store_inverse` prepares the decoder for running backwards, again and again:
#
# * every invertible 1×1 convolution computes $W^{-1}$ once and keeps it (`weight_inv`),
#   instead of inverting $W$ on every call;
# * the weight normalisation of the coupling layers' WN stacks ($w = g\, v / \lVert v \rVert$,
#   recomputed on every forward while training) is folded into plain weights (as in the
#   original, each coupling's small input convolution `start` keeps its own).
#
# It changes the state-dict keys of the coupling layers, so a model saves its
# checkpoints *before* it is prepared for inference, not after. And it must come after
# loading: the cached inverse belongs to the weights it was computed from.

# %%
model = build_model(hps)
load_checkpoint(checkpoint, model)
keys_before = set(model.state_dict())
model.eval()
model.store_inverse()
keys_after = set(model.state_dict())
inv_convs = [m for m in model.modules() if isinstance(m, modules.InvConvNear)]
print(len(inv_convs), "1×1 convolutions;", len(keys_before - keys_after),
      "weight-norm keys folded away")

# %%
assert not model.training and inv_convs
assert all(torch.allclose(m.weight_inv @ m.weight, torch.eye(len(m.weight)), atol=1e-5)
           for m in inv_convs)

assert any("parametrizations.weight.original0" in k for k in keys_before - keys_after)
# the WN stacks are plain now
assert not any(".wn." in k and "parametrizations" in k for k in keys_after)

# %% [markdown]
# ## Text to ids
#
# `text_to_ids` is the data loader's text pipeline (walkthrough 02): Korean cleaners,
# jamo, symbol ids (and blanks, if the config adds them). The batch is one sentence:
# `x` `[1, T_x]`, `x_lengths` `[1]`.

# %%
text = "오늘은 날씨가 맑습니다."
ids = text_to_ids(text, hps)
x, x_lengths = ids.unsqueeze(0), torch.LongTensor([ids.numel()])   # [1, T_x], [1]
print(x.shape, sequence_to_text(ids.tolist()))
assert x.dtype == torch.int64 and x_lengths.item() == x.shape[1]

# %% [markdown]
# ## How the mel is generated
#
# `forward(x, x_lengths, gen=True, noise_scale, length_scale)`:
#
# 1. The encoder gives, per token $i$, a prior mean $\mu_i$ and log-std $\log\sigma_i$
#    (`x_m`, `x_logs` `[1, 80, T_x]`) and a predicted log-duration $\log w_i$ (`logw`
#    `[1, 1, T_x]`).
# 2. Durations in frames, rounded **up**:
#    $d_i = \lceil e^{\log w_i} \cdot m_i \cdot \text{length\_scale} \rceil$, with the
#    text mask $m_i$ (0 on padding), and $T_y = \sum_i d_i$.
# 3. `commons.generate_path` turns the durations into a hard monotonic alignment
#    `[1, T_x, T_y]`: token $i$ owns the next $d_i$ frames. Multiplying by it repeats each
#    token's $\mu_i, \sigma_i$ over its frames: `z_m`, `z_logs` `[1, 80, T_y]`.
# 4. A sample: $z = \mu + \sigma \cdot \varepsilon \cdot \text{noise\_scale}$, with
#    $\varepsilon \sim \mathcal N(0, I)$.
# 5. The flow decoder runs **backwards** (`reverse=True`): $y = f^{-1}(z)$, a log-mel
#    `[1, 80, T_y]`.
#
# `FlowGenerator.infer` is that branch with named outputs (`mel`, `mel_lengths`, `attn`,
# `durations`), and `synthesize` wraps it for one sentence with a fixed noise seed.
# The squeeze of the flow needs an even number of frames: $T_y$ is rounded down to a
# multiple of `n_sqz` (the last token loses a frame when the sum is odd).

# %%
with torch.no_grad():
    _, (x_m, x_logs, x_mask), (_, logw, _) = model(x, x_lengths, gen=True,
                                                   noise_scale=0.0)
result = model.infer(x, x_lengths, noise_scale=0.667, length_scale=1.0)
# [1, T_x] frames per token
expected = torch.ceil(torch.exp(logw) * x_mask * 1.0).squeeze(1)
print("durations:", result.durations[0].tolist(), "| T_y =", int(result.mel_lengths[0]))

# %%
n_sqz = hps.model.n_sqz
assert result.mel.shape == (1, 80, int(result.mel_lengths[0]))
assert result.attn.shape[1] == x.shape[1]
assert int(result.mel_lengths[0]) == int(expected.sum()) // n_sqz * n_sqz
# all but the trimmed end
assert torch.equal(result.durations[0, :-1], expected[0, :-1].long())
# every frame: exactly one token
assert torch.equal(result.attn.sum(1), torch.ones_like(result.attn.sum(1)))
# monotonic: never goes back
assert torch.all(result.attn[0].argmax(0).diff() >= 0)

# %% [markdown]
# ## `noise_scale`: how far from the mean
#
# At `noise_scale = 0` the sample *is* the mean, $z = \mu$, and the output is the same
# whatever the random seed. Larger values move $z$ further from the mean, and the mel
# with it: more variation from sample to sample (a livelier, less flat voice at 0.667,
# the original's default; noisy artefacts when too large). Below: with the same seed,
# the distance from the mean mel grows with the scale, and at a fixed scale two seeds
# give two different mels.

# %%
def mel_of(noise_scale, length_scale=1.0, seed=0):
    """The generated mel [80, T_y], without vocoding."""
    return synthesize(model, hps, text, noise_scale=noise_scale,
                      length_scale=length_scale, vocode=False, seed=seed)["mel"]


mean_mel = mel_of(0.0, seed=0)
distance = {s: (mel_of(s) - mean_mel).abs().mean().item()
            for s in (0.0, 0.333, 0.667, 1.0)}
print({s: round(d, 4) for s, d in distance.items()})

# %%
assert torch.equal(mel_of(0.0, seed=0), mel_of(0.0, seed=123))             # deterministic
assert not torch.equal(mel_of(0.667, seed=0), mel_of(0.667, seed=1))        # random
# ... but seeded
assert torch.equal(mel_of(0.667, seed=5), mel_of(0.667, seed=5))
assert distance[0.0] == 0 < distance[0.333] < distance[0.667] < distance[1.0]

# %% [markdown]
# ## `length_scale`: how long each token lasts
#
# `length_scale` multiplies every predicted duration before rounding up: 2 speaks at half
# the rate, 0.5 at twice the rate. Because of the ceiling, the total is not exactly
# doubled: $\sum_i \lceil 2 w_i \rceil$ lies between $2\sum_i w_i$ and
# $2\sum_i w_i + T_x$.

# %%
frames = {ls: synthesize(model, hps, text, noise_scale=0.0, length_scale=ls,
                         vocode=False)["mel"].shape[1]
          for ls in (0.5, 1.0, 2.0)}
# sum of unrounded durations
w = (torch.exp(logw) * x_mask).sum().item()
print(frames, f"| sum w = {w:.1f}")

# %%
assert frames[0.5] < frames[1.0] < frames[2.0]
# about twice the frames
assert 1.6 < frames[2.0] / frames[1.0] < 2.4
assert 2 * w - n_sqz <= frames[2.0] <= 2 * w + x.shape[1]

# %% tags=["plot"]
fig, axes = plt.subplots(2, 2, figsize=(11, 5), gridspec_kw={"height_ratios": [2, 1]})
for col, ls in enumerate((1.0, 2.0)):
    out = synthesize(model, hps, text, noise_scale=0.667, length_scale=ls, vocode=False)
    n_frames = out["mel"].shape[1]
    axes[0, col].imshow(out["mel"].numpy(), origin="lower", aspect="auto", cmap="magma")
    axes[0, col].set_title(
        figures.both(f"generated mel, length_scale={ls} ({n_frames} frames)",
                     f"생성된 멜, length_scale={ls} ({n_frames} 프레임)", sep="\n"),
        family=figures.BILINGUAL)
    axes[0, col].set_ylabel(figures.both("mel band", "멜 채널"), family=figures.BILINGUAL)
    axes[1, col].imshow(out["attn"].numpy(), origin="lower", aspect="auto", cmap="Greys",
                        interpolation="nearest")
    axes[1, col].set_xlabel(figures.both("frame", "프레임"), family=figures.BILINGUAL)
    axes[1, col].set_ylabel(figures.both("token", "토큰"), family=figures.BILINGUAL)
    axes[1, col].set_title(figures.both("alignment from the predicted durations",
                                        "예측한 지속 시간으로 만든 정렬", sep="\n"),
                           family=figures.BILINGUAL)

for ax in axes.flat:
    ax.set_xlim(0, frames[2.0])
fig.tight_layout()
plt.show()

# %% [markdown]
# ## From mel to sound
#
# The original passes the mel to WaveGlow, a neural vocoder trained on English speech.
# None ships with this project, so `mel_to_wav` uses Griffin-Lim: $e^{\text{mel}}$, spread
# back over the FFT bins with the pseudo-inverse of the mel filterbank, and a phase found
# by iterating STFT ↔ inverse STFT until they agree (32 rounds of the "fast" variant of
# Perraudin et al., 2013, which adds momentum to the phase update). It sounds robotic,
# but timing and words are audible.
#
# The length: a mel of $F$ frames comes from a waveform of $T$ samples with
# $F = 1 + \lfloor T / \text{hop} \rfloor$ (walkthrough 03), and Griffin-Lim returns the
# shortest such waveform, $T = (F - 1) \cdot \text{hop}$ samples, at 22,050 Hz. Computing the
# mel of that waveform gives $F$ frames back.
#
# The loudness: Griffin-Lim does not bound the samples. Their size follows $e^{\text{mel}}$,
# and a barely trained model's mel can be louder than any recording, so samples beyond
# $\pm 1$ are possible (the peak of Griffin-Lim's raw output is printed below).
# `mel_to_wav` therefore scales such a waveform down as a whole, to a peak just under 1
# (`WAV_PEAK`, the largest sample a 16-bit file holds unclipped); one already in range is
# left as it is. Scaling keeps the wave's shape, where the clipping `save_wav` would
# otherwise apply flattens every loud stretch. The notebook's `Audio` player then scales
# to its own peak again (`normalize=True`, the default).

# %%
out = synthesize(model, hps, text, noise_scale=0.667)
mel, wav = out["mel"], out["wav"]                                           # [80, F], [T]
F, hop = mel.shape[1], hps.data.hop_length
seconds = wav.numel() / hps.data.sampling_rate
# Griffin-Lim with the same settings, before mel_to_wav scales it
raw = griffin_lim(mel, mel_module=MelSpectrogram.from_hparams(hps.data))
print(f"{F} frames -> {wav.numel()} samples = {seconds:.2f} s, "
      f"Griffin-Lim's peak {raw.abs().max():.2f}, written peak {wav.abs().max():.4f}")

player = Audio(wav.numpy(), rate=hps.data.sampling_rate)
display(player)

# %%
assert wav.dim() == 1 and wav.numel() == (F - 1) * hop
# synthesize = infer + mel_to_wav
assert torch.equal(wav, mel_to_wav(mel, hps))
# not silent, and in [-1, 1]: the raw waveform scaled as a whole when it overshoots
assert 0 < wav.abs().max() <= WAV_PEAK
if raw.abs().max() > WAV_PEAK:
    torch.testing.assert_close(wav, raw * (WAV_PEAK / raw.abs().max()))
else:
    assert torch.equal(wav, raw)
# the mel of the wav has F frames
assert MelSpectrogram.from_hparams(hps.data)(wav).shape == (80, F)
# the player holds a WAV file, scaled to its peak: the loudest 16-bit sample is full scale
with wave.open(io.BytesIO(player.data)) as played:
    pcm = np.frombuffer(played.readframes(played.getnframes()), dtype="<i2")
assert played.getframerate() == hps.data.sampling_rate and pcm.size == wav.numel()
assert np.abs(pcm.astype(np.int32)).max() >= 32766

# %% [markdown]
# The same path runs in your browser on the page
# [Try it: hear the book's model](../try_it.md), with the model of walkthrough 15
# exported to ONNX and the steps between the graphs done in JavaScript.
