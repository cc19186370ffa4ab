"""Benchmark: one training step of the base configuration on the CPU.

One step = zero_grad, forward (encoder, flow decoder, MAS), MLE + duration loss,
backward, ``clip_grad_value_(parameters, 5)``, Noam-Adam step; batch 8, 80 tokens and
400 mel frames per item, float32, dropout on (train mode). The original's step is the
same sequence written with its own ``commons`` (its ``clip_grad_value_`` calls ``.item()``
once per parameter); its TensorBoard/sample logging is not part of the step.

Two of ours are timed: ``fast`` (``glow_tts.fast.enable`` on: geometric-gap dropout and the
threaded MAS, what ``train.fast: true``, the default, gives) and ``plain`` (the model
files as they read, ``nn.Dropout`` and the plain DP). With ``--reference DIR`` (the
original's checkout with its Cython ``monotonic_align`` built, see bench/inference.py) the
original joins them. All start from the same weights and are timed in alternation, round
by round; the ratios to the original, and fast / plain, are printed.

Times are wall-clock; CPU seconds (all threads) are printed too because on a shared
machine the wall time of a 2-thread run also measures other people's load.

    python bench/train_step.py --threads 2 --reference /work/scratch/orig_bench
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time

# OpenMP's wait policy is the library default unless OMP_WAIT_POLICY is exported (see
# bench/inference.py for when PASSIVE is the better choice); the header prints it.
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inference import (base_model_config, build_ours, build_reference_like, header,  # noqa: E402
                       load_reference_modules, percentile)


def make_batch(batch: int, n_tokens: int, n_frames: int, n_vocab: int, n_mels: int, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randint(1, n_vocab, (batch, n_tokens), generator=gen)
    x_lengths = torch.full((batch,), n_tokens, dtype=torch.long)
    y = torch.randn(batch, n_mels, n_frames, generator=gen) * 2 - 5   # log-mel-like values
    y_lengths = torch.full((batch,), n_frames, dtype=torch.long)
    return x, x_lengths, y, y_lengths


def our_step_fn(model, optimizer, batch, grad_clip=5.0):
    from glow_tts import commons
    x, x_lengths, y, y_lengths = batch

    def step():
        optimizer.zero_grad()
        (z, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(
            x, x_lengths, y, y_lengths, gen=False)
        l_mle = commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
        l_length = commons.duration_loss(logw, logw_, x_lengths)
        loss = l_mle + l_length
        if not torch.isfinite(loss):          # our trainer checks before every update
            raise RuntimeError(f"loss is {loss.item()}")
        loss.backward()
        commons.clip_grad_value_(model.parameters(), grad_clip)
        optimizer.step()
        return loss.item()
    return step


def reference_step_fn(model, optimizer, batch, original_commons):
    x, x_lengths, y, y_lengths = batch

    def step():
        optimizer.zero_grad()
        (z, z_m, z_logs, logdet, z_mask), _, (attn, logw, logw_) = model(
            x, x_lengths, y, y_lengths, gen=False)
        l_mle = original_commons.mle_loss(z, z_m, z_logs, logdet, z_mask)
        l_length = original_commons.duration_loss(logw, logw_, x_lengths)
        loss = sum([l_mle, l_length])
        loss.backward()
        original_commons.clip_grad_value_(model.parameters(), 5)
        optimizer.step()
        return loss.item()
    return step


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", metavar="DIR", help="checkout of the original glow-tts")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--frames", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from glow_tts import fast
    from glow_tts.commons import Adam
    config = base_model_config()
    train = config["train"]
    ours, n_vocab, _ = build_ours()
    ours.train()
    ours_fast = fast.enable(copy.deepcopy(ours))
    batch = make_batch(args.batch, args.tokens, args.frames, n_vocab,
                       config["data"]["n_mel_channels"])

    steps = {}
    if args.reference:
        original_models, original_commons = load_reference_modules(args.reference)
        reference = build_reference_like(ours, n_vocab, config, original_models)
        reference.train()
        reference_optimizer = original_commons.Adam(
            reference.parameters(), scheduler=train["scheduler"],
            dim_model=config["model"]["hidden_channels"], warmup_steps=train["warmup_steps"],
            lr=train["learning_rate"], betas=train["betas"], eps=train["eps"])
    def our_optimizer(model):
        return Adam(model.parameters(), scheduler=train["scheduler"],
                    dim_model=config["model"]["hidden_channels"],
                    warmup_steps=train["warmup_steps"], lr=train["learning_rate"],
                    betas=train["betas"], eps=train["eps"])
    steps["fast"] = our_step_fn(ours_fast, our_optimizer(ours_fast), batch)
    steps["plain"] = our_step_fn(ours, our_optimizer(ours), batch)
    if args.reference:
        steps["original"] = reference_step_fn(reference, reference_optimizer, batch,
                                              original_commons)

    print(header("Training-step benchmark", args.threads))
    print(f"base config, B={args.batch}, {args.tokens} tokens, {args.frames} frames, float32; "
          f"{args.warmup} warm-up + {args.rounds} timed steps each, alternating; "
          f"load average {os.getloadavg()[0]:.1f}")
    for _ in range(args.warmup):
        for step in steps.values():
            step()
    wall = {name: [] for name in steps}
    cpu = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            c, w = time.process_time(), time.perf_counter()
            step()
            wall[name].append(time.perf_counter() - w)
            cpu[name].append(time.process_time() - c)

    print(f"{'model':<9} {'median s':>9} {'p90 s':>8} {'cpu-s med':>10}")
    for name in steps:
        print(f"{name:<9} {statistics.median(wall[name]):9.3f} {percentile(wall[name], 0.9):8.3f} "
              f"{statistics.median(cpu[name]):10.3f}")
    pairs = [("fast", "plain")]
    if args.reference:
        pairs = [("fast", "original"), ("plain", "original")] + pairs
    for ours_name, base in pairs:
        ratio = statistics.median(wall[ours_name]) / statistics.median(wall[base])
        cpu_ratio = statistics.median(cpu[ours_name]) / statistics.median(cpu[base])
        target = "   (target wall <= 0.9)" if (ours_name, base) == ("fast", "original") else ""
        print(f"{ours_name} / {base}: wall {ratio:.3f}, cpu {cpu_ratio:.3f}{target}")


if __name__ == "__main__":
    main()
