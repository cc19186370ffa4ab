"""A distributed smoke test: can N processes form a group and all-reduce?

Before a long multi-GPU or multi-node run it is worth checking the plumbing alone:
environment variables, the rendezvous (``init_method``), the backend. :func:`probe` is a
function ``mp.spawn`` or ``torchrun`` can launch: each rank joins the process group,
all-reduces one number and writes what it saw to ``report_dir/rank{r}.json``.

It is also what the book uses to show how ``mp.spawn`` passes the process index and how a
failure in one rank reaches the parent (``fail_rank``).
"""

from __future__ import annotations

import json
import os

import torch
import torch.distributed as dist

TORCHRUN_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                      "MASTER_ADDR", "MASTER_PORT", "GROUP_RANK")


def default_backend(device: torch.device | None = None) -> str:
    """The process-group backend for tensors on ``device``: NCCL for CUDA tensors when
    NCCL is built in, gloo otherwise (CPU tensors, or a build without NCCL).

    ``device=None`` means "CUDA if this machine has it". ``train.py`` passes the device it
    trains on, which is the CPU when the config says ``use_cuda: false`` even on a GPU machine.
    """
    if device is None:
        uses_cuda = torch.cuda.is_available()
    else:
        uses_cuda = torch.device(device).type == "cuda"
    return "nccl" if uses_cuda and dist.is_nccl_available() else "gloo"


def probe(rank: int, world_size: int, init_method: str, report_dir: str,
          backend: str = "gloo", fail_rank: int | None = None) -> None:
    """Join the group as ``rank``, all-reduce ``rank + 1`` and write a JSON report.

    Args:
        rank: this process's global rank; ``mp.spawn`` passes it as the first argument.
        world_size: number of processes in the group.
        init_method: ``"env://"``, ``"tcp://HOST:PORT"`` or ``"file:///path"``.
        report_dir: existing directory for ``rank{rank}.json``.
        fail_rank: if equal to ``rank``, raise ``RuntimeError`` before joining (fault
            injection: the launcher must end the whole job and report this rank).
    """
    if rank == fail_rank:
        raise RuntimeError(f"probe: injected failure on rank {rank}")
    torch.set_num_threads(1)
    dist.init_process_group(backend, init_method=init_method, world_size=world_size, rank=rank)
    try:
        value = torch.tensor([float(rank + 1)])
        dist.all_reduce(value)  # sum over ranks: 1 + 2 + ... + world_size
        report = {
            "rank": dist.get_rank(),
            "world_size": dist.get_world_size(),
            "backend": dist.get_backend(),
            "pid": os.getpid(),
            "all_reduce_sum": value.item(),
            "env": {k: os.environ[k] for k in TORCHRUN_VARIABLES if k in os.environ},
        }
    finally:
        dist.destroy_process_group()
    path = os.path.join(report_dir, f"rank{rank}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(path + ".tmp", path)


def read_reports(report_dir: str) -> list[dict]:
    """The reports :func:`probe` wrote, ordered by rank."""
    names = sorted((n for n in os.listdir(report_dir) if n.startswith("rank") and n.endswith(".json")),
                   key=lambda n: int(n[4:-5]))
    reports = []
    for name in names:
        with open(os.path.join(report_dir, name)) as f:
            reports.append(json.load(f))
    return reports


if __name__ == "__main__":
    # Under torchrun: `torchrun --standalone --nproc_per_node=2 -m glow_tts.distributed DIR`
    import sys

    if len(sys.argv) != 2:
        sys.exit("usage: torchrun ... -m glow_tts.distributed REPORT_DIR")
    os.makedirs(sys.argv[1], exist_ok=True)
    probe(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), "env://", sys.argv[1],
          backend=default_backend())
