"""Data-parallel training on CPU with gloo: mp.spawn and torchrun, shards, equivalence, failure.

Two ranks train the micro model for 3 steps (one epoch: 24 utterances, 12 per rank,
batch 4). Dropout and the waveform noise are off so that a single process can replay
exactly the same computation: per step, the mean of the two ranks' losses on their own
batches (DDP averages the gradients the same way).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch
import torch.multiprocessing as mp

from train_fixtures import build_micro_corpus, micro_hparams, rendezvous_rank, spawned_rank, write_config

from glow_tts import commons
from glow_tts import distributed
from glow_tts.data_utils import ResumableDistributedSampler, TextMelCollate, TextMelLoader
from glow_tts.distributed import spawn_with_free_port
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols

WORLD = 2
STEPS = 3

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def filelists(tmp_path_factory):
    return build_micro_corpus(str(tmp_path_factory.mktemp("corpus")))


def deterministic_hparams(model_dir, filelists, **overrides):
    return micro_hparams(model_dir, filelists, max_steps=STEPS, log_interval=1000,
                         model={"p_dropout": 0.0, "p_dropout_dec": 0.0},
                         data={"add_noise": False}, **overrides)


def reference_run(hps, steps=STEPS):
    """One process replaying what two DDP ranks compute: params and per-rank losses."""
    torch.manual_seed(hps.train.seed)
    model = FlowGenerator(n_vocab=len(symbols), out_channels=hps.data.n_mel_channels, **hps.model)
    optimizer = commons.Adam(model.parameters(), scheduler=hps.train.scheduler,
                             dim_model=hps.model.hidden_channels,
                             warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                             betas=hps.train.betas, eps=hps.train.eps)
    dataset = TextMelLoader(hps.data.training_files, hps.data)
    shards = []
    for rank in range(WORLD):
        sampler = ResumableDistributedSampler(dataset, num_replicas=WORLD, rank=rank,
                                              shuffle=True, seed=hps.train.seed)
        sampler.set_epoch(1)
        shards.append(list(sampler))
    collate, bs = TextMelCollate(1), hps.train.batch_size
    model.train()
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        rank_losses = []
        for shard in shards:
            x, x_lengths, y, y_lengths = collate([dataset[i] for i in shard[step * bs:(step + 1) * bs]])
            (z, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(x, x_lengths, y, y_lengths)
            l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
            l_length = commons.duration_loss(logw, logw_, x_lengths)
            rank_losses.append((l_mle, l_length))
        losses.append([[m.item(), d.item()] for m, d in rank_losses])
        (sum(m + d for m, d in rank_losses) / WORLD).backward()
        commons.clip_grad_value_(model.parameters(), hps.train.grad_clip)
        optimizer.step()
    return model.state_dict(), losses, shards


def check_ranks(out_dir, hps):
    results = [torch.load(os.path.join(out_dir, f"rank{r}.pt"), weights_only=True) for r in range(WORLD)]
    # Shards: disjoint, and together every training utterance exactly once in the epoch.
    seen = [set(r["seen"]) for r in results]
    assert all(len(r["seen"]) == STEPS * hps.train.batch_size for r in results)
    assert not seen[0] & seen[1]
    assert seen[0] | seen[1] == set(range(24))
    # Both ranks hold the same parameters, bit for bit (DDP all-reduces the gradients).
    p0, p1 = results[0]["params"], results[1]["params"]
    for key in p0:
        assert torch.equal(p0[key], p1[key]), key
    # ... and they equal one process trained on the two ranks' batches together.
    ref_params, ref_losses, ref_shards = reference_run(hps)
    assert [results[r]["seen"] for r in range(WORLD)] == [s[:len(results[0]["seen"])] for s in ref_shards]
    # Except the attention's key bias: adding the same vector to every key adds the same
    # number to all logits of a query, which softmax ignores, so its true gradient is 0 and
    # what autograd returns is rounding noise (different in a different summation order);
    # Adam divides by the gradient's own scale and turns that noise into full-size steps.
    bad = {key: (p0[key] - value).abs().max().item() for key, value in ref_params.items()
           if not torch.allclose(p0[key], value, rtol=1e-5, atol=1e-5)
           and not key.endswith("conv_k.bias")}
    assert not bad, bad
    for r in range(WORLD):
        got = [[m, d] for _, m, d in results[r]["losses"]]
        torch.testing.assert_close(torch.tensor(got), torch.tensor([l[r] for l in ref_losses]),
                                   rtol=1e-5, atol=1e-5)
    # The parameters did move (the comparison is not between two copies of the init).
    torch.manual_seed(hps.train.seed)
    init = FlowGenerator(n_vocab=len(symbols), out_channels=80, **hps.model).state_dict()
    assert any(not torch.allclose(init[k], p0[k]) for k in init)


def test_mp_spawn_two_ranks_match_one_process(filelists, tmp_path):
    hps = deterministic_hparams(str(tmp_path / "run"), filelists)
    out_dir = str(tmp_path)
    spawn_with_free_port(spawned_rank, WORLD, (WORLD, hps, out_dir))
    check_ranks(out_dir, hps)
    assert os.path.isfile(os.path.join(hps.model_dir, f"G_{STEPS}.pth"))


def test_torchrun_two_ranks_match_one_process(filelists, tmp_path):
    hps = deterministic_hparams(str(tmp_path / "run"), filelists)
    config = write_config(hps, str(tmp_path / "config.json"))
    script = tmp_path / "launch.py"
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    script.write_text(textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {tests_dir!r})
        from train_fixtures import Recorder, save_rank_result
        import glow_tts.train as T
        recorder, real = Recorder(), T.train_and_eval
        T.train_and_eval = lambda rank, n, hps: real(rank, n, hps, on_step=recorder)
        result = T.main(["-c", {config!r}, "-m", {hps.model_dir!r}])
        result.update(losses=recorder.losses, seen=recorder.seen)
        save_rank_result(result, int(os.environ["RANK"]), {str(tmp_path)!r})
    """))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc_per_node={WORLD}", str(script)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    check_ranks(str(tmp_path), hps)


@pytest.mark.parametrize("launcher", ["mp.spawn", "torchrun"])
def test_a_user_error_in_one_rank_ends_the_job_with_one_line(filelists, tmp_path, launcher):
    """Rank 1's first batch holds a silent (unusable) recording: rank 1 raises an AudioError
    while rank 0 waits in the gradient all-reduce. The job must end with that error as one
    line ``error: ...`` naming the file, and the traceback in the run's train.log. Under
    mp.spawn the whole stderr is free of tracebacks; under torchrun (whose own report we
    do not control) the line is there too."""
    import shutil
    corpus = tmp_path / "corpus"
    shutil.copytree(os.path.dirname(os.path.dirname(filelists["train"])), corpus)
    train_list = corpus / "filelists" / "train.txt"
    copied = {"train": str(train_list), "val": str(corpus / "filelists" / "val.txt")}
    hps = deterministic_hparams(str(tmp_path / "run"), copied)
    dataset = TextMelLoader(hps.data.training_files, hps.data)
    sampler = ResumableDistributedSampler(dataset, num_replicas=WORLD, rank=1, shuffle=True,
                                          seed=hps.train.seed)
    sampler.set_epoch(1)
    victim = dataset.audiopaths_and_text[list(sampler)[0]][0]
    import soundfile as sf
    info = sf.info(victim)
    sf.write(victim, [0.0] * info.frames, info.samplerate, subtype="PCM_16")

    config = write_config(hps, str(tmp_path / "config.json"))
    start = time.time()
    train_args = ["-m", "glow_tts", "train", "-c", config, "-m", hps.model_dir]
    if launcher == "mp.spawn":
        command = [sys.executable, *train_args, "--nprocs", "2"]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   f"--nproc_per_node={WORLD}", *train_args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120)
    elapsed = time.time() - start
    assert elapsed < 60, f"took {elapsed:.0f} s"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "all silence" in errors[0] and os.path.basename(victim) in errors[0]
    if launcher == "mp.spawn":
        assert proc.returncode == 2
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
        assert proc.stderr.rstrip().splitlines()[-1] == errors[0]
    else:
        assert proc.returncode != 0
    # Only a user error that surfaced in a rank leaves a traceback in the log (one found
    # by the checks before launching leaves no log at all).
    log_path = os.path.join(hps.model_dir, "train.log")
    if os.path.exists(log_path) and "rank 1 failed" in open(log_path, encoding="utf-8").read():
        log = open(log_path, encoding="utf-8").read()
        assert "Traceback" in log.split("rank 1 failed")[1] and "all silence" in log


def test_a_user_error_raised_only_in_the_ranks_is_one_line_with_its_traceback_in_the_log(
        filelists, tmp_path):
    """A checkpoint whose weights hold a NaN fits the model (so the checks before launching
    pass) but gives an infinite loss at the first step in both ranks: a TrainingError
    raised only in the ranks. One line, exit 2, and the traceback in train.log."""
    from glow_tts.train import train_and_eval
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=1, log_interval=1000)
    train_and_eval(0, 1, hps)
    path = os.path.join(hps.model_dir, "G_1.pth")
    state = torch.load(path, weights_only=True)
    state["model"]["encoder.proj_m.weight"].fill_(float("nan"))
    torch.save(state, path)
    hps.train.max_steps = 3
    config = write_config(hps, str(tmp_path / "config.json"))
    os.remove(os.path.join(hps.model_dir, "train.log"))
    proc = subprocess.run([sys.executable, "-m", "glow_tts", "train", "-c", config, "-m",
                           hps.model_dir, "--nprocs", "2", "--force"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.rstrip().splitlines()
    errors = [line for line in last if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith("error: rank ") and "loss is nan" in errors[0]
    log = open(os.path.join(hps.model_dir, "train.log"), encoding="utf-8").read()
    assert re.search(r"rank \d failed:\nTraceback", log) and "TrainingError" in log


def test_backend_follows_the_training_device(monkeypatch):
    """CPU tensors need gloo even on a GPU machine (config use_cuda false); CUDA tensors NCCL."""
    from glow_tts import distributed
    monkeypatch.setattr(distributed.dist, "is_nccl_available", lambda: True)
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: True)
    assert distributed.default_backend(torch.device("cpu")) == "gloo"
    assert distributed.default_backend(torch.device("cuda", 0)) == "nccl"
    assert distributed.default_backend("cuda") == "nccl"
    assert distributed.default_backend() == "nccl"
    monkeypatch.setattr(distributed.dist, "is_nccl_available", lambda: False)
    assert distributed.default_backend(torch.device("cuda", 0)) == "gloo"
    monkeypatch.setattr(distributed.torch.cuda, "is_available", lambda: False)
    assert distributed.default_backend() == "gloo"


@pytest.mark.slow
def test_a_port_taken_after_it_was_picked_is_retried_with_another(monkeypatch, tmp_path):
    """The race spawn_with_free_port guards against: find_free_port returns a port that some
    other program binds before the rendezvous does. The first spawn fails with 'address
    already in use', the second, on a fresh port, succeeds; with no attempts left it raises."""
    monkeypatch.delenv("MASTER_PORT", raising=False)
    real_find_free_port = distributed.find_free_port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other_program:
        other_program.bind(("0.0.0.0", 0))
        other_program.listen()
        taken = other_program.getsockname()[1]
        handed_out = []

        def first_taken_then_free(host="127.0.0.1"):
            handed_out.append(taken if not handed_out else real_find_free_port(host))
            return handed_out[-1]

        monkeypatch.setattr(distributed, "find_free_port", first_taken_then_free)
        spawn_with_free_port(rendezvous_rank, nprocs=2, args=(2, str(tmp_path)))
        assert len(handed_out) == 2 and handed_out[0] == taken
        used = {int((tmp_path / f"rank{r}.port").read_text()) for r in range(2)}
        assert used == {handed_out[1]}
        assert "MASTER_PORT" not in os.environ          # the environment is left as it was

        # Out of attempts: the error of the last try reaches the caller.
        monkeypatch.setattr(distributed, "find_free_port", lambda host="127.0.0.1": taken)
        with pytest.raises(mp.ProcessRaisedException, match="(?i)address already in use"):
            spawn_with_free_port(rendezvous_rank, nprocs=2, args=(2, str(tmp_path)), attempts=2)
