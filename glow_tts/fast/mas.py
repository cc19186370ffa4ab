"""A faster kernel for monotonic alignment search, with exactly the plain programme's paths.

A speed device, off the reading path: :mod:`glow_tts.monotonic_align` holds the dynamic
programme as the original wrote it (one full ``Q`` table per item, one item after another);
:func:`glow_tts.fast.enable` makes a model's alignment search use :func:`maximum_path`
below instead. Same arithmetic, same comparisons, same float32 (or float64) rounding, so
the paths are identical, ties and ``-inf``/NaN scores included (the tests check this). What
differs is the arrangement:

* only two columns of ``Q`` are kept, plus one byte per cell saying which predecessor won
  (all the backward pass needs), so the score table is never copied;
* the scores are read in small transposed tiles so that each frame's update walks
  contiguous memory, which LLVM turns into SIMD compare/max/add instructions;
* the batch is shared over threads, each item whole, balanced by the number of band cells.

On this project's 2-core CPU it takes about a third of the original Cython kernel's time
at B=16, 200 x 800 (bench/mas.py, bench/RESULTS.md).
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from glow_tts.monotonic_align import _compute_dtype, _lengths_from_mask


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

    The same frame-by-frame pass as ``monotonic_align.maximum_path_each``, arranged for speed:

    * Only two columns of Q are kept, ``q[y % 2]``. ``q[., x + 1]`` holds Q[x, .] and
      ``q[., 0]`` is a permanent ``-inf`` standing for "token -1", so token 0 needs no
      special case. Cells above the band are never written and stay ``-inf``, which makes
      "stay" impossible on the diagonal x == y, as in the plain programme.
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


@numba.njit(cache=True, nogil=True)
def _maximum_path_serial(paths, values, t_xs, t_ys):
    """:func:`_maximum_path_one` on every item in this thread: with one worker, a parallel
    region would only add the cost of waking the thread pool."""
    for i in range(values.shape[0]):
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
    """``monotonic_align.maximum_path``'s contract and results, faster.
    value, mask: [b, t_x, t_y] -> 0/1 path [b, t_x, t_y] of value's dtype and device.
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
        if n_workers == 1:
            _maximum_path_serial(path, scores, t_x, t_y)
        else:
            item_order, worker_starts = _share_work(t_x, t_y, n_workers)
            _maximum_path_batch(path, scores, t_x, t_y, item_order, worker_starts)
        if torch.get_num_threads() != torch_threads:
            # numba's OpenMP layer starts up on first use (numba.get_num_threads() above)
            # and resets the OpenMP pool it shares with torch to numba's size, silently
            # undoing torch.set_num_threads(1) (one thread per data-parallel CPU process).
            torch.set_num_threads(torch_threads)
    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)
