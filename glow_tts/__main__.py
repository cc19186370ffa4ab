"""Command line: ``python -m glow_tts <command> ...`` (also installed as ``glow-tts``).

Each command is two functions: ``add_<name>_arguments(parser)`` declares its options and
``cmd_<name>(args)`` runs it and returns an exit status. ``COMMANDS`` lists them; adding a
command means writing the two functions and one line in ``COMMANDS``. Heavy imports (torch,
eSpeak, soxr) happen inside ``cmd_*`` so ``--help`` stays instant.

Errors a user can fix (a bad path, a bad config, problems found with ``--strict``) are
printed as one clear message with exit status 1, not as a traceback: raise one of the
exception types listed in ``user_errors()`` (add a new type there if needed).
"""

from __future__ import annotations

import argparse
import os
import sys


# --- corpus -------------------------------------------------------------------------

def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (KSS layout: DIR/1/1_0000.wav, DIR/transcript.v.1.4.txt, "
                             "DIR/filelists/{train,val,test}.txt); filelist paths are relative to "
                             "the filelist's folder, so DIR can be moved")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N sentences (for quick tests)")
    parser.add_argument("--sampling-rate", type=int, default=22050, metavar="HZ",
                        help="sample rate of the WAVs (default: 22050, eSpeak's own rate)")


def cmd_corpus(args: argparse.Namespace) -> int:
    from glow_tts.corpus import build_corpus

    summary = build_corpus(args.out, limit=args.limit, sampling_rate=args.sampling_rate, progress=True)
    print(summary)
    return 0


# --- prepare-kss --------------------------------------------------------------------

def add_prepare_kss_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kss_dir", metavar="KSS_DIR",
                        help="folder with transcript.v.1.*.txt and the audio folders 1/ to 4/")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for the 22,050 Hz WAVs, DIR/filelists/ (paths relative "
                             "to the filelist's folder) and DIR/skipped.txt")
    parser.add_argument("--strict", action="store_true",
                        help="treat missing or unreadable audio and malformed transcript lines as "
                             "an error (exit 1) instead of skipping and reporting them")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help=f"worker processes (default: all {os.cpu_count()} cores)")


def cmd_prepare_kss(args: argparse.Namespace) -> int:
    from glow_tts.corpus import prepare_kss

    summary = prepare_kss(args.kss_dir, args.out, strict=args.strict, jobs=args.jobs, progress=True)
    print(summary.report())
    return 0


# --- init, train, synthesize, demo ---------------------------------------------------
# The single definition of these commands' options: `python -m glow_tts.init/train/
# inference/demo` use them too (each module's `add_arguments` calls the one here), and
# defining them here keeps `--help` from importing torch.

def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default="configs/base.json", help="JSON config file")
    parser.add_argument("-m", "--model", required=True, help="run name (./logs/NAME) or directory")
    parser.add_argument("--force", action="store_true",
                        help="overwrite model_dir/config.json when it differs from -c")


def cmd_init(args: argparse.Namespace) -> int:
    from glow_tts import init
    print(init.launch(args))
    return 0


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", default="configs/base.json", help="JSON config file")
    parser.add_argument("-m", "--model", required=True, help="run name (./logs/NAME) or directory")
    parser.add_argument("--nprocs", type=int, default=None,
                        help="processes on this machine (default: one per GPU, or 1 on CPU)")
    parser.add_argument("--master-port", type=int, default=None,
                        help="rendezvous port for --nprocs > 1 (default: a free one)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite model_dir/config.json when it differs from -c")


def cmd_train(args: argparse.Namespace) -> int:
    from glow_tts import train
    train.launch(args)
    return 0


def add_synthesize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="a sentence (or use --file)")
    parser.add_argument("--file", help="a UTF-8 file with one text per line; every line is checked "
                        "first, and if any is bad (unknown character, nothing left after cleaning) "
                        "nothing is written and each bad line is named")
    parser.add_argument("-m", "--model", help="run directory (newest G_*.pth and config.json)")
    parser.add_argument("--checkpoint", help="a checkpoint file (default: newest in -m)")
    parser.add_argument("-c", "--config", help="config file (default: the run's config.json)")
    parser.add_argument("--out", default="out/synth", help="output folder for the WAVs")
    parser.add_argument("--noise-scale", type=float, default=0.667,
                        help="standard deviations of prior noise, >= 0 (0: deterministic)")
    parser.add_argument("--length-scale", type=float, default=1.0,
                        help="duration multiplier, > 0 (>1 slower); long text is split at "
                        "sentence ends")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")


def cmd_synthesize(args: argparse.Namespace) -> int:
    from glow_tts import inference
    return inference.run(args)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="out/demo", metavar="DIR", help="output folder")
    parser.add_argument("-c", "--config", default=None,
                        help="config (default: configs/tiny.json of this checkout)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="override train.max_steps (default: the config's)")
    parser.add_argument("--quick", action="store_true",
                        help="short training, as GLOW_TTS_QUICK=1")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: 1, fastest for this small model)")


def cmd_demo(args: argparse.Namespace) -> int:
    from glow_tts import demo
    demo.launch(args)
    return 0


# name, one-line help, add_arguments, run
COMMANDS = [
    ("corpus", "synthesize the embedded Korean corpus with eSpeak NG",
     add_corpus_arguments, cmd_corpus),
    ("prepare-kss", "resample, trim and split the KSS dataset into filelists",
     add_prepare_kss_arguments, cmd_prepare_kss),
    ("init", "data-dependent initialisation: write MODEL_DIR/ddi_G.pth",
     add_init_arguments, cmd_init),
    ("train", "train on one or more CPUs/GPUs (mp.spawn), or under torchrun",
     add_train_arguments, cmd_train),
    ("synthesize", "text (or a file of lines) to WAV with a trained model (Griffin-Lim)",
     add_synthesize_arguments, cmd_synthesize),
    ("demo", "corpus -> DDI -> training -> synthesis of held-out sentences, on CPU",
     add_demo_arguments, cmd_demo),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glow_tts",
        description="Glow-TTS, annotated: data preparation, training and synthesis for Korean.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text, add_arguments, run in COMMANDS:
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=run)
    return parser


def user_errors() -> tuple[type[BaseException], ...]:
    """Exception types whose message is meant for the user (printed without traceback)."""
    from glow_tts.corpus import CorpusError, KssError
    from glow_tts.hparams import ConfigError

    errors = (CorpusError, KssError, ConfigError, FileNotFoundError)
    if "glow_tts.train" in sys.modules or "glow_tts.inference" in sys.modules:
        # Only when the training/synthesis commands ran (they import torch); bad data and
        # bad text are the user's to fix too.
        from glow_tts.audio import AudioError
        from glow_tts.data_utils import FilelistError
        from glow_tts.inference import SynthesisInputError
        from glow_tts.text import UnknownSymbolError
        from glow_tts.train import TrainingError
        errors += (AudioError, FilelistError, SynthesisInputError, UnknownSymbolError, TrainingError)
    return errors


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
