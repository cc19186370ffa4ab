"""Text to speech with a trained model: text -> token ids -> mel -> waveform.

    model, hps = load_model("logs/demo")               # newest G_*.pth and its config.json
    out = synthesize(model, hps, "안녕하세요.")          # {"mel", "attn", "durations", "wav"}
    save_wav("hello.wav", out["wav"], hps.data.sampling_rate)

The acoustic model (:meth:`FlowGenerator.infer`) predicts a duration per token, repeats each
token's prior over its frames, samples ``z`` from it (``noise_scale`` times its standard
deviation) and runs the flow backwards to a log-mel. No neural vocoder ships with this
project, so the waveform comes from Griffin-Lim (:func:`glow_tts.audio.griffin_lim`):
robotic, but enough to hear whether the words and their timing are right.

Long input. The generation pass builds dense ``[t_x, t_y]`` alignment matrices and the
encoder's ``[t_x, t_x]`` attention, so memory grows with the square of the text length
(5,000 characters once took 14 GB). :func:`synthesize_text` therefore splits text at
sentence ends (then at commas, then between words) into pieces of at most
:data:`MAX_PIECE_CHARS` characters, synthesizes them one by one and joins the waveforms;
:func:`synthesize` itself refuses a single piece longer than :data:`MAX_TOKENS` tokens.
Only a "word" longer than a whole piece (no space for 300 characters) is refused.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys

import torch

from glow_tts import args as cli, commons
from glow_tts.audio import griffin_lim, save_wav
from glow_tts.checkpoint import (CheckpointNotFoundError, load_checkpoint_dict, load_newest_checkpoint,
                                 load_weights)
from glow_tts.errors import GlowTTSError, read_text_lines
from glow_tts.hparams import ConfigError, get_hparams_from_dir, get_hparams_from_file
from glow_tts.models import FlowGenerator, build_model
from glow_tts.text import clean_text, text_to_sequence
from glow_tts.text.symbols import symbols


class SynthesisInputError(GlowTTSError, ValueError):
    """Input the synthesize command cannot use (bad arguments, unknown characters)."""


MAX_PIECE_CHARS = 300   # characters per piece of a long text (a few sentences)
MAX_TOKENS = 2000       # tokens one synthesize() call takes (a 300-character piece is ~800)
# A sentence ends at . ! ? or an ellipsis followed by space; a clause at , ; : followed by space.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+")
_CLAUSE_END = re.compile(r"(?<=[,;:])\s+")


def check_scales(noise_scale: float, length_scale: float,
                 names: tuple[str, str] = ("noise_scale", "length_scale")) -> None:
    """``noise_scale`` must be a finite number >= 0 and ``length_scale`` a finite number > 0
    (0 would give every token zero frames; a negative one, a negative count)."""
    if not (isinstance(noise_scale, (int, float)) and math.isfinite(noise_scale) and noise_scale >= 0):
        raise SynthesisInputError(f"{names[0]} must be a finite number >= 0 (0: the prior's mean, "
                                  f"0.667 the usual), got {noise_scale!r}")
    if not (isinstance(length_scale, (int, float)) and math.isfinite(length_scale) and length_scale > 0):
        raise SynthesisInputError(f"{names[1]} must be a finite number > 0 (1: as trained, 2: half "
                                  f"the speaking rate), got {length_scale!r}")


def _pack(parts: list[str], max_chars: int) -> list[str]:
    """Join consecutive ``parts`` with spaces into pieces of at most ``max_chars``."""
    pieces: list[str] = []
    for part in parts:
        if pieces and len(pieces[-1]) + 1 + len(part) <= max_chars:
            pieces[-1] += " " + part
        else:
            pieces.append(part)
    return pieces


def split_text(text: str, max_chars: int = MAX_PIECE_CHARS) -> list[str]:
    """Split ``text`` into pieces of at most ``max_chars`` characters, at sentence ends where
    possible, else at clause ends, else between words. Consecutive short sentences share a
    piece. A single word longer than ``max_chars`` is a :class:`SynthesisInputError`."""
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text.strip()):
        if len(sentence) <= max_chars:
            pieces.append(sentence)
            continue
        for clause in _CLAUSE_END.split(sentence):
            if len(clause) <= max_chars:
                pieces.append(clause)
                continue
            for word in clause.split():
                if len(word) > max_chars:
                    raise SynthesisInputError(
                        f"a run of {len(word)} characters without a space ({word[:20]!r}...) is longer "
                        f"than one piece of synthesis ({max_chars} characters); add spaces or "
                        f"sentence punctuation")
            pieces.extend(_pack(clause.split(), max_chars))
    return _pack([p for p in pieces if p], max_chars)


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
    its code point and its position; a text that cleans to nothing (``~``) is a
    :class:`SynthesisInputError` (the encoder cannot take zero tokens).
    """
    ids = text_to_sequence(text, hps.data.text_cleaners)
    if not ids:
        raise SynthesisInputError(f"the text {text!r} cleans to nothing: no letter the model "
                                  f"can read")
    if hps.data.add_blank:
        ids = commons.intersperse(ids, len(symbols))
    return torch.LongTensor(ids)


# The loudest sample float_to_int16 writes unclipped (+32767 / 32768).
WAV_PEAK = 32767 / 32768


def mel_to_wav(mel: torch.Tensor, hps, n_iter: int = 32) -> torch.Tensor:
    """Griffin-Lim waveform ``[T]`` in [-1, 1] of a log-mel ``[n_mel, F]``.

    Griffin-Lim does not bound its samples (their size follows ``exp(mel)``, and a barely
    trained model's mel can be louder than any recording), so a waveform whose peak is
    above :data:`WAV_PEAK` is scaled down as a whole to that peak. Scaling keeps the shape
    of the wave; clipping it (what ``save_wav`` would otherwise do) flattens every loud
    stretch into audible distortion. A waveform already in range is returned unchanged,
    so its level still follows the mel.
    """
    d = hps.data
    wav = griffin_lim(mel, sampling_rate=d.sampling_rate, filter_length=d.filter_length,
                      hop_length=d.hop_length, win_length=d.win_length, mel_fmin=d.mel_fmin,
                      mel_fmax=d.mel_fmax, n_iter=n_iter)
    peak = wav.abs().max()
    return wav * (WAV_PEAK / peak) if peak > WAV_PEAK else wav


@torch.no_grad()
def synthesize(model: FlowGenerator, hps, text: str, noise_scale: float = 0.667,
               length_scale: float = 1.0, vocode: bool = True, seed: int | None = 0) -> dict:
    """One sentence -> ``{"ids" [T_x], "mel" [n_mel, F], "attn" [T_x, F], "durations" [T_x],
    "wav" [T] (if ``vocode``)}``, all on the CPU. ``seed`` fixes the sampled noise (None:
    use the global RNG). Refuses text of more than :data:`MAX_TOKENS` tokens (use
    :func:`synthesize_text`, which splits it)."""
    check_scales(noise_scale, length_scale)
    # model: a FlowGenerator, or an export.OnnxSynthesizer (same infer(), CPU only)
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
    ids = text_to_ids(text, hps)
    if ids.numel() > MAX_TOKENS:
        raise SynthesisInputError(
            f"the text has {ids.numel()} tokens, more than one synthesis pass takes ({MAX_TOKENS}); "
            f"synthesize_text() splits long text at sentence ends")
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


def synthesize_text(model: FlowGenerator, hps, text: str, noise_scale: float = 0.667,
                    length_scale: float = 1.0, vocode: bool = True, seed: int | None = 0) -> dict:
    """Text of any length -> ``{"pieces": [str], "mel" [n_mel, F], "wav" [T] (if vocode)}``.

    The text is cut by :func:`split_text`; each piece goes through :func:`synthesize`
    (piece ``k`` with seed ``seed + k``) and the mels and waveforms are joined in order,
    so memory follows the longest piece, not the whole text. A text of one piece gives the
    same mel and waveform as :func:`synthesize`."""
    pieces = readable_pieces(text, hps)
    mels, wavs = [], []
    for k, piece in enumerate(pieces):
        out = synthesize(model, hps, piece, noise_scale, length_scale, vocode=vocode,
                         seed=None if seed is None else seed + k)
        mels.append(out["mel"])
        if vocode:
            wavs.append(out["wav"])
    result = {"pieces": pieces, "mel": torch.cat(mels, dim=1)}
    if vocode:
        result["wav"] = torch.cat(wavs)
    return result


def readable_pieces(text: str, hps) -> list[str]:
    """The pieces of ``text`` (:func:`split_text`) that have something to say, each checked
    without the model: every character known and at most MAX_TOKENS tokens. A piece that
    cleans to nothing (a lone ``~``) is left out; a text with no readable piece at all is a
    :class:`SynthesisInputError`, as is any unknown character."""
    kept = []
    for piece in split_text(text):
        if not clean_text(piece, hps.data.text_cleaners):
            continue
        n = text_to_ids(piece, hps).numel()
        if n > MAX_TOKENS:
            raise SynthesisInputError(f"a piece of {len(piece)} characters reads to {n} tokens, "
                                      f"more than {MAX_TOKENS}; add sentence punctuation")
        kept.append(piece)
    if not kept:
        raise SynthesisInputError(f"the text {text!r} cleans to nothing: no letter the model "
                                  f"can read")
    return kept


def read_lines(path: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of the non-empty lines of a UTF-8 text file (a BOM is
    tolerated); line numbers count every line, blank ones included."""
    return [(number, line.strip())
            for number, line in enumerate(read_text_lines(path), start=1) if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """``python -m glow_tts.inference -m RUN [TEXT | --file LINES] [--out DIR]``."""
    return run(cli.parse("synthesize", argv))


def run(args: argparse.Namespace) -> int:
    """Synthesize ``args.text`` or every line of ``args.file`` to ``args.out/NNNN.wav``.

    All or nothing: every line is checked (unknown characters, text that cleans to nothing,
    a run of characters too long to split) before the first WAV is written; if any line is
    bad, the error lists each bad line with its number and nothing is written. Long lines
    are split at sentence ends (:func:`synthesize_text`)."""
    if (args.text is None) == (args.file is None):
        raise SynthesisInputError("give either a TEXT argument or --file, not both or neither")
    if args.model is None and args.checkpoint is None:
        raise SynthesisInputError("give the run directory with -m, or a --checkpoint file")
    if args.onnx is not None and args.backend != "onnxruntime":
        raise SynthesisInputError("--onnx DIR is read only with --backend onnxruntime")
    if args.onnx is not None and not os.path.isfile(os.path.join(args.onnx, "export.json")):
        raise SynthesisInputError(f"--onnx {args.onnx}: no export.json there; make it with "
                                  f"python -m glow_tts export -m RUN --out {args.onnx}")
    check_scales(args.noise_scale, args.length_scale, names=("--noise-scale", "--length-scale"))
    if args.file:
        if not os.path.isfile(args.file):
            raise SynthesisInputError(f"--file {args.file}: no such file")
        numbered = read_lines(args.file)
        if not numbered:
            raise SynthesisInputError(f"--file {args.file}: no non-empty lines to synthesize")
        sources = [f"{args.file}:{number}" for number, _ in numbered]
        lines = [line for _, line in numbered]
    else:
        lines, sources = [args.text], ["text"]

    model, hps = load_model(args.model, args.checkpoint, args.config)
    if args.backend == "onnxruntime":
        from glow_tts.export import onnx_backend
        model = onnx_backend(model, hps, args.onnx)
    # Check every line first, so one bad line does not stop a long job half-way.
    bad = []
    for source, line in zip(sources, lines):
        try:
            readable_pieces(line, hps)
        except ValueError as e:
            bad.append(f"{source}: {e}")
    if bad:
        raise SynthesisInputError(f"cannot synthesize {len(bad)} line(s); nothing written: "
                                  + " | ".join(bad))
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise SynthesisInputError(f"--out {args.out} is a file, not a folder: pass a folder "
                                  f"for the WAVs (a new one is made)")
    os.makedirs(args.out, exist_ok=True)
    for i, line in enumerate(lines):
        out = synthesize_text(model, hps, line, args.noise_scale, args.length_scale, seed=args.seed)
        path = os.path.join(args.out, f"{i:04d}.wav")
        save_wav(path, out["wav"], hps.data.sampling_rate)
        seconds = out["wav"].numel() / hps.data.sampling_rate
        print(f"{path}\t{seconds:.2f} s\t{line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
