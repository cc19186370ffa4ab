"""Cleaners: text in, text out, run on every transcript at training and synthesis time.

``korean_cleaners`` turns written Korean into exactly what the model's alphabet
(``symbols.py``) can spell: conjoining jamo, space and ``. , ? !``. The steps, in order:

1. **Unicode normalisation.** NFKC folds look-alike forms (full-width ``３`` → ``3``,
   ``㎏`` → ``kg``, ``℃`` → ``°C``, ``…`` → ``...``) and composes Hangul, so a syllable typed
   as separate conjoining jamo becomes one syllable. Compatibility jamo (see step 4) are
   kept out of NFKC, because NFKC would turn cluster consonants such as ``ㄳ`` into *final*
   consonants that then glue onto the syllable before them. Invisible format characters
   (zero-width space, byte-order mark, soft hyphen) are dropped, and accented Latin letters
   lose their accents (``é`` → ``e``).
2. **Numbers** in Korean words (``numbers.py``: Sino-Korean or native Korean by the word
   that follows, phone numbers digit by digit, decimals, negatives, units, money).
3. **Latin letters** spelled with their Korean letter names, case-insensitive
   (``TTS`` → ``티티에스`` ti-ti-e-seu), and a few symbols said as words
   (``%`` 퍼센트 peosenteu, ``&`` 앤드 aendeu, ``+`` 플러스 peulleoseu, ``@`` 앳 aet,
   currency signs).
4. **Compatibility jamo** (U+3131-U+318E, the letters a Korean keyboard types on their own,
   as in ``ㅋㅋ`` "kk", a laugh) become conjoining jamo: a consonant becomes a *leading*
   consonant (``ㅋ`` → U+110F), a vowel the vowel jamo (``ㅏ`` → U+1161). Cluster consonants
   that exist only as finals become two leading consonants (``ㄳ`` → ``ᄀᄉ``); archaic
   letters become their nearest modern letters; ``ㆍ`` (typed as a middle dot) is a space.
5. **Punctuation** reduced to ``. , ? !``: ``;`` ``:`` and dashes → ``,``; ``...`` → ``.``;
   runs such as ``?!`` or ``!!!`` → one mark (``?`` beats ``!`` beats ``.`` beats ``,``);
   quotes are dropped; brackets, ``~``, ``-``, ``/``, ``·``, ``_``, ``*``, ``#`` and similar
   separators become spaces (so fractions such as 1/2 are not read as fractions). A space
   before a mark is removed. ``=`` and other symbols with no reading are left for the
   unknown-symbol error.
6. **Whitespace** collapsed to single spaces and stripped.
7. **Hangul syllables decomposed** into conjoining jamo, computed arithmetically from the
   Unicode layout (the same result as ``jamo.h2j``): 한 → ᄒ ᅡ ᆫ.

Anything else (Chinese characters, emoji, Cyrillic, ...) is left in place, and
``text_to_sequence`` reports it with its position; we never delete speech silently.

``basic_cleaners`` only lowercases and collapses whitespace, for text that is already
decomposed (e.g. the "decomposed" column of KSS).
"""

from __future__ import annotations

import re
import unicodedata

from .numbers import normalize_numbers

_whitespace_re = re.compile(r"\s+")


def collapse_whitespace(text: str) -> str:
    return _whitespace_re.sub(" ", text).strip()


def lowercase(text: str) -> str:
    return text.lower()


# --- 1. Unicode normalisation --------------------------------------------------------------

_COMPAT_JAMO = "\u3131-\u318e"
_not_compat_jamo_re = re.compile(f"[^{_COMPAT_JAMO}]+")
_LATIN_WITH_MARKS = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
# Hyphen-like code points that mean "-" (U+2010 hyphen, U+2011 non-breaking hyphen,
# U+2212 minus sign); NFKC leaves them alone.
_HYPHENS = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2212": "-"})


def _strip_accents(match: re.Match) -> str:
    decomposed = unicodedata.normalize("NFKD", match.group(0))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def normalize_unicode(text: str) -> str:
    """NFKC everywhere except on compatibility jamo; drop format characters; unaccent Latin."""
    text = _not_compat_jamo_re.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _LATIN_WITH_MARKS.sub(_strip_accents, text)
    return text.translate(_HYPHENS)


# --- 3. Latin letters and symbols said as words --------------------------------------------

LETTER_NAMES = {
    "a": "에이", "b": "비", "c": "씨", "d": "디", "e": "이", "f": "에프", "g": "지",
    "h": "에이치", "i": "아이", "j": "제이", "k": "케이", "l": "엘", "m": "엠", "n": "엔",
    "o": "오", "p": "피", "q": "큐", "r": "알", "s": "에스", "t": "티", "u": "유",
    "v": "브이", "w": "더블유", "x": "엑스", "y": "와이", "z": "제트",
}
SYMBOL_WORDS = {
    "%": "퍼센트", "&": "앤드", "+": "플러스", "@": "앳", "°": "도",
    "₩": "원", "$": "달러", "€": "유로", "¥": "엔", "£": "파운드",
}
_latin_re = re.compile("[A-Za-z]+")
_symbol_word_re = re.compile("[" + re.escape("".join(SYMBOL_WORDS)) + "]")


def spell_latin(text: str) -> str:
    """'TTS' -> '티티에스': every ASCII letter by its Korean letter name, glued together."""
    text = _latin_re.sub(lambda m: "".join(LETTER_NAMES[c] for c in m.group(0).lower()), text)
    return _symbol_word_re.sub(lambda m: SYMBOL_WORDS[m.group(0)], text)


# --- 4. Compatibility jamo -> conjoining jamo ---------------------------------------------

def _leading(letters: str) -> str:
    """Modern compatibility consonants -> leading (choseong) conjoining consonants."""
    order = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"  # the choseong order U+1100..U+1112
    return "".join(chr(0x1100 + order.index(ch)) for ch in letters)


# Each compatibility jamo and what it becomes. Modern vowels map one to one onto
# U+1161..U+1175 (same order); consonants become leading consonants; clusters and archaic
# letters are written with the modern letters they are made of (or sound closest to).
COMPAT_TO_CONJOINING: dict[str, str] = {}
for _compat, _parts in zip(
    "ㄱㄲㄳㄴㄵㄶㄷㄸㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅃㅄㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ",
    ["ㄱ", "ㄲ", "ㄱㅅ", "ㄴ", "ㄴㅈ", "ㄴㅎ", "ㄷ", "ㄸ", "ㄹ", "ㄹㄱ", "ㄹㅁ", "ㄹㅂ",
     "ㄹㅅ", "ㄹㅌ", "ㄹㅍ", "ㄹㅎ", "ㅁ", "ㅂ", "ㅃ", "ㅂㅅ", "ㅅ", "ㅆ", "ㅇ", "ㅈ", "ㅉ",
     "ㅊ", "ㅋ", "ㅌ", "ㅍ", "ㅎ"],
):
    COMPAT_TO_CONJOINING[_compat] = _leading(_parts)
for _offset in range(21):  # ㅏ U+314F .. ㅣ U+3163 -> U+1161 .. U+1175
    COMPAT_TO_CONJOINING[chr(0x314F + _offset)] = chr(0x1161 + _offset)
# Archaic letters U+3165..U+318E (ssangnieun, pansios, yesieung, yeorinhieuh, arae-a, ...).
for _compat, _parts in zip(
    "ㅥㅦㅧㅨㅩㅪㅫㅬㅭㅮㅯㅰㅱㅲㅳㅴㅵㅶㅷㅸㅹㅺㅻㅼㅽㅾㅿㆀㆁㆂㆃㆄㆅㆆ",
    ["ㄴㄴ", "ㄴㄷ", "ㄴㅅ", "ㄴㅅ", "ㄹㄱㅅ", "ㄹㄷ", "ㄹㅂㅅ", "ㄹㅅ", "ㄹㅎ", "ㅁㅂ", "ㅁㅅ",
     "ㅁㅅ", "ㅁ", "ㅂㄱ", "ㅂㄷ", "ㅂㅅㄱ", "ㅂㅅㄷ", "ㅂㅈ", "ㅂㅌ", "ㅂ", "ㅃ", "ㅅㄱ",
     "ㅅㄴ", "ㅅㄷ", "ㅅㅂ", "ㅅㅈ", "ㅅ", "ㅇ", "ㅇ", "ㅇㅅ", "ㅇㅅ", "ㅍ", "ㅎ", "ㅎ"],
):
    COMPAT_TO_CONJOINING[_compat] = _leading(_parts)
# yo-ya, yo-yae, yo-i, yu-yeo, yu-ye, yu-i: two modern vowels; arae-ae: ae.
for _compat, _vowels in zip("ㆇㆈㆉㆊㆋㆌㆎ", ["ㅛㅑ", "ㅛㅒ", "ㅛㅣ", "ㅠㅕ", "ㅠㅖ", "ㅠㅣ", "ㅐ"]):
    COMPAT_TO_CONJOINING[_compat] = "".join(COMPAT_TO_CONJOINING[v] for v in _vowels)
COMPAT_TO_CONJOINING["\u3164"] = ""   # Hangul filler: invisible, nothing to say
COMPAT_TO_CONJOINING["ㆍ"] = " "       # arae-a, typed in modern text as a middle dot
assert len(COMPAT_TO_CONJOINING) == 0x318E - 0x3131 + 1

_compat_jamo_re = re.compile(f"[{_COMPAT_JAMO}]")
# The jamo fillers U+115F/U+1160 (from NFKC of half-width forms) are invisible too.
_jamo_fillers_re = re.compile("[\u115f\u1160]")


def compat_jamo_to_conjoining(text: str) -> str:
    """'ㅋㅋ' -> 'ᄏᄏ' (two leading consonants U+110F)."""
    text = _compat_jamo_re.sub(lambda m: COMPAT_TO_CONJOINING[m.group(0)], text)
    return _jamo_fillers_re.sub("", text)


# --- 5. Punctuation ------------------------------------------------------------------------

_QUOTES = "\"'`“”‘’‚„‟‹›«»「」『』〝〞〟"
_AS_SPACE = "()[]{}<>〈〉《》【】〔〕〖〗〘〙〚〛~〜∼-/⁄\\|_*#·•‧・※"
_AS_COMMA = ";:—–―‒"
_PUNCTUATION_MAP = str.maketrans(
    {**{c: None for c in _QUOTES}, **{c: " " for c in _AS_SPACE}, **{c: "," for c in _AS_COMMA}}
)
_space_before_mark_re = re.compile(r"(?<!\s)\s+(?=[.,?!])")  # lookbehind: linear time
_mark_run_re = re.compile(r"[.,?!](?:\s*[.,?!])+")


def _strongest_mark(match: re.Match) -> str:
    run = match.group(0)
    return next(mark for mark in "?!.," if mark in run)


def normalize_punctuation(text: str) -> str:
    """Reduce punctuation to ``. , ? !`` (see the module docstring for the mapping)."""
    text = text.translate(_PUNCTUATION_MAP)
    text = _space_before_mark_re.sub("", text)
    return _mark_run_re.sub(_strongest_mark, text)


# --- 7. Hangul syllables -> conjoining jamo ------------------------------------------------

_SYLLABLE_BASE, _SYLLABLE_LAST = 0xAC00, 0xD7A3
_N_VOWELS, _N_FINALS = 21, 28  # finals include "no final"
_syllable_re = re.compile("[\uac00-\ud7a3]")


def _split_syllable(match: re.Match) -> str:
    # Syllables are laid out as leading*588 + vowel*28 + final, from U+AC00 (가).
    index = ord(match.group(0)) - _SYLLABLE_BASE
    leading, rest = divmod(index, _N_VOWELS * _N_FINALS)
    vowel, final = divmod(rest, _N_FINALS)
    jamo = chr(0x1100 + leading) + chr(0x1161 + vowel)
    return jamo + (chr(0x11A7 + final) if final else "")


def decompose_hangul(text: str) -> str:
    """Each syllable -> leading consonant, vowel and optional final conjoining jamo.

    '한' (han, U+D55C) -> U+1112 U+1161 U+11AB (h, a, final n); characters that are not
    precomposed syllables are returned unchanged.
    """
    return _syllable_re.sub(_split_syllable, text)


# --- the cleaners --------------------------------------------------------------------------

def normalize_korean(text: str) -> str:
    """Steps 1-6 of ``korean_cleaners``: readable Hangul syllables, before decomposition.

    >>> normalize_korean("2024년 3월 5일, 사과 3개는 ₩1,000!")
    '이천이십사년 삼월 오일, 사과 세개는 천원!'
    """
    text = normalize_unicode(text)
    text = normalize_numbers(text)
    text = spell_latin(text)
    text = compat_jamo_to_conjoining(text)
    text = normalize_punctuation(text)
    return collapse_whitespace(text)


def korean_cleaners(text: str) -> str:
    """Written Korean -> conjoining jamo, space and ``. , ? !`` (steps 1-7 above)."""
    return decompose_hangul(normalize_korean(text))


def basic_cleaners(text: str) -> str:
    """Lowercase and collapse whitespace; nothing else (for already-decomposed text)."""
    return collapse_whitespace(lowercase(text))


CLEANERS = {
    "korean_cleaners": korean_cleaners,
    "basic_cleaners": basic_cleaners,
}


def get_cleaner(name: str):
    """The cleaner function called ``name``; a ValueError listing the known names if none."""
    try:
        return CLEANERS[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(CLEANERS))
        raise ValueError(
            f"unknown text cleaner {name!r}; known cleaners: {known}. "
            "Check data.text_cleaners in your config."
        ) from None
