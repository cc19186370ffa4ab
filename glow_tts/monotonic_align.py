"""Monotonic alignment search (MAS): the most likely hard text-to-frame alignment.

Glow-TTS trains without an external aligner. For each training pair it scores every
(token x, frame y) pair with the log-likelihood of frame y under token x's Gaussian,
``value[x, y]``, and looks for the path through that table that

* starts at (0, 0) and ends at (t_x - 1, t_y - 1),
* moves one frame to the right at every step, either staying on the same token or
  advancing to the next one (monotonic, no token skipped, every token gets ≥ 1 frame),

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

Two implementations live here:

* :func:`maximum_path_reference` - plain Python loops over the full ``Q`` table, written
  to be read next to the formula above. Slow (about a microsecond per cell).
* :func:`maximum_path` - the one the model calls: the same arithmetic, compiled by numba,
  one batch item per thread. It keeps only two columns of ``Q`` and one byte per cell
  saying which predecessor won, so it never copies the score table.

Both accumulate in float32 (float64 when the input is float64), like the original's
Cython kernel, whose paths they reproduce bit for bit on ordinary inputs. Unlike it they
mark impossible predecessors with ``-inf`` instead of ``-1e9`` (so scores below -1e9 do not
bend the path), and they refuse ``t_y < t_x``, where no monotonic path exists and the
original silently returns a broken one.
"""

from __future__ import annotations

import numba
import numpy as np
import torch


# --------------------------------------------------------------------------------------
# Lengths and dtypes, shared by both implementations
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
# Reference: the dynamic programme exactly as written in the module docstring
# --------------------------------------------------------------------------------------

def maximum_path_reference(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Slow, line-by-line MAS. value, mask: [b, t_x, t_y] -> 0/1 path [b, t_x, t_y].

    Same contract and same result as :func:`maximum_path`; meant for reading and testing.
    """
    t_x_lengths, t_y_lengths = _lengths_from_mask(value, mask)
    scores = value.detach().to("cpu", _compute_dtype(value.dtype)).numpy()
    real = scores.dtype.type            # np.float32 or np.float64: keeps scalar maths exact
    impossible = real(-np.inf)
    path = np.zeros(scores.shape, dtype=scores.dtype)

    for i in range(scores.shape[0]):
        t_x, t_y = int(t_x_lengths[i]), int(t_y_lengths[i])
        if t_x == 0:
            continue
        v = scores[i]
        q = np.full((t_x, t_y), impossible, dtype=scores.dtype)  # best score ending at (x, y)

        # Forward pass, frame by frame, over the band of reachable cells only.
        for y in range(t_y):
            lowest_x = max(0, t_x - (t_y - y))   # later tokens still need a frame each
            highest_x = min(t_x - 1, y)          # earlier tokens needed a frame each
            for x in range(lowest_x, highest_x + 1):
                if y == 0:
                    q[x, y] = v[x, y]            # only (0, 0) is in the band at y = 0
                    continue
                stay = q[x, y - 1]                                # same token, one more frame
                advance = q[x - 1, y - 1] if x > 0 else impossible  # next token starts here
                q[x, y] = max(stay, advance) + v[x, y]

        # Backward pass: from the last cell, choose the predecessor frame by frame.
        x = t_x - 1
        for y in range(t_y - 1, -1, -1):
            path[i, x, y] = 1
            if x > 0 and (x == y or q[x, y - 1] < q[x - 1, y - 1]):
                x -= 1

    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)


# --------------------------------------------------------------------------------------
# Fast path: numba, one batch item per thread
# --------------------------------------------------------------------------------------

FRAMES_PER_TILE = 16   # 16 frames x up to ~400 tokens of float32 stay in a 32 KiB L1 cache


@numba.njit(cache=True, nogil=True)
def _update_column(stay, advance, scores, moved, best_out):
    """One frame of the forward pass over a run of tokens (all arguments 1-D, same length).

    stay[k] = Q[x, y-1], advance[k] = Q[x-1, y-1], scores[k] = value[x, y] for the tokens
    x of the run; writes moved[k] = (stay < advance) and best_out[k] = Q[x, y]. The cells are
    independent, so LLVM turns this loop into SIMD compare/max/add instructions.
    """
    for k in range(len(best_out)):
        came_from_previous_token = stay[k] < advance[k]
        moved[k] = came_from_previous_token
        best_out[k] = (advance[k] if came_from_previous_token else stay[k]) + scores[k]


@numba.njit(cache=True, nogil=True)
def _maximum_path_one(path, value, t_x, t_y):
    """MAS for one item, in place. path: [T_x, T_y] (any content, overwritten with 0/1);
    value: [T_x, T_y] scores (read only); t_x <= t_y valid lengths.

    The same frame-by-frame pass as the reference, arranged for speed:

    * Only two columns of Q are kept, ``q[y % 2]``. ``q[., x + 1]`` holds Q[x, .] and
      ``q[., 0]`` is a permanent ``-inf`` standing for "token -1", so token 0 needs no
      special case. Cells above the band are never written and stay ``-inf``, which makes
      "stay" impossible on the diagonal x == y, as in the reference.
    * ``moved[y, x]`` keeps the comparison ``Q[x, y-1] < Q[x-1, y-1]`` made while computing
      Q[x, y], which is exactly what the backward pass asks, so Q itself is not stored.
    * value[x, y] for a fixed frame y is strided in memory, so the scores of
      FRAMES_PER_TILE frames are first copied into a small transposed tile, after which
      each frame's update reads contiguous memory (SIMD-friendly).
    """
    path[:, :] = 0
    if t_x == 0:
        return
    q = np.full((2, t_x + 1), -np.inf, dtype=value.dtype)
    moved = np.zeros((t_y, t_x), dtype=np.uint8)
    tile = np.empty((FRAMES_PER_TILE, t_x), dtype=value.dtype)   # tile[y - y0, x]

    q[0, 1] = value[0, 0]                                          # Q[0, 0]
    for y0 in range(0, t_y, FRAMES_PER_TILE):
        y1 = min(t_y, y0 + FRAMES_PER_TILE)
        for x in range(max(0, t_x - (t_y - y0)), min(t_x, y1)):    # tokens in band for y0..y1-1
            for y in range(y0, y1):
                tile[y - y0, x] = value[x, y]
        for y in range(max(y0, 1), y1):
            lowest_x = max(0, t_x - (t_y - y))
            highest_x = min(t_x - 1, y)
            previous, current = q[(y - 1) % 2], q[y % 2]
            _update_column(previous[lowest_x + 1:highest_x + 2],   # Q[x, y-1]
                           previous[lowest_x:highest_x + 1],       # Q[x-1, y-1]
                           tile[y - y0, lowest_x:highest_x + 1],   # value[x, y]
                           moved[y, lowest_x:highest_x + 1],
                           current[lowest_x + 1:highest_x + 2])    # Q[x, y]

    x = t_x - 1
    for y in range(t_y - 1, -1, -1):
        path[x, y] = 1
        if x > 0 and (x == y or moved[y, x]):
            x -= 1


@numba.njit(cache=True, nogil=True, parallel=True)
def _maximum_path_batch(paths, values, t_xs, t_ys, item_order, worker_starts):
    """Run :func:`_maximum_path_one` on every item; worker w handles
    ``item_order[worker_starts[w]:worker_starts[w + 1]]``."""
    for worker in numba.prange(len(worker_starts) - 1):
        for j in range(worker_starts[worker], worker_starts[worker + 1]):
            i = item_order[j]
            _maximum_path_one(paths[i], values[i], t_xs[i], t_ys[i])


def _share_work(t_x: np.ndarray, t_y: np.ndarray, n_workers: int):
    """Split the items over workers so each gets about the same number of band cells.

    Items are handed out largest first, each to the least-loaded worker (the classic
    greedy schedule); a plain split into equal halves would give one thread all the long
    utterances of a length-sorted batch. Returns ``(item_order, worker_starts)``.
    """
    if n_workers == 1:
        return np.arange(len(t_x), dtype=np.int64), np.array([0, len(t_x)], dtype=np.int64)
    cost = t_x * (t_y - t_x + 1) + t_y + 1             # band cells + backtrack + overhead
    buckets = [[] for _ in range(n_workers)]
    loads = [0] * n_workers
    for i in np.argsort(-cost, kind="stable"):
        w = loads.index(min(loads))
        buckets[w].append(int(i))
        loads[w] += int(cost[i])
    item_order = np.array([i for bucket in buckets for i in bucket], dtype=np.int64)
    worker_starts = np.cumsum([0] + [len(bucket) for bucket in buckets]).astype(np.int64)
    return item_order, worker_starts


def maximum_path(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Most likely monotonic alignment. value, mask: [b, t_x, t_y] -> 0/1 path [b, t_x, t_y].

    value holds the log-likelihood of frame y under token x; mask is 1 on valid
    (token, frame) pairs (``x_mask * y_mask``), which is where the lengths come from.
    The path has value's shape, dtype and device; it is 0 outside each item's lengths.
    Raises ValueError when an item has fewer frames than tokens.

    Threads: as many as torch is allowed (``torch.get_num_threads()``), capped by numba's
    pool and the batch size, so a data-parallel worker set to one thread stays at one.
    """
    t_x, t_y = _lengths_from_mask(value, mask)
    compute_dtype = _compute_dtype(value.dtype)
    # No copy when value is already a contiguous float32 CPU tensor: the kernel only reads.
    scores = value.detach().to("cpu", compute_dtype).contiguous().numpy()
    path = np.empty(scores.shape, dtype=scores.dtype)    # the kernel writes every element
    batch = scores.shape[0]
    if batch:
        torch_threads = torch.get_num_threads()
        n_workers = max(1, min(numba.get_num_threads(), torch_threads, batch))
        item_order, worker_starts = _share_work(t_x, t_y, n_workers)
        _maximum_path_batch(path, scores, t_x, t_y, item_order, worker_starts)
        if torch.get_num_threads() != torch_threads:
            # numba's OpenMP layer starts up on first use (numba.get_num_threads() above)
            # and resets the OpenMP pool it shares with torch to numba's size, silently
            # undoing torch.set_num_threads(1) (one thread per data-parallel CPU process).
            torch.set_num_threads(torch_threads)
    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)
