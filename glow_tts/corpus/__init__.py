"""Data for training: the embedded Korean corpus and KSS preparation.

- :func:`build_corpus` synthesizes the project's own Korean sentences with eSpeak NG into a
  KSS-like folder with train/val/test filelists (``python -m glow_tts corpus``).
- :func:`prepare_kss` resamples and trims the real KSS dataset and writes filelists
  (``python -m glow_tts prepare-kss``).

Both write filelists of ``path|text`` lines whose text is the expanded (numbers spelled
out) Korean sentence, ready for ``TextMelLoader`` with ``korean_cleaners``.
"""

from glow_tts.corpus.build import (
    CorpusError,
    CorpusSummary,
    Sentence,
    build_corpus,
    load_sentences,
    synthesize_sentence,
)
from glow_tts.corpus.common import split_by_hash, split_by_index, trim_silence, write_wav
from glow_tts.corpus.kss import KssError, KssSummary, find_transcript, prepare_kss, read_transcript

__all__ = [
    "CorpusError", "CorpusSummary", "Sentence", "build_corpus", "load_sentences",
    "synthesize_sentence", "split_by_hash", "split_by_index", "trim_silence", "write_wav",
    "KssError", "KssSummary", "find_transcript", "prepare_kss", "read_transcript",
]
