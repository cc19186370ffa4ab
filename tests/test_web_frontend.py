"""The JavaScript text frontend (web/frontend.mjs) under Node gives glow_tts.text's ids.

The tables come from tools/export_web_tables.py (as the site build will make them); the
inputs are every row of the cleaner table in tests/test_text.py plus a few hundred strings
generated from a fixed seed out of the pieces that decide how text is read (numbers before
counters and units, dates, clock and phone numbers, Latin letters, compatibility jamo,
punctuation runs, full-width and accented forms) and characters no reading covers
(emoji, Chinese characters, '=', and the pad '_' where basic_cleaners leaves it), whose errors must name the same character
at the same position.
"""

import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from test_text import CLEANER_CASES

from glow_tts import commons
from glow_tts.text import BLANK_ID, UnknownSymbolError, clean_text, text_to_sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE = shutil.which("node")

PIECES = [
    "3개", "21살", "20대", "1번째", "3번 출구", "6월", "10월", "2024-03-05", "2024. 3. 5.",
    "3:30", "12:00", "010-1234-5678", "1588-1234", "007", "₩1,000", "$5", "2.5kg", "-12.5",
    "3~5", "100명", "12345", "10000", "100000000", "123456789012345678901", "1만큼", "제1장",
    "3 개", "5개월", "2달러", "99마리", "TTS", "abc", "GPU", "%", "&", "+", "@", "℃", "°",
    "ㅋㅋ", "ㄳ", "ㆍ", "\u3164", "ㅥ", "…", "?!", "!!!", " ,", "—", "“", "”", "(", ")", "/",
    "~", "-", "\u200b", "\ufeff", "１２", "Ｋ", "é", "Ǆ", "\u2212", "\u00a0", "\u3000", "\n",
    "안녕하세요", "사과", "날씨가", "좋네요", " ", " ", ".", ",", "?", "!", "한", "국어",
]
UNSUPPORTED = ["😀", "漢", "=", "_", "ж", "^", "\U0001F1F0"]


def generated(n: int = 300, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        parts = [rng.choice(PIECES) for _ in range(rng.randint(1, 8))]
        if i % 10 == 0:
            parts.insert(rng.randint(0, len(parts)), rng.choice(UNSUPPORTED))
        if i % 7 == 0:
            parts.insert(rng.randint(0, len(parts)), chr(rng.randint(0xAC00, 0xD7A3)))
        texts.append("".join(parts))
    return texts


def python_result(text: str, cleaners: list[str], add_blank: bool) -> dict:
    try:
        ids = text_to_sequence(text, cleaners)
    except UnknownSymbolError as error:
        return {"error": {"char": error.char, "position": error.position}}
    return {"cleaned": clean_text(text, cleaners),
            "ids": commons.intersperse(ids, BLANK_ID) if add_blank else ids}


def test_javascript_frontend_gives_pythons_ids_and_errors(tmp_path):
    if NODE is None:
        # CI sets GLOW_TTS_REQUIRE_NODE=1 (and installs nodejs): there a skip is a failure.
        if os.environ.get("GLOW_TTS_REQUIRE_NODE") == "1":
            pytest.fail("GLOW_TTS_REQUIRE_NODE=1 but node is not installed")
        pytest.skip("node is not installed")
    tables = tmp_path / "frontend_tables.json"
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "export_web_tables.py"),
                    "--out", str(tables)], check=True)
    inputs = [{"text": text, "cleaners": ["korean_cleaners"], "add_blank": False}
              for text, _ in CLEANER_CASES]
    inputs += [{"text": text, "cleaners": ["korean_cleaners"], "add_blank": i % 3 == 0}
               for i, text in enumerate(generated())]
    inputs += [{"text": text, "cleaners": ["basic_cleaners"], "add_blank": False}
               for text in ["한 국", "  아\n야  ", "ABC", "한국", "\u1100\u1161_\u1100"]]
    (tmp_path / "inputs.json").write_text(json.dumps(inputs, ensure_ascii=False), encoding="utf-8")
    run = subprocess.run([NODE, os.path.join(REPO, "web", "run_frontend.mjs"), str(tables),
                          str(tmp_path / "inputs.json")], capture_output=True, text=True,
                         encoding="utf-8", check=True, timeout=120)
    results = json.loads(run.stdout)
    assert len(results) == len(inputs)
    expected = [python_result(i["text"], i["cleaners"], i["add_blank"]) for i in inputs]
    mismatches = [(i["text"], want, got) for i, want, got in zip(inputs, expected, results)
                  if want != got]
    assert mismatches == [], f"{len(mismatches)} of {len(inputs)} differ; first: {mismatches[:3]}"
    # the inputs do reach both branches, and errors of every unsupported kind
    errors = {r["error"]["char"] for r in expected if "error" in r}
    assert {"😀", "漢", "=", "^", "_", "\U0001F1F0"} <= errors
    assert sum("ids" in r for r in expected) > 250
