"""Digits to Korean words, so the model only ever sees letters it can pronounce.

Korean has two sets of number words, and which one a number takes depends on the word after
it (romanisation in brackets):

* **Sino-Korean** (borrowed from Chinese): 일 il 1, 이 i 2, 삼 sam 3, 사 sa 4, 오 o 5,
  육 yuk 6, 칠 chil 7, 팔 pal 8, 구 gu 9, 십 sip 10, 백 baek 100, 천 cheon 1000,
  만 man 10^4, 억 eok 10^8, 조 jo 10^12, 경 gyeong 10^16, 영 yeong 0. Big numbers group
  by four digits (10^4, 10^8, ...), not by three as in English: 12,345 is
  "만이천삼백사십오" (man-i-cheon-sam-baek-sa-sip-o, "1 man 2 thousand 3 hundred 4 ten 5").
  A leading "one" is not said before 십/백/천 (10 is 십 sip, not 일십 il-sip) nor before 만 at
  the start (10000 is 만 man); it is said before 억 and 조 (10^8 is 일억 il-eok).
  Sino-Korean is the default: years, months, days (2024년 3월 5일 → 이천이십사년 삼월 오일,
  i-cheon-i-sip-sa-nyeon sam-wol o-il), money (1000원 → 천원 cheon-won), minutes and
  seconds (3분 20초 → 삼분 이십초), measures (2.5kg → 이 점 오킬로그램), percentages.
* **Native Korean**: 하나 hana 1, 둘 dul 2, 셋 set 3, 넷 net 4, 다섯 daseot 5, 여섯 yeoseot 6,
  일곱 ilgop 7, 여덟 yeodeol 8, 아홉 ahop 9, 열 yeol 10, 스물 seumul 20, 서른 seoreun 30,
  마흔 maheun 40, 쉰 swin 50, 예순 yesun 60, 일흔 ilheun 70, 여든 yeodeun 80, 아흔 aheun 90.
  Used for counting things before a counter word (개 gae "items", 명 myeong "people",
  살 sal "years of age", 시 si "o'clock", 마리 mari "animals", ...). Before a counter
  1, 2, 3, 4 and 20 shorten: 한 han, 두 du, 세 se, 네 ne, 스무 seumu (3개 → 세개 se-gae,
  20살 → 스무살 seumu-sal, but 21살 → 스물한살 seumul-han-sal). Native numbers stop at 99:
  from 100 on we read Sino-Korean (100명 → 백명 baek-myeong).

Rules this module chooses, each a place where real Korean is ambiguous:

* Spacing is kept as written: 3개 → 세개, 3 개 → 세 개. Integers are one word without inner
  spaces (12345 → 만이천삼백사십오); decimals and negatives get spaces
  (3.14 → 삼 점 일사 sam jeom il-sa, -5 → 마이너스 오 maineoseu o).
* 번 beon: "N번" is read Sino-Korean, as a label (3번 출구 → 삼번 출구 "exit number 3",
  5번 버스 "bus 5"). "N번째" (N-th) is native (3번째 → 세번째), with 1번째 → 첫번째 cheot.
  So "3번 했다" (did it 3 times, natively 세 번) comes out wrong: a known limit.
* 대 dae: native ("3대" three cars → 세대) except multiples of ten, which are age decades
  (20대 "in their twenties" → 이십대 i-sip-dae).
* Months: Sino-Korean with the two irregular names 6월 → 유월 yu-wol (not 육월) and
  10월 → 시월 si-wol (not 십월).
* Dates written 2024-03-05, 2024/3/5, 2024.3.5 or 2024. 3. 5. are read as 2024년 3월 5일;
  clock times 3:30 as 3시 30분 → 세시 삼십분 (se-si sam-sip-bun), 12:00 as 열두시.
* After 제 je ("number ...", an ordinal prefix) numbers stay Sino-Korean (제1장 → 제일장).
* Phone-like numbers (010-1234-5678, 02-123-4567, 1588-1234) and digit strings with a
  leading zero (007) are read digit by digit, zero as 공 gong:
  010-1234-5678 → 공일공 일이삼사 오육칠팔.
* A hyphen between other numbers becomes a space (2019-2020 → 이천십구 이천이십); a tilde
  between numbers is a range, "에서" eseo "from ... to" (3~5 → 삼에서 오).
* Integers longer than 20 digits (past 경) are read digit by digit.
"""

from __future__ import annotations

import re

SINO_DIGITS = ["영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]
NATIVE_ONES = ["", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉"]
NATIVE_ONES_BEFORE_COUNTER = ["", "한", "두", "세", "네", "다섯", "여섯", "일곱", "여덟", "아홉"]
NATIVE_TENS = ["", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔"]
GROUP_UNITS = ["", "만", "억", "조", "경"]  # 10^0, 10^4, 10^8, 10^12, 10^16
MAX_SINO_DIGITS = 4 * len(GROUP_UNITS)    # 20 digits; longer strings are read digit by digit

# Counter words that take native numbers. The list is matched as a prefix of the following
# word, so particles after the counter stay (3개를 → 세개를). Longer words first.
NATIVE_COUNTERS = [
    "번째", "사람", "마리", "시간", "가지", "군데", "켤레", "그루", "송이", "그릇",
    "개", "명", "살", "시", "권", "잔", "장", "대", "병", "벌", "채", "곳", "달",
]
# Words that start like a native counter but take Sino-Korean numbers:
# 개월 gae-wol (months of time), 개국 (countries), 개년 (years), 개소 (sites), 달러 (dollar).
SINO_LOOKALIKES = {"개": "월국년소", "달": "러"}

UNIT_WORDS = {
    "km": "킬로미터", "cm": "센티미터", "mm": "밀리미터", "m": "미터",
    "kg": "킬로그램", "mg": "밀리그램", "g": "그램",
    "ml": "밀리리터", "l": "리터",
    "%": "퍼센트", "°c": "도", "℃": "도", "°": "도",
}
CURRENCY_WORDS = {"₩": "원", "$": "달러", "€": "유로", "¥": "엔", "£": "파운드"}

# A minus sign is a hyphen that is not glued to a letter, syllable or digit before it.
_MINUS = r"(?:(?<![0-9A-Za-z\uac00-\ud7a3])-)?"
_NUMBER = _MINUS + r"(?<![0-9.])[0-9]+(?:\.[0-9]+)?"

_thousands_re = re.compile(r"(?<![0-9,])[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])")
# 2024-03-05, 2024/3/5, 2024.3.5 and the formal 2024. 3. 5. (spaces only after a dot)
_iso_date_re = re.compile(
    r"(?<![0-9.\-])([0-9]{4})(?:-|/|\.\s?)([0-9]{1,2})(?:-|/|\.\s?)([0-9]{1,2})(?![0-9])"
)
_clock_re = re.compile(r"(?<![0-9:])([0-9]{1,2}):([0-9]{2})(?![0-9:])")
_phone_re = re.compile(
    r"(?<![0-9\-])(?:[0-9]{2,4}-[0-9]{3,4}-[0-9]{4}|(?:0[0-9]{1,3}|1[5-9][0-9]{2})-[0-9]{4})(?![0-9\-])"
)
_hyphen_between_digits_re = re.compile(r"(?<=[0-9])-(?=[0-9])")
_range_re = re.compile(r"(?<=[0-9])\s*~\s*(?=[0-9])")
_currency_re = re.compile(r"([₩$€¥£])\s*(" + _NUMBER + ")")
_unit_re = re.compile(
    r"(" + _NUMBER + r")(\s*)((?i:km|cm|mm|kg|mg|ml)|m|g|l|L|%|°[cC]|℃|°)(?![A-Za-z])"
)
_decimal_re = re.compile(r"(?<![0-9.])(" + _MINUS + r")([0-9]+)\.([0-9]+)(?![0-9])")
_negative_re = re.compile(r"(?<![0-9A-Za-z\uac00-\ud7a3])-([0-9]+)(?![0-9])")
_native_counter_re = re.compile(
    r"(?<![0-9.제])([0-9]+)(\s*)(" + "|".join(NATIVE_COUNTERS) + ")"
)
_month_re = re.compile(r"(?<![0-9.])([0-9]+)(\s*)월")
_leading_one_re = re.compile(r"(?<![0-9.])1(?=[십백천만])(?!만큼)")
_leading_zero_re = re.compile(r"(?<![0-9])0[0-9]+")
_integer_re = re.compile(r"[0-9]+")


def read_digits(digits: str, zero: str = "공") -> str:
    """'010' -> '공일공' (gong-il-gong): one syllable per digit, as phone numbers are read."""
    names = [zero] + SINO_DIGITS[1:]
    return "".join(names[int(d)] for d in digits)


def _sino_four_digits(n: int) -> str:
    """0 < n < 10000 -> Sino-Korean without a leading 일 before 십/백/천: 1111 -> 천백십일."""
    words = []
    for value, name in ((1000, "천"), (100, "백"), (10, "십")):
        digit, n = divmod(n, value)
        if digit:
            words.append(("" if digit == 1 else SINO_DIGITS[digit]) + name)
    if n:
        words.append(SINO_DIGITS[n])
    return "".join(words)


def sino_korean(number: int | str) -> str:
    """A non-negative integer in Sino-Korean words: 0 -> 영, 10 -> 십, 10000 -> 만,
    100000000 -> 일억, 2024 -> 이천이십사.

    Accepts a digit string of any length (leading zeros are ignored); beyond 20 digits
    (past 경 = 10^16 groups) the digits are read one by one, zero as 영.
    """
    digits = str(number).lstrip("0") or "0"
    if len(digits) > MAX_SINO_DIGITS:
        return read_digits(digits, zero="영")
    n = int(digits)
    if n == 0:
        return SINO_DIGITS[0]
    groups = []  # four-digit groups, least significant first
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    words = []
    for power in range(len(groups) - 1, -1, -1):
        group = groups[power]
        if not group:
            continue
        is_leading_man = power == 1 and group == 1 and power == len(groups) - 1
        words.append(("" if is_leading_man else _sino_four_digits(group)) + GROUP_UNITS[power])
    return "".join(words)


def native_korean(n: int, before_counter: bool = True) -> str:
    """1..99 in native Korean: 1 -> 한 (하나 when not before a counter), 20 -> 스무 (스물),
    21 -> 스물한 (스물하나), 99 -> 아흔아홉. Other values fall back to Sino-Korean."""
    if not 1 <= n <= 99:
        return sino_korean(n)
    tens, ones = divmod(n, 10)
    if before_counter:
        if ones == 0 and tens == 2:
            return "스무"
        return NATIVE_TENS[tens] + NATIVE_ONES_BEFORE_COUNTER[ones]
    return NATIVE_TENS[tens] + NATIVE_ONES[ones]


def read_number(text: str) -> str:
    """'-3.14' -> '마이너스 삼 점 일사': optional minus, Sino-Korean integer part, and the
    digits after the point read one by one (zero as 영)."""
    words = []
    if text.startswith("-"):
        words.append("마이너스")
        text = text[1:]
    integer, _, fraction = text.partition(".")
    words.append(sino_korean(integer))
    if fraction:
        words += ["점", read_digits(fraction, zero="영")]
    return " ".join(words)


def _read_phone(match: re.Match) -> str:
    return " ".join(read_digits(group) for group in match.group(0).split("-"))


def _read_iso_date(match: re.Match) -> str:
    year, month, day = (int(g) for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return match.group(0)  # not a date; the later rules read it as numbers
    return f"{year}년 {month}월 {day}일"


def _read_clock(match: re.Match) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 24 or minute > 59:
        return match.group(0)
    return f"{hour}시" + (f" {minute}분" if minute else "")


def _read_currency(match: re.Match) -> str:
    return read_number(match.group(2)) + CURRENCY_WORDS[match.group(1)]


def _read_unit(match: re.Match) -> str:
    number, space, unit = match.groups()
    return read_number(number) + space + UNIT_WORDS[unit.lower()]


def _read_decimal(match: re.Match) -> str:
    minus, integer, fraction = match.groups()
    return read_number(minus + integer + "." + fraction)


def _read_native_counter(match: re.Match) -> str:
    digits, space, counter = match.groups()
    following = match.string[match.end():match.end() + 1]
    n = int(digits) if len(digits) <= MAX_SINO_DIGITS else -1
    sino = (
        following and following in SINO_LOOKALIKES.get(counter, "")
        or (counter == "대" and n >= 10 and n % 10 == 0)  # 20대: an age decade
        or not 1 <= n <= 99
    )
    if sino:
        number = sino_korean(digits)
    elif counter == "번째" and n == 1:
        number = "첫"
    else:
        number = native_korean(n)
    return number + space + counter


def _read_month(match: re.Match) -> str:
    digits, space = match.groups()
    irregular = {"6": "유", "10": "시"}.get(digits.lstrip("0"))
    return (irregular or sino_korean(digits)) + space + "월"


def normalize_numbers(text: str) -> str:
    """Replace every run of ASCII digits in ``text`` with Korean words (rules above).

    The order matters: separators and structured forms first (1,000; dates; clock times;
    phone numbers), then numbers glued to a symbol (₩, $, km, %, ℃), decimals and
    negatives, native counters and months, and finally every remaining integer.
    """
    text = _thousands_re.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _iso_date_re.sub(_read_iso_date, text)
    text = _clock_re.sub(_read_clock, text)
    text = _phone_re.sub(_read_phone, text)
    text = _hyphen_between_digits_re.sub(" ", text)
    text = _range_re.sub("에서 ", text)
    text = _currency_re.sub(_read_currency, text)
    text = _unit_re.sub(_read_unit, text)
    text = _decimal_re.sub(_read_decimal, text)
    text = _negative_re.sub(lambda m: read_number("-" + m.group(1)), text)
    text = _native_counter_re.sub(_read_native_counter, text)
    text = _month_re.sub(_read_month, text)
    text = _leading_one_re.sub("", text)
    text = _leading_zero_re.sub(lambda m: read_digits(m.group(0)), text)
    return _integer_re.sub(lambda m: sino_korean(m.group(0)), text)
