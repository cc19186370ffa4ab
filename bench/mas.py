"""Benchmark of monotonic alignment search (glow_tts.monotonic_align.maximum_path).

Compares, on the same inputs and in the same run (timings interleaved round by round, so
a busy machine slows every contender alike):

* ``fast``      - ``glow_tts.fast.mas.maximum_path``: the plain DP with the items shared
                  over threads (what the model uses with ``train.fast``, the default);
* ``plain``     - ``glow_tts.monotonic_align.maximum_path``: the plain DP compiled by numba,
                  one item after another (what the model uses without ``glow_tts.fast``);
* ``numpy``     - a NumPy version written below, vectorised over batch and tokens, with a
                  Python loop over frames;
* ``reference`` - ``maximum_path_reference``, plain Python loops (only at the small size
                  unless ``--reference-dp-everywhere``: it needs seconds per call at B=16);
* ``cython``    - with ``--reference DIR``: the original Glow-TTS's compiled Cython kernel
                  ``monotonic_align/core*.so`` found under DIR (built there by its own
                  ``setup.py``; it is not part of this repository), driven exactly as the
                  original's ``maximum_path`` wrapper drives it: multiply by the mask, copy
                  to float32, an int32 path, lengths from mask sums, convert back.

Every time includes the tensor round trip (torch in, torch path of the input's dtype out).
Every contender's path is checked against ``plain`` before timing.

    python bench/mas.py --reference /work/scratch/orig_mas --threads 2
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone

# OpenMP's wait policy is the library default unless OMP_WAIT_POLICY is exported (see
# bench/inference.py for when PASSIVE is the better choice); the header prints it.

import numba
import numpy as np
import torch

from glow_tts.fast.mas import maximum_path as fast_maximum_path
from glow_tts.monotonic_align import maximum_path, maximum_path_reference


def maximum_path_numpy(value: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MAS with NumPy: one vectorised step per frame over all items and tokens at once.

    ``q[:, x]`` holds Q[x, y] for the current frame y. Cells above the diagonal start at
    -inf and stay there (their predecessors are -inf), so no band mask is needed; cells
    past an item's lengths hold garbage that the backward pass never reads.
    """
    scores = value.detach().cpu().numpy().astype(np.float32)
    mask_np = mask.detach().cpu().numpy()
    batch, t_x_max, t_y_max = scores.shape
    t_x = mask_np[:, :, 0].sum(1).astype(np.int64)
    t_y = mask_np[:, 0, :].sum(1).astype(np.int64)

    q = np.full((batch, t_x_max), -np.inf, dtype=np.float32)
    q[:, 0] = scores[:, 0, 0]
    moved = np.zeros((t_y_max, batch, t_x_max), dtype=bool)  # Q[x, y-1] < Q[x-1, y-1]
    advance = np.empty_like(q)
    for y in range(1, t_y_max):
        advance[:, 0] = -np.inf
        advance[:, 1:] = q[:, :-1]
        came_from_previous_token = q < advance
        moved[y] = came_from_previous_token
        q = np.where(came_from_previous_token, advance, q) + scores[:, :, y]

    path = np.zeros(scores.shape, dtype=np.float32)
    items = np.arange(batch)
    index = t_x - 1
    for y in range(t_y_max - 1, -1, -1):
        active = y < t_y
        path[items[active], index[active], y] = 1
        step_up = active & (index > 0) & (
            (index == y) | moved[y, items, np.maximum(index, 0)])
        index = index - step_up
    return torch.from_numpy(path).to(device=value.device, dtype=value.dtype)


def load_cython_maximum_path(reference_dir: str):
    """The original's ``maximum_path`` around its compiled ``core`` extension from DIR."""
    candidates = sorted(glob.glob(os.path.join(reference_dir, "**", "core*.so"), recursive=True))
    candidates = [c for c in candidates if os.sep + "build" + os.sep not in c] or candidates
    if not candidates:
        sys.exit(f"--reference {reference_dir}: no compiled core*.so found; build the original's "
                 f"monotonic_align there first (python setup.py build_ext --inplace)")
    spec = importlib.util.spec_from_file_location("core", candidates[0])
    core = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(core)

    def maximum_path_cython(value, mask):
        value = value * mask
        device, dtype = value.device, value.dtype
        value = value.data.cpu().numpy().astype(np.float32)
        path = np.zeros_like(value).astype(np.int32)
        mask = mask.data.cpu().numpy()
        t_x = mask.sum(1)[:, 0].astype(np.int32)
        t_y = mask.sum(2)[:, 0].astype(np.int32)
        core.maximum_path_c(path, value, t_x, t_y)
        return torch.from_numpy(path).to(device=device, dtype=dtype)

    return maximum_path_cython, candidates[0]


def make_batch(batch: int, t_x_max: int, t_y_max: int, seed: int):
    """Random scores and a float mask with lengths varying inside the batch.

    Token counts are uniform in [t_x_max/2, t_x_max]; frame counts follow the token count
    at the size's frames-per-token ratio, times 0.8..1.0; item 0 has both maxima.
    """
    gen = torch.Generator().manual_seed(seed)
    x_len = torch.randint(t_x_max // 2, t_x_max + 1, (batch,), generator=gen)
    ratio = t_y_max / t_x_max * (0.8 + 0.2 * torch.rand(batch, generator=gen))
    y_len = torch.minimum(torch.maximum((x_len * ratio).long(), x_len), torch.tensor(t_y_max))
    x_len[0], y_len[0] = t_x_max, t_y_max
    x_mask = torch.arange(t_x_max)[None, :] < x_len[:, None]
    y_mask = torch.arange(t_y_max)[None, :] < y_len[:, None]
    mask = (x_mask[:, :, None] & y_mask[:, None, :]).float()          # [b, t_x, t_y]
    value = torch.randn(batch, t_x_max, t_y_max, generator=gen) * mask  # like log-likelihoods
    return value, mask


def time_interleaved(contenders: dict, value, mask, rounds: int):
    """Wall and CPU seconds (all threads of this process) per call, rounds interleaved."""
    wall = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            cpu_start, start = time.process_time(), time.perf_counter()
            fn(value, mask)
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - cpu_start)
    return wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", metavar="DIR",
                        help="folder holding a build of the original's monotonic_align")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--reference-dp-everywhere", action="store_true",
                        help="also time the pure-Python reference at B=16 (slow)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    cython_fn, cython_path = (load_cython_maximum_path(args.reference) if args.reference
                              else (None, None))

    print(f"# MAS benchmark  {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"threads={args.threads}, torch {torch.__version__}, numba {numba.__version__}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}")
    if cython_path:
        print(f"# cython: {cython_path}")
    sizes = [(16, 200, 800), (1, 100, 400)]
    for batch, t_x, t_y in sizes:
        value, mask = make_batch(batch, t_x, t_y, seed=batch)
        contenders = {"fast": fast_maximum_path, "plain": maximum_path,
                      "numpy": maximum_path_numpy}
        if cython_fn:
            contenders["cython"] = cython_fn
        include_reference = batch == 1 or args.reference_dp_everywhere
        if include_reference:
            contenders["reference"] = maximum_path_reference

        expected = maximum_path(value, mask)   # also compiles/warms the numba kernels
        for name, fn in contenders.items():
            result = fn(value, mask)
            if not torch.equal(result, expected):
                sys.exit(f"{name} disagrees with plain at B={batch}: "
                         f"{int((result != expected).sum())} cells differ")

        slow = {k: v for k, v in contenders.items() if k == "reference"}
        quick = {k: v for k, v in contenders.items() if k != "reference"}
        wall, cpu = time_interleaved(quick, value, mask, args.rounds)
        if slow:
            slow_wall, slow_cpu = time_interleaved(slow, value, mask, max(3, args.rounds // 20))
            wall.update(slow_wall)
            cpu.update(slow_cpu)

        cells = int(sum(int(m[:, 0].sum()) * (int(m[0].sum()) - int(m[:, 0].sum()) + 1)
                        for m in mask))
        print(f"\nB={batch}, T_x={t_x}, T_y={t_y} (band cells {cells:,}; {args.rounds} "
              f"interleaved rounds; load average {os.getloadavg()[0]:.1f}; reference DP "
              f"{'included' if include_reference else 'skipped: seconds per call'})")
        base = "cython" if cython_fn else "fast"
        print(f"{'method':<10} {'min ms':>9} {'median ms':>10} {'cpu ms':>9} "
              f"{'× ' + base + ' (min)':>17} {'(median)':>9} {'(cpu)':>7}")
        for name in wall:
            best, med = min(wall[name]), statistics.median(wall[name])
            cpu_med = statistics.median(cpu[name])
            print(f"{name:<10} {best * 1e3:9.3f} {med * 1e3:10.3f} {cpu_med * 1e3:9.3f} "
                  f"{best / min(wall[base]):17.3f} {med / statistics.median(wall[base]):9.3f} "
                  f"{cpu_med / statistics.median(cpu[base]):7.3f}")
    print("\nmin = least disturbed call; cpu = median CPU time of all this process's threads "
          "(the fast kernel's 2 threads both count, so its cpu ratio shows work, not latency); "
          f"numba threading layer: {numba.threading_layer()}")

if __name__ == "__main__":
    main()
