"""The model's alphabet: one id per symbol, for Korean written as conjoining jamo.

A Hangul syllable such as 한 is split into its leading consonant (choseong, U+1100-U+1112),
vowel (jungseong, U+1161-U+1175) and optional final consonant (jongseong, U+11A8-U+11C2).
The same consonant gets different ids as a leading and as a final letter (ᄀ vs ᆨ), which
lets the model tell a syllable's onset from its coda.
"""

PAD = "_"  # id 0: the value TextMelCollate pads text with
SPACE = " "
PUNCTUATION = ".,?!"

LEADING = [chr(c) for c in range(0x1100, 0x1113)]    # 19 choseong
VOWELS = [chr(c) for c in range(0x1161, 0x1176)]     # 21 jungseong
TRAILING = [chr(c) for c in range(0x11A8, 0x11C3)]   # 27 jongseong
JAMO = LEADING + VOWELS + TRAILING                     # 67

symbols: list[str] = [PAD, SPACE] + list(PUNCTUATION) + JAMO

assert len(set(symbols)) == len(symbols) == 73
