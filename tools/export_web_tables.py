"""Write the tables the in-browser JavaScript (web/frontend.mjs, web/griffin_lim.mjs) needs.

    python tools/export_web_tables.py --out build/web/frontend_tables.json
    python tools/export_web_tables.py --vocoder-config configs/tiny.json --vocoder-out build/web

The JavaScript port reimplements the cleaners' rules but never holds a table of its own:
symbols, number words, counters, unit and currency words, Latin letter names, the
compatibility-jamo map and the punctuation sets are read here from the Python modules, so
a change to one of them reaches the page at the next build. tests/test_web_frontend.py
runs this script and compares the JavaScript ids with Python's.

The vocoder's tables (``--vocoder-out DIR``) are ``DIR/vocoder.json`` (STFT sizes, WAV_PEAK,
Griffin-Lim's iteration count and momentum, all read from glow_tts.audio and
glow_tts.inference) and ``DIR/mel_pinv.f32``, the pseudo-inverse of the mel filterbank that
glow_tts.audio.griffin_lim uses, as little-endian float32 ``[n_fft/2+1, n_mel]`` (row-major).
tests/test_web_vocoder.py checks them and the JavaScript vocoder against Python.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os

import numpy as np

# By module path: the package glow_tts.text exports a list called `symbols`, which hides
# the submodule of that name from `from glow_tts.text import symbols`.
cleaners = importlib.import_module("glow_tts.text.cleaners")
numbers = importlib.import_module("glow_tts.text.numbers")
symbols = importlib.import_module("glow_tts.text.symbols")


def tables() -> dict:
    return {
        "symbols": list(symbols.symbols),
        "PAD": symbols.PAD,
        "numbers": {name: getattr(numbers, name) for name in (
            "SINO_DIGITS", "NATIVE_ONES", "NATIVE_ONES_BEFORE_COUNTER", "NATIVE_TENS",
            "GROUP_UNITS", "MAX_SINO_DIGITS", "NATIVE_COUNTERS", "SINO_LOOKALIKES",
            "UNIT_WORDS", "CURRENCY_WORDS")},
        "cleaners": {
            "LETTER_NAMES": cleaners.LETTER_NAMES,
            "SYMBOL_WORDS": cleaners.SYMBOL_WORDS,
            "COMPAT_TO_CONJOINING": cleaners.COMPAT_TO_CONJOINING,
            # the punctuation sets are private in cleaners.py: the one place they are written
            "QUOTES": cleaners._QUOTES,
            "AS_SPACE": cleaners._AS_SPACE,
            "AS_COMMA": cleaners._AS_COMMA,
        },
    }


MEL_PINV_FILE = "mel_pinv.f32"
VOCODER_JSON = "vocoder.json"


def _default(function, name):
    """The default value of ``function``'s parameter ``name``: the Python code's own number."""
    return inspect.signature(function).parameters[name].default


def vocoder_tables(hps_data) -> dict:
    """The vocoder's settings for a config's ``data`` section, plus ``"melPinv"``: the
    float32 array ``[n_fft/2+1, n_mel]`` griffin_lim multiplies ``exp(mel)`` by.

    The keys other than ``melPinv`` are what ``vocoder.json`` holds (JSON-ready numbers).
    Imports torch (through glow_tts.audio), so the text tables above do not need it.
    """
    from glow_tts import audio, inference

    if hps_data.win_length > hps_data.filter_length:
        raise ValueError(f"win_length ({hps_data.win_length}) must not exceed filter_length "
                         f"({hps_data.filter_length}) in the config's data section")
    pinv = audio._mel_pseudo_inverse(hps_data.sampling_rate, hps_data.filter_length,
                                     hps_data.n_mel_channels, hps_data.mel_fmin, hps_data.mel_fmax)
    return {
        "sampleRate": int(hps_data.sampling_rate),
        "nFft": int(hps_data.filter_length),
        "hop": int(hps_data.hop_length),
        "win": int(hps_data.win_length),
        "nMel": int(hps_data.n_mel_channels),
        "melFmin": float(hps_data.mel_fmin),
        "melFmax": None if hps_data.mel_fmax is None else float(hps_data.mel_fmax),
        "wavPeak": float(inference.WAV_PEAK),
        # mel_to_wav passes its n_iter to griffin_lim; momentum and power are griffin_lim's
        "nIter": int(_default(inference.mel_to_wav, "n_iter")),
        "momentum": float(_default(audio.griffin_lim, "momentum")),
        "power": float(_default(audio.griffin_lim, "power")),
        "melPinvFile": MEL_PINV_FILE,
        "melPinvShape": list(pinv.shape),
        "melPinv": pinv.numpy().astype(np.float32),
    }


def write_vocoder_tables(hps_data, out_dir: str) -> None:
    """Write ``out_dir/vocoder.json`` and ``out_dir/mel_pinv.f32``."""
    tables = vocoder_tables(hps_data)
    pinv = tables.pop("melPinv")
    os.makedirs(out_dir, exist_ok=True)
    pinv.astype("<f4").tofile(os.path.join(out_dir, MEL_PINV_FILE))
    with open(os.path.join(out_dir, VOCODER_JSON), "w", encoding="utf-8") as f:
        json.dump(tables, f, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", help="the text frontend's JSON file to write")
    parser.add_argument("--vocoder-config", help="the config (e.g. configs/tiny.json) whose data "
                        "section sets the vocoder's STFT and mel settings")
    parser.add_argument("--vocoder-out", help="the folder to write vocoder.json and mel_pinv.f32 to")
    args = parser.parse_args(argv)
    if args.out is None and args.vocoder_out is None:
        parser.error("nothing to write: give --out and/or --vocoder-out")
    if (args.vocoder_config is None) != (args.vocoder_out is None):
        parser.error("--vocoder-config and --vocoder-out go together")
    if args.out is not None:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(tables(), f, ensure_ascii=False, indent=1)
    if args.vocoder_out is not None:
        from glow_tts.hparams import get_hparams_from_file

        if not os.path.isfile(args.vocoder_config):
            parser.error(f"--vocoder-config {args.vocoder_config}: no such file")
        write_vocoder_tables(get_hparams_from_file(args.vocoder_config).data, args.vocoder_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
