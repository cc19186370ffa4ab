"""Training: the original's ``train.py``, function by function, with today's APIs.

* :func:`main` reads ``-c/-m``, checks the run's inputs, saves its config and starts
  :func:`train_and_eval` in every process (``glow_tts.distributed.launch``: ``mp.spawn``,
  one process, or this process under ``torchrun``).
* :func:`train_and_eval` ``(rank, n_gpus, hps)`` builds data, model and optimizer, resumes
  from the newest checkpoint, then alternates :func:`train` (one epoch) and
  :func:`evaluate` (the validation losses).

What changed, and why (each point is a bug or a dated API of the original):

* It runs anywhere. The original asserted a GPU, hard-coded NCCL and set
  ``MASTER_PORT='80000'`` (> 65535: a TypeError in torch 1.10, a ValueError since 1.11). Here CUDA gives one
  process per GPU with NCCL; a CPU gives ``--nprocs N`` processes (default 1) with gloo,
  each on one thread, on a free port (:mod:`glow_tts.distributed`). The same
  :func:`train_and_eval` runs under ``torchrun``, one node or many.
* apex is gone: torch's ``DistributedDataParallel`` and ``torch.amp`` (bf16 where the GPU
  has it, otherwise fp16 with a ``GradScaler``).
* Resuming is exact. The original restored only the weights and the epoch (its bare
  ``except:`` silently restarted from scratch on any error, and the optimizer's step count
  was lost). A checkpoint here holds the model, the optimizer with its step count, the
  global step, the epoch and how far into it, and the RNG states of every rank
  (:mod:`glow_tts.checkpoint`); training N steps, stopping and resuming gives the same
  numbers as training straight through.
* Nothing is written before the inputs are checked, and one training at a time owns a run
  directory (``checkpoint.RunLock``).
* The periodic sample runs in eval mode (no dropout) under ``torch.inference_mode()`` and
  with its own RNG, so logging more or less often does not change training.
* A NaN or infinite loss stops training with the step and the batch's files, before the
  bad update reaches the weights or a checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import warnings

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader

from glow_tts import args as cli, checkpoint, commons, distributed, utils
from glow_tts.audio import griffin_lim
from glow_tts.data_utils import TextMelCollate, TextMelLoader, build_train_loader
from glow_tts.errors import GlowTTSError
from glow_tts.hparams import load_hparams, save_run_config
from glow_tts.models import build_model

# Optimizer updates done so far. A module global, as in the original: train() advances it,
# evaluate() and the checkpoints read it. It lives here and nowhere else.
global_step = 0


class TrainingError(GlowTTSError, RuntimeError):
    """Training cannot go on (diverged, or nothing to resume from); the message says why."""


def main(argv: list[str] | argparse.Namespace | None = None) -> dict | None:
    """``python -m glow_tts train -c CONFIG -m NAME [--nprocs N] [--master-port P]``
    (``argv``: the options, or the command line's already parsed ``Namespace``).

    Returns :func:`train_and_eval`'s result when training ran in this process (one process,
    or under torchrun), None after ``mp.spawn``.
    """
    args = argv if isinstance(argv, argparse.Namespace) else cli.parse("train", argv)
    hps = load_hparams(args.config, args.model, force=args.force, write=False)
    n_gpus = distributed.process_count(hps.train.use_cuda, args.nprocs)
    log_file = os.path.join(hps.model_dir, "train.log")
    if distributed.torchrun_rank() not in (None, 0):  # under torchrun rank 0 checks and writes
        return distributed.launch(train_and_eval, n_gpus, (hps,), log_file=log_file)
    with checkpoint.RunLock(hps.model_dir):
        checkpoint.check_run(hps)                    # data and checkpoint, before any write
        save_run_config(hps, force=args.force)
        # The original's os.environ['MASTER_ADDR'/'MASTER_PORT'] and
        # mp.spawn(train_and_eval, nprocs=n_gpus, args=(n_gpus, hps,)) happen in here:
        return distributed.launch(train_and_eval, n_gpus, (hps,), args.master_port, log_file)


@dataclasses.dataclass
class Run:
    """What one process keeps besides the original's arguments: the device, mixed
    precision, and where in the epoch a resumed run starts. Nothing grows per step."""
    device: torch.device
    world_size: int
    amp_dtype: torch.dtype | None = None       # autocast dtype on GPU, None = float32
    scaler: "torch.amp.GradScaler | None" = None
    batches_done: int = 0                      # batches of the current epoch already trained
    last_saved_step: int = -1
    stop: bool = False                         # train.max_steps reached
    on_step: object = None                     # callback(step, [l_mle, l_length], indices)


def train_and_eval(rank: int, n_gpus: int, hps, on_step=None) -> dict:
    """Train as process ``rank`` of ``n_gpus`` (the world size; the original's name).

    ``on_step(global_step, [l_mle, l_length], dataset_indices)``, if given, is called after
    every update (tests and the book record losses with it; nothing is kept otherwise).
    Returns ``{"global_step", "epoch", "generator"}`` for callers in the same process.
    """
    global global_step
    device = (torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
              if hps.train.use_cuda and torch.cuda.is_available() else torch.device("cpu"))
    logger = writer = writer_eval = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter  # slow import: rank 0 only
        logger = utils.get_logger(hps.model_dir)
        logger.info(hps)
        utils.check_git_hash(hps.model_dir, logger)
        writer = SummaryWriter(log_dir=hps.model_dir)
        writer_eval = SummaryWriter(log_dir=os.path.join(hps.model_dir, "eval"))
        for path in checkpoint.remove_stale_temporaries(hps.model_dir):
            logger.warning("removed %s, left by a checkpoint save that was interrupted", path)

    if device.type == "cuda":
        torch.cuda.set_device(device)  # before NCCL starts, so it binds to this GPU
    if n_gpus > 1:
        if device.type == "cpu":
            torch.set_num_threads(1)  # N processes on N cores: oversubscribing is ~5x slower
        dist.init_process_group(backend=distributed.default_backend(device), init_method="env://",
                                world_size=n_gpus, rank=rank)
    torch.manual_seed(hps.train.seed)
    np.random.seed(hps.train.seed)
    random.seed(hps.train.seed)

    try:
        train_dataset = TextMelLoader(hps.data.training_files, hps.data, n_sqz=hps.model.n_sqz)
        train_sampler, train_loader = build_train_loader(
            train_dataset, hps.train.batch_size, hps.train.num_workers, hps.train.seed, rank, n_gpus)
        val_loader = None
        if rank == 0:
            val_dataset = TextMelLoader(hps.data.validation_files, hps.data, n_sqz=hps.model.n_sqz)
            # drop_last=False: a validation set smaller than one batch still gets evaluated.
            val_loader = DataLoader(val_dataset, num_workers=hps.train.num_workers, shuffle=False,
                                    batch_size=hps.train.batch_size,
                                    pin_memory=torch.cuda.is_available(), drop_last=False,
                                    collate_fn=TextMelCollate(1))

        generator = build_model(hps).to(device)
        optimizer_g = commons.Adam(generator.parameters(), scheduler=hps.train.scheduler,
                                   dim_model=hps.model.hidden_channels,
                                   warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                                   betas=hps.train.betas, eps=hps.train.eps)
        run = Run(device=device, world_size=n_gpus, on_step=on_step)
        if hps.train.fp16_run:
            if device.type == "cuda":
                run.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
                # bf16 has float32's exponent range: no loss scaling needed. fp16 needs it.
                run.scaler = torch.amp.GradScaler("cuda", enabled=run.amp_dtype == torch.float16)
            else:
                warnings.warn("train.fp16_run is ignored on CPU: training in float32")
                if logger:
                    logger.warning("train.fp16_run is ignored on CPU: training in float32")

        global_step = 0
        resumed = resume(hps, generator, optimizer_g, train_sampler, run, rank, logger)
        epoch_str = resumed["epoch"] if resumed else 1
        if n_gpus > 1:
            generator = DDP(generator, device_ids=[device.index] if device.type == "cuda" else None)
        if resumed and resumed["rng"] is not None:
            checkpoint.set_rng_state(resumed["rng"], device)  # last: building drew from the RNG

        epoch = epoch_str - 1
        if hps.train.max_steps and global_step >= hps.train.max_steps:
            if logger:
                logger.info("step %d already reached train.max_steps=%d: nothing to train "
                            "(raise max_steps, with --force, to continue)", global_step,
                            hps.train.max_steps)
            return {"global_step": global_step, "epoch": epoch, "generator": unwrap(generator)}
        for epoch in range(epoch_str, hps.train.epochs + 1):
            train(rank, epoch, hps, generator, optimizer_g, train_loader, logger, writer, run)
            if rank == 0:
                evaluate(rank, epoch, hps, generator, optimizer_g, val_loader, logger, writer_eval, run)
            save(hps, generator, optimizer_g, epoch, run, logger)
            if run.stop:
                if logger:
                    logger.info("stopped at train.max_steps=%d", hps.train.max_steps)
                break
            run.batches_done = 0
        return {"global_step": global_step, "epoch": epoch, "generator": unwrap(generator)}
    finally:
        for w in (writer, writer_eval):
            if w is not None:
                w.close()
        if n_gpus > 1 and dist.is_initialized():
            dist.destroy_process_group()


def train(rank, epoch, hps, generator, optimizer_g, train_loader, logger, writer, run: Run):
    """One epoch (or what is left of it after a resume) of maximum-likelihood training."""
    global global_step
    train_loader.sampler.set_epoch(epoch)            # the shuffle order of this epoch: seed + epoch
    train_loader.dataset.set_epoch(epoch, hps.train.seed)   # add_noise: per-item streams
    train_loader.sampler.skip = run.batches_done * hps.train.batch_size
    train_loader.generator.manual_seed(hps.train.seed + epoch)
    n_batches = train_loader.sampler.num_samples // hps.train.batch_size

    generator.train()
    for batch_idx, (x, x_lengths, y, y_lengths) in enumerate(train_loader, start=run.batches_done):
        x, x_lengths = x.to(run.device, non_blocking=True), x_lengths.to(run.device, non_blocking=True)
        y, y_lengths = y.to(run.device, non_blocking=True), y_lengths.to(run.device, non_blocking=True)

        # Train Generator
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
            raise diverged(rank, epoch, batch_idx, loss_gs, hps, train_loader)

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

        global_step += 1   # counts from 1 here (the original added 1 at the end of the loop)

        if rank == 0:
            # Every log_interval steps of the whole run (the original: batch_idx, every epoch).
            if (global_step - 1) % hps.train.log_interval == 0:
                model = unwrap(generator)
                model.eval()   # the sample without dropout, without autograd, on its own RNG
                with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []), \
                        torch.inference_mode():
                    (y_gen, *_), *_ = model(x[:1], x_lengths[:1], gen=True, noise_scale=0.667)
                model.train()
                logger.info("Train Epoch: %d [%d/%d (%.0f%%)]\tLoss: %.6f", epoch,
                            batch_idx * len(x), n_batches * hps.train.batch_size,
                            100.0 * batch_idx / n_batches, loss_g.item())
                logger.info([v.item() for v in loss_gs] + [global_step, optimizer_g.get_lr()])

                scalar_dict = {"loss/g/total": loss_g, "learning_rate": optimizer_g.get_lr(),
                               "grad_norm": grad_norm}
                scalar_dict.update({f"loss/g/{i}": v for i, v in enumerate(loss_gs)})
                scalar_dict["loss/g/mle"], scalar_dict["loss/g/dur"] = loss_gs
                y_gen = y_gen[0].float().cpu()
                utils.summarize(
                    writer=writer, global_step=global_step,
                    images={"y_org": utils.plot_spectrogram_to_numpy(
                                y[0, :, :y_lengths[0]].float().cpu().numpy()),
                            "y_gen": utils.plot_spectrogram_to_numpy(y_gen.numpy()),
                            "attn": utils.plot_alignment_to_numpy(
                                attn[0, 0, :x_lengths[0], :y_lengths[0]].float().cpu().numpy())},
                    scalars=scalar_dict, audios={"gen/audio": sample_audio(y_gen, hps.data)},
                    audio_sampling_rate=hps.data.sampling_rate)

        run.batches_done = batch_idx + 1
        if run.on_step is not None:
            run.on_step(global_step, [l_mle.item(), l_length.item()],
                        train_loader.sampler.batch_indices(batch_idx, hps.train.batch_size))
        if global_step % hps.train.checkpoint_interval == 0:
            save(hps, generator, optimizer_g, epoch, run, logger)
        if hps.train.max_steps and global_step >= hps.train.max_steps:
            run.stop = True
            break

    train_loader.sampler.skip = 0
    if rank == 0:
        logger.info("====> Epoch: %d", epoch)


def evaluate(rank, epoch, hps, generator, optimizer_g, val_loader, logger, writer_eval, run: Run):
    """Average validation losses, logged to the ``eval/`` writer (rank 0 only).

    In eval mode and without gradients, as the original; the loader's noise (``add_noise``)
    is drawn inside ``fork_rng`` so evaluating does not move the training's random stream.
    """
    if rank != 0:
        return
    global global_step
    generator.eval()
    losses_tot = []
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
            loss_g = sum(loss_gs)

            if batch_idx == 0:
                losses_tot = loss_gs
            else:
                losses_tot = [a + b for a, b in zip(losses_tot, loss_gs)]

            if batch_idx % hps.train.log_interval == 0:
                logger.info("Eval Epoch: %d [%d/%d (%.0f%%)]\tLoss: %.6f", epoch,
                            batch_idx * len(x), len(val_loader.dataset),
                            100.0 * batch_idx / len(val_loader), loss_g.item())
                logger.info([v.item() for v in loss_gs])
    generator.train()

    losses_tot = [v / len(val_loader) for v in losses_tot]
    loss_tot = sum(losses_tot)
    scalar_dict = {"loss/g/total": loss_tot}
    scalar_dict.update({f"loss/g/{i}": v for i, v in enumerate(losses_tot)})
    scalar_dict["loss/g/mle"], scalar_dict["loss/g/dur"] = losses_tot
    utils.summarize(writer=writer_eval, global_step=global_step, scalars=scalar_dict)
    logger.info("====> Epoch: %d (eval loss %.4f: mle %.4f, duration %.4f)", epoch,
                loss_tot.item(), losses_tot[0].item(), losses_tot[1].item())


# ----------------------------------------------------------------------------------------
# Helpers of the four functions above: resuming, saving, the sample's audio, a NaN report
# ----------------------------------------------------------------------------------------

def unwrap(model):
    """The model inside ``DistributedDataParallel`` (or the model itself)."""
    return model.module if isinstance(model, DDP) else model


def resume(hps, generator, optimizer_g, train_sampler, run: Run, rank: int, logger) -> dict | None:
    """Load the newest checkpoint that loads (else ``ddi_G.pth``) into the model and
    optimizer; set :data:`global_step` and ``run.batches_done``.

    Returns None when starting fresh, else ``{"epoch": epoch to start, "rng": this rank's
    RNG state or None}`` (the RNG is restored by the caller, after building everything).
    """
    global global_step
    ckpt_path, ckpt = checkpoint.load_newest_checkpoint(hps.model_dir, logger)
    if ckpt is None:
        ddi_path = os.path.join(hps.model_dir, "ddi_G.pth")
        if hps.train.ddi and os.path.isfile(ddi_path):
            checkpoint.load_weights(generator, checkpoint.load_checkpoint_dict(ddi_path)["model"], ddi_path)
            if logger:
                logger.info("no checkpoint in %s: starting from the data-dependent init %s",
                            hps.model_dir, ddi_path)
        elif logger:
            logger.info("no checkpoint in %s and %s: starting from random weights", hps.model_dir,
                        "no ddi_G.pth (run `python -m glow_tts init` first)" if hps.train.ddi
                        else "train.ddi is false")
        return None
    checkpoint.load_weights(generator, ckpt["model"], ckpt_path)
    if ckpt.get("optimizer") is not None:
        optimizer_g.load_state_dict(ckpt["optimizer"])
    n_batches = train_sampler.num_samples // hps.train.batch_size
    epoch = int(ckpt.get("epoch", ckpt.get("iteration", 0)))
    # The original's G_<epoch>.pth holds only the finished epoch ("iteration"); it counted
    # global_step as epochs * batches per epoch, and so do we for such a file.
    global_step = int(ckpt.get("global_step", epoch * n_batches))
    run.batches_done = int(ckpt.get("batches_done", n_batches))
    if run.batches_done >= n_batches:
        epoch, run.batches_done = epoch + 1, 0   # that epoch was finished
    if run.scaler is not None and ckpt.get("scaler"):
        run.scaler.load_state_dict(ckpt["scaler"])
    rngs = ckpt.get("rng") or []
    if rngs and len(rngs) != run.world_size and logger:
        logger.warning("checkpoint was written by %d processes, this run has %d: RNG states "
                       "not restored (training continues, not bit-exact)", len(rngs), run.world_size)
    if logger:
        logger.info("resuming from %s: step %d, epoch %d, %d batches into it, lr %.3g",
                    ckpt_path, global_step, epoch, run.batches_done, optimizer_g.get_lr())
    return {"epoch": epoch, "rng": rngs[rank] if len(rngs) == run.world_size else None}


def save(hps, generator, optimizer_g, epoch: int, run: Run, logger) -> None:
    """Write ``G_<global_step>.pth`` (rank 0) and prune old ones; all ranks must call it
    (the RNG states of every rank are gathered into the file)."""
    rng = checkpoint.gather_rng_states(run.device, run.world_size)
    if logger is None or run.last_saved_step == global_step:
        return
    path = os.path.join(hps.model_dir, f"G_{global_step}.pth")
    checkpoint.save_checkpoint(unwrap(generator), optimizer_g, hps.train.learning_rate, epoch, path,
                               global_step=global_step, epoch=epoch, batches_done=run.batches_done,
                               rng=rng, world_size=run.world_size,
                               scaler=run.scaler.state_dict() if run.scaler is not None else None)
    run.last_saved_step = global_step
    logger.info("saved %s (epoch %d, %d batches into it)", path, epoch, run.batches_done)
    checkpoint.prune_checkpoints(hps.model_dir, hps.train.keep_checkpoints)


def sample_audio(mel: torch.Tensor, hps_data) -> torch.Tensor:
    """Griffin-Lim audio ``[T]`` of the sample's log-mel ``[n_mel, F]`` (for TensorBoard)."""
    d = hps_data
    return griffin_lim(mel, sampling_rate=d.sampling_rate, filter_length=d.filter_length,
                       hop_length=d.hop_length, win_length=d.win_length, mel_fmin=d.mel_fmin,
                       mel_fmax=d.mel_fmax)


def diverged(rank, epoch, batch_idx, loss_gs, hps, train_loader) -> TrainingError:
    """The error for a NaN or infinite loss: the step, the losses and the batch's files."""
    l_mle, l_length = loss_gs
    idx = train_loader.sampler.batch_indices(batch_idx, hps.train.batch_size)
    files = [train_loader.dataset.audiopaths_and_text[i][0] for i in idx]
    last = checkpoint.latest_checkpoint_path(hps.model_dir)
    return TrainingError(
        f"rank {rank}: loss is {sum(loss_gs).item()} (mle {l_mle.item()}, duration "
        f"{l_length.item()}) at step {global_step + 1} (epoch {epoch}, batch {batch_idx}); the "
        f"batch's utterances:\n  " + "\n  ".join(files) + f"\nNo update was applied. Last good "
        f"checkpoint: {last or 'none'}. Lower train.learning_rate or check these files.")


if __name__ == "__main__":
    main()
