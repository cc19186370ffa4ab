"""Checkpoints: save (atomically), load (ours and the original's), find the newest, prune;
the RNG states a resume restores; the lock that keeps one training per run directory.

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
  the complete new one exists. A kill leaves only the hidden temporary file, which
  :func:`remove_stale_temporaries` deletes when the next training starts.
* ``load_checkpoint`` also reads the original's ``G_*.pth`` / ``ddi_G.pth``: they store
  weight-normalised convolutions as ``<conv>.weight_g`` / ``<conv>.weight_v``, which our
  ``parametrizations.weight_norm`` layers call ``<conv>.parametrizations.weight.original0``
  / ``original1`` (same tensors, renamed by ``models.convert_original_state_dict``); the
  NumPy scalars its optimizer state holds (learning rates from ``np.power``) are let
  through and become Python numbers, NumPy arrays and everything else are still refused.
  By default keys the checkpoint lacks keep the model's value, as in the original, and
  are reported in one warning; ``strict=True`` (training, DDI, synthesis) refuses them.
  A checkpoint that does not fit the model is one :class:`CheckpointError` line naming the
  file and the first keys that differ; a truncated, corrupted or unsafe file is one too.
* ``latest_checkpoint_path`` orders files by the step number in the *file name* and
  returns None when there is none (see its docstring for what the original did).
"""

from __future__ import annotations

import glob
import logging
import os
import pickle
import random
import re
import socket
import tempfile
from typing import Optional

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from glow_tts.errors import GlowTTSError
from glow_tts.models import convert_original_state_dict, match_weight_norm_form

try:  # NumPy 2
    from numpy._core import multiarray as np_multiarray
except ImportError:  # NumPy 1.x
    from numpy.core import multiarray as np_multiarray

logger = logging.getLogger(__name__)


class CheckpointError(GlowTTSError, RuntimeError):
    """A checkpoint file cannot be used: truncated, corrupted, holding unsafe objects, or
    not fitting the model."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """No such checkpoint file, or no checkpoint in a run directory."""


class CheckpointMismatchError(CheckpointError, ValueError):
    """A checkpoint whose keys or shapes do not fit the model (another config)."""


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
        raise CheckpointNotFoundError(f"checkpoint {checkpoint_path!r} does not exist")
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
                f"torch.load(path, weights_only=False) and re-save the plain parts.") from None
        raise CheckpointError(_corrupt_message(checkpoint_path, e)) from None
    except Exception as e:  # damaged bytes surface as many types (RuntimeError, EOFError, IndexError...)
        raise CheckpointError(_corrupt_message(checkpoint_path, e)) from None
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


def load_checkpoint(checkpoint_path: str, model: nn.Module, optimizer=None, strict: bool = False):
    """Load weights (and optimizer state) into ``model``; ``(model, optimizer,
    learning_rate, iteration)`` as the original.

    Works with our checkpoints and the original's ``G_*.pth`` / ``ddi_G.pth``. See
    :func:`load_weights` for ``strict``. ``iteration`` defaults to 1 and
    ``learning_rate`` to None when absent.
    """
    checkpoint = load_checkpoint_dict(checkpoint_path)
    iteration = checkpoint.get("iteration", 1)
    learning_rate = checkpoint.get("learning_rate")
    load_weights(model, checkpoint["model"], checkpoint_path, strict=strict)
    if optimizer is not None and checkpoint.get("optimizer") is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    logger.info("Loaded checkpoint '%s' (iteration %s)", checkpoint_path, iteration)
    return model, optimizer, learning_rate, iteration


def load_weights(model: nn.Module, state_dict: dict, checkpoint_path: str,
                 strict: bool = True) -> None:
    """``model.load_state_dict(state_dict)`` with one clear error when they do not fit.

    A key whose shape differs, or (``strict``) a key the checkpoint lacks or the model does
    not have, raises :class:`CheckpointMismatchError`: one line naming the file, how many
    keys differ and the first of them with both shapes, and what to do. Without
    ``strict`` (the original's behaviour) a missing key keeps the model's value and the
    missing and unused keys are listed in one warning each.
    """
    target = _unwrap(model)
    own = target.state_dict()
    # The original's key names, and weight-normalised <-> folded (after store_inverse()).
    state_dict = match_weight_norm_form(convert_original_state_dict(state_dict), own)
    shapes = [f"{key} {tuple(value.shape)} vs the model's {tuple(own[key].shape)}"
              for key, value in state_dict.items()
              if key in own and tuple(value.shape) != tuple(own[key].shape)]
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    problems = []
    if shapes:
        problems.append(f"{len(shapes)} of {len(own)} keys differ in shape (first: {shapes[0]})")
    if strict and missing:
        problems.append(f"{len(missing)} model keys are missing (first: {missing[0]})")
    if strict and unexpected:
        problems.append(f"{len(unexpected)} keys are not in the model (first: {unexpected[0]})")
    if problems:
        raise CheckpointMismatchError(
            f"checkpoint {checkpoint_path!r} does not fit this model: {'; '.join(problems)}. "
            f"It was saved with another config (hidden_channels, n_blocks_dec, add_blank ...): "
            f"use the config.json of the run that wrote it, or start a new -m run directory")
    if missing:
        logger.warning("checkpoint %s lacks %d of the model's %d keys; they keep their "
                       "current values: %s", checkpoint_path, len(missing), len(own),
                       ", ".join(missing))
    if unexpected:
        logger.warning("checkpoint %s has %d keys the model does not use (ignored): %s",
                       checkpoint_path, len(unexpected), ", ".join(unexpected))
    target.load_state_dict({**own, **{k: v for k, v in state_dict.items() if k in own}})


# --------------------------------------------------------------------------------------
# Finding the newest checkpoint, pruning, cleaning up
# --------------------------------------------------------------------------------------

CHECKPOINT_PATTERN = re.compile(r"^G_(\d+)\.pth$")   # what training writes (and prunes)


def checkpoint_step(path: str) -> int:
    """The step number in a checkpoint's *file name*: ``logs/run2/G_1200.pth`` -> 1200.

    The first run of digits in the base name; -1 when it has none (``ddi_G.pth``).
    """
    found = re.search(r"\d+", os.path.basename(path))
    return int(found.group()) if found else -1


def checkpoint_paths(dir_path: str, regex: str = "G_*.pth") -> list[str]:
    """Checkpoints in ``dir_path`` matching the glob ``regex``, newest (highest step in the
    file name) first; ties (same step) go to the later name. Hidden temporary files of a
    save in progress never match."""
    paths = glob.glob(os.path.join(dir_path, regex))
    return sorted(paths, key=lambda p: (checkpoint_step(p), os.path.basename(p)), reverse=True)


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
    """
    paths = checkpoint_paths(dir_path, regex)
    return paths[0] if paths else None


def load_newest_checkpoint(model_dir: str, log: logging.Logger | None = None):
    """The newest checkpoint that loads, as ``(path, dict)``; a corrupt one is reported
    and the previous one tried. ``(None, None)`` when the directory has none at all.

    If checkpoints exist but none can be read, this raises :class:`CheckpointError`
    rather than silently starting over (the original's bare ``except:`` did that).
    """
    paths = checkpoint_paths(model_dir)
    errors = []
    for path in paths:
        try:
            return path, load_checkpoint_dict(path)
        except CheckpointError as e:  # truncated or corrupted: say so, try the previous one
            errors.append(str(e))
            (log or logger).error("cannot load checkpoint %s (%s); trying the previous one",
                                  path, e)
    if paths:
        raise CheckpointError(f"no checkpoint in {model_dir} could be loaded ({len(paths)} "
                              f"tried; newest: {errors[0]}). Move the broken files away to "
                              f"start from scratch")
    return None, None


def prune_checkpoints(model_dir: str, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest ``G_<step>.pth`` (0 keeps all); returns the deleted.

    Only names training writes are touched: a kept copy such as ``G_1000_v2.pth`` stays.
    """
    if keep <= 0:
        return []
    ours = [p for p in checkpoint_paths(model_dir) if CHECKPOINT_PATTERN.match(os.path.basename(p))]
    for old in ours[keep:]:
        os.remove(old)
    return ours[keep:]


def remove_stale_temporaries(model_dir: str) -> list[str]:
    """Delete the hidden ``.<name>.pth.*.tmp`` files that a save killed half-way left behind
    (call it only while holding the run's :class:`RunLock`); returns their paths."""
    stale = glob.glob(os.path.join(glob.escape(model_dir), ".*.pth.*.tmp"))
    for path in stale:
        os.remove(path)
    return stale


# --------------------------------------------------------------------------------------
# RNG states (what a bit-exact resume restores)
# --------------------------------------------------------------------------------------

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


def gather_rng_states(device: torch.device, world_size: int) -> list:
    """Every rank's RNG state, in rank order (a collective: all ranks must call it)."""
    mine = rng_state(device)
    if world_size == 1:
        return [mine]
    states = [None] * world_size
    dist.all_gather_object(states, mine)
    return states


# --------------------------------------------------------------------------------------
# One training per run directory
# --------------------------------------------------------------------------------------

class RunDirectoryError(GlowTTSError, ValueError):
    """``-m`` names something that cannot be a run directory."""


class RunLockedError(GlowTTSError, RuntimeError):
    """Another process is training in this run directory."""


class RunLock:
    """``with RunLock(model_dir):`` this process (and the ranks it starts) own the run.

    The lock is the file ``model_dir/.lock`` holding ``pid host``, created exclusively.
    If it exists, the holder is named in a :class:`RunLockedError`, unless the holder is
    a process on this host that no longer runs (a killed training): then the lock is
    stale and taken over. Re-entering from the holder or from a process it started (an
    ``mp.spawn`` rank) is allowed and leaves the lock to the outer holder. A run directory
    the lock created is removed again on exit if nothing was written into it.
    """

    def __init__(self, model_dir: str) -> None:
        self.path = os.path.join(model_dir, ".lock")
        self.owned = False
        self.made_dir = False

    def __enter__(self) -> "RunLock":
        model_dir = os.path.dirname(self.path)
        if os.path.exists(model_dir) and not os.path.isdir(model_dir):
            raise RunDirectoryError(f"-m {model_dir} is a file, not a run directory: "
                                    f"pass a directory (a new one is made)")
        self.made_dir = not os.path.isdir(model_dir)
        os.makedirs(model_dir, exist_ok=True)
        me = f"{os.getpid()} {socket.gethostname()}"
        while True:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                pid, host = self._holder()
                if host == socket.gethostname() and pid in (os.getpid(), os.getppid()):
                    return self                      # ours, or our launcher's
                if pid is None or (host == socket.gethostname() and not _alive(pid)):
                    logger.warning("removing stale lock %s of process %s on %s (no longer "
                                   "running)", self.path, pid, host)
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass
                    continue
                raise RunLockedError(
                    f"{os.path.dirname(self.path)} is in use by another training (process "
                    f"{pid} on host {host}, lock file {self.path}); wait for it to finish, or "
                    f"use another -m directory. If that process is gone, delete the lock file")
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self.owned = True
            return self

    def _holder(self) -> tuple[int | None, str]:
        try:
            with open(self.path, encoding="utf-8") as f:
                pid, _, host = f.read().strip().partition(" ")
            return int(pid), host
        except (OSError, ValueError):
            return None, "unknown"

    def __exit__(self, *exc) -> None:
        if self.owned:
            try:
                os.remove(self.path)
            except FileNotFoundError:
                pass
            self.owned = False
        if self.made_dir:  # a first launch that failed before writing anything leaves no folder
            try:
                os.rmdir(os.path.dirname(self.path))
            except OSError:
                pass        # not empty: the run wrote something


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True          # exists, owned by someone else
    return True


# --------------------------------------------------------------------------------------
# Before a run writes anything
# --------------------------------------------------------------------------------------

def check_run(hps, log: logging.Logger | None = None, ddi: bool = True) -> None:
    """Check what a run will read before ``train`` or ``init`` writes anything.

    Builds both datasets (every filelist line, text and audio header is checked there) and
    the model, and loads into it the checkpoint the run would start from: the newest
    ``G_*.pth`` that loads, else ``ddi_G.pth`` when ``train.ddi`` is on (and ``ddi``:
    ``init``, which replaces that file, passes False). Raises the
    user error of the first problem found (a :class:`~glow_tts.errors.GlowTTSError`).
    """
    from glow_tts.data_utils import TextMelLoader
    from glow_tts.models import build_model

    TextMelLoader(hps.data.training_files, hps.data, n_sqz=hps.model.n_sqz)
    TextMelLoader(hps.data.validation_files, hps.data, n_sqz=hps.model.n_sqz)
    path, checkpoint = load_newest_checkpoint(hps.model_dir, log)
    ddi_path = os.path.join(hps.model_dir, "ddi_G.pth")
    if checkpoint is None and ddi and hps.train.ddi and os.path.isfile(ddi_path):
        path, checkpoint = ddi_path, load_checkpoint_dict(ddi_path)
    if checkpoint is not None:
        load_weights(build_model(hps), checkpoint["model"], path)
