"""Text frontend: a transcript string in, a list of symbol ids out (plain Python, no torch).

    text_to_sequence("사과 3개", ["korean_cleaners"])
      -> cleaners:  "사과 3개" -> "사과 세개" (sa-gwa se-gae, "three apples") -> conjoining jamo
      -> ids:       one id per jamo, space or mark, indexes into ``symbols.symbols``

With ``add_blank`` the data loader interleaves the blank id ``len(symbols)`` with
``glow_tts.commons.intersperse``; ``sequence_to_text`` skips it.
"""

from __future__ import annotations

import unicodedata

from .cleaners import CLEANERS, basic_cleaners, get_cleaner, korean_cleaners, normalize_korean
from .symbols import PAD, symbols
from glow_tts.errors import GlowTTSError

__all__ = [
    "symbols", "BLANK_ID", "UnknownSymbolError", "text_to_sequence", "cleaned_to_sequence",
    "sequence_to_text", "clean_text", "korean_cleaners", "basic_cleaners",
    "normalize_korean", "CLEANERS",
]

# Mappings from symbol to numeric id and back. The pad "_" has id 0 but is not a letter of
# any transcript: a "_" left in cleaned text is reported as unknown instead of silently
# becoming padding.
_symbol_to_id = {s: i for i, s in enumerate(symbols) if s != PAD}
_id_to_symbol = {i: s for i, s in enumerate(symbols)}
BLANK_ID = len(symbols)  # the extra id that add_blank puts between symbols


class UnknownSymbolError(GlowTTSError, ValueError):
    """Cleaned text holds a character that is not in ``symbols``.

    Attributes: ``char``, ``position`` (index in ``cleaned``), ``cleaned`` (the text after
    the cleaners) and ``text`` (the original input).
    """

    def __init__(self, char: str, position: int, cleaned: str, text: str):
        self.char, self.position, self.cleaned, self.text = char, position, cleaned, text
        name = unicodedata.name(char, "unnamed character")
        context = cleaned[max(0, position - 10):position + 11]
        super().__init__(
            f"character {char!r} (U+{ord(char):04X} {name}) at position {position} of the "
            f"cleaned text (counted in jamo) has no symbol id. Cleaned text around it: {context!r}; "
            f"original input: {text!r}. Rewrite that part of the transcript, or teach "
            "glow_tts/text/cleaners.py to read it."
        )


def clean_text(text: str, cleaner_names) -> str:
    """Run ``text`` through the named cleaners, in order. A single name may be a str."""
    if isinstance(cleaner_names, str):
        cleaner_names = [cleaner_names]
    for name in cleaner_names:
        text = get_cleaner(name)(text)
    return text


# The original keeps this private helper's name; both spellings work.
_clean_text = clean_text


def cleaned_to_sequence(cleaned: str, original: str | None = None) -> list[int]:
    """Already-cleaned text -> ids; raises ``UnknownSymbolError`` on the first unknown char."""
    ids = []
    for position, char in enumerate(cleaned):
        symbol_id = _symbol_to_id.get(char)
        if symbol_id is None:
            raise UnknownSymbolError(char, position, cleaned, cleaned if original is None else original)
        ids.append(symbol_id)
    return ids


def text_to_sequence(text: str, cleaner_names) -> list[int]:
    """Transcript -> list of symbol ids, each in ``[1, len(symbols))``.

    ``cleaner_names`` is a list such as ``["korean_cleaners"]`` (``hps.data.text_cleaners``).
    Raises ``UnknownSymbolError`` (a ``ValueError``) naming the first character that has no
    symbol after cleaning, its code point, its position in the cleaned text and the input;
    an unknown cleaner name is a ``ValueError`` listing the known cleaners.
    """
    return cleaned_to_sequence(clean_text(text, cleaner_names), original=text)


def sequence_to_text(sequence) -> str:
    """Ids -> the cleaned text they spell (conjoining jamo; pad 0 and blank ids skipped).

    ``sequence`` may be a list of ints or anything iterable of ints (a 1-D tensor works).
    An id outside ``[0, len(symbols)]`` is a ``ValueError``.
    """
    chars = []
    for symbol_id in sequence:
        symbol_id = int(symbol_id)
        if symbol_id == BLANK_ID or symbol_id == 0:
            continue
        if symbol_id not in _id_to_symbol:
            raise ValueError(
                f"symbol id {symbol_id} is out of range: ids run from 0 to {BLANK_ID} "
                f"({len(symbols)} symbols plus the add_blank id {BLANK_ID})"
            )
        chars.append(_id_to_symbol[symbol_id])
    return "".join(chars)
