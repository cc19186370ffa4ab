"""Text to speech with a trained model: text -> token ids -> mel -> waveform.

    model, hps = load_model("logs/demo")               # newest G_*.pth and its config.json
    out = synthesize(model, hps, "안녕하세요.")          # {"mel", "attn", "durations", "wav"}
    save_wav("hello.wav", out["wav"], hps.data.sampling_rate)

The acoustic model (:meth:`FlowGenerator.infer`) predicts a duration per token, repeats each
token's prior over its frames, samples ``z`` from it (``noise_scale`` times its standard
deviation) and runs the flow backwards to a log-mel. No neural vocoder ships with this
project, so the waveform comes from Griffin-Lim (:func:`glow_tts.audio.griffin_lim`):
robotic, but enough to hear whether the words and their timing are right.
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

from glow_tts import args as cli, commons
from glow_tts.audio import griffin_lim, save_wav
from glow_tts.checkpoint import (CheckpointNotFoundError, load_checkpoint_dict, load_newest_checkpoint,
                                 load_weights)
from glow_tts.errors import GlowTTSError
from glow_tts.hparams import ConfigError, get_hparams_from_dir, get_hparams_from_file
from glow_tts.models import FlowGenerator, build_model
from glow_tts.text import text_to_sequence
from glow_tts.text.symbols import symbols


class SynthesisInputError(GlowTTSError, ValueError):
    """Input the synthesize command cannot use (bad arguments, unknown characters)."""


def load_model(model_dir: str | None = None, checkpoint: str | None = None,
               config: str | None = None, device: str | torch.device = "cpu"):
    """``(model in eval mode, hps)`` from a run and/or a checkpoint file.

    ``model_dir`` is a run name (``./logs/NAME``, as ``train -m NAME``) or directory;
    ``checkpoint`` defaults to its newest ``G_*.pth`` that loads (a corrupt newest one is
    reported and the previous one used, as ``train`` resumes); the config defaults to the
    run's ``config.json`` (or the ``config.json`` beside the checkpoint). A checkpoint that
    does not fit the config is one :class:`~glow_tts.checkpoint.CheckpointError`.
    """
    if model_dir is not None:
        model_dir = cli.model_dir_of(model_dir)
        if not os.path.isdir(model_dir):
            raise SynthesisInputError(f"-m {model_dir}: no such run directory")
    if checkpoint is None:
        if model_dir is None:
            raise SynthesisInputError("give a run directory (-m) or a checkpoint file (--checkpoint)")
        checkpoint, state = load_newest_checkpoint(model_dir)
        if checkpoint is None:
            raise CheckpointNotFoundError(f"no G_<step>.pth checkpoint in {model_dir}; train first "
                                          f"(python -m glow_tts train -c CONFIG -m {model_dir})")
    else:
        state = load_checkpoint_dict(checkpoint)
    if config is not None:
        hps = get_hparams_from_file(config)
    else:
        run_dir = model_dir or os.path.dirname(os.path.abspath(checkpoint))
        if not os.path.isfile(os.path.join(run_dir, "config.json")):
            raise ConfigError(f"no config.json in {run_dir}; pass the training config with --config")
        hps = get_hparams_from_dir(run_dir)
    model = build_model(hps)
    load_weights(model, state["model"], checkpoint)
    model.to(device).eval()
    model.store_inverse()
    return model, hps


def text_to_ids(text: str, hps) -> torch.Tensor:
    """Token ids ``LongTensor [T_x]`` as the data loader makes them (cleaners, blanks).

    An unknown character raises the frontend's ``ValueError``, which names the character,
    its code point and its position.
    """
    ids = text_to_sequence(text, hps.data.text_cleaners)
    if hps.data.add_blank:
        ids = commons.intersperse(ids, len(symbols))
    return torch.LongTensor(ids)


def mel_to_wav(mel: torch.Tensor, hps, n_iter: int = 32) -> torch.Tensor:
    """Griffin-Lim waveform ``[T]`` in [-1, 1] of a log-mel ``[n_mel, F]``."""
    d = hps.data
    return griffin_lim(mel, sampling_rate=d.sampling_rate, filter_length=d.filter_length,
                       hop_length=d.hop_length, win_length=d.win_length, mel_fmin=d.mel_fmin,
                       mel_fmax=d.mel_fmax, n_iter=n_iter)


@torch.no_grad()
def synthesize(model: FlowGenerator, hps, text: str, noise_scale: float = 0.667,
               length_scale: float = 1.0, vocode: bool = True, seed: int | None = 0) -> dict:
    """One sentence -> ``{"ids" [T_x], "mel" [n_mel, F], "attn" [T_x, F], "durations" [T_x],
    "wav" [T] (if ``vocode``)}``, all on the CPU. ``seed`` fixes the sampled noise (None:
    use the global RNG)."""
    device = next(model.parameters()).device
    ids = text_to_ids(text, hps)
    x = ids.unsqueeze(0).to(device)
    x_lengths = torch.LongTensor([x.size(1)]).to(device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        if seed is not None:
            torch.manual_seed(seed)
        result = model.infer(x, x_lengths, noise_scale=noise_scale, length_scale=length_scale)
    n = int(result.mel_lengths[0])
    out = {"ids": ids, "mel": result.mel[0, :, :n].float().cpu(),
           "attn": result.attn[0, :, :n].float().cpu(),
           "durations": result.durations[0].cpu()}
    if vocode:
        out["wav"] = mel_to_wav(out["mel"], hps)
    return out


def read_lines(path: str) -> list[str]:
    """Non-empty lines of a UTF-8 text file (a BOM is tolerated)."""
    with open(path, encoding="utf-8-sig") as f:
        return [line.strip() for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """``python -m glow_tts.inference -m RUN [TEXT | --file LINES] [--out DIR]``."""
    return run(cli.parse("synthesize", argv))


def run(args: argparse.Namespace) -> int:
    """Synthesize ``args.text`` or every line of ``args.file`` to ``args.out/NNNN.wav``."""
    if (args.text is None) == (args.file is None):
        raise SynthesisInputError("give either a TEXT argument or --file, not both or neither")
    if args.model is None and args.checkpoint is None:
        raise SynthesisInputError("give the run directory with -m, or a --checkpoint file")
    if args.file:
        if not os.path.isfile(args.file):
            raise SynthesisInputError(f"--file {args.file}: no such file")
        lines = read_lines(args.file)
        if not lines:
            raise SynthesisInputError(f"--file {args.file}: no non-empty lines to synthesize")
        sources = [f"{args.file}:{i + 1}" for i in range(len(lines))]
    else:
        lines, sources = [args.text], ["text"]

    model, hps = load_model(args.model, args.checkpoint, args.config)
    # Check every line first, so one bad character does not stop a long job half-way.
    bad = []
    for source, line in zip(sources, lines):
        try:
            text_to_ids(line, hps)
        except ValueError as e:
            bad.append(f"{source}: {e}")
    if bad:
        raise SynthesisInputError("cannot synthesize; unknown characters:\n  " + "\n  ".join(bad))
    os.makedirs(args.out, exist_ok=True)
    for i, line in enumerate(lines):
        out = synthesize(model, hps, line, args.noise_scale, args.length_scale, seed=args.seed)
        path = os.path.join(args.out, f"{i:04d}.wav")
        save_wav(path, out["wav"], hps.data.sampling_rate)
        seconds = out["wav"].numel() / hps.data.sampling_rate
        print(f"{path}\t{seconds:.2f} s\t{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
