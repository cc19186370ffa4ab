"""glow_tts.audio: the mel against a librosa reference, reading/writing files, Griffin-Lim."""

import logging
import os

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from glow_tts import audio
from glow_tts.audio import (AudioError, MelSpectrogram, MissingAudioError, griffin_lim,
                            load_wav, load_wav_to_torch, resampled_length, save_wav)

SR = 22050


def reference_mel(wav: np.ndarray) -> np.ndarray:
    """DESIGN §5 pipeline written with librosa: reflect-padded centred STFT, |X|, Slaney mel, ln clamp."""
    import librosa

    spec = librosa.stft(wav, n_fft=1024, hop_length=256, win_length=1024, window="hann",
                        center=True, pad_mode="reflect")
    basis = librosa.filters.mel(sr=SR, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0)
    return np.log(np.clip(basis @ np.abs(spec), 1e-5, None))


def sine(freq, seconds, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def mel_module():
    return MelSpectrogram()


def test_mel_matches_librosa_reference_random_and_sine_unbatched_and_batched(mel_module):
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.8, 0.8, size=SR + 123).astype(np.float32)
    tone = sine(440.0, 1.1)[: SR + 123] + sine(3000.0, 1.1, amp=0.2)[: SR + 123]
    quiet = np.concatenate([np.zeros(3000, np.float32), sine(200.0, 0.9)])[: SR + 123]
    clips = [noise, tone, quiet]
    for clip in clips:
        out = mel_module(torch.from_numpy(clip))
        ref = reference_mel(clip)
        assert out.shape == ref.shape == (80, 1 + len(clip) // 256)
        assert out.dtype == torch.float32
        np.testing.assert_allclose(out.numpy(), ref, atol=1e-4, rtol=0)
    batch = mel_module(torch.from_numpy(np.stack(clips)))  # [3, 80, F]
    assert batch.shape == (3, 80, 1 + (SR + 123) // 256)
    for i, clip in enumerate(clips):
        np.testing.assert_allclose(batch[i].numpy(), reference_mel(clip), atol=1e-4, rtol=0)
    # The quiet start hits the clamp floor ln(1e-5) exactly, as in the original.
    assert batch[2, :, 0].min().item() == pytest.approx(np.log(1e-5), abs=1e-6)


def test_float32_fft_mode_matches_on_noise_and_is_close_on_tones():
    """The fast mode agrees to 1e-4 on noise-like audio; on a pure tone only where the mel is
    within ~60 dB of the frame's loudest band (float32 rounding floor, see the class docstring)."""
    fast = MelSpectrogram(fft_dtype=torch.float32)
    noise = np.random.default_rng(3).uniform(-0.5, 0.5, SR).astype(np.float32)
    np.testing.assert_allclose(fast(torch.from_numpy(noise)).numpy(), reference_mel(noise), atol=1e-4, rtol=0)
    tone = sine(440.0, 1.0) + sine(3000.0, 1.0, amp=0.2)
    out, ref = fast(torch.from_numpy(tone)).numpy(), reference_mel(tone)
    loud = ref > ref.max(axis=0, keepdims=True) - np.log(1e3)
    np.testing.assert_allclose(out[loud], ref[loud], atol=1e-4, rtol=0)
    assert np.abs(out - ref).max() < 2e-2


@pytest.mark.parametrize("n_samples", [513, 1000, 2559, 2560, 2561, 66150])
def test_frame_count_is_one_plus_samples_over_hop(mel_module, n_samples):
    wav = torch.rand(n_samples) - 0.5
    assert mel_module(wav).shape == (80, 1 + n_samples // 256)
    assert mel_module.n_frames(n_samples) == 1 + n_samples // 256


def test_mel_rejects_too_short_and_wrong_rank(mel_module):
    with pytest.raises(ValueError, match="too short"):
        mel_module(torch.zeros(512))
    with pytest.raises(ValueError, match=r"\[T\] or \[B, T\]"):
        mel_module(torch.zeros(1, 2, 3000))


def test_window_is_periodic_hann_and_buffers_move_with_module(mel_module):
    n = 1024
    periodic = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    assert mel_module.window.dtype == torch.float64
    np.testing.assert_allclose(mel_module.window.numpy(), periodic, atol=1e-12)
    names = dict(mel_module.named_buffers())
    assert set(names) == {"window", "mel_basis"} and names["mel_basis"].shape == (80, 513)
    assert mel_module.state_dict() == {}  # derived from settings, not saved in checkpoints


# -- load_wav ----------------------------------------------------------------------------

def test_load_int16_wav_is_exact(tmp_path):
    ints = np.array([0, 1, -1, 32767, -32768, 1000, -12345] * 100, dtype=np.int16)
    path = tmp_path / "int16.wav"
    sf.write(path, ints, SR, subtype="PCM_16")
    wav = load_wav(path, SR)
    assert wav.dtype == torch.float32 and wav.shape == (len(ints),)
    np.testing.assert_array_equal(wav.numpy(), ints.astype(np.float32) / 32768.0)
    assert wav.abs().max() <= 1.0
    # The original's int16 scale: exactly the stored integers.
    scaled, rate = load_wav_to_torch(path, SR)
    assert rate == SR
    np.testing.assert_array_equal(scaled.numpy(), ints.astype(np.float32))


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_32", "PCM_24"])
def test_load_float_and_wide_int_wav(tmp_path, subtype):
    x = sine(330.0, 0.3)
    path = tmp_path / f"{subtype}.wav"
    sf.write(path, x, SR, subtype=subtype)
    wav = load_wav(path, SR)
    assert wav.dtype == torch.float32
    np.testing.assert_allclose(wav.numpy(), x, atol=1e-6)


def test_float_wav_outside_range_is_clipped(tmp_path, caplog):
    x = sine(330.0, 0.2, amp=1.5)
    path = tmp_path / "loud.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="glow_tts.audio"):
        wav = load_wav(path, SR)
    assert wav.abs().max().item() == 1.0
    assert "loud.wav" in caplog.text and "clipping" in caplog.text


def test_stereo_is_mixed_to_mono(tmp_path):
    left, right = sine(300.0, 0.2), sine(700.0, 0.2, amp=0.25)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), SR, subtype="FLOAT")
    wav = load_wav(path, SR)
    assert wav.shape == (len(left),)
    np.testing.assert_allclose(wav.numpy(), (left + right) / 2, atol=1e-6)


def test_resampling_44k_keeps_duration_and_frequency(tmp_path, caplog):
    x = sine(1000.0, 1.0, sr=44100)
    path = tmp_path / "kss_like.wav"
    sf.write(path, x, 44100, subtype="PCM_16")
    audio._announced_resampling.clear()
    with caplog.at_level(logging.DEBUG, logger="glow_tts.audio"):
        wav = load_wav(path, SR)
    assert len(wav) == resampled_length(44100, 44100, SR) == 22050
    spectrum = np.abs(np.fft.rfft(wav.numpy()))
    peak_hz = np.argmax(spectrum) * SR / len(wav)
    assert abs(peak_hz - 1000.0) <= 2.0
    records = [r for r in caplog.records if r.name == "glow_tts.audio"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
    assert "kss_like.wav" in records[0].getMessage() and "44100" in records[0].getMessage()
    # No rate given: the file's own rate, untouched.
    assert len(load_wav(path)) == 44100


def test_resampled_length_matches_soxr():
    rng = np.random.default_rng(1)
    for _ in range(60):
        n = int(rng.integers(1, 200_000))
        for orig in (44100, 48000, 24000, 16000, 8000):
            out = soxr.resample(np.zeros(n, np.float32), orig, SR)
            assert resampled_length(n, orig, SR) == len(out), (n, orig)
    # The half-sample cases where naive round() and soxr disagree.
    for n, orig in [(197920, 48000), (179440, 24000), (44101, 44100)]:
        assert resampled_length(n, orig, SR) == len(soxr.resample(np.zeros(n, np.float32), orig, SR))


def test_flac_is_read(tmp_path):
    x = (sine(500.0, 0.25) * 32767).astype(np.int16)
    path = tmp_path / "clip.flac"
    sf.write(path, x, SR, format="FLAC", subtype="PCM_16")
    np.testing.assert_array_equal(load_wav(path, SR).numpy(), x.astype(np.float32) / 32768)


def test_errors_name_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "gone.wav"
    with pytest.raises(MissingAudioError, match="gone.wav") as info:
        load_wav(missing, SR)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, ValueError)

    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"this is not a RIFF file at all" * 10)
    with pytest.raises(AudioError, match="garbage.wav.*cannot read"):
        load_wav(garbage, SR)

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.int16), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match="empty.wav.*no samples"):
        load_wav(empty, SR)

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(4000, np.int16), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match="silent.wav.*silence"):
        load_wav(silent, SR)

    with pytest.raises(AudioError, match="is a directory"):
        load_wav(tmp_path, SR)


# -- Griffin-Lim ---------------------------------------------------------------------------

def spectral_convergence(mel_module, wav, log_mel):
    """|| M(wav) - M || / || M || on linear mel magnitudes (0 = perfect)."""
    target = torch.exp(log_mel)
    rebuilt = torch.exp(mel_module(wav))
    return (torch.linalg.norm(rebuilt - target) / torch.linalg.norm(target)).item()


def test_griffin_lim_length_determinism_and_reconstruction(mel_module):
    x = torch.from_numpy(sine(220.0, 1.0) + sine(440.0, 1.0, amp=0.3) + sine(1330.0, 1.0, amp=0.1))
    log_mel = mel_module(x)                                         # [80, 87]
    wav = griffin_lim(log_mel, n_iter=32)
    assert wav.shape == ((log_mel.shape[1] - 1) * 256,)
    assert mel_module(wav).shape == log_mel.shape                     # same number of frames
    assert torch.equal(wav, griffin_lim(log_mel, n_iter=32))           # seeded start phase
    # Threshold: with its random start phase (0 iterations) the re-analysed mel is ~0.59 away
    # from the target; 32 fast-GL iterations bring a harmonic signal to ~0.08 here. 0.2 leaves
    # a wide margin for platform differences yet fails if the iterations do nothing useful or
    # the pseudo-inverse/scale is wrong (a factor-2 gain error alone gives 1.0).
    start = spectral_convergence(mel_module, griffin_lim(log_mel, n_iter=0), log_mel)
    after = spectral_convergence(mel_module, wav, log_mel)
    assert start > 0.4
    assert after < 0.2 and after < start / 3
    # Batched input gives the same per-item result.
    batched = griffin_lim(torch.stack([log_mel, log_mel]), n_iter=4)
    assert batched.shape == (2, wav.shape[0])
    torch.testing.assert_close(batched[1], griffin_lim(log_mel, n_iter=4), atol=1e-5, rtol=0)


def test_mel_to_wav_stays_in_range_by_scaling_not_clipping(mel_module):
    """mel_to_wav promises [-1, 1]; Griffin-Lim alone overshoots on a loud mel."""
    from glow_tts.hparams import get_hparams_from_file
    from glow_tts.inference import WAV_PEAK, mel_to_wav

    hps = get_hparams_from_file(os.path.join(os.path.dirname(__file__), "..", "configs",
                                             "base.json"))
    x = torch.from_numpy(sine(220.0, 0.5, amp=0.9) + sine(660.0, 0.5, amp=0.5))
    loud = mel_module(x) + np.log(4.0)                    # the same sound, 4 times louder
    raw = griffin_lim(loud, n_iter=8)
    assert raw.abs().max() > 2                            # Griffin-Lim does not bound it
    wav = mel_to_wav(loud, hps, n_iter=8)
    assert wav.abs().max() == pytest.approx(WAV_PEAK)     # in range, loudest at full scale
    # Scaled as a whole, not clipped: the waveform keeps its shape.
    torch.testing.assert_close(wav, raw * (WAV_PEAK / raw.abs().max()))
    # A waveform already in range is left as Griffin-Lim made it.
    quiet = mel_module(x * 0.3)
    assert torch.equal(mel_to_wav(quiet, hps, n_iter=8), griffin_lim(quiet, n_iter=8))
    assert griffin_lim(quiet, n_iter=8).abs().max() < 1


# -- save_wav ------------------------------------------------------------------------------

def test_save_wav_round_trip_and_clipping(tmp_path):
    x = sine(440.0, 0.5, amp=0.7)
    x[:10] = 1.7    # clipped to +1
    x[10:20] = -3.0  # clipped to -1
    path = tmp_path / "out" / "speech.wav"
    save_wav(path, torch.from_numpy(x), SR)
    info = sf.info(path)
    assert (info.samplerate, info.channels, info.subtype, info.format) == (SR, 1, "PCM_16", "WAV")
    back, _ = sf.read(path, dtype="int16")
    assert back[:10].tolist() == [32767] * 10 and back[10:20].tolist() == [-32768] * 10
    np.testing.assert_array_equal(back[20:], np.round(x[20:] * 32768).astype(np.int16))
    # Read back through load_wav (k / 32768): within half a quantisation step.
    np.testing.assert_allclose(load_wav(path, SR).numpy()[20:], x[20:], atol=0.5 / 32768 + 1e-9)
    # Values already on the 16-bit grid survive a write and a read exactly, the extremes too.
    grid = np.array([-32768, -32767, -1, 0, 1, 12345, 32767], dtype=np.float64) / 32768
    save_wav(path, grid, SR)
    assert load_wav(path, SR).numpy().tolist() == grid.astype(np.float32).tolist()
    assert os.listdir(tmp_path / "out") == ["speech.wav"]  # no temporary file left behind
    with pytest.raises(ValueError, match="NaN"):
        save_wav(tmp_path / "bad.wav", np.array([0.0, np.nan]), SR)
    assert not (tmp_path / "bad.wav").exists()


@pytest.mark.parametrize("sr,n_fft,n_mels,fmin,fmax", [
    (22050, 1024, 80, 0.0, 8000.0), (22050, 1024, 80, 0.0, None), (16000, 512, 40, 50.0, 7000.0),
    (44100, 2048, 128, 20.0, None)])
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax):
    import librosa

    from glow_tts.audio import mel_filterbank

    ours = mel_filterbank(sr, n_fft, n_mels, fmin, fmax).numpy()
    reference = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-7)


def test_package_imports_no_librosa_for_mels():
    # librosa is a test/bench reference only: extracting mels must not import it.
    import subprocess
    import sys

    code = ("import sys, torch; from glow_tts.audio import MelSpectrogram; "
            "MelSpectrogram()(torch.zeros(4096)); print('librosa' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
