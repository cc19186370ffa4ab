"""Training: ``main`` launches one process per device, ``train_and_eval`` is one of them.

The shape follows the original ``train.py`` so the two read side by side:

* :func:`main` parses ``-c/-m``, picks how many processes to start and launches
  :func:`train_and_eval` in each (``mp.spawn``), or runs it directly under ``torchrun``.
* :func:`train_and_eval` ``(rank, n_gpus, hps)`` builds data, model and optimizer, resumes
  from the newest checkpoint, then alternates :func:`train` (one epoch) and
  :func:`evaluate` (the validation losses).

What changed, and why (each point is a bug or a dated API of the original):

* It runs anywhere. The original asserted a GPU, hard-coded NCCL and set
  ``MASTER_PORT='80000'`` (not a valid port, rejected by torch 2.x). Here CUDA gives one
  process per GPU with NCCL; a CPU gives ``--nprocs N`` processes (default 1) with gloo,
  each on one thread. The port is a free one (retried if another program grabs it first);
  an explicitly given port that is busy is a clear error.
* The same :func:`train_and_eval` runs under ``torchrun`` (one node or many): it reads
  ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``.
* apex is gone: torch's ``DistributedDataParallel`` and ``torch.amp`` (bf16 where the GPU
  has it, otherwise fp16 with a ``GradScaler``).
* Resuming is exact. The original restored only the weights and the epoch (its bare
  ``except:`` silently restarted from scratch on any error, and the optimizer's step count
  was lost). A checkpoint here holds the model, the optimizer with its step count, the
  global step, the epoch and how far into it, and the RNG states of every rank; training
  N steps, stopping and resuming gives the same numbers as training straight through.
* The periodic sample runs in eval mode (no dropout) under ``torch.inference_mode()`` and
  with its own RNG, so logging more or less often does not change training.
* A NaN or infinite loss stops training with the step and the batch's files, before the
  bad update reaches the weights or a checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import random
import re
import socket
import warnings

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader
from torch.utils.data.distributed import DistributedSampler

from glow_tts.errors import GlowTTSError
from glow_tts import commons, utils
from glow_tts.checkpoint import load_checkpoint_dict, save_checkpoint
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.distributed import default_backend
from glow_tts.hparams import ConfigError, get_hparams, get_hparams_from_file
from glow_tts.models import FlowGenerator
from glow_tts.text.symbols import symbols

global_step = 0  # optimizer updates done so far; a module global, as in the original

CHECKPOINT_PATTERN = re.compile(r"^G_(\d+)\.pth$")


class TrainingError(GlowTTSError, RuntimeError):
    """Training cannot go on (diverged, no usable data or checkpoint); the message says why."""


# ----------------------------------------------------------------------------------------
# Launching
# ----------------------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` command's options. Defined once, in ``glow_tts.__main__``, which keeps them free of
    torch imports so that ``python -m glow_tts --help`` stays instant."""
    from glow_tts.__main__ import add_train_arguments

    add_train_arguments(parser)


def main(argv: list[str] | None = None) -> dict | None:
    """``python -m glow_tts.train -c CONFIG -m MODEL_DIR [--nprocs N] [--master-port P]``."""
    parser = argparse.ArgumentParser(prog="glow_tts train", description=__doc__.split("\n")[0])
    add_arguments(parser)
    return launch(parser.parse_args(argv))


def launch(args: argparse.Namespace) -> dict | None:
    """Start training as ``args`` says: under torchrun, in this process, or with mp.spawn.

    Returns :func:`train_and_eval`'s result when training ran in this process (one process,
    or under torchrun), None after ``mp.spawn``."""
    if args.nprocs is not None and args.nprocs < 1:
        raise ConfigError(f"--nprocs must be at least 1, got {args.nprocs}")
    if is_torchrun():
        # torchrun started this process and set the rendezvous variables for us. Only rank 0
        # writes (and checks) model_dir/config.json; the others just read the config file.
        rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        if rank == 0:
            hps = get_hparams(args=["-c", args.config, "-m", args.model] + (["--force"] if args.force else []))
        else:
            hps = get_hparams_from_file(args.config)
            hps.model_dir = model_dir_of(args.model)
        try:
            return train_and_eval(rank, world_size, hps)
        except BaseException as e:
            # torchrun's failure report shows a rank's traceback only if the rank wrote it
            # to the error file torchrun names (TORCHELASTIC_ERROR_FILE); do that, then fail.
            from torch.distributed.elastic.multiprocessing.errors import ErrorHandler
            ErrorHandler().record_exception(e)
            raise

    hps = get_hparams(args=["-c", args.config, "-m", args.model] + (["--force"] if args.force else []))

    use_cuda = hps.train.use_cuda and torch.cuda.is_available()
    n_procs = args.nprocs or (torch.cuda.device_count() if use_cuda else 1)
    if use_cuda and n_procs > torch.cuda.device_count():
        raise ConfigError(f"--nprocs {n_procs} but only {torch.cuda.device_count()} GPUs are visible")
    if n_procs == 1:
        return train_and_eval(0, 1, hps)  # no process group needed, errors surface directly
    spawn_with_free_port(train_and_eval, n_procs, (n_procs, hps), args.master_port)


def model_dir_of(name: str) -> str:
    """``-m NAME`` -> ``./logs/NAME``; a path with a slash is used as given (as get_hparams)."""
    return name if os.sep in name else os.path.join("./logs", name)


def is_torchrun() -> bool:
    """True when launched by ``torchrun`` (it sets RANK, WORLD_SIZE and LOCAL_RANK)."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))


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
                         attempts: int = 3) -> None:
    """``mp.spawn(fn, nprocs, args)`` with ``MASTER_ADDR``/``MASTER_PORT`` set for the children.

    An explicit ``master_port`` (or ``MASTER_PORT`` already in the environment) must be
    free, or this raises :class:`ConfigError` before starting anything. Otherwise a free
    port is picked, and if the rendezvous then fails because another program bound it in
    the meantime, another one is tried. If any process fails, ``mp.spawn`` ends the others
    and raises with that process's traceback.
    """
    saved = {k: os.environ.get(k) for k in ("MASTER_ADDR", "MASTER_PORT")}
    os.environ.setdefault("MASTER_ADDR", "localhost")
    explicit = master_port if master_port is not None else os.environ.get("MASTER_PORT")
    try:
        if explicit is not None:
            port = int(explicit)
            if not 0 < port < 65536:
                raise ConfigError(f"master port {port} is not a valid TCP port (1-65535)")
            if not port_is_free(port):
                raise ConfigError(f"master port {port} is already in use on this machine; pass "
                                  f"another --master-port, or leave it out to pick a free one")
            os.environ["MASTER_PORT"] = str(port)
            mp.spawn(fn, nprocs=nprocs, args=args, join=True)
            return
        for attempt in range(attempts):
            os.environ["MASTER_PORT"] = str(find_free_port())
            try:
                mp.spawn(fn, nprocs=nprocs, args=args, join=True)
                return
            except mp.ProcessRaisedException as e:
                if "address already in use" in str(e).lower() and attempt + 1 < attempts:
                    continue  # lost the race for the port: pick another one
                raise
    finally:
        for key, value in saved.items():  # leave the environment as we found it
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# ----------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------

class ResumableDistributedSampler(DistributedSampler):
    """``DistributedSampler`` that can start part-way into an epoch.

    The order of an epoch is a function of ``seed + epoch`` only (``set_epoch``), so a
    resumed run sees the same order; ``skip`` drops the samples the run had already
    trained on in that epoch. ``epoch_indices`` keeps this rank's full order of the
    current epoch (to name the files of a batch in error messages).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.skip = 0
        self.epoch_indices: list[int] = []

    def __iter__(self):
        self.epoch_indices = list(super().__iter__())
        return iter(self.epoch_indices[self.skip:])

    def __len__(self) -> int:
        return self.num_samples - self.skip


def build_train_loader(hps, dataset, rank: int, world_size: int):
    """Sampler and loader of this rank's shard: drop_last batches, shuffled per epoch."""
    sampler = ResumableDistributedSampler(dataset, num_replicas=world_size, rank=rank,
                                          shuffle=True, seed=hps.train.seed)
    # The loader's own generator seeds its workers; giving it one (reseeded each epoch)
    # keeps it from drawing from the global RNG, which a resume must reproduce exactly.
    loader = DataLoader(dataset, num_workers=hps.train.num_workers, shuffle=False,
                        batch_size=hps.train.batch_size, pin_memory=torch.cuda.is_available(),
                        drop_last=True, collate_fn=TextMelCollate(1), sampler=sampler,
                        generator=torch.Generator())
    n_batches = sampler.num_samples // hps.train.batch_size
    if n_batches == 0:
        raise TrainingError(
            f"{hps.data.training_files}: {len(dataset)} utterances give each of {world_size} "
            f"process(es) {sampler.num_samples}, fewer than one batch of "
            f"train.batch_size={hps.train.batch_size}; lower batch_size or add data")
    return sampler, loader


def batch_files(dataset, sampler: ResumableDistributedSampler, batch_idx: int, batch_size: int):
    """Audio paths of batch ``batch_idx`` (counted from the start of the epoch)."""
    idx = sampler.epoch_indices[batch_idx * batch_size:(batch_idx + 1) * batch_size]
    return [dataset.audiopaths_and_text[i][0] for i in idx]


# ----------------------------------------------------------------------------------------
# Run state: what the original kept in globals and what a resume needs
# ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class Run:
    """Per-process settings and bookkeeping passed to :func:`train` and :func:`evaluate`."""
    device: torch.device
    world_size: int
    amp_dtype: torch.dtype | None = None       # autocast dtype on GPU, None = float32
    scaler: "torch.amp.GradScaler | None" = None
    batches_done: int = 0                        # batches of the current epoch already trained
    last_saved_step: int = -1
    stop: bool = False                           # train.max_steps reached
    losses: list = dataclasses.field(default_factory=list)  # [step, l_mle, l_length] per step
    seen: list = dataclasses.field(default_factory=list)    # dataset indices trained on, in order
    train_writer: object = None
    sampler: ResumableDistributedSampler | None = None


def unwrap(model):
    """The model inside ``DistributedDataParallel`` (or the model itself)."""
    return model.module if isinstance(model, DDP) else model


def rng_state(device: torch.device) -> dict:
    """This process's RNG states in a form ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"torch": torch.get_rng_state(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
             "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def gather_rng_states(run: Run) -> list:
    """Every rank's RNG state, in rank order (a collective: all ranks must call it)."""
    mine = rng_state(run.device)
    if run.world_size == 1:
        return [mine]
    states = [None] * run.world_size
    dist.all_gather_object(states, mine)
    return states


def load_weights(model, state_dict: dict, path: str) -> None:
    """``model.load_state_dict`` with an error that names the file and the likely cause."""
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as e:
        raise TrainingError(f"{path} does not fit this model (was it trained with another "
                            f"config: hidden_channels, n_blocks_dec, add_blank ...?):\n{e}") from None


def checkpoint_paths(model_dir: str) -> list[str]:
    """``G_<step>.pth`` files, newest (highest step) first; temporary files are ignored."""
    found = []
    for path in glob.glob(os.path.join(model_dir, "G_*.pth")):
        m = CHECKPOINT_PATTERN.match(os.path.basename(path))
        if m:
            found.append((int(m.group(1)), path))
    return [p for _, p in sorted(found, reverse=True)]


def save_training_checkpoint(hps, generator, optimizer_g, epoch: int, run: Run, logger) -> None:
    """Write ``G_<global_step>.pth`` (rank 0) and prune old ones; all ranks must call it."""
    rng = gather_rng_states(run)
    if logger is None or run.last_saved_step == global_step:
        return
    path = os.path.join(hps.model_dir, f"G_{global_step}.pth")
    save_checkpoint(unwrap(generator), optimizer_g, hps.train.learning_rate, epoch, path,
                    global_step=global_step, epoch=epoch, batches_done=run.batches_done,
                    rng=rng, world_size=run.world_size,
                    scaler=run.scaler.state_dict() if run.scaler is not None else None)
    run.last_saved_step = global_step
    logger.info("saved %s (epoch %d, %d batches into it)", path, epoch, run.batches_done)
    keep = hps.train.keep_checkpoints
    if keep > 0:
        for old in checkpoint_paths(hps.model_dir)[keep:]:
            os.remove(old)


def load_newest_checkpoint(model_dir: str, logger):
    """The newest checkpoint that loads, as a dict; a corrupt one is reported and skipped.

    Returns ``(path, dict)`` or ``(None, None)`` when there is no checkpoint at all. If
    checkpoints exist but none can be read, training stops rather than silently starting
    over (the original's bare ``except:`` did that).
    """
    paths = checkpoint_paths(model_dir)
    errors = []
    for path in paths:
        try:
            return path, load_checkpoint_dict(path)
        except Exception as e:  # a truncated or corrupted file: say so, try the previous one
            errors.append(f"{path}: {e}")
            if logger:
                logger.error("cannot load checkpoint %s (%s); trying the previous one", path, e)
    if paths:
        raise TrainingError("no checkpoint in %s could be loaded:\n  %s\nMove the broken files "
                            "away to start from scratch." % (model_dir, "\n  ".join(errors)))
    return None, None


# ----------------------------------------------------------------------------------------
# One process
# ----------------------------------------------------------------------------------------

def train_and_eval(rank: int, n_gpus: int, hps) -> dict:
    """Train as process ``rank`` of ``n_gpus`` (the world size; the original's name).

    Returns ``{"losses": [[step, l_mle, l_length], ...], "global_step", "epoch", "seen"
    (dataset indices this rank trained on, in order), "generator"}`` for callers in the
    same process (tests, the demo).
    """
    world_size = n_gpus
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = hps.train.use_cuda and torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")

    logger = writer = writer_eval = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter  # slow import: rank 0 only
        logger = utils.get_logger(hps.model_dir)
        logger.info(hps)
        utils.check_git_hash(hps.model_dir, logger)
        writer = SummaryWriter(log_dir=hps.model_dir)
        writer_eval = SummaryWriter(log_dir=os.path.join(hps.model_dir, "eval"))

    if device.type == "cuda":
        torch.cuda.set_device(device)  # before NCCL starts, so it binds to this GPU
    if world_size > 1:
        if device.type == "cpu":
            torch.set_num_threads(1)  # N processes on N cores: oversubscribing is ~5x slower
        dist.init_process_group(backend=default_backend(device), init_method="env://",
                                world_size=world_size, rank=rank)
    try:
        return _train_and_eval(rank, world_size, hps, device, logger, writer, writer_eval)
    finally:
        for w in (writer, writer_eval):
            if w is not None:
                w.close()
        if world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _train_and_eval(rank, world_size, hps, device, logger, writer, writer_eval) -> dict:
    global global_step
    torch.manual_seed(hps.train.seed)
    np.random.seed(hps.train.seed)
    random.seed(hps.train.seed)

    train_dataset = TextMelLoader(hps.data.training_files, hps.data, n_sqz=hps.model.n_sqz)
    train_sampler, train_loader = build_train_loader(hps, train_dataset, rank, world_size)
    val_loader = None
    if rank == 0:
        val_dataset = TextMelLoader(hps.data.validation_files, hps.data, n_sqz=hps.model.n_sqz)
        # drop_last=False: a validation set smaller than one batch still gets evaluated.
        val_loader = DataLoader(val_dataset, num_workers=hps.train.num_workers, shuffle=False,
                                batch_size=hps.train.batch_size,
                                pin_memory=torch.cuda.is_available(), drop_last=False,
                                collate_fn=TextMelCollate(1))

    generator = FlowGenerator(
        n_vocab=len(symbols) + getattr(hps.data, "add_blank", False),
        out_channels=hps.data.n_mel_channels,
        **hps.model).to(device)
    optimizer_g = commons.Adam(generator.parameters(), scheduler=hps.train.scheduler,
                               dim_model=hps.model.hidden_channels,
                               warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                               betas=hps.train.betas, eps=hps.train.eps)
    run = Run(device=device, world_size=world_size, sampler=train_sampler)
    if hps.train.fp16_run:
        if device.type == "cuda":
            run.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
            # bf16 has float32's exponent range: no loss scaling needed. fp16 needs it.
            run.scaler = torch.amp.GradScaler("cuda", enabled=run.amp_dtype == torch.float16)
            if logger:
                logger.info("mixed precision: autocast to %s", run.amp_dtype)
        else:
            warnings.warn("train.fp16_run is ignored on CPU: training in float32")
            if logger:
                logger.warning("train.fp16_run is ignored on CPU: training in float32")

    epoch_str, global_step = 1, 0
    ckpt_path, ckpt = load_newest_checkpoint(hps.model_dir, logger)
    rng_to_restore = None
    if ckpt is not None:
        load_weights(unwrap(generator), ckpt["model"], ckpt_path)
        if ckpt.get("optimizer") is not None:
            optimizer_g.load_state_dict(ckpt["optimizer"])
        n_batches = train_sampler.num_samples // hps.train.batch_size
        epoch_str = int(ckpt.get("epoch", ckpt.get("iteration", 0)))
        # The original's G_<epoch>.pth holds only the finished epoch ("iteration"); it
        # counted global_step as epochs * batches per epoch, and so do we for such a file.
        global_step = int(ckpt.get("global_step", epoch_str * n_batches))
        run.batches_done = int(ckpt.get("batches_done", n_batches))
        if run.batches_done >= n_batches:
            epoch_str, run.batches_done = epoch_str + 1, 0   # that epoch was finished
        if run.scaler is not None and ckpt.get("scaler"):
            run.scaler.load_state_dict(ckpt["scaler"])
        rngs = ckpt.get("rng") or []
        if len(rngs) == world_size:
            rng_to_restore = rngs[rank]
        elif rngs and logger:
            logger.warning("checkpoint was written by %d processes, this run has %d: RNG "
                           "states not restored (training continues, not bit-exact)",
                           len(rngs), world_size)
        if logger:
            logger.info("resuming from %s: step %d, epoch %d, %d batches into it, lr %.3g",
                        ckpt_path, global_step, epoch_str, run.batches_done, optimizer_g.get_lr())
    else:
        ddi_path = os.path.join(hps.model_dir, "ddi_G.pth")
        if hps.train.ddi and os.path.isfile(ddi_path):
            load_weights(unwrap(generator), load_checkpoint_dict(ddi_path)["model"], ddi_path)
            if logger:
                logger.info("no checkpoint in %s: starting from the data-dependent init %s",
                            hps.model_dir, ddi_path)
        elif logger:
            logger.info("no checkpoint in %s and %s: starting from random weights", hps.model_dir,
                        "no ddi_G.pth (run `python -m glow_tts init` first)" if hps.train.ddi
                        else "train.ddi is false")
    if world_size > 1:
        generator = DDP(generator, device_ids=[device.index] if device.type == "cuda" else None)
    if rng_to_restore is not None:
        set_rng_state(rng_to_restore, device)  # last: model building above drew from the RNG

    if hps.train.max_steps and global_step >= hps.train.max_steps:
        if logger:
            logger.info("step %d already reached train.max_steps=%d: nothing to train "
                        "(raise max_steps, with --force, to continue)", global_step,
                        hps.train.max_steps)
        return {"losses": [], "global_step": global_step, "epoch": epoch_str - 1, "seen": [],
                "generator": unwrap(generator)}

    epoch = epoch_str
    for epoch in range(epoch_str, hps.train.epochs + 1):
        train(rank, epoch, hps, generator, optimizer_g, train_loader, logger, writer, run=run)
        if run.stop:
            break
        if rank == 0:
            evaluate(rank, epoch, hps, generator, optimizer_g, val_loader, logger, writer_eval, run=run)
        save_training_checkpoint(hps, generator, optimizer_g, epoch, run, logger)
        run.batches_done = 0
    if run.stop:
        if rank == 0:
            evaluate(rank, epoch, hps, generator, optimizer_g, val_loader, logger, writer_eval, run=run)
        save_training_checkpoint(hps, generator, optimizer_g, epoch, run, logger)
        if logger:
            logger.info("stopped at train.max_steps=%d", hps.train.max_steps)
    return {"losses": run.losses, "global_step": global_step, "epoch": epoch,
            "seen": run.seen, "generator": unwrap(generator)}


def train(rank, epoch, hps, generator, optimizer_g, train_loader, logger, writer, run: Run):
    """One epoch (or what is left of it after a resume) of maximum-likelihood training."""
    global global_step
    sampler = train_loader.sampler
    sampler.set_epoch(epoch)                 # the shuffle order of this epoch: seed + epoch
    train_loader.dataset.set_epoch(epoch, hps.train.seed)   # add_noise: per-item streams
    sampler.skip = run.batches_done * hps.train.batch_size
    train_loader.generator.manual_seed(hps.train.seed + epoch)
    n_batches = sampler.num_samples // hps.train.batch_size

    bar = None
    if rank == 0:
        from tqdm import tqdm
        bar = tqdm(total=n_batches, initial=run.batches_done, desc=f"epoch {epoch}",
                   leave=False, dynamic_ncols=True, disable=None)

    generator.train()
    for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader, start=run.batches_done):
        x, x_lengths = x.to(run.device, non_blocking=True), x_lengths.to(run.device, non_blocking=True)
        y, y_lengths = y.to(run.device, non_blocking=True), y_lengths.to(run.device, non_blocking=True)

        optimizer_g.zero_grad()
        with torch.autocast(run.device.type, dtype=run.amp_dtype or torch.float32,
                            enabled=run.amp_dtype is not None):
            (z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = \
                generator(x, x_lengths, y, y_lengths, gen=False)
        # The losses in float32 even under autocast: sums over thousands of frames.
        l_mle = commons.mle_loss(z.float(), z_m.float(), z_logs.float(), logdet.float(), z_mask)
        l_length = commons.duration_loss(logw.float(), logw_.float(), x_lengths)
        loss_gs = [l_mle, l_length]
        loss_g = sum(loss_gs)

        if not torch.isfinite(loss_g):
            files = batch_files(train_loader.dataset, sampler, batch_idx, hps.train.batch_size)
            last = checkpoint_paths(hps.model_dir)
            raise TrainingError(
                f"rank {rank}: loss is {loss_g.item()} (mle {l_mle.item()}, duration "
                f"{l_length.item()}) at step {global_step + 1} (epoch {epoch}, batch "
                f"{batch_idx}); the batch's utterances:\n  " + "\n  ".join(files) +
                f"\nNo update was applied. Last good checkpoint: "
                f"{last[0] if last else 'none'}. Lower train.learning_rate or check these files.")

        if run.scaler is not None:
            run.scaler.scale(loss_g).backward()
            run.scaler.unscale_(optimizer_g._optim)   # clip the true gradients, not scaled ones
            grad_norm = commons.clip_grad_value_(generator.parameters(), hps.train.grad_clip)
            run.scaler.step(optimizer_g._optim)
            run.scaler.update()
            optimizer_g._update_learning_rate()
        else:
            loss_g.backward()
            grad_norm = commons.clip_grad_value_(generator.parameters(), hps.train.grad_clip)
            optimizer_g.step()

        global_step += 1
        run.batches_done = batch_idx + 1
        run.losses.append([global_step, l_mle.item(), l_length.item()])
        bs = hps.train.batch_size
        run.seen.extend(sampler.epoch_indices[batch_idx * bs:(batch_idx + 1) * bs])

        if rank == 0:
            bar.update(1)
            bar.set_postfix(loss=f"{loss_g.item():.3f}", lr=f"{optimizer_g.get_lr():.2e}")
            if (global_step - 1) % hps.train.log_interval == 0:
                log_sample(hps, generator, optimizer_g, x, x_lengths, y, y_lengths, attn,
                           loss_gs, grad_norm, epoch, batch_idx, n_batches, logger, writer)

        if global_step % hps.train.checkpoint_interval == 0:
            save_training_checkpoint(hps, generator, optimizer_g, epoch, run, logger)
        if hps.train.max_steps and global_step >= hps.train.max_steps:
            run.stop = True
            break

    sampler.skip = 0
    if rank == 0:
        bar.close()
        logger.info("====> Epoch: %d", epoch)


def log_sample(hps, generator, optimizer_g, x, x_lengths, y, y_lengths, attn, loss_gs,
               grad_norm, epoch, batch_idx, n_batches, logger, writer) -> None:
    """Losses, learning rate and gradient norm, plus a generated mel and its audio.

    The sample is generated in eval mode (no dropout), without autograd, and inside
    ``fork_rng`` so its random noise does not shift the training's random stream.
    """
    loss_g = sum(loss_gs)
    logger.info("Train Epoch: %d [%d/%d (%.0f%%)]\tLoss: %.6f", epoch,
                batch_idx * len(x), n_batches * hps.train.batch_size,
                100.0 * batch_idx / n_batches, loss_g.item())
    logger.info([v.item() for v in loss_gs] + [global_step, optimizer_g.get_lr()])
    model = unwrap(generator)
    model.eval()
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []), \
            torch.inference_mode():
        (y_gen, *_), *_ = model(x[:1], x_lengths[:1], gen=True, noise_scale=0.667)
    model.train()
    scalars = {"loss/g/total": loss_g, "learning_rate": optimizer_g.get_lr(), "grad_norm": grad_norm}
    scalars.update({f"loss/g/{i}": v for i, v in enumerate(loss_gs)})
    scalars["loss/g/mle"], scalars["loss/g/dur"] = loss_gs
    y_gen = y_gen[0].float().cpu()
    images = {"y_org": utils.plot_spectrogram_to_numpy(y[0, :, :y_lengths[0]].float().cpu().numpy()),
              "y_gen": utils.plot_spectrogram_to_numpy(y_gen.numpy()),
              "attn": utils.plot_alignment_to_numpy(
                  attn[0, 0, :x_lengths[0], :y_lengths[0]].float().cpu().numpy())}
    from glow_tts.audio import griffin_lim
    wav = griffin_lim(y_gen, sampling_rate=hps.data.sampling_rate,
                      filter_length=hps.data.filter_length, hop_length=hps.data.hop_length,
                      win_length=hps.data.win_length, mel_fmin=hps.data.mel_fmin,
                      mel_fmax=hps.data.mel_fmax)
    utils.summarize(writer=writer, global_step=global_step, images=images, scalars=scalars,
                    audios={"gen/audio": wav}, audio_sampling_rate=hps.data.sampling_rate)


def evaluate(rank, epoch, hps, generator, optimizer_g, val_loader, logger, writer_eval, run: Run):
    """Average validation losses, logged to the ``eval/`` writer (rank 0 only).

    In eval mode and without gradients, as the original; the loader's noise (``add_noise``)
    is drawn inside ``fork_rng`` so evaluating does not move the training's random stream.
    """
    if rank != 0:
        return
    generator.eval()
    losses_tot = None
    n_batches = 0
    with torch.random.fork_rng(devices=[run.device] if run.device.type == "cuda" else []), \
            torch.no_grad():
        for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(val_loader):
            x, x_lengths = x.to(run.device), x_lengths.to(run.device)
            y, y_lengths = y.to(run.device), y_lengths.to(run.device)
            with torch.autocast(run.device.type, dtype=run.amp_dtype or torch.float32,
                                enabled=run.amp_dtype is not None):
                (z, z_m, z_logs, logdet, z_mask), (x_m, x_logs, x_mask), (attn, logw, logw_) = \
                    unwrap(generator)(x, x_lengths, y, y_lengths, gen=False)
            l_mle = commons.mle_loss(z.float(), z_m.float(), z_logs.float(), logdet.float(), z_mask)
            l_length = commons.duration_loss(logw.float(), logw_.float(), x_lengths)
            loss_gs = [l_mle, l_length]
            losses_tot = loss_gs if losses_tot is None else [a + b for a, b in zip(losses_tot, loss_gs)]
            n_batches += 1
            if batch_idx % hps.train.log_interval == 0:
                logger.info("Eval Epoch: %d [%d/%d (%.0f%%)]\tLoss: %.6f", epoch,
                            batch_idx * len(x), len(val_loader.dataset),
                            100.0 * batch_idx / len(val_loader), sum(loss_gs).item())
                logger.info([v.item() for v in loss_gs])
    generator.train()
    losses_tot = [v / n_batches for v in losses_tot]
    scalars = {"loss/g/total": sum(losses_tot)}
    scalars.update({f"loss/g/{i}": v for i, v in enumerate(losses_tot)})
    scalars["loss/g/mle"], scalars["loss/g/dur"] = losses_tot
    utils.summarize(writer=writer_eval, global_step=global_step, scalars=scalars)
    logger.info("====> Epoch: %d (eval loss %.4f: mle %.4f, duration %.4f)", epoch,
                sum(losses_tot).item(), losses_tot[0].item(), losses_tot[1].item())


if __name__ == "__main__":
    main()
