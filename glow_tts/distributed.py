"""Launching processes: ports, ``mp.spawn``, the ``torchrun`` environment, the backend rule.

``train.main`` starts training through :func:`launch`: under ``torchrun`` this process is
already one rank (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` are set); otherwise one process
runs it directly, or :func:`spawn_with_free_port` starts ``n`` processes with ``mp.spawn``
on a free rendezvous port. A user error (:class:`~glow_tts.errors.GlowTTSError`) raised in
any rank ends the job with that error's one-line message; its full traceback goes to the
run's log file.

:func:`probe` is a distributed smoke test: can N processes form a group and all-reduce?
Each rank joins the process group, all-reduces one number and writes what it saw to
``report_dir/rank{r}.json``. The book uses it to show how ``mp.spawn`` passes the process
index and how a failure in one rank reaches the parent (``fail_rank``).
"""

from __future__ import annotations

import json
import os
import socket
import traceback

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from glow_tts.errors import GlowTTSError

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


def is_torchrun() -> bool:
    """True when launched by ``torchrun`` (it sets RANK, WORLD_SIZE and LOCAL_RANK)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


def torchrun_rank() -> int | None:
    """This process's global rank under ``torchrun``; None when not launched by it."""
    return int(os.environ["RANK"]) if is_torchrun() else None


def process_count(use_cuda: bool, nprocs: int | None = None) -> int:
    """How many processes train: ``WORLD_SIZE`` under torchrun, else ``nprocs``, else one
    per visible GPU (``use_cuda``) or 1 on the CPU."""
    if is_torchrun():
        return int(os.environ["WORLD_SIZE"])
    if nprocs is not None and nprocs < 1:
        raise LaunchError(f"--nprocs must be at least 1, got {nprocs}")
    use_cuda = use_cuda and torch.cuda.is_available()
    n = nprocs or (torch.cuda.device_count() if use_cuda else 1)
    if use_cuda and n > torch.cuda.device_count():
        raise LaunchError(f"--nprocs {n} but only {torch.cuda.device_count()} GPUs are visible")
    return n


class LaunchError(GlowTTSError, ValueError):
    """Processes cannot be started as asked (a busy port, more processes than GPUs)."""


def launch(fn, n_procs: int, args: tuple, master_port: int | None = None,
           log_file: str | None = None):
    """Run ``fn(rank, n_procs, *args)`` as every rank: this process under torchrun or when
    ``n_procs == 1`` (returning ``fn``'s result), else ``n_procs`` processes (None)."""
    if is_torchrun():
        try:
            return fn(int(os.environ["RANK"]), n_procs, *args)
        except GlowTTSError:
            _log_traceback(log_file, int(os.environ["RANK"]))
            raise  # the command line prints its one line and exits 2
        except BaseException as e:
            # torchrun's failure report shows a rank's traceback only if the rank wrote it
            # to the error file torchrun names (TORCHELASTIC_ERROR_FILE); do that, then fail.
            from torch.distributed.elastic.multiprocessing.errors import ErrorHandler
            ErrorHandler().record_exception(e)
            raise
    if n_procs == 1:
        return fn(0, 1, *args)  # no process group needed, errors surface directly
    spawn_with_free_port(fn, n_procs, (n_procs, *args), master_port, log_file=log_file)
    return None


def _log_traceback(log_file: str | None, rank: int) -> None:
    """Append the exception being handled, with its traceback, to ``log_file``."""
    if log_file is None:
        return
    try:
        with open(log_file, "a", encoding="utf-8") as f:
            f.write(f"rank {rank} failed:\n{traceback.format_exc()}")
    except OSError:
        pass


def _run_rank(rank: int, fn, args: tuple, user_errors, log_file: str | None):
    """What each spawned process runs: ``fn(rank, *args)``; a user error's message is sent
    back to the parent through ``user_errors`` before the process fails."""
    try:
        fn(rank, *args)
    except GlowTTSError as e:
        _log_traceback(log_file, rank)
        user_errors.put(str(e))
        raise


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def find_free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (another program may take it before we bind it:
    :func:`spawn_with_free_port` retries when that happens)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def spawn_with_free_port(fn, nprocs: int, args: tuple, master_port: int | None = None,
                         attempts: int = 3, log_file: str | None = None) -> None:
    """``mp.spawn(fn, nprocs, args)`` with ``MASTER_ADDR``/``MASTER_PORT`` set for the children.

    An explicit ``master_port`` (or ``MASTER_PORT`` already in the environment) must be
    free, or this raises :class:`LaunchError` before starting anything. Otherwise a free
    port is picked, and if the rendezvous then fails because another program bound it in
    the meantime, another one is tried. If any process fails, ``mp.spawn`` ends the others
    and raises with that process's traceback; when the failure was a user error
    (:class:`GlowTTSError`), a :class:`GlowTTSError` with its message is raised instead
    (the traceback goes to ``log_file``).
    """
    saved = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT")}
    os.environ.setdefault("MASTER_ADDR", "localhost")
    explicit = master_port if master_port is not None else os.environ.get("MASTER_PORT")
    user_errors = mp.get_context("spawn").SimpleQueue()
    wrapped = (fn, args, user_errors, log_file)
    try:
        if explicit is not None:
            port = int(explicit)
            if not 0 < port < 65536:
                raise LaunchError(f"master port {port} is not a valid TCP port (1-65535)")
            if not port_is_free(port):
                raise LaunchError(f"master port {port} is already in use on this machine; pass "
                                  f"another --master-port, or leave it out to pick a free one")
            os.environ["MASTER_PORT"] = str(port)
            attempts = 1
        for attempt in range(attempts):
            if explicit is None:
                os.environ["MASTER_PORT"] = str(find_free_port())
            try:
                mp.spawn(_run_rank, nprocs=nprocs, args=wrapped, join=True)
                return
            except mp.ProcessRaisedException as e:
                if not user_errors.empty():
                    raise GlowTTSError(user_errors.get()) from None
                if "address already in use" in str(e).lower() and attempt + 1 < attempts:
                    continue  # lost the race for the port: pick another one
                raise
    finally:
        for key, value in saved.items():  # leave the environment as we found it
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


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
