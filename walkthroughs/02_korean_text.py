# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Korean text to token ids: cleaners, jamo, symbols and the blank
#
# *Reviews:* `data_utils.py`, `TextMelLoader.get_text` — `text_to_sequence(text,
# self.text_cleaners)` and, with `add_blank`, `commons.intersperse(text_norm,
# len(symbols))` — and `text/__init__.py`, `text_to_sequence`; `text/symbols.py`. The
# original was written for English (`english_cleaners`, ARPAbet from CMUdict); ours is
# `glow_tts/text/` for Korean.
#
# The notes' flowchart (§3.2) stops at "`TextMelLoader` inherits `Dataset`". This
# walkthrough opens the text half of `__getitem__`. You will learn:
#
# * what the model's alphabet is: 73 symbols, Korean written as *conjoining jamo*;
# * what `korean_cleaners` does to a transcript, step by step (numbers, Latin letters,
#   punctuation, decomposition);
# * how ids come out of `text_to_sequence`, and what happens to a character the alphabet
#   cannot spell;
# * what `add_blank` does to the sequence and to the vocabulary size.
#
# covers: T31

# %%
import tempfile
import unicodedata

import glow_tts.fonts.register  # noqa: F401  (a Hangul font: the figure draws jamo)
import matplotlib.pyplot as plt
import torch

import figures  # plotting helpers of the walkthroughs (walkthroughs/figures.py)
from glow_tts.commons import intersperse
from glow_tts.corpus.build import build_corpus
from glow_tts.data_utils import TextMelLoader
from glow_tts.hparams import HParams, get_hparams_from_file
from glow_tts.text import (BLANK_ID, UnknownSymbolError, korean_cleaners,
                           normalize_korean, sequence_to_text, text_to_sequence)
from glow_tts.text.symbols import symbols

# %% [markdown]
# ## The alphabet
#
# A Hangul syllable block such as 한 (*han*) is written from two or three letters, *jamo*:
# a leading consonant ᄒ, a vowel ᅡ and a final consonant ᆫ. Unicode has a code point for
# each of the 11,172 syllables *and* separate "conjoining" code points for the letters:
# 19 leading consonants (U+1100–U+1112), 21 vowels (U+1161–U+1175) and 27 final
# consonants (U+11A8–U+11C2). Spelling with letters instead of syllables keeps the
# alphabet small (67 jamo instead of thousands of syllables) and lets the model share what
# it learns about a letter across every syllable that contains it.
#
# The list also holds the pad `_` at id 0, the space and four punctuation marks.

# %%
print(len(symbols), symbols[:8], symbols[-3:])
assert len(symbols) == 73
assert symbols[0] == "_" and symbols[1] == " " and symbols[2:6] == [".", ",", "?", "!"]
assert symbols[6:] == [chr(c) for c in range(0x1100, 0x1113)] + \
    [chr(c) for c in range(0x1161, 0x1176)] + [chr(c) for c in range(0x11A8, 0x11C3)]

# %% [markdown]
# The same consonant has two ids: ㄱ as a leading letter (ᄀ, U+1100, *choseong* 초성)
# and as a final letter (ᆨ, U+11A8, *jongseong* 종성) are different symbols. The reason
# is Unicode's: conjoining jamo encode a letter's *position* in the syllable by the code
# point, with a separate range for initials and one for finals, so that a run of jamo
# composes back into syllables without ambiguity. NFC turns ᄀ ᅡ ᆨ into 각, but ᄀ ᅡ ᄀ
# into 가 followed by a lone initial ᄀ (the start of a next syllable).
#
# For a speech model the split is also welcome, because the two positions sound
# different. Word-initially ㄱ is a voiceless lenis stop, a *k* with a light puff of air
# (it is voiced, *g*, only between voiced sounds, as in 아기); as a final it is an
# unreleased *k̚*. And finals are neutralised (음절의 끝소리 규칙, coda
# neutralisation): only seven final sounds exist, so the final letters ᆨ, ᆩ and ᆿ
# (각, 밖, 부엌) are all pronounced *k̚*, and ᆺ, ᆽ, ᆾ (낫, 낮, 낯) all *t̚*. The
# cleaners keep the spelling (three different ids for one final sound); the model learns
# from the audio that they sound alike.

# %%
gak = text_to_sequence("각", ["korean_cleaners"])
print(gak, [hex(ord(symbols[i])) for i in gak],
      unicodedata.name(symbols[gak[0]]), "/", unicodedata.name(symbols[gak[2]]))
finals = [symbols[text_to_sequence(word, ["korean_cleaners"])[-1]]
          for word in ("낫", "낮", "낯")]

# %%
assert [symbols[i] for i in gak] == ["\u1100", "\u1161", "\u11a8"] and gak[0] != gak[2]
assert unicodedata.name(symbols[gak[0]]) == "HANGUL CHOSEONG KIYEOK"
assert unicodedata.name(symbols[gak[2]]) == "HANGUL JONGSEONG KIYEOK"
assert unicodedata.normalize("NFC", "\u1100\u1161\u11a8") == "각"
# position matters
assert unicodedata.normalize("NFC", "\u1100\u1161\u1100") == "가\u1100"
assert finals == ["\u11ba", "\u11bd", "\u11be"]          # one sound, three symbols kept

# %% [markdown]
# ## The cleaners, one step at a time
#
# A transcript is written for people. `korean_cleaners` rewrites it into exactly what the
# alphabet can spell. `normalize_korean` runs every step but the last, so we can read the
# result as syllables:
#
# * numbers become words, Sino-Korean or native Korean depending on the word that follows
#   (3개 → 세개 *three things*, but 3월 → 삼월 *March*; 6월 and 10월 have the irregular
#   forms 유월, 시월);
# * Latin letters are spelled by their Korean names (TTS → 티티에스);
# * punctuation is reduced to `. , ? !`, quotes dropped, brackets and tildes turned into
#   spaces, whitespace collapsed.

# %%
examples = ["사과 3개를 샀어요.", "3월 6일", "6월과 10월", "TTS 모델!!", "“좋은” 날~  정말…"]
for text in examples:
    print(f"{text!r:24} -> {normalize_korean(text)!r}")

# %%
assert normalize_korean("사과 3개를 샀어요.") == "사과 세개를 샀어요."
assert normalize_korean("3월 6일") == "삼월 육일"
assert normalize_korean("6월과 10월") == "유월과 시월"
assert normalize_korean("TTS 모델!!") == "티티에스 모델!"
assert normalize_korean("“좋은” 날~  정말…") == "좋은 날 정말."

# %% [markdown]
# The last step splits every syllable into its jamo. Unicode defines that split (the
# canonical decomposition, NFD), so for text that is already clean the cleaner's output is
# exactly `unicodedata.normalize("NFD", ...)` from the standard library, and NFC puts the
# syllables back together.

# %%
sentence = "오늘 날씨가 좋네요."
cleaned = korean_cleaners(sentence)
print(len(sentence), "characters ->", len(cleaned), "jamo, spaces and marks")
assert cleaned == unicodedata.normalize("NFD", sentence)
assert unicodedata.normalize("NFC", cleaned) == sentence
assert all(ch in symbols for ch in cleaned)

# %% [markdown]
# ## Ids, and back
#
# `text_to_sequence` runs the cleaners named in the config (`data.text_cleaners`) and
# maps each character to its index in `symbols`. Ids start at 1: 0 is the pad, which
# never comes out of a transcript. `sequence_to_text` maps back to the cleaned text.

# %%
ids = text_to_sequence(sentence, ["korean_cleaners"])
print(ids)
assert ids == [symbols.index(ch) for ch in cleaned]
assert min(ids) >= 1 and max(ids) < len(symbols)
assert sequence_to_text(ids) == cleaned

# %% [markdown]
# A character that is still outside the alphabet after cleaning (here Chinese characters,
# which Korean text sometimes contains) is an error that says which character, where, and
# in which input. The original (`text/__init__.py`, `_symbols_to_sequence` with
# `_should_keep_symbol`) silently skipped every character it had no id for, so the model
# was trained on audio that says more than its text, and nobody was told.

# %%
try:
    text_to_sequence("한자 漢字 읽기", ["korean_cleaners"])
    raise RuntimeError("expected an error")
except UnknownSymbolError as err:
    print(err)
    assert isinstance(err, ValueError)
    assert err.char == "漢" and "U+6F22" in str(err)

# %% [markdown]
# ## `add_blank`: a blank between every pair of symbols
#
# With `add_blank` on, `TextMelLoader.get_text` puts the extra id `len(symbols)` = 73
# before, between and after the symbols with `commons.intersperse`. A sequence of $n$ ids
# becomes $2n + 1$ long. The blank gives the alignment a token to spend on transitions
# between sounds; the original added it as its "improved version". Two consequences for
# the rest of the code: the embedding needs $73 + 1$ rows (`n_vocab`, walkthrough 01),
# and the mel must have at least $2n + 1$ frames, because the alignment gives every token
# at least one frame.

# %%
blanked = intersperse(ids, BLANK_ID)
assert BLANK_ID == len(symbols) == 73
assert len(blanked) == 2 * len(ids) + 1
assert blanked[0::2] == [BLANK_ID] * (len(ids) + 1) and blanked[1::2] == ids
assert sequence_to_text(blanked) == cleaned  # the blank spells nothing

# %% [markdown]
# ## Inside `TextMelLoader`
#
# The data set does exactly this for each filelist line. We build a few utterances of the
# project's embedded corpus (Korean sentences spoken by eSpeak NG) into a temporary folder,
# and load its training list twice, without and with `add_blank`. `get_text` returns an
# `IntTensor` (int32); the collate function later copies it into an int64 batch
# (walkthrough 05).

# %%
corpus = build_corpus(tempfile.mkdtemp(prefix="glow_tts_02_"), limit=12, progress=False)
hps = get_hparams_from_file("../configs/base.json")
with open(corpus.filelists["train"], encoding="utf-8") as filelist:
    path, text = filelist.readline().strip().split("|")
print(text)

plain = TextMelLoader(corpus.filelists["train"], hps.data)
with_blank_data = HParams(**{**hps.data.to_dict(), "add_blank": True})
with_blank = TextMelLoader(corpus.filelists["train"], with_blank_data)

# %%
x_plain = plain.get_text(text)            # [T_x]
x_blank = with_blank.get_text(text)       # [2 T_x + 1]
assert x_plain.dtype == torch.int32
assert x_plain.tolist() == text_to_sequence(text, hps.data.text_cleaners)
assert x_blank.tolist() == intersperse(x_plain.tolist(), len(symbols))
# and __getitem__ gives the same ids for the same line (the loader shuffles its lines)
index = [t for _, t in plain.audiopaths_and_text].index(text)
assert torch.equal(plain[index][0], x_plain)

# %% [markdown]
# ## The picture
#
# The first syllables of that sentence, as the model receives them: one box per token,
# the jamo on top and its id below; with `add_blank`, the grey blanks in between.

# %% tags=["plot"]
def draw_tokens(ax, token_ids, title):
    for pos, token in enumerate(token_ids):
        blank = token == BLANK_ID
        colour = "0.85" if blank else "#9ecae1"
        ax.add_patch(plt.Rectangle((pos, 0), 0.92, 1, color=colour))
        ax.text(pos + 0.46, 0.62, "·" if blank else symbols[token],
                ha="center", va="center", fontsize=13)
        ax.text(pos + 0.46, 0.22, str(token), ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(token_ids))
    ax.set_ylim(0, 1)
    ax.axis("off")
    ax.set_title(title, fontsize=10, loc="left", family=figures.BILINGUAL)


head = x_plain[:12].tolist()
spaced = intersperse(head, BLANK_ID)
fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(9, 2.6))
draw_tokens(ax0, head,
            f"“{sequence_to_text(head)}”: "
            f"{figures.both(f'{len(head)} tokens', f'토큰 {len(head)}개')} "
            "(add_blank=False)")

draw_tokens(ax1, spaced, f"add_blank=True: "
            f"{figures.both(f'{len(spaced)} tokens', f'토큰 {len(spaced)}개')}, "
            f"{figures.both('blank id', '빈 토큰 ID')} {BLANK_ID}")
plt.tight_layout()
plt.show()
