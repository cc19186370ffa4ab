"""Start-up checks of TextMelLoader that keep bad data out of training (issue 13).

Each test pins one rule whose absence let an utterance through that crashed training later
(alignment search mid-epoch, a convolution on zero tokens, a silent file in a worker), or
turned a one-line user error into a traceback.
"""

import logging
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from glow_tts.audio import AudioError
from glow_tts.data_utils import FilelistError, TextMelLoader, trimmed_frames
from glow_tts.errors import GlowTTSError
from glow_tts.text import text_to_sequence
from test_data import data_hparams  # base.json's data section, add_noise off

SR, HOP = 22050, 256
GOOD_TEXT = "안녕하세요."


def write_frames(path, frames: int) -> None:
    """A tone whose mel has exactly ``frames`` frames: the loader counts 1 + samples // hop."""
    n = (frames - 1) * HOP
    t = np.arange(n) / SR
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16), SR,
             subtype="PCM_16")


def n_tokens(text: str, add_blank: bool) -> int:
    n = len(text_to_sequence(text, ["korean_cleaners"]))
    return 2 * n + 1 if add_blank else n


def filelist_with(tmp_path, name: str, frames: int, text: str):
    """A filelist of one long good utterance (line 1) and the utterance under test (line 2)."""
    write_frames(tmp_path / "good.wav", 400)
    write_frames(tmp_path / name, frames)
    filelist = tmp_path / "list.txt"
    filelist.write_text(f"good.wav|{GOOD_TEXT}\n{name}|{text}\n", encoding="utf-8")
    return filelist


def load(filelist, caplog, n_sqz, **overrides):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="glow_tts.data"):
        loader = TextMelLoader(str(filelist), data_hparams(**overrides), n_sqz=n_sqz)
    warnings = [r.getMessage() for r in caplog.records if r.name == "glow_tts.data"]
    return loader, warnings


ODD_TEXT = "가나다라마바사아자차강"   # 23 jamo tokens
EVEN_TEXT = "가나다라마바사아자차"     # 20


def test_trimmed_frames():
    assert [trimmed_frames(f, 2) for f in (40, 41, 42)] == [40, 40, 42]
    assert trimmed_frames(41, 1) == 41


@pytest.mark.parametrize("add_blank", [False, True])
def test_frames_equal_to_tokens_are_kept_without_a_warning(tmp_path, caplog, add_blank):
    """The boundary of the frames >= tokens filter: equal counts fit (the search assigns one
    frame per token), so the item is kept and nothing is logged. A filter written with `>`
    drops it, and fails here."""
    text = EVEN_TEXT
    tokens = n_tokens(text, add_blank)
    frames = tokens + (tokens % 2)  # the smallest even count >= tokens: trimming keeps it
    filelist = filelist_with(tmp_path, "edge.wav", frames, text)
    for n_sqz in (1, 2):
        loader, warnings = load(filelist, caplog, n_sqz, add_blank=add_blank)
        assert len(loader) == 2 and warnings == []
        i = loader.line_numbers.index(2)
        assert loader.text_lengths[i] == tokens
        if not add_blank:
            assert loader.mel_lengths[i] == frames == tokens  # exactly on the boundary


@pytest.mark.parametrize("add_blank", [False, True])
def test_filter_counts_the_frames_left_after_trimming_to_n_sqz(tmp_path, caplog, add_blank):
    """frames == tokens with an odd count: the model trims to frames - 1 < tokens with
    n_sqz=2 and alignment search raises mid-training, so the loader must drop it there
    (and keep it with n_sqz=1, where nothing is trimmed)."""
    text = ODD_TEXT
    tokens = n_tokens(text, add_blank)
    assert tokens % 2 == 1
    filelist = filelist_with(tmp_path, "odd.wav", tokens, text)
    loader, warnings = load(filelist, caplog, 2, add_blank=add_blank)
    assert len(loader) == 1 and loader.line_numbers == [1]
    assert len(warnings) == 1 and "dropped 1 of 2" in warnings[0] and "line 2" in warnings[0]
    assert "n_sqz=2" in warnings[0]
    loader, warnings = load(filelist, caplog, 1, add_blank=add_blank)
    assert len(loader) == 2 and warnings == []


def test_the_kept_boundary_item_trains_and_the_dropped_one_would_not(tmp_path, caplog):
    """The filter's reason, observed on the model: a batch of the kept boundary item runs
    the training forward pass with n_sqz=2; the dropped odd item makes the search fail."""
    from glow_tts.data_utils import TextMelCollate
    from glow_tts.models import FlowGenerator
    from glow_tts.text.symbols import symbols

    torch.manual_seed(0)
    model = FlowGenerator(n_vocab=len(symbols), hidden_channels=16, filter_channels=16,
                          filter_channels_dp=16, out_channels=80, n_blocks_dec=2,
                          n_layers_enc=1, n_block_layers=2, n_sqz=2)
    even = filelist_with(tmp_path, "edge.wav", n_tokens(EVEN_TEXT, False), EVEN_TEXT)
    loader, _ = load(even, caplog, 2)
    x, x_len, y, y_len = TextMelCollate(1)([loader[loader.line_numbers.index(2)]])
    model(x, x_len, y, y_len)  # runs
    odd = filelist_with(tmp_path, "odd.wav", n_tokens(ODD_TEXT, False), ODD_TEXT)
    loader, _ = load(odd, caplog, 1)  # n_sqz=1 keeps it; the n_sqz=2 model cannot use it
    x, x_len, y, y_len = TextMelCollate(1)([loader[loader.line_numbers.index(2)]])
    with pytest.raises(Exception):
        model(x, x_len, y, y_len)


@pytest.mark.parametrize("add_blank", [False, True])
@pytest.mark.parametrize("text", ["~", "~ ~", "()"])
def test_text_that_cleans_to_nothing_is_rejected_with_file_line_and_text(tmp_path, text, add_blank):
    filelist = filelist_with(tmp_path, "b.wav", 300, text)
    with pytest.raises(FilelistError) as info:
        TextMelLoader(str(filelist), data_hparams(add_blank=add_blank))
    message = str(info.value)
    assert message.startswith(f"{filelist}:2: ") and repr(text.strip()) in message
    assert "cleans to nothing" in message and "\n" not in message


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00", b"not audio at all" * 64])
def test_zero_byte_or_non_audio_wav_is_an_audio_error_with_file_and_line(tmp_path, content):
    filelist = filelist_with(tmp_path, "bad.wav", 300, GOOD_TEXT)
    (tmp_path / "bad.wav").write_bytes(content)
    with pytest.raises(AudioError) as info:
        TextMelLoader(str(filelist), data_hparams())
    assert isinstance(info.value, GlowTTSError)
    message = str(info.value)
    assert message.startswith(f"{filelist}:2: ") and "bad.wav" in message and "\n" not in message


def test_all_silent_wav_is_found_at_start_up_with_file_and_line(tmp_path):
    filelist = filelist_with(tmp_path, "silent.wav", 300, GOOD_TEXT)
    sf.write(str(tmp_path / "silent.wav"), np.zeros(300 * HOP, np.int16), SR, subtype="PCM_16")
    with pytest.raises(AudioError, match=rf"^{filelist}:2: .*silent\.wav: the audio is all silence"):
        TextMelLoader(str(filelist), data_hparams())


def test_missing_files_are_glow_tts_errors(tmp_path):
    filelist = filelist_with(tmp_path, "b.wav", 300, GOOD_TEXT)
    os.remove(tmp_path / "b.wav")
    with pytest.raises(GlowTTSError, match=r"1 of 2 audio files not found"):
        TextMelLoader(str(filelist), data_hparams())
    with pytest.raises(GlowTTSError, match=r"filelist not found"):
        TextMelLoader(str(tmp_path / "none.txt"), data_hparams())
