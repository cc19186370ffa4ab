"""Command line: ``python -m glow_tts <command> ...`` (also installed as ``glow-tts``).

Each command's options are defined in :mod:`glow_tts.args` (a leaf module, so ``--help``
stays instant and nothing imports this one); ``cmd_<name>(args)`` here runs it and returns
an exit status. Heavy imports (torch, eSpeak, soxr) happen inside ``cmd_*``.

Errors a user can fix (a bad path, a bad config, a bad filelist line, a checkpoint from
another config, problems found with ``--strict``) are
:class:`~glow_tts.errors.GlowTTSError`: every command prints one as one line
``error: <message>`` on stderr and exits with status 2, without a traceback. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys

from glow_tts.args import COMMANDS
from glow_tts.errors import GlowTTSError


def cmd_corpus(args: argparse.Namespace) -> int:
    from glow_tts.corpus import build_corpus

    summary = build_corpus(args.out, limit=args.limit, sampling_rate=args.sampling_rate, progress=True)
    print(summary)
    return 0


def cmd_prepare_kss(args: argparse.Namespace) -> int:
    from glow_tts.corpus import prepare_kss

    summary = prepare_kss(args.kss_dir, args.out, strict=args.strict, jobs=args.jobs, progress=True)
    print(summary.report())
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from glow_tts import init
    print(init.launch(args))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from glow_tts import train
    train.main(args)
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from glow_tts import inference
    return inference.run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from glow_tts import demo
    demo.launch(args)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from glow_tts import export
    return export.run(args)


RUN = {"corpus": cmd_corpus, "prepare-kss": cmd_prepare_kss, "init": cmd_init,
       "train": cmd_train, "synthesize": cmd_synthesize, "demo": cmd_demo,
       "export": cmd_export}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m glow_tts",
        description="Glow-TTS, annotated: data preparation, training and synthesis for Korean.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add_arguments) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        add_arguments(sub)
        sub.set_defaults(run=RUN[name])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (GlowTTSError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        if e.filename is None:
            raise
        # A file or folder the system refused (read-only disk, no permission, disk full):
        # the user's to fix, so one line naming it rather than a traceback.
        print(f"error: {e.filename}: {e.strerror} (check the path, its permissions and the "
              f"free space)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
