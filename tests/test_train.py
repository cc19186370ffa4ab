"""Training loop: exact resume, crash safety of checkpoints, NaN stop, bad input, CLI.

All runs use a micro model (see train_fixtures.MICRO_MODEL) on the first sentences of the
embedded corpus, on one CPU thread with num_workers 0.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from train_fixtures import build_micro_corpus, micro_hparams, train_recorded, write_config

from glow_tts import commons
from glow_tts.checkpoint import CheckpointError, checkpoint_paths, load_checkpoint_dict
from glow_tts.data_utils import FilelistError
from glow_tts.hparams import ConfigError
from glow_tts.train import TrainingError, train_and_eval

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def filelists(tmp_path_factory):
    return build_micro_corpus(str(tmp_path_factory.mktemp("corpus")))


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def params_of(result):
    return {k: v.detach().clone() for k, v in result["generator"].state_dict().items()}


@pytest.mark.slow
@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_is_exact(filelists, tmp_path, num_workers):
    """14 steps straight == 8 steps, stop, resume, 6 more: same losses, parameters, data.

    Batch 4 over 24 training sentences is 6 batches per epoch, so the stop at step 8 is
    in the middle of epoch 2 and the resumed run must skip the 2 batches already seen;
    dropout and add_noise are on, so the RNG states must be restored too, and the
    gen sample every 3 steps must not disturb them. With 2 loader workers the resumed
    run's workers load different batches than the straight run's did at that point, so
    this also checks that the add_noise noise does not depend on the worker
    (``TextMelLoader.set_epoch``).
    """
    def hps(name, steps):
        return micro_hparams(str(tmp_path / name), filelists, max_steps=steps, num_workers=num_workers)

    straight = train_recorded(0, 1, hps("straight", 14))
    first = train_recorded(0, 1, hps("resumed", 8))
    assert [s for s, *_ in first["losses"]] == list(range(1, 9))
    second = train_recorded(0, 1, hps("resumed", 14))
    assert [s for s, *_ in second["losses"]] == list(range(9, 15))

    assert first["losses"] + second["losses"] == straight["losses"]
    assert first["seen"] + second["seen"] == straight["seen"]
    a, b = params_of(straight), params_of(second)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # Training did something: the loss fell and the parameters moved from the init.
    assert straight["losses"][-1][1] < straight["losses"][0][1]
    # The resumed optimizer continued the Noam schedule (the original restarted it at step 1).
    ckpt = load_checkpoint_dict(checkpoint_paths(str(tmp_path / "resumed"))[0])
    assert ckpt["optimizer"]["step_num"] == 15 and ckpt["global_step"] == 14


def test_resume_without_config_change_and_after_epoch_end(filelists, tmp_path):
    """A checkpoint at the end of an epoch resumes at the start of the next one."""
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=6, log_interval=100)
    first = train_recorded(0, 1, hps)  # 6 steps = exactly epoch 1
    assert first["epoch"] == 1 and sorted(first["seen"]) == list(range(24))
    hps.train.max_steps = 7
    second = train_recorded(0, 1, hps)
    assert [s for s, *_ in second["losses"]] == [7] and second["epoch"] == 2
    # Launching again at max_steps trains nothing and writes no new checkpoint.
    third = train_recorded(0, 1, hps)
    assert third["losses"] == [] and third["global_step"] == 7
    assert [os.path.basename(p) for p in checkpoint_paths(hps.model_dir)][0] == "G_7.pth"


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_leaves_a_resumable_run(filelists, tmp_path):
    """Kill -9 a training process in the middle of writing a checkpoint (writes slowed to
    ~1.5 s each): the previous checkpoint still loads and a new run resumes from it."""
    model_dir = tmp_path / "run"
    hps = micro_hparams(str(model_dir), filelists, max_steps=1000, checkpoint_interval=2,
                        keep_checkpoints=10, log_interval=1000)
    config = write_config(hps, str(tmp_path / "config.json"))
    marker = tmp_path / "writing"
    script = tmp_path / "slow_train.py"
    script.write_text(textwrap.dedent(f"""
        import io, os, sys, time, torch
        real_save = torch.save
        def slow_save(obj, f, *args, **kwargs):
            buffer = io.BytesIO()
            real_save(obj, buffer, *args, **kwargs)
            data = buffer.getvalue()
            open({str(marker)!r}, "a").close()       # tell the test a write is under way
            out = open(f, "wb") if isinstance(f, (str, os.PathLike)) else f
            for i in range(0, len(data), len(data) // 30 + 1):
                out.write(data[i:i + len(data) // 30 + 1])
                out.flush()
                time.sleep(0.05)
            os.remove({str(marker)!r})
        torch.save = slow_save
        torch.set_num_threads(1)
        from glow_tts.train import main
        main(["-c", {config!r}, "-m", {str(model_dir)!r}])
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        # Wait for one complete checkpoint and the next one being written.
        while time.time() < deadline:
            if proc.poll() is not None:
                pytest.fail("training exited early:\n" + proc.stderr.read().decode()[-3000:])
            if checkpoint_paths(str(model_dir)) and marker.exists():
                time.sleep(0.3)  # well inside the ~1.5 s write
                break
            time.sleep(0.05)
        else:
            pytest.fail("no checkpoint write observed within 120 s")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    leftovers = [n for n in os.listdir(model_dir) if n.endswith(".tmp")]
    assert leftovers, "the kill did not land inside a checkpoint write"
    complete = checkpoint_paths(str(model_dir))
    assert complete
    newest = load_checkpoint_dict(complete[0])  # the previous checkpoint is intact
    step = newest["global_step"]
    hps.train.max_steps = step + 2
    resumed = train_recorded(0, 1, hps)
    assert [s for s, *_ in resumed["losses"]] == [step + 1, step + 2]


def test_corrupt_newest_checkpoint_falls_back_to_previous(filelists, tmp_path, caplog):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=4, checkpoint_interval=2,
                        log_interval=100)
    train_recorded(0, 1, hps)
    paths = checkpoint_paths(hps.model_dir)
    assert [os.path.basename(p) for p in paths] == ["G_4.pth", "G_2.pth"]
    with open(paths[0], "r+b") as f:  # truncate the newest checkpoint
        f.truncate(100)
    log_path = os.path.join(hps.model_dir, "train.log")
    hps.train.max_steps = 3
    result = train_recorded(0, 1, hps)
    assert [s for s, *_ in result["losses"]] == [3]
    log = open(log_path, encoding="utf-8").read()
    assert "cannot load checkpoint" in log and "G_4.pth" in log
    assert "resuming from" in log and "G_2.pth" in log


def test_all_checkpoints_corrupt_is_an_error_not_a_silent_restart(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=2, log_interval=100)
    train_recorded(0, 1, hps)
    for path in checkpoint_paths(hps.model_dir):
        with open(path, "wb") as f:
            f.write(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="no checkpoint .* could be loaded"):
        train_recorded(0, 1, hps)


def test_ddi_used_only_without_checkpoint_and_checkpoints_pruned(filelists, tmp_path):
    from glow_tts.init import run_ddi
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=3, checkpoint_interval=1,
                        keep_checkpoints=2, log_interval=100, ddi=True)
    run_ddi(hps)
    ddi = load_checkpoint_dict(os.path.join(hps.model_dir, "ddi_G.pth"))["model"]
    # The ActNorm layers were set from data: not their zero initialisation.
    actnorm = [k for k in ddi if k.endswith(".logs")]
    assert actnorm and all(ddi[k].abs().sum() > 0 for k in actnorm)
    train_recorded(0, 1, hps)
    log = open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8").read()
    assert "starting from the data-dependent init" in log
    assert [os.path.basename(p) for p in checkpoint_paths(hps.model_dir)] == ["G_3.pth", "G_2.pth"]
    hps.train.max_steps = 4
    train_recorded(0, 1, hps)
    log = open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8").read()
    assert log.count("starting from the data-dependent init") == 1
    assert "resuming from" in log


def test_nan_loss_stops_with_step_and_files_and_keeps_last_checkpoint(filelists, tmp_path, monkeypatch):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=10, checkpoint_interval=2,
                        log_interval=100)
    real_mle = commons.mle_loss
    calls = {"n": 0}

    def mle_that_diverges(*args):
        calls["n"] += 1
        loss = real_mle(*args)
        return loss * float("nan") if calls["n"] == 3 else loss

    monkeypatch.setattr(commons, "mle_loss", mle_that_diverges)
    with pytest.raises(TrainingError) as info:
        train_recorded(0, 1, hps)
    message = str(info.value)
    assert "step 3" in message and "nan" in message
    files = [line.strip() for line in message.splitlines() if line.strip().endswith(".wav")]
    assert len(files) == hps.train.batch_size
    train_files = {os.path.basename(line.split("|")[0])
                   for line in open(filelists["train"], encoding="utf-8")}
    assert {os.path.basename(f) for f in files} <= train_files
    assert all(os.path.isfile(f) for f in files)
    assert "G_2.pth" in message
    assert [os.path.basename(p) for p in checkpoint_paths(hps.model_dir)] == ["G_2.pth"]


def test_fp16_on_cpu_warns_and_trains_in_float32(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, fp16_run=True,
                        log_interval=100)
    with pytest.warns(UserWarning, match="fp16_run is ignored on CPU"):
        result = train_recorded(0, 1, hps)
    assert all(p.dtype == torch.float32 for p in result["generator"].parameters())


# --- bad input ------------------------------------------------------------------------

def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "glow_tts", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=180)


def test_config_that_differs_from_the_model_dir_is_refused_with_the_difference(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, log_interval=100)
    cfg = write_config(hps, str(tmp_path / "a.json"))
    from glow_tts.train import main
    main(["-c", cfg, "-m", hps.model_dir])
    hps.train.batch_size = 2
    cfg_b = write_config(hps, str(tmp_path / "b.json"))
    with pytest.raises(ConfigError) as info:
        main(["-c", cfg_b, "-m", hps.model_dir])
    assert "train.batch_size: 4 -> 2" in str(info.value) and "--force" in str(info.value)
    # Through the CLI: one clear line, exit status 2, no traceback.
    proc = run_cli("train", "-c", cfg_b, "-m", hps.model_dir)
    assert proc.returncode == 2
    assert "train.batch_size: 4 -> 2" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_and_empty_filelists_are_clear_errors(filelists, tmp_path):
    missing = str(tmp_path / "nope.txt")
    hps = micro_hparams(str(tmp_path / "run"), filelists, data={"training_files": missing})
    proc = run_cli("train", "-c", write_config(hps, str(tmp_path / "m.json")), "-m", str(tmp_path / "run"))
    assert proc.returncode == 2 and missing in proc.stderr and "Traceback" not in proc.stderr

    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    hps = micro_hparams(str(tmp_path / "run2"), filelists, data={"training_files": str(empty)})
    proc = run_cli("train", "-c", write_config(hps, str(tmp_path / "e.json")), "-m", str(tmp_path / "run2"))
    assert proc.returncode == 2 and str(empty) in proc.stderr and "no utterances" in proc.stderr


def test_batch_larger_than_the_data_is_a_clear_error(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, batch_size=64)
    with pytest.raises(FilelistError, match="fewer than one batch"):
        train_recorded(0, 1, hps)


def test_port_in_use_is_a_clear_error(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1)
    cfg = write_config(hps, str(tmp_path / "c.json"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = run_cli("train", "-c", cfg, "-m", hps.model_dir, "--nprocs", "2",
                       "--master-port", str(port))
    assert proc.returncode == 2
    assert f"master port {port} is already in use" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- init and synthesize through the CLI ------------------------------------------------

@pytest.mark.slow
def test_cli_init_train_synthesize(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=2, ddi=True, log_interval=100)
    cfg = write_config(hps, str(tmp_path / "c.json"))
    run_dir = str(tmp_path / "run")
    proc = run_cli("init", "-c", cfg, "-m", run_dir)
    assert proc.returncode == 0, proc.stderr
    assert os.path.isfile(os.path.join(run_dir, "ddi_G.pth"))
    proc = run_cli("train", "-c", cfg, "-m", run_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "data-dependent init" in proc.stderr

    lines = tmp_path / "lines.txt"
    lines.write_text("안녕하세요.\n물 좀 주세요.\n", encoding="utf-8")
    out = tmp_path / "wavs"
    proc = run_cli("synthesize", "-m", run_dir, "--file", str(lines), "--out", str(out),
                   "--noise-scale", "0.5", "--length-scale", "1.2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(os.listdir(out)) == ["0000.wav", "0001.wav"]
    import soundfile as sf
    data, rate = sf.read(str(out / "0000.wav"))
    assert rate == 22050 and len(data) > 0

    lines.write_text("안녕하세요.\n물 좀 ☃ 주세요.\n", encoding="utf-8")
    proc = run_cli("synthesize", "-m", run_dir, "--file", str(lines), "--out", str(out))
    assert proc.returncode == 2
    assert f"{lines}:2" in proc.stderr and "U+2603" in proc.stderr and "position" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- nothing written before the inputs are checked; one training per run --------------------

def test_a_checkpoint_that_does_not_fit_is_refused_by_train_init_and_synthesize_alike(filelists, tmp_path):
    """A run trained with one config, then every command pointed at it with another
    (``--force``): the same one line, exit 2, and config.json not rewritten."""
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, log_interval=100)
    cfg = write_config(hps, str(tmp_path / "a.json"))
    from glow_tts.train import main
    main(["-c", cfg, "-m", hps.model_dir])
    saved = open(os.path.join(hps.model_dir, "config.json"), "rb").read()
    hps.model.hidden_channels = 24
    other = write_config(hps, str(tmp_path / "b.json"))
    lines = []
    for args in (["train", "-c", other, "-m", hps.model_dir, "--force"],
                 ["init", "-c", other, "-m", hps.model_dir, "--force"],
                 ["synthesize", "-m", hps.model_dir, "-c", other, "안녕하세요.",
                  "--out", str(tmp_path / "wavs")]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and proc.stderr.rstrip().splitlines()[-1] == errors[0], proc.stderr
        lines.append(errors[0])
        assert open(os.path.join(hps.model_dir, "config.json"), "rb").read() == saved
    assert "G_1.pth" in lines[0] and "does not fit this model" in lines[0]
    assert "vs the model's" in lines[0] and "24" in lines[0]
    assert lines[0] == lines[1] == lines[2]    # every command says it the same way
    assert not os.path.exists(tmp_path / "wavs")


def test_a_first_launch_that_fails_on_data_writes_nothing(filelists, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("missing/1_9999.wav|안녕하세요.\n", encoding="utf-8")
    hps = micro_hparams(str(tmp_path / "run"), filelists, data={"training_files": str(bad)})
    cfg = write_config(hps, str(tmp_path / "c.json"))
    os.rmdir(hps.model_dir)
    for command in ("train", "init"):
        proc = run_cli(command, "-c", cfg, "-m", hps.model_dir)
        assert proc.returncode == 2 and "1_9999.wav" in proc.stderr and "Traceback" not in proc.stderr
        assert not os.path.exists(hps.model_dir), os.listdir(hps.model_dir)
    # Fixing the config is enough: no --force needed, since nothing was saved.
    hps.data.training_files = filelists["train"]
    hps.train.max_steps = 1
    proc = run_cli("train", "-c", write_config(hps, cfg), "-m", hps.model_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_second_training_on_a_locked_run_is_refused_naming_the_holder(filelists, tmp_path):
    import socket
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, log_interval=100)
    cfg = write_config(hps, str(tmp_path / "c.json"))
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with open(os.path.join(hps.model_dir, ".lock"), "w") as f:
            f.write(f"{holder.pid} {socket.gethostname()}")
        proc = run_cli("train", "-c", cfg, "-m", hps.model_dir)
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"process {holder.pid} on host {socket.gethostname()}" in proc.stderr
    assert not os.path.exists(os.path.join(hps.model_dir, "config.json"))
    # The holder was killed: its lock is stale, the next launch takes it over and trains.
    proc = run_cli("train", "-c", cfg, "-m", hps.model_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "stale lock" in proc.stderr
    assert os.path.isfile(os.path.join(hps.model_dir, "G_1.pth"))
    assert not os.path.exists(os.path.join(hps.model_dir, ".lock"))


def test_stale_temporaries_of_an_interrupted_save_are_removed_at_start(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, log_interval=100)
    left = os.path.join(hps.model_dir, ".G_7.pth.x8k2_q.tmp")
    with open(left, "wb") as f:
        f.write(b"\0" * 1000)
    train_and_eval(0, 1, hps)
    assert not os.path.exists(left)
    log = open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8").read()
    assert "removed" in log and ".G_7.pth.x8k2_q.tmp" in log


def test_training_keeps_nothing_per_step(filelists, tmp_path):
    """What a run returns and keeps does not grow with the number of steps (the per-step
    lists of losses and indices it once kept grew by ~1.3 KB a step)."""
    import pickle

    def kept(steps):
        hps = micro_hparams(str(tmp_path / f"run{steps}"), filelists, max_steps=steps,
                            log_interval=100, checkpoint_interval=1000)
        result = train_and_eval(0, 1, hps)
        return len(pickle.dumps({k: v for k, v in result.items() if k != "generator"}))

    assert kept(2) == kept(12)


def test_every_command_prints_a_user_error_as_one_line_with_status_2(monkeypatch, capsys):
    from glow_tts import __main__ as cli
    from glow_tts.args import COMMANDS
    from glow_tts.errors import GlowTTSError

    class SomeUserError(GlowTTSError):
        pass

    def fail(args):
        raise SomeUserError(f"{args.command}: bad input, fix it")

    minimal = {"corpus": ["--out", "x"], "prepare-kss": ["k", "--out", "x"], "init": ["-m", "r"],
               "train": ["-m", "r"], "synthesize": ["hi", "-m", "r"], "demo": [],
               "export": ["-m", "r", "--out", "x"]}
    assert set(minimal) == set(COMMANDS)
    for name, argv in minimal.items():
        monkeypatch.setitem(cli.RUN, name, fail)
        assert cli.main([name, *argv]) == 2
        err = capsys.readouterr().err
        assert err == f"error: {name}: bad input, fix it\n"
    # a bug is not a user error: it keeps its traceback
    monkeypatch.setitem(cli.RUN, "train", lambda args: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        cli.main(["train", "-m", "r"])


def test_a_mistyped_option_is_an_error_not_ignored(capsys):
    from glow_tts.hparams import get_hparams
    with pytest.raises(SystemExit) as info:
        get_hparams(args=["-c", "configs/base.json", "-m", "x", "--froce"])
    assert info.value.code == 2 and "--froce" in capsys.readouterr().err


@pytest.mark.slow
def test_synthesize_finds_a_run_by_name_and_skips_a_corrupt_newest_checkpoint(filelists, tmp_path):
    hps = micro_hparams(str(tmp_path / "logs" / "tiny"), filelists, max_steps=2,
                        checkpoint_interval=1, log_interval=100)
    from glow_tts.hparams import save_run_config
    save_run_config(hps)
    train_and_eval(0, 1, hps)
    with open(os.path.join(hps.model_dir, "G_2.pth"), "r+b") as f:
        f.truncate(100)
    proc = run_cli("synthesize", "-m", "tiny", "안녕하세요.", "--out", "wavs", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert os.path.isfile(tmp_path / "wavs" / "0000.wav")
    assert "cannot load checkpoint" in proc.stderr and "G_2.pth" in proc.stderr
