"""The embedded Korean corpus: a few hundred sentences written for this project, spoken by
eSpeak NG and laid out like KSS.

``sentences.tsv`` (next to this file) has one sentence per line, three tab-separated
columns: the sentence as one would write it (``original``, digits allowed), the same
sentence with every number spelled out by hand (``expanded``), and a short English gloss.
Lines starting with ``#`` are comments.

:func:`build_corpus` writes::

    out_dir/1/1_0000.wav ...            mono int16 WAV, trimmed, 22,050 Hz by default
    out_dir/transcript.v.1.4.txt        path|original|expanded|decomposed|duration|english
    out_dir/filelists/{train,val,test}.txt   path|expanded text

The transcript has KSS's six columns (``decomposed`` is the expanded text as conjoining
jamo, ``duration`` is seconds with two decimals), so ``prepare-kss`` can read this corpus
too. Paths in the filelists are relative to the filelist's own folder
(``../1/1_0000.wav``), so nothing written depends on ``out_dir``: building into two folders
gives byte-identical files, and a built corpus can be moved.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from glow_tts.errors import GlowTTSError
from glow_tts.audio import float_to_int16
from glow_tts.corpus.common import SPLITS, split_by_index, trim_silence, write_filelists, write_wav

SENTENCES_FILE = "sentences.tsv"
TRANSCRIPT_NAME = "transcript.v.1.4.txt"
SPEAKER_FOLDER = "1"  # KSS keeps its audio in folders 1/ to 4/; one is enough here
TRIM_TOP_DB = 40.0     # eSpeak's silence is digital zero, so a strict threshold is safe
TRIM_KEEP_SECONDS = 0.02  # of eSpeak's own fade-out kept around the sound
PAD_SECONDS = 0.05        # digital silence added at both ends


class CorpusError(GlowTTSError, ValueError):
    """The sentence table or the output folder cannot be used; the message says why."""


@dataclass(frozen=True)
class Sentence:
    index: int      # 0-based position in the table; the file is 1_{index:04d}.wav
    original: str   # as written, digits allowed
    expanded: str   # numbers spelled out; this is what is spoken and trained on
    english: str    # a short gloss for readers

    @property
    def relative_path(self) -> str:
        return f"{SPEAKER_FOLDER}/{SPEAKER_FOLDER}_{self.index:04d}.wav"

    @property
    def split(self) -> str:
        return split_by_index(self.index)


def parse_sentences(text: str, source: str = SENTENCES_FILE) -> list[Sentence]:
    """Parse the sentence table. Every problem names ``source`` and the line number."""
    sentences: list[Sentence] = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise CorpusError(
                f"{source}:{line_number}: expected 3 tab-separated columns "
                f"(original, expanded, english), found {len(fields)}: {line!r}"
            )
        original, expanded, english = (f.strip() for f in fields)
        if not original or not expanded:
            raise CorpusError(f"{source}:{line_number}: empty original or expanded column")
        if "|" in line:
            raise CorpusError(f"{source}:{line_number}: '|' separates transcript columns; remove it")
        if re.search(r"\d", expanded):
            raise CorpusError(
                f"{source}:{line_number}: the expanded column must spell numbers out, got {expanded!r}"
            )
        sentences.append(Sentence(len(sentences), original, expanded, english))
    return sentences


def load_sentences() -> list[Sentence]:
    """All sentences of the embedded corpus, in file order."""
    text = resources.files("glow_tts.corpus").joinpath(SENTENCES_FILE).read_text(encoding="utf-8")
    return parse_sentences(text)


def decompose(text: str) -> str:
    """Hangul syllables → conjoining jamo (KSS's ``decomposed`` column)."""
    from jamo import h2j

    return h2j(text)


def synthesize_sentence(text: str, sampling_rate: int = 22050) -> np.ndarray:
    """Speak ``text`` with eSpeak NG and return int16 samples ``[T]`` at ``sampling_rate`` Hz.

    eSpeak starts speaking on the first sample and sometimes trails off with silence. We
    trim to the sound and then add the same 50 ms of silence at both ends, so every clip
    starts and ends quietly (no click in the first mel frame) and alike.

    The exact samples depend on what this process's engine spoke before (see
    :func:`build_corpus`); the words, timing and sound are the same every time.
    """
    from glow_tts.corpus.synth import ESPEAK_SAMPLE_RATE, synthesize

    samples = synthesize(text)
    if sampling_rate != ESPEAK_SAMPLE_RATE:
        import soxr

        resampled = soxr.resample(samples.astype(np.float32) / 32768.0, ESPEAK_SAMPLE_RATE, sampling_rate)
        samples = float_to_int16(resampled)
    samples = trim_silence(samples, sampling_rate, top_db=TRIM_TOP_DB, pad_seconds=TRIM_KEEP_SECONDS)
    pad = int(round(PAD_SECONDS * sampling_rate))
    return np.pad(samples, (pad, pad))


@dataclass
class CorpusSummary:
    """What :func:`build_corpus` wrote."""

    out_dir: str
    n_utterances: int
    total_seconds: float
    transcript: str
    filelists: dict[str, str] = field(default_factory=dict)  # split -> path
    counts: dict[str, int] = field(default_factory=dict)     # split -> number of lines

    def __str__(self) -> str:
        sets = ", ".join(f"{split} {self.counts.get(split, 0)}" for split in SPLITS)
        return (
            f"{self.n_utterances} utterances, {self.total_seconds / 60:.1f} min of audio in "
            f"{self.out_dir} ({sets}); filelists in {os.path.dirname(self.filelists['train'])}"
        )


def build_corpus(
    out_dir: str,
    limit: int | None = None,
    sampling_rate: int = 22050,
    progress: bool = True,
) -> CorpusSummary:
    """Synthesize the embedded corpus into ``out_dir`` (see the module docstring).

    ``limit`` keeps only the first ``limit`` sentences (handy for tests). Existing files
    with the same names are overwritten; nothing else in ``out_dir`` is touched.
    """
    from tqdm import tqdm

    # imported here, not at the top: `python -m glow_tts.corpus.worker` must not find the
    # worker module already imported by the package (runpy warns about that)
    from glow_tts.corpus.worker import FreshSpeaker

    sentences = load_sentences()
    if limit is not None:
        if limit < 1:
            raise CorpusError(f"--limit must be at least 1, got {limit}")
        sentences = sentences[:limit]
    if not 8000 <= sampling_rate <= 192000:
        raise CorpusError(f"--sampling-rate must be between 8000 and 192000 Hz (the config's "
                          f"data.sampling_rate, usually 22050), got {sampling_rate}")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise CorpusError(f"output path {out_dir} exists and is not a folder")

    transcript_lines = []
    filelist_lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    total_seconds = 0.0
    # eSpeak NG carries state from one utterance to the next, so a sentence's samples
    # depend on what the engine spoke before in the same process. To make every build
    # byte-identical, whatever the calling program synthesized earlier, a freshly started
    # worker process speaks the sentences in file order (see glow_tts/corpus/worker.py).
    with FreshSpeaker() as speaker:
        for sentence in tqdm(sentences, desc="corpus", unit="utt", disable=not progress):
            samples = speaker.speak(sentence.expanded, sampling_rate)
            wav_path = os.path.join(out_dir, sentence.relative_path)
            write_wav(wav_path, samples, sampling_rate)
            duration = len(samples) / sampling_rate
            total_seconds += duration
            transcript_lines.append(
                "|".join([
                    sentence.relative_path, sentence.original, sentence.expanded,
                    decompose(sentence.expanded), f"{duration:.2f}", sentence.english,
                ])
            )
            filelist_lines[sentence.split].append(f"{wav_path}|{sentence.expanded}")

    transcript = os.path.join(out_dir, TRANSCRIPT_NAME)
    with open(transcript, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(transcript_lines) + "\n")
    filelists = write_filelists(out_dir, filelist_lines)
    return CorpusSummary(
        out_dir=out_dir,
        n_utterances=len(sentences),
        total_seconds=total_seconds,
        transcript=transcript,
        filelists=filelists,
        counts={split: len(lines) for split, lines in filelist_lines.items()},
    )
