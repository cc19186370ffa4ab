"""Hyper-parameters: the JSON config, its schema, and the command line that picks it.

The original keeps a config as nested dicts wrapped in ``HParams`` and reads optional keys
with ``getattr(hps.data, "add_blank", False)`` scattered through the code. Here every key
the project knows is listed once, in :data:`SCHEMA`, with its type and (for optional keys)
its default. Loading a config checks it against the schema, so a typo such as
``"hiden_channels"`` is an error that suggests ``hidden_channels`` instead of a silently
ignored key, and every optional key is present afterwards with its documented default.
Values are range-checked too (:data:`RANGES` and :func:`check_relations`): a ``batch_size``
of 0 or a negative learning rate is an error naming the key and the allowed range when the
config is read, not a ``ZeroDivisionError`` after the first step.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import os
from typing import Any, Iterator
from glow_tts.args import add_config_arguments, model_dir_of
from glow_tts.errors import GlowTTSError, read_text_lines

REQUIRED = object()  # marker: the key has no default and must be in the file


class ConfigError(GlowTTSError, ValueError):
    """A config file that cannot be used; the message names the file and the key."""


# section -> key -> (accepted types, default or REQUIRED, one-line meaning)
SCHEMA: dict[str, dict[str, tuple[tuple[type, ...], Any, str]]] = {
    "train": {
        "use_cuda": ((bool,), True, "use CUDA when a GPU is present"),
        "log_interval": ((int,), 20, "batches between logged losses and the gen sample"),
        "seed": ((int,), 1234, "seed for torch, given to every rank"),
        "epochs": ((int,), REQUIRED, "number of passes over the training set"),
        "learning_rate": ((int, float), 1.0, "Noam multiplier lr0 (constant lr if not noam)"),
        "betas": ((list,), [0.9, 0.98], "Adam betas"),
        "eps": ((int, float), 1e-9, "Adam epsilon"),
        "warmup_steps": ((int,), 4000, "Noam warm-up steps"),
        "scheduler": ((str,), "noam", '"noam", or anything else for a constant lr'),
        "batch_size": ((int,), REQUIRED, "utterances per batch, per process"),
        "ddi": ((bool,), True, "run data-dependent init before training"),
        "fp16_run": ((bool,), False, "mixed precision on GPU (ignored on CPU)"),
        "num_workers": ((int,), 0, "DataLoader worker processes"),
        "checkpoint_interval": ((int,), 1000, "steps between checkpoints"),
        "keep_checkpoints": ((int,), 5, "how many G_*.pth to keep (0 keeps all)"),
        "max_steps": ((int,), 0, "stop after this many steps (0: run all epochs)"),
        "grad_clip": ((int, float), 5.0, "gradient value clipping, as the original"),
        "fast": ((bool,), True, "switch on glow_tts.fast (same paths; dropout masks from another stream)"),
    },
    "data": {
        "load_mel_from_disk": ((bool,), False, "filelist paths point at saved mel .pt files"),
        "training_files": ((str,), REQUIRED, "filelist of path|text lines"),
        "validation_files": ((str,), REQUIRED, "filelist of path|text lines"),
        "text_cleaners": ((list,), ["korean_cleaners"], "cleaner names, applied in order"),
        "max_wav_value": ((int, float), 32768.0, "int16 full scale"),
        "sampling_rate": ((int,), 22050, "Hz"),
        "filter_length": ((int,), 1024, "STFT n_fft"),
        "hop_length": ((int,), 256, "samples between frames"),
        "win_length": ((int,), 1024, "window length in samples"),
        "n_mel_channels": ((int,), 80, "mel bands"),
        "mel_fmin": ((int, float), 0.0, "Hz"),
        "mel_fmax": ((int, float), 8000.0, "Hz"),
        "add_noise": ((bool,), True, "add U[0,1) on the int16 scale before the mel"),
        "add_blank": ((bool,), False, "intersperse a blank token between symbols"),
        "mel_cache_dir": ((str, type(None)), None, "directory for cached mels (None: no cache)"),
        "cmudict_path": ((str, type(None)), None, "accepted for the original's configs; unused"),
    },
    "model": {
        "hidden_channels": ((int,), REQUIRED, "encoder/decoder width"),
        "filter_channels": ((int,), REQUIRED, "encoder FFN width"),
        "filter_channels_dp": ((int,), REQUIRED, "duration predictor width"),
        "kernel_size": ((int,), 3, "encoder FFN kernel"),
        "p_dropout": ((int, float), 0.0, "encoder dropout"),
        "n_blocks_dec": ((int,), 12, "flow blocks"),
        "n_layers_enc": ((int,), 6, "transformer layers"),
        "n_heads": ((int,), 2, "attention heads"),
        "p_dropout_dec": ((int, float), 0.0, "WN dropout in the flow"),
        "dilation_rate": ((int,), 5, "WN dilation growth"),
        "kernel_size_dec": ((int,), 5, "WN kernel"),
        "n_block_layers": ((int,), 4, "WN layers per coupling"),
        "n_sqz": ((int,), 1, "squeeze factor of the flow"),
        "prenet": ((bool,), False, "ConvReluNorm before the encoder"),
        "mean_only": ((bool,), False, "encoder predicts only the mean (log-std 0)"),
        "hidden_channels_enc": ((int, type(None)), None, "encoder width (None: hidden)"),
        "hidden_channels_dec": ((int, type(None)), None, "decoder width (None: hidden)"),
        "window_size": ((int, type(None)), None, "relative attention window"),
        "block_length": ((int, type(None)), None, "local attention block"),
        "n_split": ((int,), 4, "channel groups of the invertible 1x1 conv"),
        "sigmoid_scale": ((bool,), False, "sigmoid instead of exp for coupling scale"),
        "n_speakers": ((int,), 0, "speakers (>1 adds a speaker embedding)"),
        "gin_channels": ((int,), 0, "speaker embedding width"),
        "proximal_bias": ((bool,), False, "attention bias toward near positions"),
        "proximal_init": ((bool,), False, "init key projection equal to query"),
    },
}


# -- ranges -------------------------------------------------------------------------------
# section -> key -> (test of a value that already has the right type, the allowed range in
# words). None passes wherever the schema allows None ("not set"). Numbers must be finite:
# Python's json module reads NaN and Infinity.

def _finite(v) -> bool:
    return v is None or (not isinstance(v, float) or math.isfinite(v))


def _at_least(low):
    return lambda v: v is None or (_finite(v) and v >= low), f">= {low}"


def _positive():
    return lambda v: v is None or (_finite(v) and v > 0), "> 0 (a finite number)"


def _probability():
    return lambda v: _finite(v) and 0 <= v < 1, "in [0, 1)"


def _odd():
    return lambda v: v >= 1 and v % 2 == 1, "an odd integer >= 1 (a centred convolution)"


RANGES: dict[str, dict[str, tuple[Any, str]]] = {
    "train": {
        "log_interval": _at_least(1),
        "seed": (lambda v: 0 <= v < 2 ** 32, "in [0, 2**32) (numpy's seed range)"),
        "epochs": _at_least(1),
        "learning_rate": _positive(),
        "betas": (lambda v: len(v) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                                and _finite(b) and 0 <= b < 1 for b in v),
                  "a list of two numbers in [0, 1)"),
        "eps": _positive(),
        "warmup_steps": _at_least(1),
        "batch_size": _at_least(1),
        "num_workers": _at_least(0),
        "checkpoint_interval": _at_least(1),
        "keep_checkpoints": _at_least(0),
        "max_steps": _at_least(0),
        "grad_clip": _positive(),
    },
    "data": {
        "text_cleaners": (lambda v: len(v) > 0 and all(isinstance(c, str) for c in v),
                          "a non-empty list of cleaner names"),
        "max_wav_value": _positive(),
        "sampling_rate": _at_least(1),
        "filter_length": _at_least(1),
        "hop_length": _at_least(1),
        "win_length": _at_least(1),
        "n_mel_channels": _at_least(1),
        "mel_fmin": _at_least(0),
        "mel_fmax": _positive(),
    },
    "model": {
        "hidden_channels": _at_least(1),
        "filter_channels": _at_least(1),
        "filter_channels_dp": _at_least(1),
        "kernel_size": _odd(),
        "p_dropout": _probability(),
        "n_blocks_dec": _at_least(1),
        "n_layers_enc": _at_least(1),
        "n_heads": _at_least(1),
        "p_dropout_dec": _probability(),
        "dilation_rate": _at_least(1),
        "kernel_size_dec": _odd(),
        "n_block_layers": _at_least(1),
        "n_sqz": _at_least(1),
        "hidden_channels_enc": _at_least(1),
        "hidden_channels_dec": _at_least(1),
        "window_size": _at_least(1),
        "block_length": _at_least(1),
        "n_split": (lambda v: v >= 2 and v % 2 == 0, "an even integer >= 2"),
        "n_speakers": _at_least(0),
        "gin_channels": _at_least(0),
    },
}


def check_relations(config: dict[str, Any], source: str = "<config>") -> None:
    """The rules that tie two keys together (each key alone is checked by :data:`RANGES`).

    ``config`` is a validated config (every key present). Raises :class:`ConfigError`
    naming both keys and their values.
    """
    data, model = config["data"], config["model"]

    def fail(message: str) -> None:
        raise ConfigError(f"{source}: {message}")

    if data["win_length"] > data["filter_length"]:
        fail(f"data.win_length ({data['win_length']}) must be <= data.filter_length "
             f"({data['filter_length']}), the FFT size the window sits in")
    nyquist = data["sampling_rate"] / 2
    if not data["mel_fmin"] < data["mel_fmax"] <= nyquist:
        fail(f"need data.mel_fmin < data.mel_fmax <= sampling_rate / 2: got mel_fmin "
             f"{data['mel_fmin']}, mel_fmax {data['mel_fmax']}, sampling_rate / 2 = {nyquist:g}")
    enc = model["hidden_channels_enc"] or model["hidden_channels"]
    if enc % model["n_heads"]:
        key = "hidden_channels_enc" if model["hidden_channels_enc"] else "hidden_channels"
        fail(f"model.n_heads ({model['n_heads']}) must divide model.{key} ({enc}): each head "
             f"takes an equal share of the channels")
    dec = model["hidden_channels_dec"] or model["hidden_channels"]
    if dec % 2:
        key = "hidden_channels_dec" if model["hidden_channels_dec"] else "hidden_channels"
        fail(f"model.{key} ({dec}) must be even: the flow's coupling layers gate with half "
             f"of the channels each")
    flow_channels = data["n_mel_channels"] * model["n_sqz"]
    if flow_channels % model["n_split"]:
        fail(f"model.n_split ({model['n_split']}) must divide data.n_mel_channels x model.n_sqz "
             f"({data['n_mel_channels']} x {model['n_sqz']} = {flow_channels}), the channels "
             f"the invertible 1x1 convolution groups")
    if model["n_speakers"] > 1 and model["gin_channels"] < 1:
        fail(f"model.n_speakers is {model['n_speakers']}: set model.gin_channels >= 1 "
             f"(the speaker embedding width)")


# Keys outside the three sections that a config may carry.
TOP_LEVEL_OPTIONAL = {"model_dir"}


class HParams:
    """Nested config with attribute *and* mapping access.

    ``hps.train.batch_size`` and ``hps["train"]["batch_size"]`` are the same value, and
    ``FlowGenerator(**hps.model)`` works because ``keys()`` and ``__getitem__`` make an
    ``HParams`` a mapping for ``**``.
    """

    def __init__(self, **kwargs: Any) -> None:
        for key, value in kwargs.items():
            if isinstance(value, dict):
                value = HParams(**value)
            self[key] = value

    def keys(self):
        return self.__dict__.keys()

    def items(self):
        return self.__dict__.items()

    def values(self):
        return self.__dict__.values()

    def __len__(self) -> int:
        return len(self.__dict__)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, key, value)

    def __contains__(self, key: object) -> bool:
        return key in self.__dict__

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dict__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HParams) and self.to_dict() == other.to_dict()

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dicts, as they would be written to JSON."""
        return {k: v.to_dict() if isinstance(v, HParams) else v for k, v in self.items()}

    def __repr__(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _type_name(types: tuple[type, ...]) -> str:
    return " or ".join("null" if t is type(None) else t.__name__ for t in types)


def validate_config(config: dict[str, Any], source: str = "<config>") -> dict[str, Any]:
    """Check ``config`` against :data:`SCHEMA` and fill in the defaults of missing keys.

    Returns a new dict; raises :class:`ConfigError` naming ``source`` and the key.
    """
    if not isinstance(config, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object, got {type(config).__name__}")
    out: dict[str, Any] = {}
    for section, value in config.items():
        if section in TOP_LEVEL_OPTIONAL:
            out[section] = value
            continue
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section {section!r}{_suggest(section, SCHEMA)}")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: section {section!r} must be an object")
    for section, keys in SCHEMA.items():
        given = config.get(section, {})
        if not isinstance(given, dict):
            raise ConfigError(f"{source}: section {section!r} must be an object")
        checked: dict[str, Any] = {}
        for key, value in given.items():
            if key not in keys:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}{_suggest(key, keys)}")
            types, _default, meaning = keys[key]
            # bool is a subclass of int: do not let `true` pass as a number, nor 1 as a flag.
            ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
            if not ok:
                raise ConfigError(
                    f"{source}: {section}.{key} must be {_type_name(types)} ({meaning}), "
                    f"got {value!r} ({type(value).__name__})")
            in_range, allowed = RANGES.get(section, {}).get(key, (None, ""))
            if in_range is not None and not in_range(value):
                raise ConfigError(f"{source}: {section}.{key} must be {allowed} ({meaning}), "
                                  f"got {value!r}")
            checked[key] = value
        for key, (_types, default, meaning) in keys.items():
            if key in checked:
                continue
            if default is REQUIRED:
                raise ConfigError(f"{source}: missing required key {section}.{key} ({meaning})")
            checked[key] = json.loads(json.dumps(default))  # a fresh copy of lists
        out[section] = checked
    check_relations(out, source)
    return out


def _suggest(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"


def load_config_file(path: str) -> dict[str, Any]:
    """Read and validate one JSON config; errors name the file (and line/column for JSON)."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path} (pass one with -c, e.g. configs/base.json)")
    text = "\n".join(read_text_lines(path))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}:{e.lineno}:{e.colno}: invalid JSON: {e.msg}") from None
    return validate_config(raw, source=path)


def get_hparams_from_file(config_path: str) -> HParams:
    """``HParams`` of one config file, validated, with defaults filled in."""
    return HParams(**load_config_file(config_path))


def get_hparams_from_dir(model_dir: str) -> HParams:
    """``HParams`` from ``model_dir/config.json`` (the copy a run saved), with model_dir set."""
    hps = get_hparams_from_file(os.path.join(model_dir, "config.json"))
    hps.model_dir = model_dir
    return hps


def get_hparams(init: bool = True, args: list[str] | None = None) -> HParams:
    """The original's entry point: parse ``-c/--config``, ``-m/--model`` (and ``--force``)
    from ``args`` (default: the command line) and return :func:`load_hparams` of them.

    A thin wrapper: an option it does not know is an error, not silently ignored.
    """
    parser = argparse.ArgumentParser(description="Glow-TTS hyper-parameters")
    add_config_arguments(parser)
    ns = parser.parse_args(args)
    return load_hparams(ns.config, ns.model, init=init, force=ns.force)


def load_hparams(config: str, model: str, init: bool = True, force: bool = False,
                 write: bool = True) -> HParams:
    """The run's ``HParams``: config file ``config``, run directory ``model``.

    ``model`` NAME means ``./logs/NAME`` (a path with a separator is used as given). With
    ``init=True`` the config file is read and checked against the copy saved in the run
    directory: unlike the original (which overwrote the saved copy on every launch), a
    different saved copy is an error unless ``force``. ``write=True`` then saves it as
    ``model_dir/config.json`` (:func:`save_run_config`); callers that first check data and
    checkpoints pass ``write=False`` and save it themselves afterwards. With
    ``init=False`` the saved copy is read instead.
    """
    model_dir = model_dir_of(model)
    if not init:
        return get_hparams_from_dir(model_dir)
    hps = HParams(**load_config_file(config))
    hps.model_dir = model_dir
    check_run_config(hps, force)
    if write:
        save_run_config(hps, force)
    return hps


def run_config(hps: HParams) -> dict[str, Any]:
    """The config part of ``hps`` (without ``model_dir``), as it is saved."""
    return {k: v for k, v in hps.to_dict().items() if k not in TOP_LEVEL_OPTIONAL}


def check_run_config(hps: HParams, force: bool = False) -> None:
    """Refuse (listing the differences) a config that differs from the run's saved copy,
    unless ``force``. Writes nothing."""
    saved_path = os.path.join(hps.model_dir, "config.json")
    if force or not os.path.exists(saved_path):
        return
    diff = config_diff(load_config_file(saved_path), run_config(hps))
    if diff:
        raise ConfigError(
            f"{saved_path} holds a different config than the one given; differences:\n  "
            + "\n  ".join(diff)
            + "\nUse a new -m directory, or pass --force to overwrite the saved config.")


def save_run_config(hps: HParams, force: bool = False) -> None:
    """Write ``model_dir/config.json`` (creating the run directory), after the check."""
    os.makedirs(hps.model_dir, exist_ok=True)
    write_run_config(run_config(hps), os.path.join(hps.model_dir, "config.json"), force=force)


def config_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Lines ``section.key: old -> new`` for every value that differs."""
    lines = []
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section, {}), new.get(section, {})
        if not isinstance(a, dict) or not isinstance(b, dict):
            if a != b:
                lines.append(f"{section}: {a!r} -> {b!r}")
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                lines.append(f"{section}.{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return lines


def write_run_config(config: dict[str, Any], saved_path: str, force: bool = False) -> None:
    """Save the run's config once; refuse a different one (listing the differences) unless forced."""
    if os.path.exists(saved_path) and not force:
        saved = load_config_file(saved_path)
        diff = config_diff(saved, config)
        if diff:
            raise ConfigError(
                f"{saved_path} holds a different config than the one given; differences:\n  "
                + "\n  ".join(diff)
                + "\nUse a new -m directory, or pass --force to overwrite the saved config.")
        return
    tmp = saved_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
    os.replace(tmp, saved_path)
