"""Every command against every bad input a user can meet, through the real command line.

One row per (command, fault). Each row runs ``python -m glow_tts ...`` in a scratch
workspace (a tone corpus, a micro config, a mini KSS folder, a run folder with an
untrained micro model) and checks:

* the exit status: 2 for a user error (the command line's one handler for GlowTTSError),
  0 for the inputs that are handled by going on (a skipped and reported line);
* the report: exactly one ``error: ...`` line, at the end of stderr (only an indented list
  of the items concerned may follow it), naming the file, line, key or value
  (the row's pattern), and no traceback anywhere on stderr;
* the workspace: no file changed, and nothing new except what the row allows (a failed
  command must not leave a half-made run folder, config.json or output folder behind).

Rows marked ``slow`` train or spawn processes. The kill -9 test at the end interrupts a
training run and resumes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
import soundfile as sf

from fault_fixtures import (drop_unknown_keys, micro_config, micro_run_dir, tone_corpus,
                            write_json, write_tone)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- the workspace ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory) -> str:
    """Built once, copied for every row: corpus/, cfg.json, run/, kss/."""
    ws = str(tmp_path_factory.mktemp("faults") / "ws")
    filelists = tone_corpus(os.path.join(ws, "corpus"))
    write_json(os.path.join(ws, "cfg.json"), drop_unknown_keys(micro_config(filelists)))
    micro_run_dir(os.path.join(ws, "run"), filelists)
    kss = os.path.join(ws, "kss")
    lines = []
    for i, text in enumerate(["안녕하세요.", "물 좀 주세요.", "내일 만나요.", "고맙습니다."]):
        rel = f"1/1_{i:04d}.wav"
        write_tone(os.path.join(kss, rel), 1.0, 200.0 + 40 * i, rate=44100)
        lines.append(f"{rel}|{text}|{text}|{text}|1.0|gloss")
    with open(os.path.join(kss, "transcript.v.1.4.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return ws


def workspace(template: str, tmp_path) -> str:
    """A fresh copy of the template whose configs point at the copy's own files."""
    ws = str(tmp_path / "ws")
    shutil.copytree(template, ws)
    for rel in ("cfg.json", os.path.join("run", "config.json")):
        path = os.path.join(ws, rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(template, ws))
    return ws


def snapshot(root: str) -> dict[str, str]:
    """Relative path -> content hash of every file (and '<dir>' for every folder)."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for d in dirs:
            state[os.path.relpath(os.path.join(folder, d), root)] = "<dir>"
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                state[os.path.relpath(path, root)] = hashlib.sha1(f.read()).hexdigest()
    return state


# --- editing the workspace -------------------------------------------------------------------

def edit_config(ws: str, section: str, key: str, value, name: str = "cfg.json") -> str:
    path = os.path.join(ws, name)
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config[section][key] = value
    write_json(path, config)
    return path


def rename_key(ws: str, section: str, old: str, new: str) -> None:
    path = os.path.join(ws, "cfg.json")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config[section][new] = config[section].pop(old)
    write_json(path, config)


def edit_line(ws: str, number: int, text: str, filelist: str = "corpus/train.txt") -> None:
    """Replace line ``number`` (1-based) of a filelist."""
    path = os.path.join(ws, filelist)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    lines[number - 1] = text
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def edit_kss_text(ws: str, number: int, text: str) -> None:
    path = os.path.join(ws, "kss", "transcript.v.1.4.txt")
    with open(path, encoding="utf-8") as f:
        lines = [line.split("|") for line in f.read().splitlines()]
    lines[number - 1][2] = text
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join("|".join(fields) for fields in lines) + "\n")


def cp949_line(ws: str, number: int, rel: str) -> None:
    """Line ``number`` of a UTF-8 text file re-encoded as CP949 (how Korean Windows saves)."""
    path = os.path.join(ws, rel)
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    data = [line.encode("cp949" if i == number - 1 else "utf-8") for i, line in enumerate(lines)]
    with open(path, "wb") as f:
        f.write(b"\n".join(data) + b"\n")


def write_bytes(ws: str, rel: str, data: bytes) -> None:
    with open(os.path.join(ws, rel), "wb") as f:
        f.write(data)


def truncate(ws: str, rel: str) -> None:
    path = os.path.join(ws, rel)
    with open(path, "rb") as f:
        data = f.read()
    write_bytes(ws, rel, data[: len(data) // 2])


def other_config_checkpoint(ws: str) -> None:
    """run/G_0.pth replaced by a model of another width than run/config.json says."""
    import torch

    from glow_tts.checkpoint import save_checkpoint
    from glow_tts.hparams import HParams, validate_config
    from glow_tts.models import build_model

    with open(os.path.join(ws, "run", "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["model"]["hidden_channels"] = 32
    torch.manual_seed(0)
    model = build_model(HParams(**validate_config(config)))
    save_checkpoint(model, None, 1.0, 0, os.path.join(ws, "run", "G_0.pth"))


# --- the table -------------------------------------------------------------------------------

@dataclass
class Row:
    id: str
    args: list[str]                       # after `python -m glow_tts`; {ws} is the workspace
    pattern: str                          # regex the `error:` line (or stdout, if rc 0) must match
    setup: Callable[[str], None] = lambda ws: None
    rc: int = 2
    allowed: str = r"$^"                  # regex of relative paths that may appear or change
    slow: bool = False
    needs_core: bool = False              # relies on core's part of issue 13 (see the README)


def config_rows(command: str) -> list[Row]:
    """The rows init and train share: config and data checked before anything is written."""
    c = ["-c", "{ws}/cfg.json", "-m", "{ws}/r"]
    rows = [
        Row("config-missing", ["-c", "{ws}/none.json", "-m", "{ws}/r"], r"config file not found: .*none\.json"),
        Row("config-bad-json", c, r"cfg\.json:\d+:\d+: invalid JSON",
            setup=lambda ws: open(os.path.join(ws, "cfg.json"), "a").write(",")),
        Row("config-typo-key", c, r"unknown key model\.hiden_channels; did you mean 'hidden_channels'",
            setup=lambda ws: rename_key(ws, "model", "hidden_channels", "hiden_channels")),
        Row("config-batch-size-0", c, r"train\.batch_size must be >= 1",
            setup=lambda ws: edit_config(ws, "train", "batch_size", 0)),
        Row("config-checkpoint-interval-0", c, r"train\.checkpoint_interval must be >= 1",
            setup=lambda ws: edit_config(ws, "train", "checkpoint_interval", 0)),
        Row("config-n-sqz-0", c, r"model\.n_sqz must be >= 1",
            setup=lambda ws: edit_config(ws, "model", "n_sqz", 0)),
        Row("config-n-heads", c, r"model\.n_heads \(5\) must divide model\.hidden_channels",
            setup=lambda ws: edit_config(ws, "model", "n_heads", 5)),
        Row("config-negative-lr", c, r"train\.learning_rate must be > 0",
            setup=lambda ws: edit_config(ws, "train", "learning_rate", -1.0)),
        Row("filelist-missing", c, r"filelist not found: .*none\.txt",
            setup=lambda ws: edit_config(ws, "data", "training_files", os.path.join(ws, "none.txt"))),
        Row("filelist-malformed", c, r"train\.txt:3: no '\|' separator",
            setup=lambda ws: edit_line(ws, 3, "wavs/2.wav 저는 학교에 갑니다.")),
        Row("audio-missing", c, r"train\.txt: 1 of 8 audio files not found",
            setup=lambda ws: os.remove(os.path.join(ws, "corpus", "wavs", "4.wav"))),
        Row("text-unknown-character", c, r"train\.txt:2: character '☃' \(U\+2603",
            setup=lambda ws: edit_line(ws, 2, "wavs/1.wav|눈사람 ☃ 하나")),
        Row("text-cleans-to-nothing", c, r"train\.txt:2: the text '~' cleans to nothing",
            setup=lambda ws: edit_line(ws, 2, "wavs/1.wav|~")),
        Row("wav-zero-bytes", c, r"train\.txt:1: .*wavs/0\.wav",
            setup=lambda ws: write_bytes(ws, "corpus/wavs/0.wav", b"")),
        Row("filelist-not-utf8", c, r"train\.txt:2: not UTF-8 text",
            setup=lambda ws: cp949_line(ws, 2, "corpus/train.txt")),
        Row("run-dir-is-a-file", ["-c", "{ws}/cfg.json", "-m", "{ws}/cfg.json"],
            r"-m .*cfg\.json is a file, not a run directory"),
        Row("wav-not-audio", c, r"train\.txt:1: .*wavs/0\.wav: cannot read audio",
            setup=lambda ws: write_bytes(ws, "corpus/wavs/0.wav", b"this is text, not audio\n" * 40)),
        Row("wav-all-silent", c, r"train\.txt:1: .*wavs/0\.wav: the audio is all silence",
            setup=lambda ws: sf.write(os.path.join(ws, "corpus/wavs/0.wav"), np.zeros(22050, np.int16),
                                      22050, subtype="PCM_16")),
    ]
    for row in rows:
        row.id = f"{command}-{row.id}"
        row.args = [command, *row.args]
        row.needs_core = True  # exit status 2, and no run folder or config.json before the checks
    return rows


INIT_ROWS = {"config-missing", "run-dir-is-a-file", "config-batch-size-0", "filelist-missing", "text-cleans-to-nothing",
             "wav-all-silent", "wav-zero-bytes"}

ROWS: list[Row] = [
    # prepare-kss
    Row("prepare-kss-missing-folder", ["prepare-kss", "{ws}/nope", "--out", "{ws}/out"],
        r"KSS folder .*nope does not exist"),
    Row("prepare-kss-no-transcript", ["prepare-kss", "{ws}/corpus", "--out", "{ws}/out"],
        r"no transcript\.v\.1\.\*\.txt in .*corpus"),
    Row("prepare-kss-out-is-source", ["prepare-kss", "{ws}/kss", "--out", "{ws}/kss"],
        r"--out .*kss is, or lies inside, the KSS source folder"),
    Row("prepare-kss-out-inside-source", ["prepare-kss", "{ws}/kss", "--out", "{ws}/kss/prepared"],
        r"--out .*kss/prepared is, or lies inside, the KSS source folder"),
    Row("prepare-kss-jobs-0", ["prepare-kss", "{ws}/kss", "--out", "{ws}/out", "--jobs", "0"],
        r"--jobs 0: the number of worker processes must be at least 1"),
    Row("prepare-kss-jobs-negative", ["prepare-kss", "{ws}/kss", "--out", "{ws}/out", "--jobs", "-1"],
        r"--jobs -1: the number of worker processes must be at least 1"),
    Row("prepare-kss-strict-unknown-character",
        ["prepare-kss", "{ws}/kss", "--out", "{ws}/out", "--strict", "--jobs", "1"],
        r"transcript\.v\.1\.4\.txt:2: unreadable text: character '☃'",
        setup=lambda ws: edit_kss_text(ws, 2, "눈사람 ☃ 하나")),
    Row("prepare-kss-unknown-character-reported",
        ["prepare-kss", "{ws}/kss", "--out", "{ws}/out", "--jobs", "1"],
        r"prepared 3 of 4 .*\n1 skipped.*\n  .*transcript\.v\.1\.4\.txt:2: unreadable text",
        setup=lambda ws: edit_kss_text(ws, 2, "눈사람 ☃ 하나"), rc=0, allowed=r"out(/|$)"),
    # corpus
    Row("corpus-limit-0", ["corpus", "--out", "{ws}/c", "--limit", "0"], r"--limit must be at least 1, got 0"),
    Row("corpus-sampling-rate-0", ["corpus", "--out", "{ws}/c", "--limit", "1", "--sampling-rate", "0"],
        r"--sampling-rate must be between 8000 and 192000 Hz"),
    Row("corpus-out-is-a-file", ["corpus", "--out", "{ws}/cfg.json", "--limit", "1"],
        r"output path .*cfg\.json exists and is not a folder"),
    # init and train
    # init reads the config and the data exactly as train does (the same two functions):
    # a few rows show it reports them the same way, train gets the whole set.
    *[row for row in config_rows("init") if row.id.split("-", 1)[1] in INIT_ROWS],
    *config_rows("train"),
    Row("init-44k-audio-is-resampled", ["init", "-c", "{ws}/cfg.json", "-m", "{ws}/r"], r"ddi_G\.pth",
        setup=lambda ws: [write_tone(os.path.join(ws, "corpus", "wavs", f"{i}.wav"), 1.0 + 0.1 * i,
                                     150.0 + 30 * i, rate=44100) for i in range(8)],
        rc=0, allowed=r"r(/|$)", slow=True),
    Row("train-nprocs-2-bad-filelist", ["train", "-c", "{ws}/cfg.json", "-m", "{ws}/r", "--nprocs", "2"],
        r"train\.txt:3: no '\|' separator",
        setup=lambda ws: edit_line(ws, 3, "wavs/2.wav 저는 학교에 갑니다."), slow=True, needs_core=True),
    # synthesize
    Row("synthesize-no-run", ["synthesize", "-m", "{ws}/none", "안녕하세요.", "--out", "{ws}/o"], r"none"),
    Row("synthesize-text-cleans-to-nothing", ["synthesize", "-m", "{ws}/run", "~", "--out", "{ws}/o"],
        r"the text '~' cleans to nothing"),
    Row("synthesize-unknown-character", ["synthesize", "-m", "{ws}/run", "눈사람 ☃", "--out", "{ws}/o"],
        r"text: character '☃' \(U\+2603"),
    Row("synthesize-file-missing", ["synthesize", "-m", "{ws}/run", "--file", "{ws}/none.txt", "--out", "{ws}/o"],
        r"--file .*none\.txt: no such file"),
    Row("synthesize-file-bad-lines", ["synthesize", "-m", "{ws}/run", "--file", "{ws}/lines.txt", "--out", "{ws}/o"],
        r"cannot synthesize 2 line\(s\); nothing written: .*lines\.txt:2: .*'~' cleans to nothing.*"
        r"lines\.txt:4: character '☃'",
        setup=lambda ws: open(os.path.join(ws, "lines.txt"), "w", encoding="utf-8").write(
            "안녕하세요.\n~\n물 좀 주세요.\n눈사람 ☃\n")),
    Row("synthesize-file-not-utf8", ["synthesize", "-m", "{ws}/run", "--file", "{ws}/lines.txt", "--out", "{ws}/o"],
        r"lines\.txt:2: not UTF-8 text",
        setup=lambda ws: open(os.path.join(ws, "lines.txt"), "wb").write(
            "안녕하세요.\n".encode() + "물 좀 주세요.\n".encode("cp949"))),
    Row("synthesize-out-is-a-file", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/cfg.json"],
        r"--out .*cfg\.json is a file, not a folder"),
    Row("synthesize-text-and-file", ["synthesize", "-m", "{ws}/run", "안녕", "--file", "{ws}/cfg.json"],
        r"either a TEXT argument or --file"),
    Row("synthesize-length-scale-0", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o",
                                      "--length-scale", "0"], r"--length-scale must be a finite number > 0"),
    Row("synthesize-length-scale-negative", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o",
                                             "--length-scale=-1"], r"--length-scale must be a finite number > 0"),
    Row("synthesize-length-scale-nan", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o",
                                        "--length-scale", "nan"], r"--length-scale must be a finite number > 0"),
    Row("synthesize-noise-scale-negative", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o",
                                            "--noise-scale=-0.5"], r"--noise-scale must be a finite number >= 0"),
    Row("synthesize-noise-scale-nan", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o",
                                       "--noise-scale", "nan"], r"--noise-scale must be a finite number >= 0"),
    Row("synthesize-truncated-checkpoint", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o"],
        r"G_0\.pth", setup=lambda ws: truncate(ws, "run/G_0.pth"), needs_core=True),
    Row("synthesize-random-bytes-checkpoint", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o"],
        r"G_0\.pth", setup=lambda ws: write_bytes(ws, "run/G_0.pth", os.urandom(4096)), needs_core=True),
    Row("synthesize-checkpoint-of-another-config", ["synthesize", "-m", "{ws}/run", "안녕.", "--out", "{ws}/o"],
        r"G_0\.pth", setup=other_config_checkpoint, needs_core=True),
    Row("synthesize-run-name-looks-in-logs", ["synthesize", "-m", "named", "안녕.", "--out", "{ws}/o"],
        r"o/0000\.wav", setup=lambda ws: shutil.copytree(os.path.join(ws, "run"), os.path.join(ws, "logs", "named")),
        rc=0, allowed=r"o(/|$)", needs_core=True),
    # demo
    Row("demo-config-missing", ["demo", "-c", "{ws}/none.json", "--out", "{ws}/d"],
        r"config file not found: .*none\.json", needs_core=True),
    Row("demo-config-out-of-range", ["demo", "-c", "{ws}/cfg.json", "--out", "{ws}/d"],
        r"train\.batch_size must be >= 1", setup=lambda ws: edit_config(ws, "train", "batch_size", 0),
        needs_core=True),
]


def run_row(row: Row, ws: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1")
    args = [a.replace("{ws}", ws) for a in row.args]
    return subprocess.run([sys.executable, "-m", "glow_tts", *args], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=600)


def error_report(stderr: str) -> tuple[str | None, list[str]]:
    """The `error:` line and what follows it (None if there is not exactly one)."""
    lines = stderr.rstrip("\n").splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if len(starts) != 1:
        return None, []
    return lines[starts[0]], lines[starts[0] + 1:]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id, marks=[pytest.mark.slow] if r.slow else [])
                                 for r in ROWS])
def test_cli_fault(row: Row, template: str, tmp_path):
    ws = workspace(template, tmp_path)
    row.setup(ws)
    before = snapshot(ws)
    proc = run_row(row, ws)
    after = snapshot(ws)

    problems = []
    if "Traceback" in proc.stderr:
        problems.append("a traceback on stderr")
    if row.rc == 0:
        if proc.returncode != 0:
            problems.append(f"exit status {proc.returncode}, expected 0")
        if not re.search(row.pattern, proc.stdout):
            problems.append(f"stdout does not match {row.pattern!r}")
    else:
        line, rest = error_report(proc.stderr)
        if proc.returncode != row.rc:
            problems.append(f"exit status {proc.returncode}, expected {row.rc}")
        if line is None:
            problems.append("not exactly one 'error: ' line on stderr")
        else:
            if not re.search(row.pattern, line):
                problems.append(f"the error line does not match {row.pattern!r}")
            if any(not r.startswith("  ") for r in rest):
                problems.append("unindented lines after the error line")
    changed = sorted(p for p in set(before) | set(after)
                     if before.get(p) != after.get(p) and not re.match(row.allowed, p))
    if changed:
        problems.append(f"files changed or left behind: {changed[:8]}")
    assert not problems, (f"{row.id}: " + "; ".join(problems)
                          + f"\n--- exit {proc.returncode}\n--- stderr (tail)\n{proc.stderr[-1500:]}"
                          + f"\n--- stdout (tail)\n{proc.stdout[-500:]}")


# --- kill -9 during training, then resume ----------------------------------------------------

@pytest.mark.slow
def test_kill_9_during_checkpointing_then_resume(template, tmp_path):
    """SIGKILL a training run while it saves a checkpoint every step, then resume it: the
    resumed run starts from the newest complete checkpoint, finishes, and no hidden
    temporary checkpoint file is left in the run folder. If the kill happens to land
    between two saves, a temporary file as a killed save leaves it is planted instead."""
    ws = workspace(template, tmp_path)
    edit_config(ws, "train", "checkpoint_interval", 1)
    edit_config(ws, "train", "max_steps", 200)
    run_dir = os.path.join(ws, "r")
    row = Row("train", ["train", "-c", "{ws}/cfg.json", "-m", "{ws}/r"], "")
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "glow_tts", *[a.replace("{ws}", ws) for a in row.args]],
                            cwd=ws, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed_mid_save = False
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            names = os.listdir(run_dir) if os.path.isdir(run_dir) else []
            n_saved = sum(re.fullmatch(r"G_\d+\.pth", n) is not None for n in names)
            if n_saved >= 2 and any(n.endswith(".tmp") for n in names):
                killed_mid_save = True
                break
            if n_saved >= 4:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "training ended before it could be killed"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    if not killed_mid_save:
        newest = max((n for n in os.listdir(run_dir) if re.fullmatch(r"G_\d+\.pth", n)),
                     key=lambda n: int(n[2:-4]))
        step = int(newest[2:-4]) + 1
        write_bytes(ws, f"r/.G_{step}.pth.k1ll3d.tmp", b"\x80\x02half a checkpoint")

    edit_config(ws, "train", "checkpoint_interval", 1000)
    with open(os.path.join(run_dir, "config.json"), encoding="utf-8") as f:
        saved = json.load(f)
    saved["train"]["checkpoint_interval"] = 1000
    newest_step = max(int(n[2:-4]) for n in os.listdir(run_dir) if re.fullmatch(r"G_\d+\.pth", n))
    saved["train"]["max_steps"] = newest_step + 2
    write_json(os.path.join(ws, "cfg.json"), saved)
    resumed = subprocess.run([sys.executable, "-m", "glow_tts", "train", "-c", os.path.join(ws, "cfg.json"),
                              "-m", run_dir, "--force"], cwd=ws, env=env, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    assert re.search(rf"resuming from .*G_{newest_step}\.pth", resumed.stderr), resumed.stderr[-3000:]
    leftovers = [n for n in os.listdir(run_dir) if n.endswith(".tmp")]
    assert leftovers == [], f"stale temporary checkpoint files: {leftovers}"


def test_a_file_the_system_refuses_is_one_line_with_status_2(monkeypatch, capsys):
    """A read-only disk, a missing permission or a full disk (an OSError that names its
    file) is the user's to fix: one line naming the file, exit status 2. Root ignores file
    modes, so the refusal is raised directly rather than staged with chmod."""
    import argparse
    import errno

    import glow_tts.__main__ as command_line

    def refused(args):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/out/0000.wav")

    class Parser:
        def parse_args(self, argv):
            return argparse.Namespace(run=refused)

    monkeypatch.setattr(command_line, "build_parser", Parser)
    assert command_line.main([]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: /mnt/ro/out/0000.wav: {os.strerror(errno.EROFS)} "
                                "(check the path, its permissions and the free space)"]


def test_an_oserror_without_a_file_is_a_bug_and_keeps_its_traceback(monkeypatch):
    import argparse

    import glow_tts.__main__ as command_line

    def broken(args):
        raise OSError("something internal")

    class Parser:
        def parse_args(self, argv):
            return argparse.Namespace(run=broken)

    monkeypatch.setattr(command_line, "build_parser", Parser)
    with pytest.raises(OSError, match="something internal"):
        command_line.main([])
