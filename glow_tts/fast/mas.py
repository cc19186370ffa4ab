"""Monotonic alignment search with the batch shared over threads: the plain programme's
paths, sooner.

A speed device, off the reading path. :mod:`glow_tts.monotonic_align` runs the dynamic
programme (:func:`~glow_tts.monotonic_align.maximum_path_each`) on one item after another,
as the original's Cython kernel does in practice (its ``prange`` gets no OpenMP flag from
its ``setup.py``, so it runs on one thread). Here the same compiled function runs on
several items at once, one whole item per thread, with the items dealt out so that every
thread gets about the same number of band cells. Each item's arithmetic is untouched, so
the paths are identical, ties and ``-inf``/NaN scores included; the tests check this.
:func:`glow_tts.fast.enable` makes a model's alignment search use :func:`maximum_path`.

An earlier version also rearranged each item's programme (two columns of the score table,
scores copied into small transposed tiles for SIMD); measured against the plain programme
compiled by numba it took about twice the CPU time (bench/RESULTS.md), so only the
scheduling is kept.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

from glow_tts.monotonic_align import (_compute_dtype, _lengths_from_mask, maximum_path_batch,
                                      maximum_path_each)


@numba.njit(cache=True, nogil=True, parallel=True)
def _maximum_path_shared(paths, values, t_xs, t_ys, item_order, worker_starts):
    """:func:`maximum_path_each` on every item; worker w takes the items
    ``item_order[worker_starts[w]:worker_starts[w + 1]]``. paths: [b, T_x, T_y] zeros."""
    for worker in numba.prange(len(worker_starts) - 1):
        for j in range(worker_starts[worker], worker_starts[worker + 1]):
            i = item_order[j]
            if t_xs[i] > 0:
                maximum_path_each(paths[i], values[i], t_xs[i], t_ys[i])


def _share_work(t_x: np.ndarray, t_y: np.ndarray, n_workers: int):
    """Deal the items to workers so each gets about the same number of band cells.

    Items go largest first, each to the least-loaded worker (the classic greedy schedule);
    a split into equal halves would give one thread all the long utterances of a
    length-sorted batch. Returns ``(item_order, worker_starts)``, int64 arrays.
    """
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
    """``monotonic_align.maximum_path``'s contract and results, on several threads.
    value, mask: [b, t_x, t_y] -> 0/1 path [b, t_x, t_y] of value's dtype and device.
    Raises ValueError when an item has fewer frames than tokens.

    Threads: as many as torch is allowed (``torch.get_num_threads()``), capped by numba's
    pool and the batch size, so a data-parallel worker set to one thread stays at one
    (and then runs the plain loop: a parallel region would only add the wake-up cost).
    """
    t_x, t_y = _lengths_from_mask(value, mask)
    scores = value.detach().to("cpu", _compute_dtype(value.dtype)).contiguous().numpy()
    path = np.zeros(scores.shape, dtype=scores.dtype)
    batch = scores.shape[0]
    torch_threads = torch.get_num_threads()
    n_workers = max(1, min(numba.get_num_threads(), torch_threads, batch))
    if n_workers == 1:
        maximum_path_batch(path, scores, t_x, t_y)
    else:
        item_order, worker_starts = _share_work(t_x, t_y, n_workers)
        _maximum_path_shared(path, scores, t_x, t_y, item_order, worker_starts)
    if torch.get_num_threads() != torch_threads:
        # numba's OpenMP layer starts up on first use (numba.get_num_threads() above) and
        # resets the OpenMP pool it shares with torch to numba's size, silently undoing
        # torch.set_num_threads(1) (one thread per data-parallel CPU process).
        torch.set_num_threads(torch_threads)
    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)
