"""Config values are range-checked when the config is read (issue 13): each bad value is a
ConfigError naming the file, the key and the allowed range, before anything runs."""

import json
import math
import os

import pytest

from glow_tts.errors import GlowTTSError
from glow_tts.hparams import RANGES, SCHEMA, ConfigError, load_config_file, validate_config

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def base() -> dict:
    with open(os.path.join(REPO, "configs", "base.json"), encoding="utf-8") as f:
        return json.load(f)


# (section, key, bad value, words the message must hold besides "section.key")
BAD_VALUES = [
    ("train", "batch_size", 0, ">= 1"),
    ("train", "batch_size", -4, ">= 1"),
    ("train", "checkpoint_interval", 0, ">= 1"),
    ("train", "learning_rate", -1.0, "> 0"),
    ("train", "learning_rate", 0, "> 0"),
    ("train", "learning_rate", float("nan"), "> 0"),
    ("train", "learning_rate", float("inf"), "> 0"),
    ("train", "epochs", 0, ">= 1"),
    ("train", "log_interval", 0, ">= 1"),
    ("train", "warmup_steps", 0, ">= 1"),
    ("train", "eps", 0.0, "> 0"),
    ("train", "betas", [0.9], "two numbers in [0, 1)"),
    ("train", "betas", [0.9, 1.0], "two numbers in [0, 1)"),
    ("train", "betas", ["a", 0.9], "two numbers in [0, 1)"),
    ("train", "num_workers", -1, ">= 0"),
    ("train", "keep_checkpoints", -1, ">= 0"),
    ("train", "max_steps", -1, ">= 0"),
    ("train", "grad_clip", 0, "> 0"),
    ("train", "seed", -1, "[0, 2**32)"),
    ("data", "sampling_rate", 0, ">= 1"),
    ("data", "hop_length", 0, ">= 1"),
    ("data", "filter_length", 0, ">= 1"),
    ("data", "n_mel_channels", 0, ">= 1"),
    ("data", "max_wav_value", 0, "> 0"),
    ("data", "mel_fmin", -1.0, ">= 0"),
    ("data", "text_cleaners", [], "non-empty list"),
    ("model", "n_sqz", 0, ">= 1"),
    ("model", "hidden_channels", 0, ">= 1"),
    ("model", "n_heads", 0, ">= 1"),
    ("model", "p_dropout", 1.0, "in [0, 1)"),
    ("model", "p_dropout", -0.1, "in [0, 1)"),
    ("model", "p_dropout_dec", 1.5, "in [0, 1)"),
    ("model", "kernel_size", 4, "odd"),
    ("model", "kernel_size_dec", 0, "odd"),
    ("model", "n_blocks_dec", 0, ">= 1"),
    ("model", "n_layers_enc", 0, ">= 1"),
    ("model", "n_block_layers", 0, ">= 1"),
    ("model", "dilation_rate", 0, ">= 1"),
    ("model", "n_split", 3, "even"),
    ("model", "window_size", 0, ">= 1"),
    ("model", "block_length", -2, ">= 1"),
]


@pytest.mark.parametrize("section,key,value,allowed", BAD_VALUES,
                         ids=[f"{s}.{k}={v!r}" for s, k, v, _ in BAD_VALUES])
def test_out_of_range_value_names_key_and_range(tmp_path, section, key, value, allowed):
    config = base()
    config[section][key] = value
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config), encoding="utf-8")  # NaN and Infinity as JSON reads them
    with pytest.raises(ConfigError) as info:
        load_config_file(str(path))
    message = str(info.value)
    assert isinstance(info.value, GlowTTSError)
    assert message.startswith(f"{path}: {section}.{key} must be ") and allowed in message
    assert "\n" not in message


# (changes, words the message must hold)
BAD_RELATIONS = [
    ({"model": {"n_heads": 5}}, "model.n_heads (5) must divide model.hidden_channels"),
    ({"model": {"n_heads": 3, "hidden_channels_enc": 100}}, "must divide model.hidden_channels_enc (100)"),
    ({"model": {"hidden_channels_dec": 33}}, "model.hidden_channels_dec (33) must be even"),
    ({"model": {"n_split": 6}}, "model.n_split (6) must divide data.n_mel_channels x model.n_sqz"),
    ({"data": {"win_length": 2048}}, "data.win_length (2048) must be <= data.filter_length"),
    ({"data": {"mel_fmax": 12000.0}}, "mel_fmax <= sampling_rate / 2"),
    ({"data": {"mel_fmin": 9000.0}}, "data.mel_fmin < data.mel_fmax"),
    ({"model": {"n_speakers": 4}}, "set model.gin_channels >= 1"),
]


@pytest.mark.parametrize("changes,words", BAD_RELATIONS, ids=[w[:30] for _, w in BAD_RELATIONS])
def test_keys_that_must_agree(changes, words):
    config = base()
    for section, values in changes.items():
        config[section].update(values)
    with pytest.raises(ConfigError, match=r"^cfg: ") as info:
        validate_config(config, "cfg")
    assert words in str(info.value)


def test_shipped_configs_and_defaults_are_in_range():
    for name in ("base.json", "kss.json", "tiny.json"):
        load_config_file(os.path.join(REPO, "configs", name))
    for section, checks in RANGES.items():
        for key, (in_range, _allowed) in checks.items():
            assert key in SCHEMA[section], f"{section}.{key} has a range but is not in the schema"
    # edge values that are allowed
    config = base()
    config["train"].update(keep_checkpoints=0, max_steps=0, num_workers=0, seed=0)
    config["model"].update(p_dropout=0.0, n_sqz=1, n_heads=1)
    validate_config(config, "cfg")
    assert math.isfinite(validate_config(config, "cfg")["train"]["learning_rate"])
