"""Checkpoints: save (atomically), load (ours and the original's), find the newest.

A checkpoint is one ``torch.save`` file holding a plain dict, with the original's four keys

    {"model": state_dict, "iteration": int, "optimizer": optimizer state,
     "learning_rate": float}

plus whatever extra keys the trainer passes (epoch, global step, RNG states, ...). Every
value is a tensor, a number, a string, None or a list/tuple/dict of those, so the file
loads with ``torch.load(..., weights_only=True)``, which unpickles nothing else: a
checkpoint from the internet cannot run code on your machine.

Differences from the original's ``utils.py`` (same function names and arguments):

* ``save_checkpoint`` writes a temporary file next to the target, flushes it to disk and
  renames it over the target (``os.replace`` is atomic), so a crash or a full disk during
  the save never leaves a half-written ``G_<step>.pth`` behind: either the old file or
  the complete new one exists.
* ``load_checkpoint`` also reads the original's ``G_*.pth`` / ``ddi_G.pth``: they store
  weight-normalised convolutions as ``<conv>.weight_g`` / ``<conv>.weight_v``, which our
  ``parametrizations.weight_norm`` layers call ``<conv>.parametrizations.weight.original0``
  / ``original1`` (same tensors, renamed); the NumPy scalars its optimizer state holds
  (learning rates from ``np.power``) are let through and become Python numbers, NumPy
  arrays and everything else are still refused. Keys the checkpoint lacks keep the model's
  value, as in the original, but are reported in one warning rather than one INFO line
  each; a shape mismatch is an error naming the key and both shapes; a truncated,
  corrupted or unsafe file is a :class:`CheckpointError` naming the file.
* ``latest_checkpoint_path`` orders files by the step number in the *file name* and
  returns None when there is none (see its docstring for what the original did).
"""

from __future__ import annotations

import glob
import logging
import os
import pickle
import re
import tempfile
from typing import Optional

import numpy as np
import torch
from torch import nn
from glow_tts.errors import GlowTTSError

try:  # NumPy 2
    from numpy._core import multiarray as np_multiarray
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray as np_multiarray

logger = logging.getLogger(__name__)


class CheckpointError(GlowTTSError, RuntimeError):
    """A checkpoint file cannot be used: truncated, corrupted, or holding unsafe objects."""


# --------------------------------------------------------------------------------------
# Key layout: the original's weight_g / weight_v versus our parametrizations
# --------------------------------------------------------------------------------------

def convert_original_state_dict(state_dict: dict) -> dict:
    """The original's key layout (or ours) -> ours; a pure rename, nothing is copied.

    ``X.weight_g -> X.parametrizations.weight.original0`` (magnitude g, [out, 1, 1]) and
    ``X.weight_v -> X.parametrizations.weight.original1`` (direction v, the weight's shape);
    a ``module.`` prefix left by a DDP wrapper is stripped. Uses the model code's own
    converter (``glow_tts.models.convert_original_state_dict``) when it is importable.
    """
    try:
        from glow_tts.models import convert_original_state_dict as convert
    except ImportError:  # the model code is not importable: do the same rename here
        convert = _rename_weight_norm_keys
    return convert(state_dict)


def _rename_weight_norm_keys(state_dict: dict) -> dict:
    if state_dict and all(key.startswith("module.") for key in state_dict):
        state_dict = {key[len("module."):]: value for key, value in state_dict.items()}
    renamed = {}
    for key, value in state_dict.items():
        if key.endswith(".weight_g"):
            key = key[: -len(".weight_g")] + ".parametrizations.weight.original0"
        elif key.endswith(".weight_v"):
            key = key[: -len(".weight_v")] + ".parametrizations.weight.original1"
        renamed[key] = value
    return renamed


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel / DataParallel wrapper (or the model)."""
    return model.module if hasattr(model, "module") else model


# --------------------------------------------------------------------------------------
# Saving
# --------------------------------------------------------------------------------------

_PLAIN_LEAVES = (torch.Tensor, bool, int, float, complex, str, bytes, type(None),
                 torch.dtype, torch.device)


def _check_plain(value, where: str) -> None:
    """Refuse, before writing anything, a value that ``weights_only`` loading would refuse."""
    if isinstance(value, _PLAIN_LEAVES):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} (a key)")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple, set)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise TypeError(
        f"save_checkpoint: {where} is a {type(value).__module__}.{type(value).__qualname__}; "
        f"a checkpoint may hold only tensors, numbers, strings, None and lists/tuples/dicts "
        f"of those (so it loads with weights_only=True). Convert it first, e.g. "
        f"torch.from_numpy(array), float(numpy_scalar), or obj.state_dict().")


def save_checkpoint(model: nn.Module, optimizer, learning_rate, iteration: int,
                    checkpoint_path: str, **extra) -> None:
    """Write ``{"model", "iteration", "optimizer", "learning_rate", **extra}`` atomically.

    model: the model or its DDP wrapper (the inner model's state dict is saved, so keys
    carry no ``module.`` prefix); optimizer: anything with ``state_dict()`` (or None);
    extra: more plain values (epoch, RNG states as tensors, ...), checked before writing.

    The data goes to a hidden temporary file in the target's folder, is flushed and
    fsync'ed, then renamed over ``checkpoint_path``. If anything fails on the way the
    temporary file is removed and the previous checkpoint (if any) is untouched.
    """
    reserved = {"model", "iteration", "optimizer", "learning_rate"} & set(extra)
    if reserved:
        raise ValueError(f"save_checkpoint: extra keys {sorted(reserved)} clash with the "
                         f"checkpoint's own keys")
    checkpoint = {"model": _unwrap(model).state_dict(),
                  "iteration": iteration,
                  "optimizer": optimizer.state_dict() if optimizer is not None else None,
                  "learning_rate": learning_rate,
                  **extra}
    _check_plain(checkpoint, "checkpoint")
    logger.info("Saving model and optimizer state at iteration %s to %s", iteration,
                checkpoint_path)

    folder = os.path.dirname(os.path.abspath(checkpoint_path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary_path = tempfile.mkstemp(
        dir=folder, prefix=f".{os.path.basename(checkpoint_path)}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())         # the bytes are on disk before the rename
        os.replace(temporary_path, checkpoint_path)
    except BaseException:
        try:
            os.remove(temporary_path)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)                # ... and so is the rename itself


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------

def load_checkpoint_dict(checkpoint_path: str) -> dict:
    """The whole checkpoint dict (for resuming: epoch, RNG states, ...), loaded on the CPU.

    Its ``"model"`` entry is converted to our key layout, so an original ``G_*.pth`` works
    with ``model.load_state_dict(load_checkpoint_dict(path)["model"])`` too.
    Raises FileNotFoundError, or :class:`CheckpointError` naming the file when it is
    truncated, corrupted, not a dict, or holds objects other than tensors and containers.
    """
    if not os.path.isfile(checkpoint_path):
        raise FileNotFoundError(f"checkpoint {checkpoint_path!r} does not exist")
    try:
        try:
            checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            if "Unsupported global: GLOBAL numpy" not in str(e):
                raise
            # The original's checkpoints hold NumPy scalars (its Noam schedule computed the
            # learning rate with np.power, and torch's Adam saved it in param_groups). A
            # NumPy scalar is rebuilt from a dtype and raw bytes, which calls nothing else,
            # so exactly those two helpers are allowed, and the scalars become Python numbers.
            with torch.serialization.safe_globals(_NUMPY_SCALAR_GLOBALS):
                checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
            checkpoint = _numpy_scalars_to_python(checkpoint)
    except pickle.UnpicklingError as e:
        # weights_only's unpickler says "Unsupported global: GLOBAL <name> ..." when the file
        # names a class or function to call; anything else it cannot parse is damage.
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(e))
        if unsafe:
            raise CheckpointError(
                f"checkpoint {checkpoint_path!r} was refused: it asks to call {unsafe.group(1)} "
                f"while unpickling, and only tensors and plain containers are accepted (loading "
                f"it could run arbitrary code). If you trust its source, inspect it with "
                f"torch.load(path, weights_only=False) and re-save the plain parts.") from e
        raise CheckpointError(_corrupt_message(checkpoint_path, e)) from e
    except Exception as e:  # damaged bytes surface as many types (RuntimeError, EOFError, IndexError...)
        raise CheckpointError(_corrupt_message(checkpoint_path, e)) from e
    if not isinstance(checkpoint, dict) or "model" not in checkpoint:
        found = sorted(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(f"checkpoint {checkpoint_path!r} is not a Glow-TTS checkpoint: "
                              f"expected a dict with a 'model' key, found {found}")
    if not isinstance(checkpoint["model"], dict):
        raise CheckpointError(f"checkpoint {checkpoint_path!r}: 'model' is a "
                              f"{type(checkpoint['model']).__name__}, not a state dict")
    checkpoint["model"] = convert_original_state_dict(checkpoint["model"])
    return checkpoint


# NumPy 1.x pickles name the scalar helper numpy.core.multiarray.scalar, NumPy 2 numpy._core...
_NUMPY_SCALAR_GLOBALS = [
    np_multiarray.scalar, (np_multiarray.scalar, "numpy.core.multiarray.scalar"), np.dtype,
    *{type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int32, np.int64,
                                  np.bool_)},
]


def _numpy_scalars_to_python(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return type(value)((k, _numpy_scalars_to_python(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_numpy_scalars_to_python(v) for v in value)
    return value


def _corrupt_message(path: str, error: BaseException) -> str:
    size = os.path.getsize(path)
    # torch's weights_only errors open with boilerplate; the useful part follows this tag.
    tagged = re.search(r"WeightsUnpickler error:\s*(\S[^\n]*)", str(error))
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first_line = tagged.group(1) if tagged else (lines[0] if lines else "")
    return (f"checkpoint {path!r} ({size:,} bytes) cannot be read: it is truncated or "
            f"corrupted (an interrupted copy or save?). Delete it or use an older one. "
            f"Detail: {type(error).__name__}: {first_line}")


def load_checkpoint(checkpoint_path: str, model: nn.Module, optimizer=None):
    """Load weights (and optimizer state) into ``model``; ``(model, optimizer,
    learning_rate, iteration)`` as the original.

    Works with our checkpoints and the original's ``G_*.pth`` / ``ddi_G.pth``. Every
    parameter and buffer of the model is taken from the checkpoint; one the checkpoint
    lacks keeps the model's current value and all such keys are listed in one warning
    (so are checkpoint keys the model does not have, which are ignored). A key whose
    shape differs raises ValueError naming it with both shapes. ``iteration`` defaults
    to 1 and ``learning_rate`` to None when absent.
    """
    checkpoint = load_checkpoint_dict(checkpoint_path)
    iteration = checkpoint.get("iteration", 1)
    learning_rate = checkpoint.get("learning_rate")
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])

    target = _unwrap(model)
    saved = checkpoint["model"]
    own = target.state_dict()
    merged, missing = {}, []
    for key, current in own.items():
        if key not in saved:
            missing.append(key)
            merged[key] = current
            continue
        value = saved[key]
        if tuple(value.shape) != tuple(current.shape):
            raise ValueError(
                f"checkpoint {checkpoint_path!r}: key {key!r} has shape {tuple(value.shape)} "
                f"but the model's is {tuple(current.shape)}; was it trained with another "
                f"config (hidden_channels, n_vocab / add_blank, ...)?")
        merged[key] = value
    unexpected = sorted(set(saved) - set(own))
    if missing:
        logger.warning("checkpoint %s lacks %d of the model's %d keys; they keep their "
                       "current values: %s", checkpoint_path, len(missing), len(own),
                       ", ".join(missing))
    if unexpected:
        logger.warning("checkpoint %s has %d keys the model does not use (ignored): %s",
                       checkpoint_path, len(unexpected), ", ".join(unexpected))
    target.load_state_dict(merged)
    logger.info("Loaded checkpoint '%s' (iteration %s)", checkpoint_path, iteration)
    return model, optimizer, learning_rate, iteration


# --------------------------------------------------------------------------------------
# Finding the newest checkpoint
# --------------------------------------------------------------------------------------

def checkpoint_step(path: str) -> int:
    """The step number in a checkpoint's *file name*: ``logs/run2/G_1200.pth`` -> 1200.

    The first run of digits in the base name; -1 when it has none (``ddi_G.pth``).
    """
    found = re.search(r"\d+", os.path.basename(path))
    return int(found.group()) if found else -1


def latest_checkpoint_path(dir_path: str, regex: str = "G_*.pth") -> Optional[str]:
    """The checkpoint in ``dir_path`` matching the glob ``regex`` with the highest step.

    Returns None when there is none (the original raised IndexError, which its trainer's
    bare ``except`` turned into a silent fresh start); callers decide what that means.

    The step is read from the file name only. The original glued together every digit of
    the whole path and sorted by that number. Within one folder the folder's digits form a
    common prefix, so plain ``G_<step>.pth`` names still come out in order (``run2/G_99``
    -> 299 < ``run2/G_100`` -> 2100), but any other digit in a matching name breaks it:
    a kept copy ``G_1000_v2.pth`` reads as 10002 and wins over ``G_2000.pth``; a pattern
    reaching into sub-folders compares ``run1/G_500`` (1500) with ``run10/G_20`` (1020).
    Ties (same step) go to the later name.
    """
    paths = glob.glob(os.path.join(dir_path, regex))
    if not paths:
        return None
    return max(paths, key=lambda p: (checkpoint_step(p), os.path.basename(p)))
