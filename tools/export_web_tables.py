"""Write the tables the JavaScript text frontend (web/frontend.mjs) needs, from glow_tts.text.

    python tools/export_web_tables.py --out build/web/frontend_tables.json

The JavaScript port reimplements the cleaners' rules but never holds a table of its own:
symbols, number words, counters, unit and currency words, Latin letter names, the
compatibility-jamo map and the punctuation sets are read here from the Python modules, so
a change to one of them reaches the page at the next build. tests/test_web_frontend.py
runs this script and compares the JavaScript ids with Python's.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="the JSON file to write")
    args = parser.parse_args(argv)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(tables(), f, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
