"""Shared pieces of the training tests: a micro corpus, a micro config, a spawnable rank.

Kept in a module (not a conftest) so ``mp.spawn`` children and ``torchrun`` scripts can
import it by name: the parent's ``sys.path`` (which holds ``tests/``) reaches them.
"""

from __future__ import annotations

import copy
import json
import os

import torch

from glow_tts.hparams import HParams, validate_config

# A model small enough that a training step takes a few tens of milliseconds on one core,
# but with every part of the real one: prenet-less encoder with relative attention, a
# two-block flow with squeeze, ActNorm, invertible 1x1 convolutions and couplings.
MICRO_MODEL = {
    "hidden_channels": 16, "filter_channels": 32, "filter_channels_dp": 16,
    "kernel_size": 3, "p_dropout": 0.1, "n_blocks_dec": 2, "n_layers_enc": 1, "n_heads": 2,
    "p_dropout_dec": 0.05, "dilation_rate": 1, "kernel_size_dec": 3, "n_block_layers": 2,
    "n_sqz": 2, "prenet": False, "mean_only": True, "window_size": 4,
}


def build_micro_corpus(out_dir: str, limit: int = 27) -> dict:
    """The first ``limit`` sentences of the embedded corpus; returns the filelist paths.

    27 sentences give 24 training utterances (every 20th from the 4th goes to val, from
    the 8th to test): 6 batches of 4, or 3 per rank for two ranks, with nothing dropped."""
    from glow_tts.corpus import build_corpus
    summary = build_corpus(out_dir, limit=limit, progress=False)
    return summary.filelists


def micro_hparams(model_dir: str, filelists: dict, **train_overrides) -> HParams:
    """Validated ``HParams`` for the micro model; ``model_dir`` is created."""
    config = {
        "train": {"log_interval": 3, "epochs": 100, "learning_rate": 1.0, "warmup_steps": 10,
                  "batch_size": 4, "checkpoint_interval": 1000, "keep_checkpoints": 3,
                  "max_steps": 6, "ddi": False, "use_cuda": False, "num_workers": 0},
        "data": {"training_files": filelists["train"], "validation_files": filelists["val"]},
        "model": copy.deepcopy(MICRO_MODEL),
    }
    config["train"].update(train_overrides.pop("train", {}))
    config["data"].update(train_overrides.pop("data", {}))
    config["model"].update(train_overrides.pop("model", {}))
    config["train"].update(train_overrides)
    hps = HParams(**validate_config(config))
    hps.model_dir = model_dir
    os.makedirs(model_dir, exist_ok=True)
    return hps


def write_config(hps: HParams, path: str) -> str:
    """Write ``hps`` (without model_dir) as a JSON config file."""
    config = {k: v for k, v in hps.to_dict().items() if k != "model_dir"}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
    return path


class Recorder:
    """``on_step`` callback of ``train_and_eval``: keeps every step's losses and the dataset
    indices trained on (the training loop itself keeps neither)."""

    def __init__(self) -> None:
        self.losses: list = []   # [step, l_mle, l_length]
        self.seen: list = []     # dataset indices, in training order

    def __call__(self, step: int, losses: list, indices: list) -> None:
        self.losses.append([step, *losses])
        self.seen.extend(indices)


def train_recorded(rank: int, world_size: int, hps: HParams) -> dict:
    """``train_and_eval`` with its result plus ``"losses"`` and ``"seen"`` of every step."""
    from glow_tts.train import train_and_eval
    recorder = Recorder()
    result = train_and_eval(rank, world_size, hps, on_step=recorder)
    return {**result, "losses": recorder.losses, "seen": recorder.seen}


def spawned_rank(rank: int, world_size: int, hps: HParams, out_dir: str) -> None:
    """``mp.spawn`` target: train as ``rank`` and save its parameters and shard."""
    save_rank_result(train_recorded(rank, world_size, hps), rank, out_dir)


def save_rank_result(result: dict, rank: int, out_dir: str) -> None:
    state = {k: v.detach().clone() for k, v in result["generator"].state_dict().items()}
    torch.save({"params": state, "seen": list(result["seen"]), "losses": result["losses"]},
               os.path.join(out_dir, f"rank{rank}.pt"))


def rendezvous_rank(rank: int, world_size: int, out_dir: str) -> None:
    """``mp.spawn`` target: join a gloo process group on MASTER_PORT, all-reduce, record the port."""
    import torch.distributed as dist
    dist.init_process_group("gloo", init_method="env://", world_size=world_size, rank=rank)
    try:
        total = torch.tensor([rank + 1.0])
        dist.all_reduce(total)
        assert total.item() == world_size * (world_size + 1) / 2
        with open(os.path.join(out_dir, f"rank{rank}.port"), "w") as f:
            f.write(os.environ["MASTER_PORT"])
    finally:
        dist.destroy_process_group()
