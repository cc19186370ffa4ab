"""Prepare the Korean Single Speaker Speech dataset (KSS, Kyubyong Park, CC BY-NC-SA 4.0)
for training.

KSS ships 44.1 kHz mono WAVs in folders ``1/`` to ``4/`` and a transcript
``transcript.v.1.x.txt`` whose lines have six ``|``-separated fields::

    1/1_0000.wav|그는 괜찮은 척하려고 애쓰는 것 같았다.|(expanded)|(decomposed)|3.5|He seemed ...

:func:`prepare_kss` reads the newest transcript, takes the *expanded* column (numbers
spelled out; our cleaners turn it into jamo), and for every line: loads the WAV,
resamples it to 22,050 Hz with soxr, trims leading and trailing silence (30 dB below the
loudest frame, 50 ms kept) and writes 16-bit PCM under ``out_dir`` with the same relative
path. It then writes ``out_dir/filelists/{train,val,test}.txt`` (``path|text``), split by
a stable hash of the transcript path, and ``out_dir/skipped.txt`` listing what was skipped.

Missing or unreadable audio, malformed transcript lines and text the frontend cannot read
(a character with no symbol, or text that cleans to nothing) are collected and reported
with their line numbers (the rest is still prepared); with ``strict=True`` they are an
error instead.

The source data is never written to: an ``out_dir`` that is the KSS folder, lies inside it,
or would place any output file on a source file (through a symbolic link, say) is refused
before anything is written. (Writing the 22,050 Hz files over the 44.1 kHz originals would
destroy the only copy of the recordings.)
"""

from __future__ import annotations

import glob
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from glow_tts.errors import GlowTTSError, read_text_lines
from glow_tts.audio import float_to_int16
from glow_tts.text import text_to_sequence
from glow_tts.corpus.common import SPLITS, split_by_hash, trim_silence, write_filelists, write_wav

TRANSCRIPT_GLOB = "transcript.v.1.*.txt"
N_FIELDS = 6  # path|original|expanded|decomposed|duration|english
TRIM_TOP_DB = 30.0
TRIM_PAD_SECONDS = 0.05
SKIPPED_NAME = "skipped.txt"  # the problems of the last run, one per line (empty if none)


class KssError(GlowTTSError, ValueError):
    """KSS preparation cannot go on (or, with ``strict``, found problems); the message
    names the files and lines concerned."""


@dataclass(frozen=True)
class KssLine:
    line_number: int
    relative_path: str  # as in the transcript, e.g. "1/1_0000.wav"
    text: str           # the expanded column


@dataclass
class KssSummary:
    """What :func:`prepare_kss` did. ``problems`` lists every skipped item as
    ``"what: why"`` (missing or unreadable audio, malformed transcript lines)."""

    out_dir: str
    transcript: str
    n_lines: int
    n_written: int
    total_seconds: float
    filelists: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        sets = ", ".join(f"{split} {self.counts.get(split, 0)}" for split in SPLITS)
        text = (
            f"prepared {self.n_written} of {self.n_lines} transcript lines from {self.transcript} "
            f"({self.total_seconds / 3600:.2f} h at 22,050 Hz) into {self.out_dir} ({sets})"
        )
        if self.problems:
            text += (f"\n{len(self.problems)} skipped (also listed in "
                     f"{os.path.join(self.out_dir, SKIPPED_NAME)}):\n")
            text += "\n".join("  " + p for p in self.problems)
        return text


def _version_key(path: str) -> tuple[int, ...]:
    """``transcript.v.1.4.txt`` → (1, 4), so 1.10 sorts after 1.4."""
    match = re.search(r"transcript\.v\.([\d.]+)\.txt$", os.path.basename(path))
    return tuple(int(part) for part in match.group(1).split(".") if part) if match else ()


def find_transcript(kss_dir: str) -> str:
    """The highest-versioned ``transcript.v.1.*.txt`` in ``kss_dir`` (or, as in some
    downloads, in a folder directly below it)."""
    if not os.path.isdir(kss_dir):
        raise KssError(f"KSS folder {kss_dir} does not exist")
    candidates = glob.glob(os.path.join(glob.escape(kss_dir), TRANSCRIPT_GLOB))
    if not candidates:
        candidates = glob.glob(os.path.join(glob.escape(kss_dir), "*", TRANSCRIPT_GLOB))
    candidates = [c for c in candidates if _version_key(c)]
    if not candidates:
        raise KssError(
            f"no {TRANSCRIPT_GLOB} in {kss_dir}: point prepare-kss at the folder that holds the "
            "KSS transcript (e.g. transcript.v.1.4.txt) and the audio folders 1/ to 4/"
        )
    return max(candidates, key=_version_key)


def read_transcript(path: str) -> tuple[list[KssLine], list[str]]:
    """Parse a KSS transcript. Returns the usable lines and one problem string per
    malformed line, each naming ``path`` and the line number."""
    lines: list[KssLine] = []
    problems: list[str] = []
    for line_number, line in enumerate(read_text_lines(path), start=1):
        if not line.strip():
            continue
        fields = line.split("|")
        where = f"{path}:{line_number}"
        if len(fields) != N_FIELDS:
            problems.append(
                f"{where}: malformed line, expected {N_FIELDS} '|'-separated fields "
                f"(path|original|expanded|decomposed|duration|english), found {len(fields)}"
            )
            continue
        relative_path, expanded = fields[0].strip(), fields[2].strip()
        if not relative_path or not expanded:
            problems.append(f"{where}: malformed line, empty path or expanded text")
            continue
        if os.path.isabs(relative_path) or ".." in relative_path.replace("\\", "/").split("/"):
            problems.append(f"{where}: audio path {relative_path!r} must stay inside the KSS folder")
            continue
        lines.append(KssLine(line_number, relative_path, expanded))
    return lines, problems


def check_text(lines: list[KssLine], transcript: str,
               text_cleaners=("korean_cleaners",)) -> tuple[list[KssLine], list[str]]:
    """Split ``lines`` into those the text frontend can read and one problem string per
    line it cannot (a character without a symbol, or text that cleans to nothing), each
    naming the transcript and line number, so such lines never reach ``train.txt``."""
    good: list[KssLine] = []
    problems: list[str] = []
    for line in lines:
        where = f"{transcript}:{line.line_number}"
        try:
            ids = text_to_sequence(line.text, list(text_cleaners))
        except ValueError as e:  # UnknownSymbolError names the character and its position
            problems.append(f"{where}: unreadable text: {e}")
            continue
        if not ids:
            problems.append(f"{where}: the expanded text {line.text!r} has no letters the model "
                            "can read (it cleans to nothing)")
            continue
        good.append(line)
    return good, problems


def _inside(path: str, folder: str) -> bool:
    """Whether real path ``path`` is ``folder`` or lies below it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_out_dir(kss_dir: str, transcript: str, root: str, out_dir: str,
                  sources: list[str], destinations: list[str]) -> None:
    """Refuse an ``out_dir`` that would write into the source data (see the module
    docstring). Symbolic links are followed, so a link to the KSS folder is caught too."""
    out_real = os.path.realpath(out_dir)
    for folder in {os.path.realpath(kss_dir), os.path.realpath(os.path.dirname(transcript)),
                   os.path.realpath(root)}:
        if _inside(out_real, folder):
            raise KssError(
                f"--out {out_dir} is, or lies inside, the KSS source folder {folder}; "
                "prepare-kss would write over or beside the original recordings. "
                "Choose an output folder outside it, e.g. --out data/kss22k")
    source_files = {os.path.realpath(s) for s in sources if os.path.exists(s)}
    source_files.add(os.path.realpath(transcript))
    for destination in destinations:
        if os.path.realpath(destination) in source_files:
            raise KssError(
                f"--out {out_dir}: output file {destination} would overwrite the source file "
                f"{os.path.realpath(destination)}; choose an output folder outside the KSS data")


def _header_problem(source: str) -> str | None:
    """Why ``source`` cannot be used, judged from its header alone (None if it looks fine)."""
    import soundfile as sf

    if not os.path.isfile(source):
        return f"{source}: missing"
    try:
        sf.info(source)
    except Exception as e:  # soundfile raises several types for corrupt files
        return f"{source}: unreadable ({type(e).__name__}: {e})"
    return None


def _listed(problems: list[str], what: str) -> str:
    """One problem as one line; several as a count line and the problems indented below."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} {what}:\n" + "\n".join("  " + p for p in problems)


def _audio_root(transcript: str, lines: list[KssLine]) -> str:
    """The folder the transcript's paths are relative to: the transcript's own folder,
    or its ``kss/`` subfolder (the layout of some KSS downloads), whichever holds more of
    the first few files."""
    base = os.path.dirname(transcript)
    candidates = [base, os.path.join(base, "kss")]
    sample = lines[:50]

    def hits(root: str) -> int:
        return sum(os.path.isfile(os.path.join(root, line.relative_path)) for line in sample)

    return max(candidates, key=hits)  # ties keep the first, the transcript's folder


def process_one(task: tuple[str, str, int]) -> tuple[str, float | None, str | None]:
    """Worker: (source wav, destination wav, sampling rate) → (destination, seconds
    written, problem or None). Module-level so process pools can pickle it."""
    import soundfile as sf
    import soxr

    source, destination, sampling_rate = task
    if not os.path.isfile(source):
        return destination, None, f"{source}: missing"
    try:
        samples, source_rate = sf.read(source, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises several types for corrupt files
        return destination, None, f"{source}: unreadable ({type(e).__name__}: {e})"
    samples = samples.mean(axis=1)  # [T, channels] → [T]
    if samples.size == 0:
        return destination, None, f"{source}: unreadable (no samples)"
    if source_rate != sampling_rate:
        samples = soxr.resample(samples, source_rate, sampling_rate, quality="HQ")
    trimmed = trim_silence(samples, sampling_rate, top_db=TRIM_TOP_DB, pad_seconds=TRIM_PAD_SECONDS)
    if not np.any(trimmed):
        return destination, None, f"{source}: all silent"
    write_wav(destination, float_to_int16(trimmed), sampling_rate)
    return destination, len(trimmed) / sampling_rate, None


def prepare_kss(
    kss_dir: str,
    out_dir: str,
    strict: bool = False,
    jobs: int | None = None,
    sampling_rate: int = 22050,
    val_percent: float = 2.0,
    test_percent: float = 2.0,
    progress: bool = True,
) -> KssSummary:
    """Resample, trim and list KSS (see the module docstring). ``jobs`` worker processes
    (default: all cores; 1 runs in this process). Filelist paths are ``out_dir`` joined
    with the transcript path, exactly as ``out_dir`` was given.

    Raises :class:`KssError` when no transcript is found, when no line is usable, or, with
    ``strict``, when any line is malformed or any file missing or unreadable (the
    filelists are then not written).
    """
    from tqdm import tqdm

    if jobs is None:
        jobs = os.cpu_count() or 1
    elif isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise KssError(f"--jobs {jobs}: the number of worker processes must be at least 1 "
                       "(leave it out to use every core)")
    transcript = find_transcript(kss_dir)
    lines, problems = read_transcript(transcript)
    lines, text_problems = check_text(lines, transcript)
    problems += text_problems
    n_malformed = len(problems)
    if strict and problems:
        raise KssError(_listed(problems, "transcript line(s) cannot be used (run without --strict "
                                         "to skip them)"))
    if not lines:
        raise KssError(f"{transcript} has no usable lines" + ("\n" + "\n".join(problems) if problems else ""))
    root = _audio_root(transcript, lines)

    tasks = [
        (os.path.join(root, line.relative_path), os.path.join(out_dir, line.relative_path), sampling_rate)
        for line in lines
    ]
    check_out_dir(kss_dir, transcript, root, out_dir, [t[0] for t in tasks],
                  [t[1] for t in tasks]
                  + [os.path.join(out_dir, "filelists", f"{split}.txt") for split in SPLITS]
                  + [os.path.join(out_dir, SKIPPED_NAME)])
    if strict:  # missing files and unreadable headers are cheap to find: before any WAV is written
        unusable = [f"{problem} (transcript line {line.line_number})"
                    for line, (source, _, _) in zip(lines, tasks)
                    for problem in [_header_problem(source)] if problem]
        if unusable:
            raise KssError(_listed(unusable, f"of {len(lines)} audio files could not be used "
                                             "(run without --strict to skip them)"))
    bar = tqdm(total=len(tasks), desc="prepare-kss", unit="wav", disable=not progress)
    results = []
    if jobs == 1:
        for task in tasks:
            results.append(process_one(task))
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for result in pool.map(process_one, tasks, chunksize=8):
                results.append(result)
                bar.update()
    bar.close()

    filelist_lines: dict[str, list[str]] = {split: [] for split in SPLITS}
    total_seconds = 0.0
    for line, (destination, seconds, problem) in zip(lines, results):
        if problem is not None:
            problems.append(f"{problem} (transcript line {line.line_number})")
            continue
        total_seconds += seconds
        split = split_by_hash(line.relative_path, val_percent, test_percent)
        filelist_lines[split].append(f"{destination}|{line.text}")

    n_written = sum(len(v) for v in filelist_lines.values())
    if strict and problems:
        raise KssError(_listed(problems, f"of {len(lines)} audio files could not be used "
                                         "(run without --strict to skip them)"))
    if n_written == 0:
        raise KssError(f"none of the {len(lines)} audio files listed in {transcript} could be used:\n"
                       + "\n".join(problems[:20]))
    filelists = write_filelists(out_dir, filelist_lines)
    with open(os.path.join(out_dir, SKIPPED_NAME), "w", encoding="utf-8", newline="\n") as f:
        f.writelines(problem + "\n" for problem in problems)
    return KssSummary(
        out_dir=out_dir,
        transcript=transcript,
        n_lines=len(lines) + n_malformed,
        n_written=n_written,
        total_seconds=total_seconds,
        filelists=filelists,
        counts={split: len(v) for split, v in filelist_lines.items()},
        problems=problems,
    )
