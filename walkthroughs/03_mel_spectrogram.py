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
# # From waveform to log-mel spectrogram
#
# *Reviews:* `data_utils.py`, `TextMelLoader.get_mel` (wav → `self.stft.mel_spectrogram`),
# `commons.py`, `TacotronSTFT.mel_spectrogram`, and `stft.py`, `STFT.transform`. Ours is
# `glow_tts/audio.py`, `MelSpectrogram`, which computes the same numbers with `torch.stft`.
#
# The model never sees audio: its target `y` is a log-mel spectrogram, 80 numbers per
# frame, one frame every 256 samples. You will learn:
#
# * what each number of the config's `data` section does (`filter_length`, `hop_length`,
#   `win_length`, `n_mel_channels`, `mel_fmin`, `mel_fmax`);
# * how many frames a waveform gives, $F = 1 + \lfloor T / \text{hop} \rfloor$, and why;
# * what the mel filterbank is, and what the log and its floor do.
#
# covers: T32

# %%
import math

import matplotlib.pyplot as plt
import torch

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.audio import MelSpectrogram
from glow_tts.hparams import get_hparams_from_file

torch.set_num_threads(1)

# %% [markdown]
# ## The numbers of the config
#
# The `data` section of `configs/base.json` carries the original's audio settings.
# `MelSpectrogram.from_hparams` builds the feature extractor from exactly those.

# %%
hps = get_hparams_from_file("../configs/base.json")
mel_fn = MelSpectrogram.from_hparams(hps.data)
d = hps.data
{k: d[k] for k in ["sampling_rate", "filter_length", "hop_length", "win_length",
                   "n_mel_channels", "mel_fmin", "mel_fmax"]}

# %% [markdown]
# * `sampling_rate` 22,050 Hz: samples per second of the audio.
# * `filter_length` 1024 is the FFT size $N$. The STFT turns 1024 samples into
#   $N/2 + 1 = 513$ frequency bins, spaced $f_s / N \approx 21.5$ Hz apart, from 0 Hz up to
#   the Nyquist frequency $f_s/2 = 11{,}025$ Hz.
# * `win_length` 1024: each frame is multiplied by a Hann window of that length, about
#   46 ms of audio.
# * `hop_length` 256: the window moves 256 samples (about 11.6 ms) between frames, so
#   neighbouring windows overlap by 75 %.
# * `n_mel_channels` 80 mel bands between `mel_fmin` 0 Hz and `mel_fmax` 8,000 Hz.

# %%
sr, n_fft, hop = d.sampling_rate, d.filter_length, d.hop_length
bins_hz = torch.fft.rfftfreq(n_fft, d=1 / sr)         # the STFT's bin frequencies, [513]
print(f"{bins_hz.numel()} bins, {bins_hz[1]:.2f} Hz apart, up to {bins_hz[-1]:.0f} Hz; "
      f"hop {1000 * hop / sr:.2f} ms, overlap {1 - hop / d.win_length:.0%}")
assert bins_hz.numel() == mel_fn.mel_basis.shape[1] == 513
assert abs(bins_hz[1] - 21.53) < 0.01 and bins_hz[-1] == sr / 2
assert mel_fn.window.shape == (d.win_length,)
# A *periodic* Hann window: the last sample is not 0 (the symmetric window ends at 0).
# It is kept in float64, and the FFT runs in float64, as librosa's reference does; the
# resulting log-mel is float32 like every other model input.
assert torch.equal(mel_fn.window,
                   torch.hann_window(1024, periodic=True, dtype=torch.float64))
assert mel_fn.window[0] == 0 and mel_fn.window[-1] > 0

# %% [markdown]
# ## A test signal
#
# To see the features we need audio whose content we know. This one is 1.5 s of a
# "voice" whose pitch glides from 150 Hz to 300 Hz, with its first ten harmonics (as a
# voice has), a pause of silence in the middle, and a steady 1,000 Hz tone at the end.

# %%
g = torch.Generator().manual_seed(0)
t = torch.arange(int(1.5 * sr)) / sr                      # seconds, [T]
pitch = 150 + 100 * t                                     # Hz, gliding up
phase = 2 * math.pi * torch.cumsum(pitch, 0) / sr
voice = sum(torch.sin(k * phase) / k for k in range(1, 11))
voice = voice * (t < 0.6) + torch.sin(2 * math.pi * 1000 * t) * (t >= 1.0)
wav = 0.3 * voice / voice.abs().max()                     # in [-1, 1], [T]
wav.shape, wav.dtype

# %% [markdown]
# ## Frame count: $F = 1 + \lfloor T / 256 \rfloor$
#
# The STFT is computed with `center=True`: before framing, the signal is padded by
# $N/2 = 512$ samples at each end (by reflection), so that frame $k$ is centred on sample
# $k \cdot \text{hop}$. Frame centres $0, 256, 512, \dots$ up to the last one that is
# $\le T$ give $1 + \lfloor T / 256 \rfloor$ frames.

# %%
mel = mel_fn(wav)             # [80, F]
print(wav.shape[0], "samples ->", tuple(mel.shape))
assert mel.shape == (80, 1 + wav.shape[0] // hop) and mel.dtype == torch.float32
for n_samples in [513, 1000, 22050, 22050 + 255, 22050 + 256]:
    frames = mel_fn(torch.zeros(n_samples)).shape[-1]
    assert frames == 1 + n_samples // 256 == mel_fn.n_frames(n_samples), n_samples

# %% [markdown]
# Batches work the same way: `[B, T]` in, `[B, 80, F]` out, each row computed as if alone.

# %%
batch = torch.stack([wav, 0.5 * wav])      # [2, T]
mels = mel_fn(batch)                       # [2, 80, F]
assert mels.shape == (2, 80, mel.shape[-1])
assert torch.allclose(mels[0], mel, atol=1e-5)

# %% [markdown]
# ## The mel filterbank
#
# The STFT magnitude has 513 bins spaced evenly in Hz. Hearing is not even: we tell
# 100 Hz from 200 Hz easily but 7,100 Hz from 7,200 Hz hardly at all. The mel filterbank
# (`mel_basis`, a fixed `[80, 513]` matrix) sums the bins into 80 triangular bands that
# are narrow at low frequencies and wide at high ones. It uses librosa's default ("Slaney")
# mel scale: linear below 1 kHz, logarithmic above. Each triangle's area is normalised,
# so wide bands have low peaks. Nothing above `mel_fmax` = 8 kHz is used.

# %%
basis = mel_fn.mel_basis                              # [80, 513]
bin_hz = torch.arange(513) * sr / n_fft               # frequency of each FFT bin
peak_hz = bin_hz[basis.argmax(dim=1)]                 # the peak of each band
widths = (basis > 0).sum(dim=1)                       # FFT bins per band
assert basis.shape == (80, 513)
assert basis[:, bin_hz > 8000].abs().sum() == 0       # nothing above mel_fmax
assert torch.all(peak_hz[1:] >= peak_hz[:-1])         # bands go up in frequency
assert widths[:25].max() <= 4 and widths[-1] > 5 * widths[0]  # high bands are much wider
assert basis[-1].max() < basis[0].max()               # ... and lower (area-normalised)

# %% tags=["plot"]
fig, ax = plt.subplots(figsize=(8, 2.6))
for row in range(0, 80, 4):
    ax.plot(bin_hz, basis[row], lw=1)
ax.set_xlim(0, 8500)
ax.set_xlabel(figures.both("frequency (Hz)", "주파수 (Hz)"), family=figures.BILINGUAL)
ax.set_ylabel(figures.both("weight", "가중치"), family=figures.BILINGUAL)
ax.set_title(figures.both("mel filterbank: every 4th of the 80 bands",
                          "멜 필터뱅크: 80개 밴드 중 4개마다 하나"), family=figures.BILINGUAL)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The log, and its floor
#
# The last step is $\ln(\max(m, 10^{-5}))$. The log squeezes the huge range of speech
# energy into a few units, and turns a change of loudness into a shift: doubling the
# waveform doubles every magnitude (the STFT and the filterbank are linear), which adds
# $\ln 2$ to every log-mel value above the floor. Digital silence hits the floor,
# $\ln 10^{-5} \approx -11.51$.

# %%
floor = math.log(1e-5)
louder = mel_fn(2 * wav)
above = mel > floor + 1           # well above the floor
shift = louder[above] - mel[above]
assert torch.allclose(shift, torch.full_like(shift, math.log(2)), atol=1e-4)

silence = mel_fn(torch.zeros(sr))
assert torch.allclose(silence, torch.full_like(silence, floor))

# %% [markdown]
# A steady 1,000 Hz tone lands in the band whose peak is nearest to 1,000 Hz, and the
# glide of the voice shows up as its harmonics rising together. A frame in the middle of
# the final tone:

# %%
tone_frame = mel[:, int(1.25 * sr) // hop]            # [80]
loudest_band = int(tone_frame.argmax())
nearest_band = int((peak_hz - 1000).abs().argmin())
print("loudest band", loudest_band, "peak at", float(peak_hz[loudest_band]), "Hz")
assert abs(loudest_band - nearest_band) <= 1

# %% [markdown]
# Moving the audio later by exactly one hop moves the spectrogram right by one frame
# (away from the edges, where the reflect padding sees different samples): frame $k$
# really is "the audio around sample $256k$".

# %%
shifted = mel_fn(torch.cat([torch.zeros(hop), wav]))
assert torch.allclose(shifted[:, 1 + 4:-4], mel[:, 4:-4], atol=1e-4)

# %% [markdown]
# ## The picture
#
# The waveform, and its log-mel spectrogram as the model sees it (frames on the x axis,
# bands on the y axis, low frequencies at the bottom). The harmonics of the gliding voice
# rise; the pause is at the floor; the tone at the end is one bright line.

# %% tags=["plot"]
fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 5), sharex=False)

ax0.plot(t, wav, lw=0.5)
ax0.set_xlim(0, t[-1].item())
ax0.set_xlabel(figures.both("time (s)", "시간 (s)"), family=figures.BILINGUAL)
ax0.set_ylabel(figures.both("amplitude", "진폭"), family=figures.BILINGUAL)
ax0.set_title(figures.both("waveform", "파형"), family=figures.BILINGUAL)
im = ax1.imshow(mel.numpy(), origin="lower", aspect="auto", cmap="magma")
ax1.set_xlabel(figures.both(f"frame (hop {hop} samples)", f"프레임 (홉 {hop} 샘플)"),
               family=figures.BILINGUAL)
ax1.set_ylabel(figures.both("mel band", "멜 채널"), family=figures.BILINGUAL)
ax1.set_title(f"{figures.both('log-mel spectrogram', '로그 멜 스펙트로그램')} "
              f"{list(mel.shape)}", family=figures.BILINGUAL)
fig.colorbar(im, ax=ax1, label="ln(mel)")
plt.tight_layout()
plt.show()
