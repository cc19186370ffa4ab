"""From a filelist to padded batches: ``TextMelLoader`` (a Dataset) and ``TextMelCollate``.

A filelist is a UTF-8 text file with one utterance per line, ``path|text``::

    1/1_0000.wav|그는 괜찮은 척하려고 애쓰는 것 같았다.

``TextMelLoader`` turns line i into ``(token ids IntTensor [T_x], log-mel FloatTensor
[80, T_y])``; ``TextMelCollate`` pads a list of those into one batch. The original (after
NVIDIA's Tacotron 2) did the same but read a path and a text without checking either: a
missing file or a bad line surfaced as a crash deep inside a DataLoader worker, hours into
training. This version checks the whole filelist when the loader is built:

* a malformed line (no ``|``, empty path, empty text, too many fields) is an error naming the
  filelist and the line number; a ``path|speaker|text`` line (multi-speaker, as the
  original's ``TextMelSpeakerLoader`` reads) is rejected with its own message;
* every text goes through the frontend once, so a character the model has no symbol for is
  reported with its file and line, and so is a text that cleans to nothing (``~``: zero
  tokens, which the encoder cannot take);
* every audio path is checked, and the missing ones are listed together; an unreadable
  file (zero bytes, not audio) or an all-silent one is an error naming the file and line;
* utterances with fewer mel frames than tokens are dropped, with one warning giving the
  count: monotonic alignment search assigns each token at least one frame, so it needs
  ``T_y >= T_x`` (and ``add_blank`` nearly doubles ``T_x``). ``T_y`` here is the frame count
  the model will see: it trims each mel to a multiple of ``n_sqz`` before the flow, so an
  utterance of 41 frames and 41 tokens fails the search with ``n_sqz=2`` (40 frames). The
  frame count comes from the audio file's header, without decoding it.

Relative paths are looked up first relative to the folder of the filelist (how this
project's corpus and KSS preparation write them), so a corpus folder can be moved or used
from any working directory; then relative to the current directory (the original's
filelists, ``DUMMY/LJ001-0001.wav``, are relative to the repository root it ran from).

Mel cache (``mel_cache_dir``): the mel of each file is saved to ``<dir>/<name>-<key>.pt`` where
the key hashes the file's absolute path, size and modification time, the mel settings and
``max_wav_value``; editing the audio or changing a setting changes the key, so a stale mel is
never read (old entries are simply left behind). With ``add_noise`` on, the cache is not
used: the original draws fresh noise into the *waveform* every time an utterance is loaded,
and a cached mel would freeze one draw, so caching would change training.

Noise streams (``set_epoch``): the original draws the noise from whichever random generator
the process loading the item has, so it depends on which DataLoader worker loads an item
and on what that worker loaded before. The training loop here calls
``dataset.set_epoch(epoch, seed)``; from then on the noise of item ``i`` is drawn from a
generator seeded with ``(seed, epoch, i)`` alone. The same item gets the same noise in the
same epoch with 0, 2 or 8 workers, and a run resumed in the middle of an epoch adds exactly
the noise the uninterrupted run would have. Without ``set_epoch`` (a loader used outside
training) the noise comes from torch's global generator, as in the original.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import torch
import torch.utils.data

from glow_tts.errors import GlowTTSError, read_text_lines
from glow_tts import commons
from glow_tts.audio import AudioError, MelSpectrogram, load_wav_to_torch, resampled_length
from glow_tts.hparams import SCHEMA
from glow_tts.text import text_to_sequence
from glow_tts.text.symbols import symbols

logger = logging.getLogger("glow_tts.data")

MAX_LISTED = 10  # how many missing files an error lists by name before "... and N more"


class FilelistError(GlowTTSError, ValueError):
    """A filelist line that cannot be used; the message names the file and the line."""


class MissingFilelistError(FilelistError, FileNotFoundError):
    """The filelist itself does not exist."""


class MissingFilesError(FilelistError, FileNotFoundError):
    """Audio (or mel) files named by a filelist do not exist; the message lists them."""


@dataclass
class FilelistEntry:
    path: str      # audio (or saved mel) path, resolved as described in the module docstring
    text: str      # the transcript, as written in the filelist
    line_no: int   # 1-based line in the filelist, for error messages


def resolve_path(path: str, filelist_dir: str) -> str:
    """Where a filelist's audio path points.

    A relative path is first looked up relative to the filelist's own folder (how this
    project's corpus and KSS preparation write them: ``../1/1_0000.wav``), then relative to
    the current directory (how the original's filelists are written: ``DUMMY/LJ001-0001.wav``
    from the repository root). A path found nowhere is returned as given, for the
    missing-files report."""
    if os.path.isabs(path):
        return path
    beside = os.path.normpath(os.path.join(filelist_dir, path))
    return beside if os.path.exists(beside) else path


def parse_filelist(filename: str, split: str = "|") -> list[FilelistEntry]:
    """Read and check a ``path|text`` filelist. Blank lines are skipped."""
    if not os.path.isfile(filename):
        raise MissingFilelistError(f"filelist not found: {filename}")
    filelist_dir = os.path.dirname(os.path.abspath(filename))
    entries = []
    for line_no, line in enumerate(read_text_lines(filename), start=1):
        line = line.strip()
        if not line:
            continue
        where = f"{filename}:{line_no}"
        fields = line.split(split)
        if len(fields) == 1:
            raise FilelistError(f"{where}: no '{split}' separator; expected 'path{split}text', got {line[:80]!r}")
        if len(fields) == 3:
            raise FilelistError(
                f"{where}: three fields look like 'path{split}speaker{split}text', a multi-speaker "
                f"filelist; multi-speaker training is not supported yet: write 'path{split}text'")
        if len(fields) > 3:
            raise FilelistError(f"{where}: {len(fields)} fields; expected 'path{split}text' "
                                f"(a '{split}' inside the text is not allowed)")
        path, text = fields[0].strip(), fields[1].strip()
        if not path:
            raise FilelistError(f"{where}: empty audio path before '{split}'")
        if not text:
            raise FilelistError(f"{where}: empty text after '{split}' for {path}")
        entries.append(FilelistEntry(resolve_path(path, filelist_dir), text, line_no))
    if not entries:
        raise FilelistError(f"{filename}: the filelist has no utterances")
    return entries


def load_filepaths_and_text(filename: str, split: str = "|") -> list[list[str]]:
    """The original's helper: ``[[path, text], ...]``, here checked and with paths resolved."""
    return [[e.path, e.text] for e in parse_filelist(filename, split)]


def mel_frame_count(path: str, hparams, load_mel_from_disk: bool) -> int:
    """Frames of the mel of ``path``, read from the file header (audio) or array shape (mel)."""
    if load_mel_from_disk:
        return int(load_saved_mel(path, mmap=True).shape[1])
    try:
        info = sf.info(path)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(f"{path}: cannot read audio header ({e}); expected a WAV or FLAC file") from None
    n_samples = resampled_length(info.frames, info.samplerate, hparams.sampling_rate)
    return 1 + n_samples // hparams.hop_length


def load_saved_mel(path: str, mmap: bool = False) -> torch.Tensor:
    """A mel saved as ``.npy`` (numpy) or ``.pt`` (torch), ``[n_mel, T_y]``."""
    try:
        if path.endswith(".npy"):
            array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
            mel = torch.from_numpy(np.array(array)) if not mmap else array
        else:
            mel = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as e:  # any decoding failure: say which file and what was expected
        raise AudioError(f"{path}: cannot load a saved mel ({e}); expected a .npy or .pt "
                         f"file holding a [n_mel, frames] array") from None
    if not hasattr(mel, "shape") or len(mel.shape) != 2:
        raise AudioError(f"{path}: a saved mel must be 2-D [n_mel, frames], got "
                         f"{getattr(mel, 'shape', type(mel).__name__)}")
    return mel


def has_sound(path: str, block_frames: int = 8192) -> bool:
    """Whether the audio file holds at least one non-zero sample.

    Reads block by block and stops at the first sound, so a recording costs one small read
    (its noise floor or first word comes early) and only an all-silent file is read to the
    end. Reading the file only (no resampling, no mel) keeps the start-up check cheap.
    """
    with sf.SoundFile(path) as f:
        for block in f.blocks(blocksize=block_frames, dtype="int16" if f.subtype.startswith("PCM")
                              else "float32", always_2d=True):
            if np.any(block):
                return True
    return False


def trimmed_frames(frames: int, n_sqz: int) -> int:
    """The frames the model keeps: it cuts each mel to a multiple of ``n_sqz`` before the
    flow's squeeze (``FlowGenerator.preprocess``), so the last ``frames % n_sqz`` are lost."""
    return frames // n_sqz * n_sqz


def _data_option(hparams, key: str):
    """``hparams.key``, or its documented default from ``glow_tts.hparams.SCHEMA`` when a
    hand-made ``hparams`` (or an original Glow-TTS config) lacks it."""
    return getattr(hparams, key, SCHEMA["data"][key][1])


class TextMelLoader(torch.utils.data.Dataset):
    """Map-style dataset: index -> ``(text IntTensor [T_x], mel FloatTensor [n_mel, T_y])``.

    ``audiopaths_and_text`` is a filelist *path*; ``hparams`` the config's ``data`` section
    (the original's argument names). Attributes kept from the original for side-by-side
    reading: ``audiopaths_and_text`` (``[[path, text], ...]``, shuffled with seed 1234 as
    the original does), ``text_cleaners``, ``max_wav_value``, ``sampling_rate``,
    ``load_mel_from_disk``, ``add_noise``, ``add_blank``, ``stft`` (the mel module).

    ``n_sqz`` is the model's squeeze factor (``hps.model.n_sqz``; the original has no such
    argument): the frames >= tokens filter counts the frames left after the model trims the
    mel to a multiple of it. Training and DDI pass it; the default 1 trims nothing.
    """

    def __init__(self, audiopaths_and_text: str, hparams, n_sqz: int = 1) -> None:
        self.filelist = audiopaths_and_text
        self.hparams = hparams
        self.text_cleaners = _data_option(hparams, "text_cleaners")
        self.max_wav_value = _data_option(hparams, "max_wav_value")
        self.sampling_rate = hparams.sampling_rate
        self.load_mel_from_disk = _data_option(hparams, "load_mel_from_disk")
        self.add_noise = _data_option(hparams, "add_noise")
        self.add_blank = _data_option(hparams, "add_blank")  # the original: getattr(..., False)
        self.mel_cache_dir = _data_option(hparams, "mel_cache_dir")
        self.stft = MelSpectrogram.from_hparams(hparams)
        self.noise_seed: int | None = None   # set_epoch: per-item noise streams
        self.noise_epoch = 0
        self.n_sqz = n_sqz

        entries = parse_filelist(audiopaths_and_text)
        self._check_files_exist(entries)
        token_counts = [self._token_count(e) for e in entries]
        frame_counts = [self._frame_count(e) for e in entries]
        # The filter: alignment search needs T_y >= T_x on the frames the model keeps.
        fits = [trimmed_frames(f, n_sqz) >= t for t, f in zip(token_counts, frame_counts)]
        kept = [(e, t, f) for e, t, f, ok in zip(entries, token_counts, frame_counts, fits) if ok]
        dropped = [e for e, ok in zip(entries, fits) if not ok]
        if dropped:
            logger.warning(
                "%s: dropped %d of %d utterances with fewer mel frames than text tokens "
                "(alignment needs frames >= tokens, counting the frames left after trimming "
                "to a multiple of n_sqz=%d%s); first one: line %d, %s",
                audiopaths_and_text, len(dropped), len(entries), n_sqz,
                ", and add_blank doubles the tokens" if self.add_blank else "",
                dropped[0].line_no, dropped[0].path)
        if not kept:
            raise FilelistError(f"{audiopaths_and_text}: no utterance has at least as many mel "
                                f"frames as text tokens; nothing left to train on")
        # The original shuffles once with random.seed(1234); a private Random(1234) gives the
        # same order without touching the global random state.
        random.Random(1234).shuffle(kept)
        self.audiopaths_and_text = [[e.path, e.text] for e, _, _ in kept]
        self.line_numbers = [e.line_no for e, _, _ in kept]
        self.text_lengths = [t for _, t, _ in kept]  # T_x of each item, in dataset order
        self.mel_lengths = [f for _, _, f in kept]   # T_y of each item, in dataset order

        if self.mel_cache_dir and self.add_noise and not self.load_mel_from_disk:
            logger.info("mel_cache_dir is ignored while add_noise is on: the noise is drawn "
                        "anew for each load, so mels cannot be cached")
        elif self.mel_cache_dir:
            os.makedirs(self.mel_cache_dir, exist_ok=True)

    # -- construction-time checks ---------------------------------------------------------

    def _check_files_exist(self, entries: list[FilelistEntry]) -> None:
        missing = [e for e in entries if not os.path.isfile(e.path)]
        if not missing:
            return
        listed = "\n  ".join(f"line {e.line_no}: {e.path}" for e in missing[:MAX_LISTED])
        more = f"\n  ... and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        kind = "mel" if self.load_mel_from_disk else "audio"
        raise MissingFilesError(
            f"{self.filelist}: {len(missing)} of {len(entries)} {kind} files not found "
            f"(relative paths are tried from the filelist's folder "
            f"{os.path.dirname(os.path.abspath(self.filelist))}, then from the current "
            f"directory {os.getcwd()}):\n  {listed}{more}")

    def _token_count(self, entry: FilelistEntry) -> int:
        try:
            n_tokens = len(self.get_text(entry.text))
        except ValueError as e:
            raise FilelistError(f"{self.filelist}:{entry.line_no}: {e}") from None
        n_symbols = (n_tokens - 1) // 2 if self.add_blank else n_tokens  # blanks: 2n + 1
        if n_symbols == 0:
            raise FilelistError(
                f"{self.filelist}:{entry.line_no}: the text {entry.text!r} cleans to nothing "
                f"(no letter the model can read), so it has no tokens to align; rewrite the "
                f"transcript or remove the line")
        return n_tokens

    def _frame_count(self, entry: FilelistEntry) -> int:
        where = f"{self.filelist}:{entry.line_no}"
        try:
            frames = mel_frame_count(entry.path, self.hparams, self.load_mel_from_disk)
            silent = not self.load_mel_from_disk and not has_sound(entry.path)
        except AudioError as e:
            raise AudioError(f"{where}: {e}") from None
        except (ValueError, RuntimeError, sf.LibsndfileError) as e:
            raise AudioError(f"{where}: {entry.path}: cannot read audio ({e}); expected a WAV "
                             f"or FLAC file") from None
        if silent:
            raise AudioError(f"{where}: {entry.path}: the audio is all silence (every sample "
                             f"is 0); replace the recording or remove the line")
        return frames

    # -- the original's methods ------------------------------------------------------------

    def get_mel_text_pair(self, audiopath_and_text: list[str],
                          noise_generator: torch.Generator | None = None
                          ) -> tuple[torch.Tensor, torch.Tensor]:
        audiopath, text = audiopath_and_text[0], audiopath_and_text[1]
        text = self.get_text(text)
        mel = self.get_mel(audiopath, noise_generator)
        return (text, mel)

    def get_mel(self, filename: str, noise_generator: torch.Generator | None = None) -> torch.Tensor:
        """Log-mel ``[n_mel, T_y]`` of an audio file (or a saved mel with ``load_mel_from_disk``).

        ``noise_generator`` draws the ``add_noise`` noise (torch's global generator if None).
        """
        if self.load_mel_from_disk:
            mel = load_saved_mel(filename).float()
            if mel.size(0) != self.stft.n_mel_channels:
                raise AudioError(f"{filename}: saved mel has {mel.size(0)} channels, the config "
                                 f"expects n_mel_channels={self.stft.n_mel_channels}")
            return mel
        cache_path = self._cache_path(filename)
        if cache_path is not None and os.path.exists(cache_path):
            return torch.load(cache_path, map_location="cpu", weights_only=True)
        audio, _rate = load_wav_to_torch(filename, self.sampling_rate)  # [T], int16 scale
        if self.add_noise:
            # U[0, 1) on the int16 scale, under one quantisation step: inaudible, but it
            # makes digital silence (exact zeros) differ between epochs instead of sitting
            # exactly on the ln(1e-5) floor. Its mean 0.5 is a small DC offset, so it is the
            # lowest mel band of silent frames that moves most (to about -9.6).
            audio = audio + torch.rand(audio.shape, generator=noise_generator, dtype=audio.dtype)
        audio_norm = audio / self.max_wav_value
        with torch.no_grad():
            melspec = self.stft(audio_norm)  # [n_mel, T_y]
        if cache_path is not None:
            tmp = f"{cache_path}.{os.getpid()}.tmp"  # workers may race: write, then rename
            torch.save(melspec, tmp)
            os.replace(tmp, cache_path)
        return melspec

    def get_text(self, text: str) -> torch.Tensor:
        """Token ids ``IntTensor [T_x]``; with ``add_blank`` the blank id ``len(symbols)``
        sits between and around the symbols, so ``T_x = 2n + 1``."""
        text_norm = text_to_sequence(text, self.text_cleaners)
        if self.add_blank:
            text_norm = commons.intersperse(text_norm, len(symbols))
        return torch.IntTensor(text_norm)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.get_mel_text_pair(self.audiopaths_and_text[index], self._noise_generator(index))

    def set_epoch(self, epoch: int, seed: int) -> None:
        """Draw the ``add_noise`` noise of item ``i`` from a generator seeded by ``(seed, epoch, i)``.

        Call it before each epoch's loader iterator is created: DataLoader workers that are
        not persistent receive a copy of the dataset, with these values, when it is.
        """
        self.noise_seed, self.noise_epoch = int(seed), int(epoch)

    def _noise_generator(self, index: int) -> torch.Generator | None:
        if not self.add_noise or self.noise_seed is None or self.load_mel_from_disk:
            return None
        # SeedSequence mixes the three numbers into one well-spread 64-bit seed, so
        # neighbouring items and epochs get unrelated streams.
        seed = np.random.SeedSequence([self.noise_seed, self.noise_epoch, index]).generate_state(
            1, np.uint64)[0]
        return torch.Generator().manual_seed(int(seed))

    def __len__(self) -> int:
        return len(self.audiopaths_and_text)

    # -- cache -----------------------------------------------------------------------------

    def _cache_path(self, audiopath: str) -> str | None:
        if not self.mel_cache_dir or self.add_noise:
            return None
        stat = os.stat(audiopath)
        key = json.dumps({"path": os.path.abspath(audiopath), "size": stat.st_size,
                          "mtime_ns": stat.st_mtime_ns, "mel": self.stft.settings(),
                          "max_wav_value": self.max_wav_value}, sort_keys=True)
        digest = hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]
        stem = os.path.splitext(os.path.basename(audiopath))[0]
        return os.path.join(self.mel_cache_dir, f"{stem}-{digest}.pt")


class TextMelCollate:
    """Zero-pads a list of ``(text [T_x], mel [n_mel, T_y])`` into a batch.

    Returns ``(text_padded LongTensor [B, max T_x], input_lengths LongTensor [B],
    mel_padded FloatTensor [B, n_mel, max T_y], output_lengths LongTensor [B])``, all in
    the order of decreasing text length (ties keep their input order), so
    ``output_lengths[i]`` belongs to ``text_padded[i]``. ``max T_y`` is rounded up to a
    multiple of ``n_frames_per_step`` (the flow's squeeze needs an even length with
    ``n_sqz=2``, which the model trims itself; the original keeps this Tacotron option).
    """

    def __init__(self, n_frames_per_step: int = 1) -> None:
        self.n_frames_per_step = n_frames_per_step

    def __call__(self, batch):
        input_lengths, ids_sorted_decreasing = torch.sort(
            torch.LongTensor([len(text) for text, _ in batch]), dim=0, descending=True, stable=True)
        max_input_len = int(input_lengths[0])

        text_padded = torch.zeros(len(batch), max_input_len, dtype=torch.long)  # 0 is the pad "_"
        for i, j in enumerate(ids_sorted_decreasing.tolist()):
            text = batch[j][0]
            text_padded[i, :text.size(0)] = text

        num_mels = batch[0][1].size(0)
        max_target_len = max(mel.size(1) for _, mel in batch)
        remainder = max_target_len % self.n_frames_per_step
        if remainder:
            max_target_len += self.n_frames_per_step - remainder

        mel_padded = torch.zeros(len(batch), num_mels, max_target_len, dtype=torch.float)
        output_lengths = torch.zeros(len(batch), dtype=torch.long)
        for i, j in enumerate(ids_sorted_decreasing.tolist()):
            mel = batch[j][1]
            mel_padded[i, :, :mel.size(1)] = mel
            output_lengths[i] = mel.size(1)

        return text_padded, input_lengths, mel_padded, output_lengths


# --- The training sampler and loader ---------------------------------------------------

class ResumableDistributedSampler(torch.utils.data.distributed.DistributedSampler):
    """``DistributedSampler`` that can start part-way into an epoch.

    The order of an epoch is a function of ``seed + epoch`` only (``set_epoch``), so a
    resumed run sees the same order; ``skip`` drops the samples the run had already
    trained on in that epoch. ``epoch_indices`` keeps this rank's full order of the
    current epoch (to name the files of a batch in error messages).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip = 0
        self.epoch_indices: list[int] = []

    def __iter__(self):
        self.epoch_indices = list(super().__iter__())
        return iter(self.epoch_indices[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip

    def batch_indices(self, batch_idx: int, batch_size: int) -> list[int]:
        """Dataset indices of batch ``batch_idx`` of this epoch (counted from its start)."""
        return self.epoch_indices[batch_idx * batch_size:(batch_idx + 1) * batch_size]


def build_train_loader(dataset: TextMelLoader, batch_size: int, num_workers: int, seed: int,
                       rank: int = 0, world_size: int = 1):
    """``(sampler, loader)`` of this rank's shard: ``drop_last`` batches, shuffled per epoch.

    The loader's own generator seeds its workers; giving it one (the training loop reseeds
    it each epoch) keeps it from drawing from the global RNG, which a resume must
    reproduce exactly. Raises :class:`FilelistError` when a rank gets less than one batch.
    """
    sampler = ResumableDistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=seed)
    loader = torch.utils.data.DataLoader(
        dataset, num_workers=num_workers, shuffle=False, batch_size=batch_size,
        pin_memory=torch.cuda.is_available(), drop_last=True, collate_fn=TextMelCollate(1),
        sampler=sampler, generator=torch.Generator())
    if sampler.num_samples < batch_size:
        raise FilelistError(
            f"{dataset.filelist}: {len(dataset)} utterances give each of {world_size} "
            f"process(es) {sampler.num_samples}, fewer than one batch of "
            f"train.batch_size={batch_size}; lower batch_size or add data")
    return sampler, loader
