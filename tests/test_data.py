"""glow_tts.data_utils: filelist checks, TextMelLoader items, TextMelCollate batches, the mel cache."""

import logging
import os
import random

import numpy as np
import pytest
import soundfile as sf
import torch

from glow_tts.audio import MelSpectrogram, load_wav
from glow_tts.data_utils import FilelistError, TextMelCollate, TextMelLoader
from glow_tts.hparams import HParams, get_hparams_from_file
from glow_tts.text import text_to_sequence
from glow_tts.text.symbols import symbols

SR = 22050
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SENTENCES = [
    "안녕하세요.",
    "오늘은 날씨가 참 좋네요!",
    "저는 학교에 갑니다.",
    "이것은 무엇입니까?",
    "바람이 불고 비가 내렸다.",
]


def write_sine(path, seconds, freq=220.0, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t) + 0.1 * amp * np.sin(2 * np.pi * 3 * freq * t)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, (x * 32767).astype(np.int16), sr, subtype="PCM_16")


def data_hparams(**overrides):
    hps = get_hparams_from_file(os.path.join(REPO, "configs", "base.json")).data
    hps.add_noise = False
    for key, value in overrides.items():
        hps[key] = value
    return hps


@pytest.fixture
def corpus(tmp_path):
    """wavs/0.wav ... wavs/4.wav (sines, 0.6-1.4 s) and filelist.txt with paths relative to itself."""
    lines = []
    for i, text in enumerate(SENTENCES):
        write_sine(tmp_path / "wavs" / f"{i}.wav", 0.6 + 0.2 * i, freq=150.0 + 40 * i)
        lines.append(f"wavs/{i}.wav|{text}")
    filelist = tmp_path / "filelist.txt"
    filelist.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path, filelist


def test_getitem_types_shapes_and_values(corpus, monkeypatch):
    folder, filelist = corpus
    monkeypatch.chdir(folder.parent)  # paths resolve relative to the filelist, not the cwd
    loader = TextMelLoader(str(filelist), data_hparams())
    assert len(loader) == len(SENTENCES)
    mel_module = MelSpectrogram()
    seen = set()
    for i in range(len(loader)):
        text, mel = loader[i]
        path, transcript = loader.audiopaths_and_text[i]
        seen.add(transcript)
        assert text.dtype == torch.int32 and text.dim() == 1
        assert text.tolist() == text_to_sequence(transcript, ["korean_cleaners"])
        assert mel.dtype == torch.float32 and mel.shape[0] == 80
        n_samples = sf.info(path).frames
        assert mel.shape[1] == 1 + n_samples // 256 == loader.mel_lengths[i]
        assert loader.text_lengths[i] == len(text)
        torch.testing.assert_close(mel, mel_module(load_wav(path, SR)), atol=1e-5, rtol=0)
    assert seen == set(SENTENCES)
    assert isinstance(loader.stft, MelSpectrogram) and loader.hparams.sampling_rate == SR


def test_relative_paths_prefer_the_filelist_folder(corpus, monkeypatch):
    folder, filelist = corpus
    # A second wavs/0.wav under the cwd with another length: the filelist's folder wins,
    # so a corpus can be used from any working directory.
    other = folder / "cwd"
    write_sine(other / "wavs" / "0.wav", 2.0)
    monkeypatch.chdir(other)
    loader = TextMelLoader(str(filelist), data_hparams())
    index = [p for p, _ in loader.audiopaths_and_text].index(str(folder / "wavs" / "0.wav"))
    assert loader[index][1].shape[1] != 1 + int(2.0 * SR) // 256


def test_relative_paths_fall_back_to_the_current_directory(tmp_path, monkeypatch):
    # The original's filelists hold paths relative to the repository root (the cwd).
    write_sine(tmp_path / "root" / "audio" / "a.wav", 2.0)
    (tmp_path / "root" / "lists").mkdir()
    filelist = tmp_path / "root" / "lists" / "train.txt"
    filelist.write_text("audio/a.wav|안녕하세요.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "root")
    loader = TextMelLoader(str(filelist), data_hparams())
    assert loader.audiopaths_and_text[0][0] == "audio/a.wav"
    assert loader[0][1].shape[1] == 1 + int(2.0 * SR) // 256


def test_collate_sorts_pads_and_keeps_lengths_together():
    torch.manual_seed(0)
    lengths = [(5, 40), (9, 31), (2, 50), (9, 20)]
    batch = [(torch.randint(1, 73, (tx,), dtype=torch.int32), torch.randn(80, ty)) for tx, ty in lengths]
    text, text_lengths, mel, mel_lengths = TextMelCollate()(batch)
    assert text.dtype == text_lengths.dtype == mel_lengths.dtype == torch.int64
    assert mel.dtype == torch.float32
    assert text_lengths.tolist() == [9, 9, 5, 2]
    assert mel_lengths.tolist() == [31, 20, 40, 50]  # ties keep input order; mel follows its text
    assert text.shape == (4, 9) and mel.shape == (4, 80, 50)
    order = [1, 3, 0, 2]
    for row, j in enumerate(order):
        tx, ty = lengths[j]
        assert torch.equal(text[row, :tx], batch[j][0].long())
        assert torch.all(text[row, tx:] == 0)
        assert torch.equal(mel[row, :, :ty], batch[j][1])
        assert torch.all(mel[row, :, ty:] == 0)
    # Frames rounded up to a multiple of n_frames_per_step.
    _, _, mel3, lengths3 = TextMelCollate(n_frames_per_step=3)(batch)
    assert mel3.shape[2] == 51 and lengths3.max().item() == 50


def test_loader_with_dataloader_batches(corpus):
    _, filelist = corpus
    loader = TextMelLoader(str(filelist), data_hparams())
    batches = list(torch.utils.data.DataLoader(loader, batch_size=2, collate_fn=TextMelCollate()))
    assert sum(b[0].shape[0] for b in batches) == len(SENTENCES)
    for text, text_lengths, mel, mel_lengths in batches:
        assert torch.all(text_lengths[:-1] >= text_lengths[1:])
        assert mel.shape[2] == mel_lengths.max()


def test_add_blank_gives_2n_plus_1(corpus):
    _, filelist = corpus
    plain = TextMelLoader(str(filelist), data_hparams())
    blank = TextMelLoader(str(filelist), data_hparams(add_blank=True))
    assert plain.audiopaths_and_text == blank.audiopaths_and_text  # same seeded shuffle
    for i in range(len(plain)):
        ids, ids_b = plain[i][0], blank[i][0]
        assert len(ids_b) == 2 * len(ids) + 1
        assert torch.all(ids_b[0::2] == len(symbols)) and torch.equal(ids_b[1::2], ids)


@pytest.mark.parametrize("bad_line, message", [
    ("wavs/1.wav 오늘은 좋네요", r"filelist.txt:2: no '\|' separator"),
    ("wavs/1.wav|", r"filelist.txt:2: empty text"),
    ("|오늘은 좋네요", r"filelist.txt:2: empty audio path"),
    ("wavs/1.wav|a|b|c", r"filelist.txt:2: 4 fields"),
    ("wavs/1.wav|0|오늘은 좋네요", r"filelist.txt:2: .*multi-speaker.*not supported"),
    ("wavs/1.wav|오늘은 ☃ 좋네요", r"filelist.txt:2: .*U\+2603"),
])
def test_malformed_lines_name_file_and_line(corpus, bad_line, message):
    folder, _ = corpus
    filelist = folder / "filelist.txt"
    filelist.write_text(f"wavs/0.wav|안녕하세요.\n{bad_line}\nwavs/2.wav|저는 학교에 갑니다.\n",
                        encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        TextMelLoader(str(filelist), data_hparams())


def test_blank_lines_are_skipped_and_empty_filelist_is_an_error(corpus):
    folder, _ = corpus
    filelist = folder / "gaps.txt"
    filelist.write_text("\nwavs/0.wav|안녕하세요.\n\n", encoding="utf-8")
    loader = TextMelLoader(str(filelist), data_hparams())
    assert len(loader) == 1 and loader.line_numbers == [2]
    (folder / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(FilelistError, match="empty.txt: the filelist has no utterances"):
        TextMelLoader(str(folder / "empty.txt"), data_hparams())
    with pytest.raises(FileNotFoundError, match="nothere.txt"):
        TextMelLoader(str(folder / "nothere.txt"), data_hparams())


def test_missing_audio_files_are_listed(corpus):
    folder, _ = corpus
    lines = ["wavs/0.wav|안녕하세요."] + [f"gone/{k}.wav|안녕하세요." for k in range(12)]
    filelist = folder / "missing.txt"
    filelist.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(FileNotFoundError) as info:
        TextMelLoader(str(filelist), data_hparams())
    message = str(info.value)
    assert "missing.txt: 12 of 13 audio files not found" in message
    assert "line 2: gone/0.wav" in message and "line 11: gone/9.wav" in message
    assert "gone/10.wav" not in message and "... and 2 more" in message


def test_short_utterances_are_dropped_with_one_warning(corpus, caplog):
    folder, filelist = corpus
    long_text = "가나다라마바사아자차카타파하 " * 3  # 85 tokens
    write_sine(folder / "wavs" / "short1.wav", 0.5)   # 44 frames
    write_sine(folder / "wavs" / "short2.wav", 0.9)   # 78 frames
    with open(filelist, "a", encoding="utf-8") as f:
        f.write(f"wavs/short1.wav|{long_text}\nwavs/short2.wav|{long_text}\n")
    with caplog.at_level(logging.WARNING, logger="glow_tts.data"):
        loader = TextMelLoader(str(filelist), data_hparams())
    warnings = [r for r in caplog.records if r.name == "glow_tts.data" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "dropped 2 of 7" in warnings[0].getMessage() and "line 6" in warnings[0].getMessage()
    assert len(loader) == 5 and "short1" not in str(loader.audiopaths_and_text)
    # With add_blank the tokens double: utterances that fitted may no longer fit.
    caplog.clear()
    text_fits_plain = "가나다라마바사아자차카타파하"  # 28 tokens; 57 with blanks
    write_sine(folder / "wavs" / "mid.wav", 0.5)      # 44 frames
    filelist.write_text(f"wavs/0.wav|안녕하세요.\nwavs/mid.wav|{text_fits_plain}\n", encoding="utf-8")
    assert len(TextMelLoader(str(filelist), data_hparams())) == 2
    with caplog.at_level(logging.WARNING, logger="glow_tts.data"):
        assert len(TextMelLoader(str(filelist), data_hparams(add_blank=True))) == 1
    assert "dropped 1 of 2" in caplog.text and "add_blank" in caplog.text


def test_frame_count_from_header_matches_resampled_mel(tmp_path):
    """A 44.1 kHz file: the loader predicts T_y from the header without decoding it."""
    write_sine(tmp_path / "a.wav", 1.2345, sr=44100)
    (tmp_path / "list.txt").write_text("a.wav|안녕하세요.\n", encoding="utf-8")
    loader = TextMelLoader(str(tmp_path / "list.txt"), data_hparams())
    assert loader[0][1].shape[1] == loader.mel_lengths[0]


def cache_files(folder):
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def test_mel_cache_is_used_and_invalidated(corpus):
    folder, filelist = corpus
    cache = folder / "cache"
    loader = TextMelLoader(str(filelist), data_hparams(mel_cache_dir=str(cache)))
    path = loader.audiopaths_and_text[0][0]
    fresh = loader.get_mel(path)
    files = cache_files(cache)
    assert len(files) == 1 and files[0].startswith(os.path.splitext(os.path.basename(path))[0])
    # The cache is read: plant a marker in the cached file.
    marker = torch.full_like(fresh, 7.0)
    torch.save(marker, cache / files[0])
    assert torch.equal(loader.get_mel(path), marker)
    # Changing the audio (content, size and mtime) invalidates it.
    write_sine(path, 2.0, freq=500.0)
    changed = loader.get_mel(path)
    assert changed.shape[1] == 1 + int(2.0 * SR) // 256 and not torch.equal(changed, marker)
    assert len(cache_files(cache)) == 2
    # Changing a mel setting invalidates it too.
    other = TextMelLoader(str(filelist), data_hparams(mel_cache_dir=str(cache), mel_fmax=7600.0))
    mel_7600 = other.get_mel(path)
    assert len(cache_files(cache)) == 3 and not torch.allclose(mel_7600, changed)
    # No temporary files are left behind.
    assert not [f for f in cache_files(cache) if f.endswith(".tmp")]


def test_cache_is_bypassed_with_add_noise(corpus):
    folder, filelist = corpus
    cache = folder / "cache"
    loader = TextMelLoader(str(filelist), data_hparams(mel_cache_dir=str(cache), add_noise=True))
    loader[0]
    assert cache_files(cache) == []


def test_add_noise_changes_the_mel_slightly(tmp_path):
    # Digital silence then a tone: the noise lifts parts of the silent frames off the ln(1e-5) floor.
    x = np.zeros(SR, np.int16)
    x[SR // 2:] = (8000 * np.sin(2 * np.pi * 300 * np.arange(SR // 2) / SR)).astype(np.int16)
    sf.write(tmp_path / "a.wav", x, SR, subtype="PCM_16")
    (tmp_path / "list.txt").write_text("a.wav|안녕하세요.\n", encoding="utf-8")
    clean = TextMelLoader(str(tmp_path / "list.txt"), data_hparams())[0][1]
    noisy_loader = TextMelLoader(str(tmp_path / "list.txt"), data_hparams(add_noise=True))
    torch.manual_seed(0)
    noisy1 = noisy_loader[0][1]
    noisy2 = noisy_loader[0][1]
    torch.manual_seed(0)
    assert torch.equal(noisy_loader[0][1], noisy1)  # the noise comes from torch's RNG
    assert not torch.equal(noisy1, noisy2)
    silent = slice(2, 40)
    assert torch.all(clean[:, silent] == np.float32(np.log(1e-5)))
    # U[0,1) has mean 0.5: a DC offset of 0.5/32768 that lifts the lowest mel band off the
    # floor (to about -9.6) in every silent frame; its fluctuation (std 0.29/32768) reaches
    # above the floor in only some of the other cells.
    floor = np.log(1e-5)
    assert noisy1[0, silent].min() > floor + 1.0
    above = (noisy1[1:, silent] > floor + 1e-3).float().mean().item()
    assert 0.01 < above < 0.5
    # Where the tone is, U[0,1) on the int16 scale changes nothing that matters.
    tone = slice(50, 80)
    loud = clean[:, tone] > -2.0
    assert (noisy1[:, tone][loud] - clean[:, tone][loud]).abs().max() < 1e-2


def test_set_epoch_makes_the_noise_a_function_of_seed_epoch_and_item(tmp_path):
    """After set_epoch, item i's noise depends on (seed, epoch, i) only, not on the global RNG."""
    x = np.zeros(SR // 2, np.int16)                       # mostly silence: the noise shows
    x[-2000:] = (3000 * np.sin(2 * np.pi * 300 * np.arange(2000) / SR)).astype(np.int16)
    for name in ("a", "b"):
        sf.write(tmp_path / f"{name}.wav", x, SR, subtype="PCM_16")
    (tmp_path / "list.txt").write_text("a.wav|안녕.\nb.wav|안녕.\n", encoding="utf-8")
    loader = TextMelLoader(str(tmp_path / "list.txt"), data_hparams(add_noise=True))
    loader.set_epoch(3, seed=1234)
    torch.manual_seed(0)
    first = [loader[i][1] for i in range(2)]
    global_state = torch.get_rng_state()
    torch.manual_seed(99)                                 # the global generator is not used
    again = [loader[i][1] for i in (1, 0)]                # nor is the order of loading
    assert torch.equal(again[1], first[0]) and torch.equal(again[0], first[1])
    torch.manual_seed(0)
    loader[0]
    assert torch.equal(torch.get_rng_state(), global_state)   # ... it drew nothing from it
    assert not torch.equal(first[0], first[1])           # two items (same audio): two streams
    loader.set_epoch(4, seed=1234)
    assert not torch.equal(loader[0][1], first[0])        # next epoch: new noise
    loader.set_epoch(3, seed=1)
    assert not torch.equal(loader[0][1], first[0])        # another seed: new noise
    loader.set_epoch(3, seed=1234)
    assert torch.equal(loader[0][1], first[0])


def test_load_mel_from_disk(tmp_path):
    mel = torch.randn(80, 120)
    np.save(tmp_path / "a.npy", mel.numpy())
    torch.save(mel * 2, tmp_path / "b.pt")
    np.save(tmp_path / "bad.npy", np.zeros((40, 100), np.float32))
    (tmp_path / "list.txt").write_text("a.npy|안녕하세요.\nb.pt|저는 학교에 갑니다.\n", encoding="utf-8")
    loader = TextMelLoader(str(tmp_path / "list.txt"), data_hparams(load_mel_from_disk=True))
    got = {p: loader.get_mel(p) for p, _ in loader.audiopaths_and_text}
    assert torch.equal(got[str(tmp_path / "a.npy")], mel)
    assert torch.equal(got[str(tmp_path / "b.pt")], mel * 2)
    assert sorted(loader.mel_lengths) == [120, 120]
    with pytest.raises(ValueError, match="bad.npy: saved mel has 40 channels"):
        loader.get_mel(str(tmp_path / "bad.npy"))


def test_hparams_without_optional_keys_work(corpus):
    """A data section like the original's (no mel_cache_dir, no add_blank) is accepted."""
    _, filelist = corpus
    keys = ["text_cleaners", "max_wav_value", "sampling_rate", "filter_length", "hop_length",
            "win_length", "n_mel_channels", "mel_fmin", "mel_fmax", "load_mel_from_disk"]
    full = data_hparams()
    hps = HParams(**{k: full[k] for k in keys})
    loader = TextMelLoader(str(filelist), hps)
    assert len(loader) == len(SENTENCES)
    # Missing keys take the schema's documented defaults.
    assert (loader.add_blank, loader.add_noise, loader.mel_cache_dir) == (False, True, None)


def test_order_is_the_originals_seeded_shuffle(corpus):
    _, filelist = corpus
    loader = TextMelLoader(str(filelist), data_hparams())
    expected = [f"wavs/{i}.wav" for i in range(len(SENTENCES))]
    random.seed(1234)           # what the original did, on the global generator
    random.shuffle(expected)
    assert [os.path.relpath(p, filelist.parent) for p, _ in loader.audiopaths_and_text] == expected
    assert sorted(loader.line_numbers) == list(range(1, len(SENTENCES) + 1))


def test_unreadable_audio_is_reported_with_file_and_line(corpus):
    folder, filelist = corpus
    (folder / "wavs" / "broken.wav").write_bytes(b"not audio" * 50)
    with open(filelist, "a", encoding="utf-8") as f:
        f.write("wavs/broken.wav|안녕하세요.\n")
    with pytest.raises(ValueError, match=r"filelist.txt:6: .*broken.wav: cannot read audio header"):
        TextMelLoader(str(filelist), data_hparams())
