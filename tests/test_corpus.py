"""The embedded Korean corpus (eSpeak NG) and KSS preparation, through the API and the CLI."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
import wave

import numpy as np
import pytest
import soundfile as sf
import soxr
from jamo import h2j

from glow_tts.corpus import (
    CorpusError,
    KssError,
    build_corpus,
    find_transcript,
    load_sentences,
    prepare_kss,
    split_by_hash,
    split_by_index,
    trim_silence,
)
from glow_tts.corpus.build import TRANSCRIPT_NAME, parse_sentences

N_SMALL = 12
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cli(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "glow_tts", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=120,
    )


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()


def all_files(root: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, name), root) for d, _, names in os.walk(root) for name in names
    )


def wav_info(path: str) -> tuple[int, int, int, np.ndarray]:
    """(channels, sample width in bytes, rate, int16 samples) read with the stdlib."""
    with wave.open(path, "rb") as f:
        frames = f.readframes(f.getnframes())
        return f.getnchannels(), f.getsampwidth(), f.getframerate(), np.frombuffer(frames, "<i2")


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory) -> str:
    out = str(tmp_path_factory.mktemp("corpus") / "small")
    build_corpus(out, limit=N_SMALL, progress=False)
    return out


# --- the sentence table ---------------------------------------------------------------

def test_sentence_table_size_and_uniqueness():
    sentences = load_sentences()
    assert len(sentences) >= 300
    originals = [s.original for s in sentences]
    expanded = [s.expanded for s in sentences]
    assert len(set(originals)) == len(originals), "duplicate original sentences"
    assert len(set(expanded)) == len(expanded), "duplicate expanded sentences"
    assert all(s.english for s in sentences), "every sentence has an English gloss"


def test_sentence_table_variety():
    sentences = load_sentences()
    words = [len(s.expanded.split()) for s in sentences]
    assert min(words) <= 2 and max(words) >= 15
    endings = {s.expanded[-1] for s in sentences}
    assert {".", "?", "!"} <= endings
    assert sum("," in s.expanded for s in sentences) >= 30  # lists and clauses
    with_digits = [s for s in sentences if re.search(r"\d", s.original)]
    assert len(with_digits) >= 50


def test_expanded_column_spells_numbers_out():
    for s in load_sentences():
        assert not re.search(r"\d", s.expanded), s.expanded
        if re.search(r"\d", s.original):
            assert s.original != s.expanded, s.original
        else:
            # without numbers there is nothing to expand
            assert s.original == s.expanded, s.original
        assert re.fullmatch(r"[가-힣 .,?!]+", s.expanded), f"unexpected character in {s.expanded!r}"


def test_every_expanded_sentence_goes_through_the_frontend():
    from glow_tts.text import text_to_sequence

    for s in load_sentences():
        ids = text_to_sequence(s.expanded, ["korean_cleaners"])
        assert len(ids) >= len(s.expanded.replace(" ", "")), s.expanded  # every syllable is 2-3 jamo


def test_sentence_table_errors_name_the_line():
    with pytest.raises(CorpusError, match=r"table\.tsv:3: expected 3 tab-separated columns"):
        parse_sentences("# comment\n사과\t사과\tapple\n사과 하나\tno english\n", source="table.tsv")
    with pytest.raises(CorpusError, match=r"t\.tsv:1: the expanded column must spell numbers out"):
        parse_sentences("사과 3개\t사과 3개\tthree apples\n", source="t.tsv")


def test_split_by_index_is_interleaved_five_percent_each():
    splits = [split_by_index(i) for i in range(200)]
    assert splits.count("val") == splits.count("test") == 10
    assert splits[:8].count("val") == splits[:8].count("test") == 1


# --- the built corpus -----------------------------------------------------------------

def test_corpus_layout_and_transcript(small_corpus):
    sentences = load_sentences()[:N_SMALL]
    expected = [f"1/1_{i:04d}.wav" for i in range(N_SMALL)]
    assert all_files(small_corpus) == sorted(
        expected + [TRANSCRIPT_NAME, "filelists/test.txt", "filelists/train.txt", "filelists/val.txt"]
    )
    lines = read_lines(os.path.join(small_corpus, TRANSCRIPT_NAME))
    assert len(lines) == N_SMALL
    for line, sentence, path in zip(lines, sentences, expected):
        fields = line.split("|")
        assert len(fields) == 6, line
        rel, original, expanded, decomposed, duration, english = fields
        assert (rel, original, expanded, english) == (path, sentence.original, sentence.expanded, sentence.english)
        assert decomposed == h2j(expanded) and decomposed != expanded
        _, _, rate, samples = wav_info(os.path.join(small_corpus, rel))
        assert duration == f"{len(samples) / rate:.2f}"


def test_corpus_wavs_are_mono_int16_22050_and_speech(small_corpus):
    for i in range(N_SMALL):
        channels, width, rate, samples = wav_info(os.path.join(small_corpus, f"1/1_{i:04d}.wav"))
        assert (channels, width, rate) == (1, 2, 22050)
        assert 0.4 < len(samples) / rate < 10.0
        assert np.abs(samples).max() > 8000  # clearly not silent
        # trimmed, then 50 ms of silence at both ends
        edge = int(0.045 * rate)
        assert np.abs(samples[:edge]).max() == 0 and np.abs(samples[-edge:]).max() == 0
        middle = samples[len(samples) // 4: 3 * len(samples) // 4]
        assert np.sqrt(np.mean(middle.astype(np.float64) ** 2)) > 300


def test_corpus_filelists_cover_all_and_are_disjoint(small_corpus):
    sentences = load_sentences()[:N_SMALL]
    by_split = {}
    for split in ("train", "val", "test"):
        lines = read_lines(os.path.join(small_corpus, "filelists", f"{split}.txt"))
        by_split[split] = [line.split("|") for line in lines]
        assert all(len(fields) == 2 for fields in by_split[split])
        by_split[split] = [(os.path.normpath(os.path.join(small_corpus, "filelists", p)), t)
                           for p, t in by_split[split]]
    assert len(by_split["val"]) >= 1 and len(by_split["test"]) >= 1
    paths = [p for fields in by_split.values() for p, _ in fields]
    assert len(paths) == len(set(paths)) == N_SMALL
    expected = {os.path.join(small_corpus, f"1/1_{i:04d}.wav"): s.expanded for i, s in enumerate(sentences)}
    assert {p: t for fields in by_split.values() for p, t in fields} == expected
    assert all(os.path.isfile(p) for p in paths)


def test_corpus_is_byte_identical_between_builds(small_corpus, tmp_path, monkeypatch):
    # Into another folder, after this process has used its own eSpeak engine (whose state
    # carries over between utterances): every file identical, filelists included (their
    # paths are relative to the filelist's folder).
    from glow_tts.corpus import synthesize_sentence

    synthesize_sentence("아무 말이나 해 보세요.")
    other = str(tmp_path / "again")
    build_corpus(other, limit=N_SMALL, progress=False)
    files = all_files(small_corpus)
    assert all_files(other) == files
    for rel in files:
        a, b = os.path.join(small_corpus, rel), os.path.join(other, rel)
        assert filecmp.cmp(a, b, shallow=False), rel
    # The same relative --out from two working directories: all bytes identical.
    for name in ("x", "y"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        build_corpus("data/corpus", limit=N_SMALL, progress=False)
    x, y = str(tmp_path / "x"), str(tmp_path / "y")
    comparison = filecmp.dircmp(x, y)
    assert all_files(x) == all_files(y)
    for rel in all_files(x):
        assert filecmp.cmp(os.path.join(x, rel), os.path.join(y, rel), shallow=False), rel
    assert comparison.left_only == comparison.right_only == []


def test_corpus_cli(tmp_path):
    result = run_cli("corpus", "--out", "out", "--limit", "3", cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "3 utterances" in result.stdout
    assert "corpus" in result.stderr and "3/3" in result.stderr  # the tqdm bar
    assert read_lines(str(tmp_path / "out/filelists/train.txt"))[0].startswith("../1/1_0000.wav|")
    bad = run_cli("corpus", "--out", "out2", "--limit", "0", cwd=str(tmp_path))
    assert bad.returncode == 2 and "limit must be at least 1" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_build_corpus_from_an_unguarded_script(tmp_path):
    # A reader's script without `if __name__ == "__main__":` must work (the synthesis
    # worker is a plain subprocess, not multiprocessing's spawn, which re-runs the script).
    script = tmp_path / "make_data.py"
    script.write_text(
        "from glow_tts.corpus import build_corpus\n"
        "print(build_corpus('data', limit=2, progress=False).n_utterances)\n",
        encoding="utf-8",
    )
    env = dict(os.environ, PYTHONPATH=REPO)
    result = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"
    assert (tmp_path / "data/1/1_0001.wav").is_file()


# --- trimming and splitting helpers ---------------------------------------------------

def test_trim_silence_keeps_the_pad_and_the_sound():
    rate = 22050
    tone = (0.5 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)).astype(np.float32)
    silence = np.zeros(rate // 2, np.float32)
    noisy = np.concatenate([silence + 1e-4, tone, silence + 1e-4])  # 1e-4 is -74 dB below the tone
    trimmed = trim_silence(noisy, rate, top_db=30, pad_seconds=0.05)
    assert rate <= len(trimmed) <= rate + 2 * (int(0.05 * rate) + 256)
    assert np.abs(trimmed).max() == np.abs(tone).max()
    assert trim_silence(np.zeros(1000, np.int16), rate).shape == (1000,)  # all silent: unchanged


def test_split_by_hash_is_stable_and_roughly_proportional():
    keys = [f"{d}/{d}_{i:04d}.wav" for d in range(1, 5) for i in range(2500)]
    splits = [split_by_hash(k, 2.0, 2.0) for k in keys]
    assert 120 < splits.count("val") < 280 and 120 < splits.count("test") < 280
    # a fresh interpreter (different hash seed) gives the same answers
    code = "from glow_tts.corpus import split_by_hash as s; print(''.join(s(f'1/1_{i:04d}.wav')[1] for i in range(300)))"
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=REPO)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "".join(split_by_hash(f"1/1_{i:04d}.wav")[1] for i in range(300))


# --- KSS preparation ------------------------------------------------------------------

N_KSS = 6
KSS_PAD_SECONDS = 0.6


@pytest.fixture(scope="module")
def kss_fixture(tmp_path_factory, small_corpus) -> str:
    """A miniature KSS: our corpus at 44.1 kHz with 0.6 s of faint noise added at both ends,
    in KSS's layout with a transcript.v.1.4.txt (and an older v.1.3 that must be ignored)."""
    kss = tmp_path_factory.mktemp("kss") / "kss"
    (kss / "1").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = read_lines(os.path.join(small_corpus, TRANSCRIPT_NAME))[:N_KSS]
    for line in lines:
        rel = line.split("|")[0]
        samples, rate = sf.read(os.path.join(small_corpus, rel), dtype="float32")
        up = soxr.resample(samples, rate, 44100)
        pad = 1e-4 * rng.standard_normal(int(KSS_PAD_SECONDS * 44100)).astype(np.float32)
        sf.write(str(kss / rel), np.concatenate([pad, up, pad]), 44100, subtype="PCM_16")
    (kss / "transcript.v.1.4.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (kss / "transcript.v.1.3.txt").write_text("1/1_0000.wav|only|three\n", encoding="utf-8")
    return str(kss)


def copy_kss(kss_fixture: str, tmp_path) -> str:
    copy = str(tmp_path / "kss")
    shutil.copytree(kss_fixture, copy)
    return copy


def filelist_entries(out: str) -> dict[str, list[tuple[str, str]]]:
    """Filelist lines with their audio paths resolved against the filelist's folder."""
    folder = os.path.join(out, "filelists")
    entries = {}
    for split in ("train", "val", "test"):
        lines = [line.split("|") for line in read_lines(os.path.join(folder, f"{split}.txt"))]
        assert all(not os.path.isabs(p) for p, _ in lines)
        entries[split] = [(os.path.normpath(os.path.join(folder, p)), t) for p, t in lines]
    return entries


def test_prepare_kss_cli_resamples_trims_and_lists(kss_fixture, tmp_path):
    out = str(tmp_path / "prepared")
    result = run_cli("prepare-kss", kss_fixture, "--out", out, "--jobs", "2")
    assert result.returncode == 0, result.stderr
    assert f"prepared {N_KSS} of {N_KSS}" in result.stdout and "transcript.v.1.4.txt" in result.stdout
    assert "prepare-kss" in result.stderr  # the progress bar
    transcript = read_lines(os.path.join(kss_fixture, "transcript.v.1.4.txt"))
    for line in transcript:
        rel, _, expanded = line.split("|")[:3]
        source_seconds = sf.info(os.path.join(kss_fixture, rel)).duration
        channels, width, rate, samples = wav_info(os.path.join(out, rel))
        assert (channels, width, rate) == (1, 2, 22050)
        seconds = len(samples) / rate
        # the 2 x 0.6 s of padding is gone, up to the 50 ms kept on each side
        assert seconds < source_seconds - 2 * KSS_PAD_SECONDS + 0.2
        assert seconds > source_seconds - 2 * KSS_PAD_SECONDS - 0.2
        assert np.abs(samples).max() > 8000
    entries = filelist_entries(out)
    listed = {p: t for split in entries.values() for p, t in split}
    assert len(listed) == sum(len(v) for v in entries.values()) == N_KSS  # disjoint and covering
    expected = {os.path.join(out, line.split("|")[0]): line.split("|")[2] for line in transcript}
    assert listed == expected
    for split, items in entries.items():
        assert all(split_by_hash(os.path.relpath(p, out)) == split for p, _ in items)


def test_prepare_kss_api_is_deterministic(kss_fixture, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    summary_a = prepare_kss(kss_fixture, a, jobs=1, progress=False)
    summary_b = prepare_kss(kss_fixture, b, jobs=2, progress=False)
    assert summary_a.n_written == summary_b.n_written == N_KSS and not summary_a.problems
    assert summary_a.counts == summary_b.counts
    assert read_lines(os.path.join(a, "skipped.txt")) == []
    assert all_files(a) == all_files(b)
    for rel in all_files(a):
        if rel.endswith(".wav"):
            assert filecmp.cmp(os.path.join(a, rel), os.path.join(b, rel), shallow=False), rel
    ea, eb = filelist_entries(a), filelist_entries(b)
    for split in ea:
        assert [(os.path.relpath(p, a), t) for p, t in ea[split]] == [(os.path.relpath(p, b), t) for p, t in eb[split]]


def test_prepare_kss_reports_missing_and_unreadable_files(kss_fixture, tmp_path):
    kss = copy_kss(kss_fixture, tmp_path)
    os.remove(os.path.join(kss, "1/1_0001.wav"))
    with open(os.path.join(kss, "1/1_0002.wav"), "wb") as f:
        f.write(b"this is not a wav file" * 50)
    out = str(tmp_path / "out")

    result = run_cli("prepare-kss", kss, "--out", out, "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert f"prepared {N_KSS - 2} of {N_KSS}" in result.stdout
    assert "2 skipped" in result.stdout
    assert re.search(r"1_0001\.wav: missing \(transcript line 2\)", result.stdout)
    assert re.search(r"1_0002\.wav: unreadable", result.stdout)
    skipped = read_lines(os.path.join(out, "skipped.txt"))
    assert len(skipped) == 2 and "missing" in skipped[0] and "unreadable" in skipped[1]
    listed = [p for split in filelist_entries(out).values() for p, _ in split]
    assert len(listed) == N_KSS - 2 and not any(p.endswith(("1_0001.wav", "1_0002.wav")) for p in listed)

    strict = run_cli("prepare-kss", kss, "--out", str(tmp_path / "strict"), "--strict", "--jobs", "1")
    assert strict.returncode != 0
    assert "1_0001.wav: missing" in strict.stderr and "1_0002.wav: unreadable" in strict.stderr
    assert "Traceback" not in strict.stderr
    assert not os.path.exists(str(tmp_path / "strict"))  # found before any WAV was written


def test_prepare_kss_malformed_lines_and_missing_transcript(kss_fixture, tmp_path):
    kss = copy_kss(kss_fixture, tmp_path)
    transcript = os.path.join(kss, "transcript.v.1.4.txt")
    with open(transcript, "a", encoding="utf-8") as f:
        f.write("1/1_9999.wav|two|fields only\n")
    summary = prepare_kss(kss, str(tmp_path / "out"), jobs=1, progress=False)
    assert summary.n_written == N_KSS and summary.n_lines == N_KSS + 1
    assert len(summary.problems) == 1
    assert f"{transcript}:{N_KSS + 1}: malformed line" in summary.problems[0]
    with pytest.raises(KssError, match=rf"transcript\.v\.1\.4\.txt:{N_KSS + 1}: malformed"):
        prepare_kss(kss, str(tmp_path / "strict"), strict=True, jobs=1, progress=False)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(KssError, match=r"no transcript\.v\.1\.\*\.txt in"):
        find_transcript(str(empty))
    result = run_cli("prepare-kss", str(empty), "--out", str(tmp_path / "none"))
    assert result.returncode == 2 and "no transcript.v.1.*.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_find_transcript_picks_the_highest_version(tmp_path):
    for version in ("1.3", "1.4", "1.10"):
        (tmp_path / f"transcript.v.{version}.txt").write_text("", encoding="utf-8")
    assert find_transcript(str(tmp_path)).endswith("transcript.v.1.10.txt")


# --- prepare-kss never writes into its source ------------------------------------------

def tree_state(root: str) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    state = {}
    for rel in all_files(root):
        st = os.stat(os.path.join(root, rel))
        state[rel] = (st.st_size, st.st_mtime_ns)
    return state


@pytest.mark.parametrize("where", ["same", "inside", "symlink"])
def test_prepare_kss_refuses_an_out_dir_in_its_source(kss_fixture, tmp_path, where):
    """`prepare-kss DIR --out DIR` once overwrote the 44.1 kHz originals with the trimmed
    22.05 kHz files; any output that is, or lies in, the source is refused before writing."""
    kss = copy_kss(kss_fixture, tmp_path)
    out = {"same": kss, "inside": os.path.join(kss, "prepared"),
           "symlink": str(tmp_path / "link")}[where]
    if where == "symlink":
        os.symlink(kss, out)
    before = tree_state(kss)
    with pytest.raises(KssError, match=r"--out .* KSS source folder .*outside"):
        prepare_kss(kss, out, jobs=1, progress=False)
    result = run_cli("prepare-kss", kss, "--out", out, "--jobs", "1")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: --out")
    assert tree_state(kss) == before  # nothing overwritten, nothing added


def test_prepare_kss_refuses_output_files_linked_to_sources(kss_fixture, tmp_path):
    """An output folder whose audio subfolder is a link to the source's is caught too."""
    kss = copy_kss(kss_fixture, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(os.path.join(kss, "1"), out / "1")
    before = tree_state(kss)
    with pytest.raises(KssError, match=r"would overwrite the source file"):
        prepare_kss(kss, str(out), jobs=1, progress=False)
    assert tree_state(kss) == before and sorted(os.listdir(out)) == ["1"]


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_prepare_kss_rejects_jobs_below_one(kss_fixture, tmp_path, jobs):
    out = tmp_path / "out"
    with pytest.raises(KssError, match=rf"--jobs {jobs}: .*at least 1"):
        prepare_kss(kss_fixture, str(out), jobs=int(jobs), progress=False)
    result = run_cli("prepare-kss", kss_fixture, "--out", str(out), "--jobs", jobs)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"--jobs {jobs}" in result.stderr and not out.exists()


def test_prepare_kss_reports_unreadable_text_with_line_numbers(kss_fixture, tmp_path):
    """Text the frontend cannot read (no symbol, or nothing left after cleaning) is a
    reported problem at preparation, not a line of train.txt that fails later in train."""
    kss = copy_kss(kss_fixture, tmp_path)
    transcript = os.path.join(kss, "transcript.v.1.4.txt")
    lines = read_lines(transcript)
    fields = [line.split("|") for line in lines]
    fields[1][2] = "눈사람 ☃ 하나"   # a character with no symbol
    fields[3][2] = "~"               # cleans to nothing
    with open(transcript, "w", encoding="utf-8") as f:
        f.write("\n".join("|".join(x) for x in fields) + "\n")
    out = str(tmp_path / "out")
    summary = prepare_kss(kss, out, jobs=1, progress=False)
    assert summary.n_written == N_KSS - 2 and summary.n_lines == N_KSS
    assert len(summary.problems) == 2
    assert summary.problems[0].startswith(f"{transcript}:2: unreadable text") and "U+2603" in summary.problems[0]
    assert summary.problems[1].startswith(f"{transcript}:4: ") and "cleans to nothing" in summary.problems[1]
    listed = [t for split in filelist_entries(out).values() for _, t in split]
    assert "눈사람 ☃ 하나" not in listed and "~" not in listed and len(listed) == N_KSS - 2
    with pytest.raises(KssError, match=r"transcript\.v\.1\.4\.txt:2: unreadable text"):
        prepare_kss(kss, str(tmp_path / "strict"), strict=True, jobs=1, progress=False)
    assert not os.path.exists(tmp_path / "strict")
