"""Monotonic alignment search (MAS): the most likely hard text-to-frame alignment.

Glow-TTS trains without an external aligner. For each training pair it scores every
(token x, frame y) pair with the log-likelihood of frame y under token x's Gaussian,
``value[x, y]``, and looks for the path through that table that

* starts at (0, 0) and ends at (t_x - 1, t_y - 1),
* moves one frame to the right at every step, either staying on the same token or
  advancing to the next one (monotonic, no token skipped, every token gets >= 1 frame),

and has the largest total score. Dynamic programming finds it:

    Q[x, y] = value[x, y] + max(Q[x, y-1],      # token x already spoke at frame y-1
                                Q[x-1, y-1])    # token x starts at frame y
    Q[0, 0] = value[0, 0]

Only cells inside the diagonal band ``x <= y`` and ``t_x - x <= t_y - y`` can lie on a
path (every token before x needs a frame of its own, and so does every token after it).
The path is then read backwards from (t_x - 1, t_y - 1): at frame y we step up one token
when we must (``x == y``: the tokens above need the remaining frames) or when the
diagonal predecessor is *strictly* larger, ``Q[x, y-1] < Q[x-1, y-1]``. On a tie we stay,
which is the original implementation's rule; tests check ties with integer scores.

:func:`maximum_path_each` is that programme, loop for loop, as the original's Cython
``core.pyx`` is; numba compiles it (``@njit``), so there is no build step, and the same
function runs as plain Python through :func:`maximum_path_reference` (numba keeps the
uncompiled function as ``py_func``). It accumulates in float32 (float64 when the input is
float64), like the original, whose paths it reproduces bit for bit on ordinary inputs.
Unlike the original it marks impossible predecessors with ``-inf`` instead of ``-1e9`` (so
scores below -1e9 do not bend the path), it does not overwrite the caller's scores, and
it refuses ``t_y < t_x``, where no monotonic path exists and the original silently
returns a broken one.

A multi-threaded version with the same results lives in :mod:`glow_tts.fast.mas`;
:func:`glow_tts.fast.enable` makes a model's :func:`maximum_path` calls use it (through
:func:`use_kernel`, below), so the model code calls ``monotonic_align.maximum_path`` as
the original does either way.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator, Optional

import numba
import numpy as np
import torch


# --------------------------------------------------------------------------------------
# Lengths and dtypes (glow_tts.fast.mas uses these too)
# --------------------------------------------------------------------------------------

def _lengths_from_mask(value: torch.Tensor, mask: torch.Tensor):
    """Token and frame counts per item, read from the mask: ``([b], [b])`` int64 arrays.

    The mask is ``x_mask * y_mask`` (``[b, t_x, t_y]``, 1 on valid pairs). Its first column
    counts the valid tokens and its first row the valid frames, which is all we need
    (summing whole axes, as the original did, reads the full tensor for the same answer).
    """
    if value.dim() != 3:
        raise ValueError(f"maximum_path: value must be [batch, t_x, t_y], got shape "
                         f"{tuple(value.shape)}")
    if mask.shape != value.shape:
        raise ValueError(f"maximum_path: mask shape {tuple(mask.shape)} differs from value "
                         f"shape {tuple(value.shape)}")
    batch, t_x_max, t_y_max = value.shape
    if t_x_max == 0 or t_y_max == 0:
        zeros = np.zeros(batch, dtype=np.int64)
        return zeros, zeros.copy()
    if mask.device.type == "cpu" and mask.dtype in (torch.bool, torch.float32, torch.float64):
        mask_np = mask.detach().numpy()  # a view: NumPy indexing costs microseconds less than torch's
        first_column, first_row = mask_np[:, :, 0], mask_np[:, 0, :]
    else:  # e.g. on a GPU: bring only the first column and row over
        first_column = mask.detach()[:, :, 0].to("cpu", torch.float32).numpy()
        first_row = mask.detach()[:, 0, :].to("cpu", torch.float32).numpy()
    t_x = first_column.sum(1).astype(np.int64)  # [b] tokens
    t_y = first_row.sum(1).astype(np.int64)     # [b] frames
    # An item with no tokens has an all-zero mask: both counts are 0 and its path stays empty.
    too_short = np.nonzero(t_y < t_x)[0]
    if len(too_short):
        i = int(too_short[0])
        raise ValueError(
            f"maximum_path: batch item {i} has t_x={int(t_x[i])} text tokens but only "
            f"t_y={int(t_y[i])} mel frames; a monotonic alignment needs t_y >= t_x "
            f"({len(too_short)} item(s) affected). Drop such utterances from the filelist "
            f"(or lower hop_length / disable add_blank) before training.")
    return t_x, t_y


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 stays float64; everything else is scored in float32, as the original."""
    return torch.float64 if dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------------------
# The dynamic programme
# --------------------------------------------------------------------------------------

@numba.njit(cache=True)
def maximum_path_each(path, value, t_x, t_y):
    """MAS for one item, in place. path, value: [T_x, T_y] arrays (path all zeros on entry,
    value read only); t_x <= t_y: the item's token and frame counts."""
    q = np.full((t_x, t_y), -np.inf, dtype=value.dtype)   # best score of a path ending at (x, y)

    # Forward pass, frame by frame, over the band of reachable cells only. Cells above the
    # band stay -inf, so on the diagonal (x == y) "stay" can never win.
    for y in range(t_y):
        lowest_x = max(0, t_x - (t_y - y))   # later tokens still need a frame each
        highest_x = min(t_x - 1, y)          # earlier tokens needed a frame each
        for x in range(lowest_x, highest_x + 1):
            if y == 0:
                q[x, y] = value[x, y]                    # the path starts at (0, 0)
            elif x == 0:
                q[x, y] = q[x, y - 1] + value[x, y]      # token 0 can only have been speaking
            else:
                stay = q[x, y - 1]                       # same token, one more frame
                advance = q[x - 1, y - 1]                # token x starts at frame y
                q[x, y] = (advance if stay < advance else stay) + value[x, y]

    # Backward pass: from the last cell, choose the predecessor frame by frame.
    x = t_x - 1
    for y in range(t_y - 1, -1, -1):
        path[x, y] = 1
        if x > 0 and (x == y or q[x, y - 1] < q[x - 1, y - 1]):
            x -= 1


@numba.njit(cache=True)
def maximum_path_batch(paths, values, t_xs, t_ys):
    """:func:`maximum_path_each` for every item of a batch ([b, T_x, T_y] arrays, [b] lengths)."""
    for i in range(values.shape[0]):
        if t_xs[i] > 0:                      # an item without tokens keeps an empty path
            maximum_path_each(paths[i], values[i], t_xs[i], t_ys[i])


def _maximum_path_with(batch_fn, value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    t_x, t_y = _lengths_from_mask(value, mask)
    scores = value.detach().to("cpu", _compute_dtype(value.dtype)).contiguous().numpy()
    path = np.zeros(scores.shape, dtype=scores.dtype)
    batch_fn(path, scores, t_x, t_y)
    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)


def maximum_path_reference(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """:func:`maximum_path`'s plain dynamic programme run by the Python interpreter (slow:
    about a microsecond per cell). The same source as the compiled one; for reading,
    stepping through in a debugger, and testing the compiled kernels against."""
    def batch_in_python(paths, values, t_xs, t_ys):
        for i in range(values.shape[0]):
            if t_xs[i] > 0:
                maximum_path_each.py_func(paths[i], values[i], int(t_xs[i]), int(t_ys[i]))
    return _maximum_path_with(batch_in_python, value, mask)


# --------------------------------------------------------------------------------------
# The entry point, and the hook that lets a faster kernel stand in for the programme
# --------------------------------------------------------------------------------------

Kernel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_kernel: contextvars.ContextVar[Optional[Kernel]] = contextvars.ContextVar(
    "glow_tts_maximum_path_kernel", default=None)


@contextlib.contextmanager
def use_kernel(kernel: Optional[Kernel]) -> Iterator[None]:
    """Within the block, :func:`maximum_path` calls ``kernel(value, mask)`` instead of the
    plain programme (``None``: the plain programme). The kernel must keep the contract
    and give identical paths. Nests and restores on exit; per thread (a context variable).
    :func:`glow_tts.fast.enable` wraps a model's forward pass in it."""
    token = _kernel.set(kernel)
    try:
        yield
    finally:
        _kernel.reset(token)


def maximum_path(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Most likely monotonic alignment. value, mask: [b, t_x, t_y] -> 0/1 path [b, t_x, t_y].

    value holds the log-likelihood of frame y under token x; mask is 1 on valid
    (token, frame) pairs (``x_mask * y_mask``), which is where the lengths come from.
    The path has value's shape, dtype and device; it is 0 outside each item's lengths.
    Raises ValueError when an item has fewer frames than tokens.
    """
    kernel = _kernel.get()
    if kernel is not None:
        return kernel(value, mask)
    return _maximum_path_with(maximum_path_batch, value, mask)
