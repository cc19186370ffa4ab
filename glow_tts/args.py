"""Command-line options of every command, defined once.

A leaf module: it imports nothing from ``glow_tts`` (and no torch), so ``python -m glow_tts
--help`` stays instant and any module may use it without an import cycle. ``__main__``
builds the ``python -m glow_tts COMMAND`` parser from these functions; ``train``, ``init``,
``inference`` and ``demo`` use the same ones for ``python -m glow_tts.<module>``, through
:func:`parse`. Parsing is strict: a mistyped option is an error, never silently ignored.
"""

from __future__ import annotations

import argparse
import os


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """``-c/--config``, ``-m/--model`` and ``--force``: what :func:`glow_tts.hparams.get_hparams` reads."""
    parser.add_argument("-c", "--config", default="configs/base.json", help="JSON config file")
    parser.add_argument("-m", "--model", required=True, help="run name (./logs/NAME) or directory")
    parser.add_argument("--force", action="store_true",
                        help="overwrite model_dir/config.json when it differs from -c")


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder (KSS layout: DIR/1/1_0000.wav, DIR/transcript.v.1.4.txt, "
                             "DIR/filelists/{train,val,test}.txt); filelist paths are relative to "
                             "the filelist's folder, so DIR can be moved")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N sentences (for quick tests)")
    parser.add_argument("--sampling-rate", type=int, default=22050, metavar="HZ",
                        help="sample rate of the WAVs (default: 22050, eSpeak's own rate)")


def add_prepare_kss_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kss_dir", metavar="KSS_DIR",
                        help="folder with transcript.v.1.*.txt and the audio folders 1/ to 4/")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="output folder for the 22,050 Hz WAVs, DIR/filelists/ (paths relative "
                             "to the filelist's folder) and DIR/skipped.txt")
    parser.add_argument("--strict", action="store_true",
                        help="treat missing or unreadable audio and malformed transcript lines as "
                             "an error (exit 2) instead of skipping and reporting them")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help=f"worker processes (default: all {os.cpu_count()} cores)")


def add_init_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--nprocs", type=int, default=None,
                        help="processes on this machine (default: one per GPU, or 1 on CPU)")
    parser.add_argument("--master-port", type=int, default=None,
                        help="rendezvous port for --nprocs > 1 (default: a free one)")


def add_synthesize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("text", nargs="?", help="a sentence (or use --file)")
    parser.add_argument("--file", help="a UTF-8 file with one text per line; every line is checked "
                        "first, and if any is bad (unknown character, nothing left after cleaning) "
                        "nothing is written and each bad line is named")
    parser.add_argument("-m", "--model",
                        help="run name (./logs/NAME) or directory: newest good G_*.pth and config.json")
    parser.add_argument("--checkpoint", help="a checkpoint file (default: newest in -m)")
    parser.add_argument("-c", "--config", help="config file (default: the run's config.json)")
    parser.add_argument("--out", default="out/synth", help="output folder for the WAVs")
    parser.add_argument("--noise-scale", type=float, default=0.667,
                        help="standard deviations of prior noise, >= 0 (0: deterministic)")
    parser.add_argument("--length-scale", type=float, default=1.0,
                        help="duration multiplier, > 0 (>1 slower); long text is split at "
                        "sentence ends")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--backend", choices=("pytorch", "onnxruntime"), default="pytorch",
                        help="run the model in PyTorch (default) or export it and run the ONNX "
                        "graphs in onnxruntime (same noise for a seed; faster on CPU)")
    parser.add_argument("--onnx", metavar="DIR", default=None,
                        help="with --backend onnxruntime: a folder written by `export` (default: "
                        "export the loaded checkpoint to a temporary folder first)")


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--model", required=True,
                        help="run name (./logs/NAME) or directory: newest good G_*.pth and config.json")
    parser.add_argument("--checkpoint", help="a checkpoint file of that run (default: the newest)")
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="new or empty folder for encoder.onnx, decoder.onnx and export.json")


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


# command -> (one-line help, the function that adds its options)
COMMANDS = {
    "corpus": ("synthesize the embedded Korean corpus with eSpeak NG", add_corpus_arguments),
    "prepare-kss": ("resample, trim and split the KSS dataset into filelists",
                    add_prepare_kss_arguments),
    "init": ("data-dependent initialisation: write MODEL_DIR/ddi_G.pth", add_init_arguments),
    "train": ("train on one or more CPUs/GPUs (mp.spawn), or under torchrun", add_train_arguments),
    "synthesize": ("text (or a file of lines) to WAV with a trained model (Griffin-Lim)",
                   add_synthesize_arguments),
    "export": ("write a trained model's inference path as ONNX (encoder and decoder graphs)",
               add_export_arguments),
    "demo": ("corpus -> DDI -> training -> synthesis of held-out sentences, on CPU",
             add_demo_arguments),
}


def parser_for(command: str) -> argparse.ArgumentParser:
    """The parser of one command, as ``python -m glow_tts.<module>`` uses it."""
    help_text, add_arguments = COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"glow_tts {command}", description=help_text)
    add_arguments(parser)
    return parser


def parse(command: str, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse ``argv`` (default ``sys.argv[1:]``) for ``command``; unknown options are an error."""
    return parser_for(command).parse_args(argv)


def model_dir_of(name: str) -> str:
    """``-m NAME`` -> ``./logs/NAME``; a name with a path separator is used as given."""
    return name if os.sep in name else os.path.join("./logs", name)
