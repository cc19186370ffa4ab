"""Small, fast inputs for the fault tests: a tone corpus, a micro config, a run directory
with an untrained micro model (enough for `synthesize`, which does not care how it sounds).

No eSpeak: the corpus is tones of a length that fits each sentence, written with numpy.
"""

from __future__ import annotations

import copy
import json
import os

import numpy as np
import soundfile as sf

SR = 22050
SENTENCES = ["안녕하세요.", "오늘은 날씨가 참 좋네요!", "저는 학교에 갑니다.", "이것은 무엇입니까?",
             "바람이 불고 비가 내렸다.", "물 좀 주세요.", "내일 만나요.", "고맙습니다."]

MICRO_MODEL = {
    "hidden_channels": 16, "filter_channels": 32, "filter_channels_dp": 16,
    "kernel_size": 3, "p_dropout": 0.1, "n_blocks_dec": 2, "n_layers_enc": 1, "n_heads": 2,
    "p_dropout_dec": 0.0, "dilation_rate": 1, "kernel_size_dec": 3, "n_block_layers": 2,
    "n_sqz": 2, "prenet": False, "mean_only": True, "window_size": 4,
}


def write_tone(path: str, seconds: float, freq: float = 220.0, rate: int = SR) -> None:
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    sf.write(path, (x * 32767).astype(np.int16), rate, subtype="PCM_16")


def tone_corpus(root: str) -> dict[str, str]:
    """``root/wavs/*.wav`` and ``root/train.txt``, ``root/val.txt`` (paths relative to
    the filelists); returns the two filelist paths."""
    lines = []
    for i, text in enumerate(SENTENCES):
        write_tone(os.path.join(root, "wavs", f"{i}.wav"), 1.0 + 0.1 * i, 150.0 + 30 * i)
        lines.append(f"wavs/{i}.wav|{text}")
    paths = {"train": os.path.join(root, "train.txt"), "val": os.path.join(root, "val.txt")}
    with open(paths["train"], "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    with open(paths["val"], "w", encoding="utf-8") as f:
        f.write("\n".join(lines[:2]) + "\n")
    return paths


def micro_config(filelists: dict[str, str], **sections) -> dict:
    """A complete config dict for the micro model (2 steps, no DDI, CPU)."""
    config = {
        "train": {"log_interval": 100, "epochs": 100, "learning_rate": 1.0, "warmup_steps": 10,
                  "batch_size": 4, "checkpoint_interval": 1000, "keep_checkpoints": 2,
                  "max_steps": 2, "ddi": False, "use_cuda": False, "num_workers": 0,
                  "fast": False},
        "data": {"training_files": filelists["train"], "validation_files": filelists["val"],
                 "add_noise": False},
        "model": copy.deepcopy(MICRO_MODEL),
    }
    for section, values in sections.items():
        config[section].update(values)
    return config


def drop_unknown_keys(config: dict) -> dict:
    """The config without keys this checkout's schema does not know (``train.fast`` comes
    with the speed devices; before they are merged it would be a typo error)."""
    from glow_tts.hparams import SCHEMA
    return {s: {k: v for k, v in values.items() if k in SCHEMA[s]} for s, values in config.items()}


def write_json(path: str, config: dict) -> str:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
    return path


def micro_run_dir(run_dir: str, filelists: dict[str, str] | None = None, seed: int = 0) -> str:
    """``run_dir/config.json`` and ``run_dir/G_0.pth``: an untrained micro model."""
    import torch

    from glow_tts.checkpoint import save_checkpoint
    from glow_tts.hparams import HParams, validate_config
    from glow_tts.models import build_model

    os.makedirs(run_dir, exist_ok=True)
    filelists = filelists or {"train": "unused.txt", "val": "unused.txt"}
    config = drop_unknown_keys(micro_config(filelists))
    write_json(os.path.join(run_dir, "config.json"), config)
    torch.manual_seed(seed)
    model = build_model(HParams(**validate_config(config)))
    save_checkpoint(model, None, 1.0, 0, os.path.join(run_dir, "G_0.pth"))
    return run_dir
