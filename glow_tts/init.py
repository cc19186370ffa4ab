"""Data-dependent initialisation (DDI): one forward pass that sets every ActNorm layer.

A flow's ActNorm layer computes ``y = x * exp(logs) + bias`` per channel. Initialised at
zero it would pass the data through unscaled, and the first training steps would spend
themselves fixing scales. Glow's remedy, used by Glow-TTS: run the untrained model once on
a real batch, and let each ActNorm layer choose ``bias`` and ``logs`` so that its output has
mean 0 and standard deviation 1 per channel over the valid frames of that batch. The
result is saved as ``model_dir/ddi_G.pth``; ``train`` starts from it when the run has no
checkpoint yet.

The original did this in a script of its own (``init.py``) with a subclass,
``FlowGenerator_DDI``, that only switches the ActNorm layers into that mode; the class lives
in :mod:`glow_tts.models` and is re-exported here under its original address.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch.utils.data import DataLoader

from glow_tts import args as cli, commons, utils
from glow_tts.checkpoint import RunLock, check_run, save_checkpoint
from glow_tts.data_utils import TextMelCollate, TextMelLoader
from glow_tts.hparams import load_hparams, save_run_config
from glow_tts.models import FlowGenerator_DDI, build_model

__all__ = ["FlowGenerator_DDI", "main", "run_ddi"]


def run_ddi(hps, logger=None) -> str:
    """Build ``FlowGenerator_DDI``, run one batch through it, save ``ddi_G.pth``; return its path.

    The batch is drawn with the config's seed, so the same config gives the same file.
    """
    use_cuda = hps.train.use_cuda and torch.cuda.is_available()
    device = torch.device("cuda") if use_cuda else torch.device("cpu")
    torch.manual_seed(hps.train.seed)

    train_dataset = TextMelLoader(hps.data.training_files, hps.data, n_sqz=hps.model.n_sqz)
    batch_size = min(hps.train.batch_size, len(train_dataset))
    train_loader = DataLoader(train_dataset, num_workers=hps.train.num_workers, shuffle=True,
                              batch_size=batch_size, pin_memory=torch.cuda.is_available(),
                              drop_last=True, collate_fn=TextMelCollate(1),
                              generator=torch.Generator().manual_seed(hps.train.seed))

    generator = build_model(hps, FlowGenerator_DDI).to(device)
    optimizer_g = commons.Adam(generator.parameters(), scheduler=hps.train.scheduler,
                               dim_model=hps.model.hidden_channels,
                               warmup_steps=hps.train.warmup_steps, lr=hps.train.learning_rate,
                               betas=hps.train.betas, eps=hps.train.eps)

    # Train mode as the original (dropout on); no gradients are needed for a statistics pass.
    generator.train()
    x, x_lengths, y, y_lengths = next(iter(train_loader))
    with torch.no_grad():
        generator(x.to(device), x_lengths.to(device), y.to(device), y_lengths.to(device), gen=False)

    path = os.path.join(hps.model_dir, "ddi_G.pth")
    save_checkpoint(generator, optimizer_g, hps.train.learning_rate, 0, path)
    if logger:
        logger.info("data-dependent init on a batch of %d utterances (%d frames) saved to %s",
                    len(x), int(y_lengths.sum()), path)
    return path


def launch(args: argparse.Namespace) -> str:
    """Write ``MODEL_DIR/ddi_G.pth`` for the config and run directory in ``args``.

    The config, the data and any checkpoint already in the run are checked before
    ``config.json`` (or anything else) is written.
    """
    hps = load_hparams(args.config, args.model, force=args.force, write=False)
    with RunLock(hps.model_dir):
        check_run(hps, ddi=False)
        save_run_config(hps, force=args.force)
        logger = utils.get_logger(hps.model_dir)
        logger.info(hps)
        utils.check_git_hash(hps.model_dir, logger)
        return run_ddi(hps, logger)


def main(argv: list[str] | None = None) -> str:
    """``python -m glow_tts.init -c CONFIG -m MODEL_DIR``: write ``MODEL_DIR/ddi_G.pth``."""
    return launch(cli.parse("init", argv))


if __name__ == "__main__":
    main()
