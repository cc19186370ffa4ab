"""Plant small bugs in the package one at a time and report which ones the tests catch.

    python tools/mutate.py --list                 # the table: name, file, tests
    python tools/mutate.py                        # every mutant, each against its own tests
    python tools/mutate.py tenth-decade filter-strict   # only these

A mutant is one textual edit of one file (an original snippet that must occur exactly
once, and what it becomes) plus the tests that should notice it. For each mutant the tool
copies the tracked files of this checkout into a scratch folder once, writes the mutated
file there, runs ``python -m pytest -x -q <tests>`` in the copy (the copy first on
``PYTHONPATH``), puts the original file back, and records:

* ``caught``: the tests failed on the mutant;
* ``MISSED``: the tests passed with the bug planted (a test is owed);
* ``error``: the snippet was not found (the code moved: update the table) or the tests
  could not run.

Before the mutants, each distinct test selection is run once on the unmutated copy: a
selection that already fails would "catch" everything, so its mutants are reported as
``error`` instead. The exit status is 1 if any mutant was missed or in error.

Bytecode caches are kept out of it (``PYTHONDONTWRITEBYTECODE``, and a fresh numba cache
folder per run), so a run never reuses what was compiled from another version of a file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str          # relative to the repository root
    original: str      # must occur exactly once in the file
    mutated: str
    tests: tuple[str, ...]   # pytest arguments (paths, -k expressions)
    why: str           # the bug in words


MUTANTS = [
    # --- the seven that got through in issue 13 ----------------------------------------
    Mutant("mas-diagonal", "glow_tts/monotonic_align.py",
           "if x > 0 and (x == y or q[x, y - 1] < q[x - 1, y - 1]):",
           "if x > 0 and q[x, y - 1] < q[x - 1, y - 1]:",
           ("tests/test_monotonic_align.py",),
           "MAS back-tracking (plain and the fast batch scheduler, which runs the same programme) "
           "without its diagonal rule (shows only on -inf/NaN scores)"),
    Mutant("mas-short-check", "glow_tts/monotonic_align.py",
           "too_short = np.nonzero(t_y < t_x)[0]",
           "too_short = np.nonzero(t_y < t_x - 1)[0]",
           ("tests/test_monotonic_align.py",),
           "the t_y >= t_x check loosened by one"),
    Mutant("sigmoid-offset", "glow_tts/modules.py",
           "torch.sigmoid(logs + 2)",
           "torch.sigmoid(logs + 3)",
           ("tests/test_flows.py",),
           "sigmoid_scale coupling with another offset"),
    Mutant("length-scale-after-ceil", "glow_tts/models.py",
           "w = torch.exp(logw) * x_mask * length_scale  # [b, 1, t_x] frames per token\n"
           "            w_ceil = torch.ceil(w)",
           "w = torch.exp(logw) * x_mask  # [b, 1, t_x] frames per token\n"
           "            w_ceil = torch.ceil(w) * length_scale",
           ("tests/test_model.py",),
           "length_scale applied after the ceiling instead of before"),
    Mutant("filter-strict", "glow_tts/data_utils.py",
           "fits = [trimmed_frames(f, n_sqz) >= t for",
           "fits = [trimmed_frames(f, n_sqz) > t for",
           ("tests/test_data_checks.py",),
           "the frames >= tokens filter turned into >"),
    Mutant("tenth-decade", "glow_tts/text/numbers.py",
           'or (counter == "대" and n >= 10 and n % 10 == 0)',
           'or (counter == "대" and n >= 20 and n % 10 == 0)',
           ("tests/test_text.py",),
           "10대 read as 열대 (only 20대 and up as age decades)"),
    Mutant("no-set-epoch", "glow_tts/train.py",
           "    train_loader.sampler.set_epoch(epoch)",
           "    pass",
           ("tests/test_epoch_order.py",),
           "sampler.set_epoch(epoch) removed from training: every epoch in epoch 0's order"),
    # --- the checks added for issue 13 --------------------------------------------------
    Mutant("filter-untrimmed", "glow_tts/data_utils.py",
           "    return frames // n_sqz * n_sqz",
           "    return frames",
           ("tests/test_data_checks.py",),
           "frames >= tokens on the untrimmed frame count"),
    Mutant("empty-text-accepted", "glow_tts/data_utils.py",
           "        if n_symbols == 0:",
           "        if n_symbols < 0:",
           ("tests/test_data_checks.py",),
           "a transcript that cleans to nothing accepted for training"),
    Mutant("silence-unchecked", "glow_tts/data_utils.py",
           "            if np.any(block):\n                return True\n    return False",
           "            if np.any(block):\n                return True\n    return True",
           ("tests/test_data_checks.py",),
           "all-silent audio not found at start-up"),
    Mutant("kss-out-in-source", "glow_tts/corpus/kss.py",
           "        if _inside(out_real, folder):",
           "        if out_real == folder + '/never':",
           ("tests/test_corpus.py", "-k", "refuses"),
           "prepare-kss writes into its source folder"),
    Mutant("kss-jobs-zero", "glow_tts/corpus/kss.py",
           "not isinstance(jobs, int) or jobs < 1:",
           "not isinstance(jobs, int) or jobs < 0:",
           ("tests/test_corpus.py", "-k", "jobs"),
           "prepare-kss --jobs 0 accepted"),
    Mutant("batch-size-zero", "glow_tts/hparams.py",
           '"batch_size": _at_least(1),',
           '"batch_size": _at_least(0),',
           ("tests/test_config_ranges.py",),
           "train.batch_size 0 accepted"),
    Mutant("heads-not-dividing", "glow_tts/hparams.py",
           '    if enc % model["n_heads"]:',
           '    if enc < model["n_heads"]:',
           ("tests/test_config_ranges.py",),
           "n_heads that does not divide the hidden size accepted"),
    Mutant("length-scale-zero", "glow_tts/inference.py",
           "math.isfinite(length_scale) and length_scale > 0):",
           "math.isfinite(length_scale) and length_scale >= 0):",
           ("tests/test_synthesis_input.py", "-k", "scales"),
           "--length-scale 0 accepted"),
    Mutant("long-text-unsplit", "glow_tts/inference.py",
           "    for piece in split_text(text):\n        if not clean_text(",
           "    for piece in [text]:\n        if not clean_text(",
           ("tests/test_synthesis_input.py", "-k", "piece or long or split"),
           "long text synthesized in one pass"),
]


def tracked_files(repo: str) -> list[str]:
    out = subprocess.run(["git", "-C", repo, "ls-files", "-co", "--exclude-standard"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line]


def copy_checkout(repo: str, dest: str) -> None:
    """Tracked and untracked-but-not-ignored files (no .venv, build outputs or caches)."""
    for rel in tracked_files(repo):
        src = os.path.join(repo, rel)
        if not os.path.isfile(src):
            continue
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(src, target)


def run_tests(copy: str, tests: tuple[str, ...], timeout: int) -> tuple[int, float, str]:
    env = dict(os.environ, PYTHONPATH=copy, PYTHONDONTWRITEBYTECODE="1",
               NUMBA_CACHE_DIR=tempfile.mkdtemp(prefix="numba-"))
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=copy, env=env, capture_output=True, text=True,
                              timeout=timeout)
        code, tail = proc.returncode, (proc.stdout + proc.stderr).strip().splitlines()[-1:]
    except subprocess.TimeoutExpired:
        code, tail = -1, ["timed out"]
    finally:
        shutil.rmtree(env["NUMBA_CACHE_DIR"], ignore_errors=True)
    return code, time.monotonic() - start, " ".join(tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutants to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip running each test selection on the unmutated copy first")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per pytest run")
    args = parser.parse_args(argv)

    known = {m.name: m for m in MUTANTS}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error(f"unknown mutant(s) {', '.join(unknown)}; see --list")
    chosen = [known[n] for n in args.names] if args.names else MUTANTS
    if args.list:
        for m in chosen:
            print(f"{m.name:24} {m.file:28} {' '.join(m.tests):50} {m.why}")
        return 0

    results = []
    with tempfile.TemporaryDirectory(prefix="mutate-") as copy:
        copy_checkout(REPO, copy)
        baseline_ok: dict[tuple[str, ...], bool] = {}
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in chosen):
                code, seconds, tail = run_tests(copy, tests, args.timeout)
                baseline_ok[tests] = code == 0
                print(f"baseline {' '.join(tests)}: {'ok' if code == 0 else 'FAILS'} "
                      f"({seconds:.0f} s) {tail if code else ''}", flush=True)
        for m in chosen:
            path = os.path.join(copy, m.file)
            with open(path, encoding="utf-8") as f:
                source = f.read()
            count = source.count(m.original)
            if count != 1:
                results.append((m, "error", 0.0, f"snippet found {count} times in {m.file}"))
            elif not baseline_ok.get(m.tests, True):
                results.append((m, "error", 0.0, "its tests fail without the mutant"))
            else:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(source.replace(m.original, m.mutated))
                try:
                    code, seconds, tail = run_tests(copy, m.tests, args.timeout)
                finally:
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(source)
                # pytest: 1 = tests failed; 2-4 = it could not run them; 5 = none collected
                status = {0: "MISSED", 1: "caught"}.get(code, "error")
                results.append((m, status, seconds, tail))
            m_, status, seconds, tail = results[-1]
            print(f"{status:7} {m.name:24} {seconds:5.0f} s  {m.why}"
                  + (f"  [{tail}]" if status == "error" else ""), flush=True)

    caught = sum(status == "caught" for _, status, _, _ in results)
    print(f"\n{caught} of {len(results)} mutants caught")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
