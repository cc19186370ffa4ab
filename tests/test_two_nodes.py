"""Two machines, really: one torchrun node in each of two network namespaces.

A network namespace has its own interfaces, addresses, routes and ports, so a process in
one cannot reach a process in the other through loopback: only through the veth pair
(a virtual cable) that joins them. That is what two machines on a network look like to
torchrun and gloo. The test

* creates two namespaces with unique names, joined by a veth pair, with the addresses
  10.213.7.1 and 10.213.7.2 on the two ends and loopback up in each (nothing else: no
  route out, so traffic can only go to those two addresses);
* starts ``torchrun --nnodes=2 --nproc_per_node=1 --node_rank=K --master_addr=10.213.7.1``
  in namespace K, running ``python -m glow_tts train -c CONFIG -m RUN_DIR`` with gloo
  bound to the veth (``GLOO_SOCKET_IFNAME``); the run directory and the corpus are on the
  shared file system, as on machines that share a network file system;
* checks what two-rank data parallelism promises.

The comparison with one process. A single process with the global batch (8) would not
give the same numbers: the MLE loss is normalised by the frames of the batch it is
computed on, so the mean of two 4-item losses weights frames differently from one 8-item
loss. What must hold is: at every step each node's loss equals the loss one process
computes on that node's 4 items with the same parameters, and the update is the one the
mean of the two losses gives (DDP averages the gradients). One process replays exactly
that, from the items each node reports it trained on. Dropout and the waveform noise are
off, so nothing random differs. Tolerance 1e-5 (relative and absolute): the two sides
sum gradients in different orders (DDP buckets and divides before the all-reduce).

Skipped, with the reason, where namespaces cannot be made (not Linux, not root, no
``ip``); CI sets ``GLOW_TTS_REQUIRE_NETNS=1`` so that there a skip is a failure. The
namespaces (and with them the veth pair) are removed at the end, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
import torch

from train_fixtures import build_micro_corpus, micro_hparams, write_config

from glow_tts import commons
from glow_tts.checkpoint import load_checkpoint_dict
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.models import build_model

pytestmark = pytest.mark.slow

ADDRESSES = ("10.213.7.1", "10.213.7.2")   # node 0 (the master) and node 1, /24
MASTER_PORT = 29531                          # inside namespace 0: no other program there
STEPS = 3                                    # 24 utterances, batch 4 per node: one epoch
RUN_TIMEOUT = 120                            # seconds for both nodes together
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def unavailable(reason: str):
    if os.environ.get("GLOW_TTS_REQUIRE_NETNS") == "1":
        pytest.fail(f"GLOW_TTS_REQUIRE_NETNS=1 but {reason}")
    pytest.skip(reason)


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    return subprocess.run([*prefix, "ip", *args], capture_output=True, text=True, timeout=30,
                          check=check)


class TwoNamespaces:
    """Two network namespaces joined by a veth pair; ``remove()`` undoes everything."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.names = (f"gt{tag}n0", f"gt{tag}n1")
        self.veths = (f"gt{tag}v0", f"gt{tag}v1")   # interface names: 15 characters at most
        self.created: list[str] = []

    def create(self) -> None:
        for name in self.names:
            ip("netns", "add", name)
            self.created.append(name)
        # Both ends are made in this namespace, then each moves into its own.
        ip("link", "add", self.veths[0], "type", "veth", "peer", "name", self.veths[1])
        for name, veth, address in zip(self.names, self.veths, ADDRESSES):
            ip("link", "set", veth, "netns", name)
            ip("addr", "add", f"{address}/24", "dev", veth, netns=name)
            ip("link", "set", veth, "up", netns=name)
            ip("link", "set", "lo", "up", netns=name)

    def exec_prefix(self, k: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[k]]

    def bytes_sent(self, k: int) -> int:
        # `ip netns exec` mounts the namespace's own /sys, where its veth end is listed.
        out = subprocess.run([*self.exec_prefix(k), "cat",
                              f"/sys/class/net/{self.veths[k]}/statistics/tx_bytes"],
                             capture_output=True, text=True, timeout=30, check=True)
        return int(out.stdout)

    def remove(self) -> None:
        for name in self.created:
            # Processes still inside (only ours: the namespace is new) would keep it alive.
            pids = ip("netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            ip("netns", "del", name, check=False)   # deletes the veth end inside it too
        self.created = []
        # A veth end that never left this namespace (creation failed half-way).
        for veth in self.veths:
            if ip("link", "show", veth, check=False).returncode == 0:
                ip("link", "del", veth, check=False)


@pytest.fixture
def namespaces():
    if not sys.platform.startswith("linux"):
        unavailable("network namespaces exist only on Linux")
    if os.geteuid() != 0:
        unavailable("creating network namespaces needs root")
    if shutil.which("ip") is None:
        unavailable("the `ip` command (Debian package iproute2) is not installed")
    pair = TwoNamespaces()
    try:
        try:
            pair.create()
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            detail = getattr(e, "stderr", "") or str(e)
            unavailable(f"cannot create network namespaces here: {detail.strip()}")
        yield pair
    finally:
        pair.remove()


# Each node runs this: the command line `python -m glow_tts train -c CONFIG -m RUN_DIR`,
# with train_and_eval wrapped to save what the rank trained on, its losses and parameters.
NODE_SCRIPT = """
import os, runpy, sys
import torch
sys.path.insert(0, {tests_dir!r})
import glow_tts.train as train_module

from train_fixtures import Recorder
real_train_and_eval = train_module.train_and_eval

def recorded(rank, n_gpus, hps):
    recorder = Recorder()   # on_step: each step's losses and the items it trained on
    result = real_train_and_eval(rank, n_gpus, hps, on_step=recorder)
    result = dict(result, losses=recorder.losses, seen=recorder.seen)
    params = {{k: v.detach().clone() for k, v in result["generator"].state_dict().items()}}
    env = {{k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR",
                                          "GLOO_SOCKET_IFNAME")}}
    env["netns"] = os.readlink("/proc/self/ns/net")
    torch.save({{"params": params, "seen": list(result["seen"]), "losses": result["losses"],
                "env": env}}, os.path.join({out_dir!r}, "rank%d.pt" % rank))
    return result

train_module.train_and_eval = recorded
sys.argv = ["glow_tts", "train", "-c", {config!r}, "-m", {run_dir!r}]
runpy.run_module("glow_tts", run_name="__main__", alter_sys=True)
"""


def run_nodes(pair: TwoNamespaces, script: str, out_dir: str) -> list[str]:
    """Start both nodes, wait for both (RUN_TIMEOUT in all); returns their logs."""
    procs, logs = [], []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), TESTS_DIR) if p), OMP_NUM_THREADS="1")
    try:
        for k in (0, 1):
            command = [*pair.exec_prefix(k), sys.executable, "-m", "torch.distributed.run",
                       "--nnodes=2", "--nproc_per_node=1", f"--node_rank={k}",
                       f"--master_addr={ADDRESSES[0]}", f"--master_port={MASTER_PORT}", script]
            log = open(os.path.join(out_dir, f"node{k}.log"), "w")
            logs.append(log)
            procs.append(subprocess.Popen(command, env=dict(env, GLOO_SOCKET_IFNAME=pair.veths[k]),
                                          stdout=log, stderr=subprocess.STDOUT,
                                          start_new_session=True))
        # Until both are done, or one failed (the other would wait for it until the
        # timeout), or time is up.
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            codes = [proc.poll() for proc in procs]
            if None not in codes or any(code not in (None, 0) for code in codes):
                break
            time.sleep(0.2)
    finally:
        for proc in procs:
            if proc.poll() is None:   # its process group: torchrun and the rank it started
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        for log in logs:
            log.close()
    texts = []
    for k in (0, 1):
        with open(os.path.join(out_dir, f"node{k}.log")) as f:
            texts.append(f.read())
    codes = [proc.returncode for proc in procs]
    if codes != [0, 0]:
        # Name the node that failed by itself first (-9 is our kill: timeout or its partner).
        k = next((k for k, code in enumerate(codes) if code not in (0, -signal.SIGKILL)), 0)
        pytest.fail(f"nodes exited with {codes} (-9: killed after {RUN_TIMEOUT} s or after the "
                    f"other node failed); node {k}'s log ends:\n{texts[k][-3000:]}\n"
                    f"node {1 - k}'s log ends:\n{texts[1 - k][-2000:]}")
    return texts


def replay_in_one_process(hps, seen: list[list[int]], steps: int):
    """One process, same initial weights: each step, the loss of every node's items and
    an update from the mean of those losses. Returns (parameters, per-node losses)."""
    torch.manual_seed(hps.train.seed)   # as train_and_eval does before building the model
    model = build_model(hps)
    optimizer = commons.Adam(model.parameters(), scheduler=hps.train.scheduler,
                             dim_model=hps.model.hidden_channels,
                             warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                             betas=hps.train.betas, eps=hps.train.eps)
    dataset, collate, bs = TextMelLoader(hps.data.training_files, hps.data), TextMelCollate(1), hps.train.batch_size
    model.train()
    losses: list[list] = [[] for _ in seen]
    for step in range(steps):
        optimizer.zero_grad()
        total = 0.0
        for node, items in enumerate(seen):
            x, x_lengths, y, y_lengths = collate([dataset[i] for i in items[step * bs:(step + 1) * bs]])
            (z, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(x, x_lengths, y, y_lengths)
            l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
            l_length = commons.duration_loss(logw, logw_, x_lengths)
            losses[node].append([l_mle.item(), l_length.item()])
            total = total + l_mle + l_length
        (total / len(seen)).backward()
        commons.clip_grad_value_(model.parameters(), hps.train.grad_clip)
        optimizer.step()
    return model.state_dict(), losses


def test_two_nodes_in_two_network_namespaces_train_as_one_process_would(namespaces, tmp_path):
    filelists = build_micro_corpus(str(tmp_path / "corpus"))
    hps = micro_hparams(str(tmp_path / "run"), filelists, max_steps=STEPS, log_interval=1000,
                        model={"p_dropout": 0.0, "p_dropout_dec": 0.0}, data={"add_noise": False})
    config = write_config(hps, str(tmp_path / "config.json"))
    script = tmp_path / "node.py"
    script.write_text(textwrap.dedent(NODE_SCRIPT).format(
        tests_dir=TESTS_DIR, out_dir=str(tmp_path), config=config, run_dir=hps.model_dir))

    run_nodes(namespaces, str(script), str(tmp_path))
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1)]

    # One rank per node, each in its own namespace, gloo on the veth, master at node 0.
    for k, rank in enumerate(ranks):
        env = rank["env"]
        assert (env["RANK"], env["WORLD_SIZE"], env["GROUP_RANK"]) == (str(k), "2", str(k))
        assert env["MASTER_ADDR"] == ADDRESSES[0]
        assert env["GLOO_SOCKET_IFNAME"] == namespaces.veths[k]
    assert ranks[0]["env"]["netns"] != ranks[1]["env"]["netns"]
    # The gradients crossed the cable: every step all-reduces all gradients (float32), and
    # DDP broadcast the parameters at the start; each end sent at least half of that.
    n_bytes = sum(v.numel() * 4 for v in ranks[0]["params"].values())
    for k in (0, 1):
        assert namespaces.bytes_sent(k) > STEPS * n_bytes / 2

    # Shards: disjoint, and together every training utterance once (one epoch).
    seen = [rank["seen"] for rank in ranks]
    assert all(len(s) == STEPS * hps.train.batch_size for s in seen)
    assert not set(seen[0]) & set(seen[1])
    assert set(seen[0]) | set(seen[1]) == set(range(24))
    # Both nodes hold the same parameters, bit for bit, and node 0 saved them.
    p0, p1 = ranks[0]["params"], ranks[1]["params"]
    assert p0.keys() == p1.keys()
    for key in p0:
        assert torch.equal(p0[key], p1[key]), key
    saved = load_checkpoint_dict(os.path.join(hps.model_dir, f"G_{STEPS}.pth"))["model"]
    for key in p0:
        assert torch.equal(saved[key], p0[key]), key

    # ... and equal one process replaying the two nodes' batches.
    params, losses = replay_in_one_process(hps, seen, STEPS)
    for k in (0, 1):
        got = torch.tensor([[m, d] for _, m, d in ranks[k]["losses"]])
        assert [s for s, *_ in ranks[k]["losses"]] == list(range(1, STEPS + 1))
        torch.testing.assert_close(got, torch.tensor(losses[k]), rtol=1e-5, atol=1e-5)
    assert ranks[0]["losses"] != ranks[1]["losses"]   # different data on the two nodes
    # Except the attention's key bias: shifting every key by the same vector adds the same
    # number to all of a query's logits, which softmax ignores, so its true gradient is 0
    # and what autograd returns is rounding noise (different in another summation order);
    # Adam divides by the gradient's own scale and turns that noise into full-size steps.
    differ = {key: (p0[key] - value).abs().max().item() for key, value in params.items()
              if not key.endswith("conv_k.bias")
              and not torch.allclose(p0[key], value, rtol=1e-5, atol=1e-5)}
    assert not differ, differ
    # The parameters did move (the comparison is not between two copies of the init).
    torch.manual_seed(hps.train.seed)
    init = build_model(hps).state_dict()
    assert any(not torch.equal(init[k], p0[k]) for k in init)
