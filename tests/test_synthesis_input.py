"""What `synthesize` does with awkward text (issue 13): empty after cleaning, very long,
bad lines in --file, and out-of-range scales."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from fault_fixtures import micro_run_dir
from glow_tts.errors import GlowTTSError
from glow_tts.inference import (MAX_PIECE_CHARS, SynthesisInputError, load_model, readable_pieces,
                                split_text, synthesize, synthesize_text)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENTENCE = "바람이 불고 비가 내렸다."  # 14 characters


def run_cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "glow_tts", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return micro_run_dir(str(tmp_path_factory.mktemp("synth") / "run"))


@pytest.fixture(scope="module")
def model_hps(run_dir):
    return load_model(run_dir)


# --- splitting -----------------------------------------------------------------------------

def test_split_text_at_sentence_ends_and_packs_short_sentences():
    text = " ".join([SENTENCE] * 60)  # 899 characters
    pieces = split_text(text)
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces)
    assert all(p.endswith(".") for p in pieces)          # cut only at sentence ends
    assert " ".join(pieces) == text                      # nothing lost or reordered
    assert split_text("짧은 문장.") == ["짧은 문장."]


def test_split_text_without_sentence_ends_cuts_at_clauses_then_words():
    clauses = ", ".join(["가나다라 마바사"] * 60)
    pieces = split_text(clauses)
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces) and len(pieces) > 1
    assert all(p.endswith(",") for p in pieces[:-1])
    assert " ".join(pieces) == clauses
    words = " ".join(["가나다라"] * 200)
    pieces = split_text(words)
    assert all(len(p) <= MAX_PIECE_CHARS for p in pieces) and " ".join(pieces) == words
    with pytest.raises(SynthesisInputError, match=r"run of 400 characters without a space"):
        split_text("가" * 400)


# --- empty text ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["~", "~ ~", "()"])
def test_text_that_cleans_to_nothing_is_a_synthesis_input_error(model_hps, text):
    model, hps = model_hps
    with pytest.raises(SynthesisInputError, match=r"cleans to nothing") as info:
        synthesize(model, hps, text)
    assert repr(text) in str(info.value) and isinstance(info.value, GlowTTSError)
    with pytest.raises(SynthesisInputError, match=r"cleans to nothing"):
        synthesize_text(model, hps, text)


def test_a_lone_tilde_piece_inside_real_text_is_left_out(model_hps):
    _, hps = model_hps
    assert readable_pieces("안녕. ~", hps) == ["안녕. ~"]
    long = " ".join([SENTENCE] * 25) + " ~ " + " ".join([SENTENCE] * 25)
    assert all(p != "~" for p in readable_pieces(long, hps))


# --- scales ----------------------------------------------------------------------------------

@pytest.mark.parametrize("noise,length,bad", [
    (0.667, 0.0, "length_scale"), (0.667, -1.0, "length_scale"), (0.667, float("nan"), "length_scale"),
    (0.667, float("inf"), "length_scale"), (-0.1, 1.0, "noise_scale"), (float("nan"), 1.0, "noise_scale"),
])
def test_scales_out_of_range(model_hps, noise, length, bad):
    model, hps = model_hps
    with pytest.raises(SynthesisInputError, match=rf"^{bad} must be a finite number"):
        synthesize(model, hps, SENTENCE, noise_scale=noise, length_scale=length)


# The same options through the command line are rows of tests/test_cli_faults.py.


# --- --file: all or nothing ------------------------------------------------------------------

def test_file_with_bad_lines_stops_before_writing_and_names_every_bad_line(run_dir, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text(f"{SENTENCE}\n\n~\n물 좀 ☃ 주세요.\n{SENTENCE}\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("synthesize", "-m", run_dir, "--file", str(lines), "--out", str(out),
                   "--noise-scale", "0")
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    error = proc.stderr.strip().splitlines()
    assert len(error) == 1 and "nothing written" in error[0]
    assert f"{lines}:3: the text '~' cleans to nothing" in error[0]   # line numbers count blank lines
    assert f"{lines}:4: character '☃'" in error[0]
    assert not out.exists()


def test_file_of_good_lines_writes_one_wav_per_line(run_dir, tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text(f"{SENTENCE}\n\n안녕하세요.\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("synthesize", "-m", run_dir, "--file", str(lines), "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(os.listdir(out)) == ["0000.wav", "0001.wav"]


# --- long input ------------------------------------------------------------------------------

def test_one_piece_text_gives_what_synthesize_gives(model_hps):
    model, hps = model_hps
    a = synthesize(model, hps, SENTENCE, noise_scale=0.5, vocode=False, seed=3)
    b = synthesize_text(model, hps, SENTENCE, noise_scale=0.5, vocode=False, seed=3)
    assert b["pieces"] == [SENTENCE] and torch.equal(a["mel"], b["mel"])


def test_synthesize_refuses_one_pass_over_the_token_limit(model_hps):
    model, hps = model_hps
    with pytest.raises(SynthesisInputError, match=r"tokens, more than one synthesis pass takes"):
        synthesize(model, hps, " ".join([SENTENCE] * 100), vocode=False)


PEAK_BOUND_MB = 1000  # measured ~350 MB (torch alone ~240); 5,000 characters in one pass took ~14 GB


@pytest.mark.slow
def test_long_input_keeps_peak_memory_bounded(run_dir, tmp_path):
    """5,000 characters through the command's path (split, synthesize, join, Griffin-Lim)
    in a child process whose peak resident memory is read from /proc (VmHWM)."""
    text = " ".join([SENTENCE] * 334)[:5000]
    script = textwrap.dedent(f"""
        import sys, torch
        torch.set_num_threads(1)
        from glow_tts.inference import load_model, synthesize_text
        model, hps = load_model({run_dir!r})
        text = open({str(tmp_path / 'long.txt')!r}, encoding='utf-8').read()
        out = synthesize_text(model, hps, text, vocode=True)
        print(len(out["pieces"]), out["mel"].shape[1], out["wav"].numel())
        # VmHWM, the peak resident memory of this process's own address space. Not
        # getrusage's ru_maxrss: Linux carries that over from the address space that exec
        # replaced, which for a child spawned by vfork is the (large) pytest parent's.
        with open("/proc/self/status") as f:
            print(next(int(l.split()[1]) for l in f if l.startswith("VmHWM:")) // 1024)
    """)
    (tmp_path / "long.txt").write_text(text, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    counts, peak_mb = proc.stdout.split("\n")[:2]
    n_pieces, frames, samples = map(int, counts.split())
    assert n_pieces >= 5000 // MAX_PIECE_CHARS and frames > 5000 and samples > 0
    assert int(peak_mb) < PEAK_BOUND_MB, f"peak RSS {peak_mb} MB"
