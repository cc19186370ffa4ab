"""Audio in and out: reading WAV/FLAC, the log-mel spectrogram, Griffin-Lim and writing WAV.

The original spreads this over ``utils.load_wav_to_torch`` (scipy's ``wavfile.read``, raw
int16 values, no resampling), ``stft.py`` (an STFT written as a 1-D convolution with the
Fourier basis) and ``commons.TacotronSTFT`` (mel filterbank and log). Here it is one module:

* :func:`load_wav` reads any WAV/FLAC that ``soundfile`` reads (int16, int32, float),
  mixes stereo down to mono and resamples with ``soxr`` when the file's rate is not the
  config's, so a 44.1 kHz KSS file can be used directly. (The original raised an error
  instead, and because of a format-string bug that error was an ``IndexError``.)
* :class:`MelSpectrogram` is the original's mel: STFT with n_fft 1024, hop 256, periodic
  Hann window, reflect padding of n_fft/2 at both ends (``center=True``), magnitude (not
  power), Slaney-normalised mel filterbank up to 8 kHz, natural log clamped at 1e-5. It uses
  ``torch.stft``, which computes what the original's convolution computes, in float64 by
  default so that it also equals the librosa reference where float32 rounding would show.
* :func:`griffin_lim` turns a log-mel back into a waveform without a neural vocoder, to
  *listen* to what the model produced (robotic but recognisable).
* :func:`save_wav` writes 16-bit PCM.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import nn
from glow_tts.errors import GlowTTSError

logger = logging.getLogger("glow_tts.audio")

MAX_WAV_VALUE = 32768.0  # int16 full scale: soundfile maps int16 k to k / 32768


class AudioError(GlowTTSError, ValueError):
    """An audio file that cannot be used (unreadable, empty, silent, not finite)."""


class MissingAudioError(AudioError, FileNotFoundError):
    """The audio file does not exist. Also a ``FileNotFoundError``, so both kinds of
    ``except`` catch it."""


# --------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------

def resampled_length(n_samples: int, orig_sr: int, target_sr: int) -> int:
    """Number of samples ``soxr.resample`` returns for ``n_samples`` at ``orig_sr``.

    Mirrors soxr's own rounding (``int(n / (orig/target) + 0.5)``), so the data loader can
    predict a file's frame count from its header alone, without decoding it.
    """
    if orig_sr == target_sr:
        return n_samples
    return int(n_samples / (orig_sr / target_sr) + 0.5)


# Rate pairs already announced at INFO: a corpus of 12,000 files at 44.1 kHz should say
# "resampling" once, not 12,000 times (later files are logged at DEBUG).
_announced_resampling: set[tuple[int, int]] = set()


def read_audio(path: str, sampling_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Decode ``path`` to mono float32 in [-1, 1]; resample to ``sampling_rate`` if given.

    Returns ``(samples [T], rate)``. Raises :class:`MissingAudioError` or
    :class:`AudioError`, each naming the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingAudioError(f"audio file not found: {path}")
    if os.path.isdir(path):
        raise AudioError(f"{path}: is a directory, expected an audio file")
    try:
        # float32 output: int16 k becomes k / 32768, int32 k becomes k / 2**31, float as is.
        data, rate = sf.read(path, dtype="float32", always_2d=True)  # [T, channels]
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        raise AudioError(f"{path}: cannot read audio ({e}); expected a WAV or FLAC file") from None
    if data.shape[0] == 0:
        raise AudioError(f"{path}: the file holds no samples (empty audio)")
    if data.shape[1] > 1:
        data = data.mean(axis=1)  # stereo (or more) -> mono by averaging the channels
    else:
        data = data[:, 0]
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: the audio contains NaN or infinite samples")
    peak = float(np.max(np.abs(data)))
    if peak == 0.0:
        raise AudioError(f"{path}: the audio is all silence (every sample is 0)")
    if peak > 1.0:
        # Only float files can do this; int files are in range by construction.
        logger.warning("%s: float samples reach %.3f, outside [-1, 1]; clipping", path, peak)
        data = np.clip(data, -1.0, 1.0)
    if sampling_rate is not None and rate != sampling_rate:
        pair = (rate, sampling_rate)
        level = logging.DEBUG if pair in _announced_resampling else logging.INFO
        _announced_resampling.add(pair)
        logger.log(level, "%s: resampling %d Hz -> %d Hz", path, rate, sampling_rate)
        data = soxr.resample(data, rate, sampling_rate, quality="HQ")
        data = np.clip(data, -1.0, 1.0)  # the resampler's ringing can overshoot slightly
        rate = sampling_rate
    return np.ascontiguousarray(data, dtype=np.float32), rate


def load_wav(path: str, sampling_rate: int | None = None) -> torch.Tensor:
    """Read an audio file as a float32 tensor ``[T]`` in [-1, 1], mono, at ``sampling_rate``
    (``None``: the file's own rate)."""
    data, _rate = read_audio(path, sampling_rate)
    return torch.from_numpy(data)


def load_wav_to_torch(full_path: str, sampling_rate: int | None = None) -> tuple[torch.Tensor, int]:
    """The original's name and return value: ``(samples on the int16 scale [T], rate)``.

    The original returned the raw int16 values as floats, then added U[0, 1) noise
    (``add_noise``) *on that scale* before dividing by ``max_wav_value``; this keeps that
    scale so the noise means the same. For an int16 file the values are exactly its integers.
    """
    data, rate = read_audio(full_path, sampling_rate)
    return torch.from_numpy(data) * MAX_WAV_VALUE, rate


def float_to_int16(samples: np.ndarray) -> np.ndarray:
    """[-1, 1] floats -> int16 PCM: times 32768, rounded, clipped to [-32768, 32767].

    32768 is the scale :func:`load_wav` divides by (``max_wav_value``), so 16-bit audio
    survives a write and a read exactly; the clip keeps +1.0 from wrapping to -32768.
    Used by :func:`save_wav` and by the corpus writers.
    """
    return np.clip(np.round(np.asarray(samples, dtype=np.float64) * 32768.0),
                   -32768, 32767).astype(np.int16)


def save_wav(path: str, wav, sampling_rate: int) -> None:
    """Write ``wav`` (``[T]`` floats, nominally in [-1, 1]) as 16-bit PCM WAV.

    Samples are converted by :func:`float_to_int16` (so :func:`load_wav` reads back exactly
    the written values, and anything beyond [-1, 1] is clipped). The file appears
    atomically: it is written next to ``path`` under a temporary name, then renamed, so a
    reader never sees a half-written file.
    """
    if isinstance(wav, torch.Tensor):
        wav = wav.detach().cpu().float().numpy()
    wav = np.asarray(wav, dtype=np.float32).squeeze()
    if wav.ndim != 1:
        raise ValueError(f"save_wav({path}): expected a mono waveform [T], got shape {wav.shape}")
    if not np.all(np.isfinite(wav)):
        raise ValueError(f"save_wav({path}): the waveform contains NaN or infinite samples")
    pcm = float_to_int16(wav)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".wav", dir=folder)
    os.close(fd)
    try:
        sf.write(tmp, pcm, sampling_rate, subtype="PCM_16", format="WAV")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# --------------------------------------------------------------------------------------
# Mel spectrogram
# --------------------------------------------------------------------------------------

def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above
    (27 mels per factor 6.4). Not HTK's ``2595 log10(1 + f/700)``."""
    linear = hz * 3.0 / 200.0
    log_part = 15.0 + torch.log(torch.clamp(hz, min=1e-10) / 1000.0) * 27.0 / math.log(6.4)
    return torch.where(hz >= 1000.0, log_part, linear)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel`."""
    linear = mel * 200.0 / 3.0
    log_part = 1000.0 * torch.exp((mel - 15.0) * math.log(6.4) / 27.0)
    return torch.where(mel >= 15.0, log_part, linear)


def mel_filterbank(sampling_rate: int, filter_length: int, n_mel_channels: int,
                   mel_fmin: float, mel_fmax: float | None) -> torch.Tensor:
    """Slaney-style mel filterbank ``[n_mel_channels, filter_length // 2 + 1]``, float32.

    ``n_mel_channels`` triangles whose corners are equally spaced on the mel scale between
    ``mel_fmin`` and ``mel_fmax`` (default: Nyquist), each scaled by ``2 / width in Hz``
    ("Slaney" area normalisation) so that wide high-frequency bands do not dominate. This is
    what the original got from ``librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax)``;
    ``tests/test_audio.py`` checks the two agree, so the package needs no librosa at run time.
    """
    mel_fmax = sampling_rate / 2.0 if mel_fmax is None else float(mel_fmax)
    fft_hz = torch.linspace(0.0, sampling_rate / 2.0, filter_length // 2 + 1, dtype=torch.float64)
    corners_mel = torch.linspace(float(hz_to_mel(torch.tensor(float(mel_fmin), dtype=torch.float64))),
                                 float(hz_to_mel(torch.tensor(mel_fmax, dtype=torch.float64))),
                                 n_mel_channels + 2, dtype=torch.float64)
    corners_hz = mel_to_hz(corners_mel)                          # [n_mel + 2]
    left, centre, right = corners_hz[:-2, None], corners_hz[1:-1, None], corners_hz[2:, None]
    rising = (fft_hz - left) / (centre - left)                   # [n_mel, n_fft/2 + 1]
    falling = (right - fft_hz) / (right - centre)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    weights = weights * (2.0 / (right - left))                   # Slaney area normalisation
    return weights.float()


class MelSpectrogram(nn.Module):
    """Waveform -> log-mel spectrogram, the original's features.

    ``forward(wav)``: ``[T]`` or ``[B, T]`` in [-1, 1] -> ``[n_mel, F]`` or ``[B, n_mel, F]``
    float32, with ``F = 1 + T // hop_length`` (one frame every hop, the first centred on
    sample 0). Values are natural logs of mel magnitudes, floored at ln(1e-5) ≈ -11.51.

    Precision: the FFT runs in ``fft_dtype``, float64 by default, with a float64 window, as
    librosa does (its float64 window promotes the frames). In float32, rounding noise of the
    loud bins leaks into the quiet ones: on a pure tone the log-mel between harmonics then
    differs from the exact value by up to ~5e-3, and a Hann window computed in float32 alone
    adds ~1.4e-3. The original's float32 convolution has the same kind of error (about 2e-3
    on a two-tone test signal, 1e-6 on noise), so float64 is as close to the original as any
    float32 re-implementation can be, and exactly equal to the librosa reference. Pass
    ``fft_dtype=torch.float32`` for several times faster extraction when that does not
    matter (the two agree to 1e-4 on noise-like audio; see ``bench/frontend.py``).
    """

    def __init__(self, sampling_rate: int = 22050, filter_length: int = 1024,
                 hop_length: int = 256, win_length: int = 1024, n_mel_channels: int = 80,
                 mel_fmin: float = 0.0, mel_fmax: float | None = 8000.0,
                 clip_val: float = 1e-5, fft_dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        if win_length > filter_length:
            raise ValueError(f"win_length ({win_length}) must not exceed filter_length ({filter_length})")
        self.sampling_rate = sampling_rate
        self.filter_length = filter_length
        self.hop_length = hop_length
        self.win_length = win_length
        self.n_mel_channels = n_mel_channels
        self.mel_fmin = mel_fmin
        self.mel_fmax = mel_fmax
        self.clip_val = clip_val
        self.fft_dtype = fft_dtype
        # Periodic Hann (scipy's get_window("hann", N) and librosa's "hann"), not the
        # symmetric one; kept in float64 (see the class docstring).
        self.register_buffer("window", torch.hann_window(win_length, periodic=True, dtype=torch.float64),
                             persistent=False)
        mel_basis = mel_filterbank(sampling_rate, filter_length, n_mel_channels, mel_fmin, mel_fmax)
        self.register_buffer("mel_basis", mel_basis, persistent=False)  # [n_mel, n_fft/2+1]
        # FFT bins above the highest filter (above mel_fmax, 8 kHz of 11.025) have zero weight
        # in every filter: skipping them saves a quarter of the magnitude and matmul work.
        used = torch.nonzero(mel_basis.abs().sum(0)).flatten()
        self.n_used_bins = int(used.max()) + 1 if len(used) else mel_basis.shape[1]

    @classmethod
    def from_hparams(cls, hps_data, **kwargs) -> "MelSpectrogram":
        """Build from a config's ``data`` section."""
        return cls(hps_data.sampling_rate, hps_data.filter_length, hps_data.hop_length,
                   hps_data.win_length, hps_data.n_mel_channels, hps_data.mel_fmin,
                   hps_data.mel_fmax, **kwargs)

    def settings(self) -> dict:
        """The numbers that determine the output; a mel cache keys its files on them."""
        return {"sampling_rate": self.sampling_rate, "filter_length": self.filter_length,
                "hop_length": self.hop_length, "win_length": self.win_length,
                "n_mel_channels": self.n_mel_channels, "mel_fmin": self.mel_fmin,
                "mel_fmax": self.mel_fmax, "clip_val": self.clip_val,
                "fft_dtype": str(self.fft_dtype)}

    def n_frames(self, n_samples: int) -> int:
        """Frames the mel of ``n_samples`` samples has (``center=True``)."""
        return 1 + n_samples // self.hop_length

    def spectrogram(self, wav: torch.Tensor) -> torch.Tensor:
        """Linear STFT magnitude ``[B, T]`` -> ``[B, filter_length // 2 + 1, F]`` in ``fft_dtype``."""
        return self._stft(wav).abs()  # magnitude, power 1: sqrt(re^2 + im^2) like the original

    def _stft(self, wav: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, T]`` -> ``[B, filter_length // 2 + 1, F]``."""
        if wav.shape[-1] <= self.filter_length // 2:
            # Reflect padding by n_fft/2 needs more samples than the padding itself.
            raise ValueError(f"waveform too short: {wav.shape[-1]} samples; the STFT needs "
                             f"more than {self.filter_length // 2} (filter_length / 2)")
        spec = torch.stft(wav.to(self.fft_dtype), n_fft=self.filter_length,
                          hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window.to(self.fft_dtype), center=True,
                          pad_mode="reflect", normalized=False, onesided=True,
                          return_complex=True)
        return spec

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        unbatched = wav.dim() == 1
        if unbatched:
            wav = wav.unsqueeze(0)  # [1, T]
        if wav.dim() != 2:
            raise ValueError(f"MelSpectrogram expects [T] or [B, T], got shape {tuple(wav.shape)}")
        n = self.n_used_bins
        magnitude = self._stft(wav)[:, :n, :].abs().float()            # [B, n_used, F]
        mel = torch.matmul(self.mel_basis[:, :n].float(), magnitude)   # [B, n_mel, F]
        mel = torch.log(torch.clamp(mel, min=self.clip_val))
        return mel[0] if unbatched else mel

    def mel_spectrogram(self, y: torch.Tensor) -> torch.Tensor:
        """The original's method name (``TacotronSTFT.mel_spectrogram``), ``[B, T]`` -> ``[B, n_mel, F]``."""
        return self(y)


# --------------------------------------------------------------------------------------
# Griffin-Lim
# --------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=8)
def _mel_pseudo_inverse(sampling_rate, filter_length, n_mel, mel_fmin, mel_fmax) -> torch.Tensor:
    """Moore-Penrose inverse of the mel filterbank, ``[n_fft/2+1, n_mel]`` (cached per setting)."""
    basis = mel_filterbank(sampling_rate, filter_length, n_mel, mel_fmin, mel_fmax).double()
    return torch.linalg.pinv(basis).float()


def griffin_lim(mel: torch.Tensor, sampling_rate: int = 22050, filter_length: int = 1024,
                hop_length: int = 256, win_length: int = 1024, mel_fmin: float = 0.0,
                mel_fmax: float | None = 8000.0, n_iter: int = 32, momentum: float = 0.99,
                power: float = 1.0, seed: int = 0, length: int | None = None,
                mel_module: MelSpectrogram | None = None) -> torch.Tensor:
    """Log-mel ``[n_mel, F]`` (or ``[B, n_mel, F]``) -> waveform ``[T]`` (or ``[B, T]``).

    1. ``exp`` undoes the log; the pseudo-inverse of the mel filterbank spreads each mel
       band back over its FFT bins (negative values from the inverse are clipped to 0).
    2. Griffin-Lim: keep this magnitude, and repeatedly replace the phase by the phase of
       the STFT of the inverse STFT, so that the two agree. The "fast" variant (Perraudin et
       al. 2013) adds ``momentum`` to the phase update; 0 gives the classic algorithm.

    The start phase is random from a generator seeded with ``seed``, so the result is the
    same on every call. ``power`` > 1 sharpens the magnitude before phase recovery (1.0 keeps
    it as is). ``length`` defaults to ``(F - 1) * hop_length`` samples, the shortest
    waveform whose mel has F frames. Pass ``mel_module`` to take all STFT settings from it.
    Runs on the CPU (the mel is moved there); returns a CPU float32 tensor.
    """
    if mel_module is not None:
        sampling_rate, filter_length = mel_module.sampling_rate, mel_module.filter_length
        hop_length, win_length = mel_module.hop_length, mel_module.win_length
        mel_fmin, mel_fmax = mel_module.mel_fmin, mel_module.mel_fmax
    unbatched = mel.dim() == 2
    if unbatched:
        mel = mel.unsqueeze(0)
    if mel.dim() != 3:
        raise ValueError(f"griffin_lim expects a mel [n_mel, F] or [B, n_mel, F], got {tuple(mel.shape)}")
    mel = mel.detach().float().cpu()
    n_mel, n_frames = mel.shape[1], mel.shape[2]
    inverse = _mel_pseudo_inverse(sampling_rate, filter_length, n_mel, mel_fmin, mel_fmax)
    magnitude = torch.clamp(torch.matmul(inverse, torch.exp(mel)), min=0.0)  # [B, n_fft/2+1, F]
    magnitude = magnitude ** power
    if length is None:
        length = (n_frames - 1) * hop_length
    window = torch.hann_window(win_length, periodic=True)  # float32 is fine: GL is approximate anyway
    stft_args = dict(n_fft=filter_length, hop_length=hop_length, win_length=win_length,
                     window=window, center=True)

    generator = torch.Generator().manual_seed(seed)
    # One start phase [bins, F], shared by the batch: an item's result does not depend on
    # what else is in the batch.
    angles = torch.exp(2j * torch.pi * torch.rand(magnitude.shape[1:], generator=generator))
    angles = angles.expand_as(magnitude)
    previous = torch.zeros_like(angles)
    for _ in range(n_iter):
        wav = torch.istft(magnitude * angles, length=length, **stft_args)
        rebuilt = torch.stft(wav, pad_mode="reflect", return_complex=True, **stft_args)
        # Fast Griffin-Lim: step past the projection in the direction it moved.
        accelerated = rebuilt - (momentum / (1.0 + momentum)) * previous
        previous = rebuilt
        angles = accelerated / torch.clamp(accelerated.abs(), min=1e-16)
    wav = torch.istft(magnitude * angles, length=length, **stft_args)
    return wav[0] if unbatched else wav
