"""Korean text frontend: cleaner table, ids round trip, errors, and a hypothesis property."""

import string

import jamo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glow_tts.commons import intersperse
from glow_tts.text import (
    BLANK_ID,
    UnknownSymbolError,
    clean_text,
    cleaned_to_sequence,
    sequence_to_text,
    symbols,
    text_to_sequence,
)
from glow_tts.text.cleaners import (
    basic_cleaners,
    compat_jamo_to_conjoining,
    decompose_hangul,
    korean_cleaners,
    normalize_korean,
)
from glow_tts.text.numbers import native_korean, sino_korean

# (input, expected output of normalize_korean, i.e. korean_cleaners before decomposition).
# Written by hand from the rules in glow_tts/text/numbers.py and cleaners.py.
CLEANER_CASES = [
    # Sino-Korean integers, "일" dropped before 십/백/천 and a leading 만
    ("0", "영"),
    ("7", "칠"),
    ("10", "십"),
    ("11", "십일"),
    ("20", "이십"),
    ("100", "백"),
    ("101", "백일"),
    ("110", "백십"),
    ("1000", "천"),
    ("1111", "천백십일"),
    ("2024", "이천이십사"),
    ("10000", "만"),
    ("10001", "만일"),
    ("12345", "만이천삼백사십오"),
    ("110000", "십일만"),
    ("100000000", "일억"),
    ("100010000", "일억일만"),
    ("300000000000", "삼천억"),
    ("1000000000000", "일조"),
    ("1,000", "천"),
    ("1,234,567", "백이십삼만사천오백육십칠"),
    ("12,345원", "만이천삼백사십오원"),
    # dates, months (유월, 시월), time of day
    ("2024년 3월 5일", "이천이십사년 삼월 오일"),
    ("6월", "유월"),
    ("10월", "시월"),
    ("06월", "유월"),
    ("12월 25일", "십이월 이십오일"),
    ("2024-03-05", "이천이십사년 삼월 오일"),
    ("2024.6.1", "이천이십사년 유월 일일"),
    ("2024. 10. 9.", "이천이십사년 시월 구일."),
    ("2024/13/40", "이천이십사 십삼 사십"),
    ("3분 20초", "삼분 이십초"),
    ("3:30", "세시 삼십분"),
    ("12:00", "열두시"),
    # money
    ("1000원", "천원"),
    ("₩1,000", "천원"),
    ("￦500", "오백원"),
    ("$5", "오달러"),
    ("5달러", "오달러"),
    ("1만 원", "만 원"),
    ("3만원", "삼만원"),
    ("1천만", "천만"),
    # units, temperature, percent
    ("2.5kg", "이 점 오킬로그램"),
    ("12 km", "십이 킬로미터"),
    ("30cm", "삼십센티미터"),
    ("5mm", "오밀리미터"),
    ("100m", "백미터"),
    ("500g", "오백그램"),
    ("2L", "이리터"),
    ("5㎏", "오킬로그램"),
    ("kg", "케이지"),
    ("36.5℃", "삼십육 점 오도"),
    ("-3도", "마이너스 삼도"),
    ("-3°C", "마이너스 삼도"),
    ("50%", "오십퍼센트"),
    ("2.5%", "이 점 오퍼센트"),
    ("%", "퍼센트"),
    # native counters with the short forms 한 두 세 네 스무
    ("1개", "한개"),
    ("2명", "두명"),
    ("3마리", "세마리"),
    ("4권", "네권"),
    ("5잔", "다섯잔"),
    ("10장", "열장"),
    ("20개", "스무개"),
    ("21살", "스물한살"),
    ("22살", "스물두살"),
    ("34사람", "서른네사람"),
    ("99개", "아흔아홉개"),
    ("100명", "백명"),
    ("0개", "영개"),
    ("3시", "세시"),
    ("12시 30분", "열두시 삼십분"),
    ("10시간", "열시간"),
    ("3 개", "세 개"),
    ("사과 3개를 샀다", "사과 세개를 샀다"),
    ("1번째", "첫번째"),
    ("2번째", "두번째"),
    ("3번 출구", "삼번 출구"),
    ("3대", "세대"),
    ("20대", "이십대"),
    # 10대 is the teens (an age decade), not 열대: the rule is "multiples of ten", not ">= 20"
    ("10대", "십대"),
    ("10대에", "십대에"),
    ("30대", "삼십대"),
    ("90대", "구십대"),
    ("11대", "열한대"),
    ("15대", "열다섯대"),
    ("100대", "백대"),
    ("10개", "열개"),
    ("10명", "열명"),
    ("10살", "열살"),
    ("10마리", "열마리"),
    ("10번째", "열번째"),
    ("10달", "열달"),
    ("10잔", "열잔"),
    ("3개월", "삼개월"),
    ("5개국", "오개국"),
    ("3달", "세달"),
    ("제1장", "제일장"),
    # decimals, negatives, ranges
    ("3.14", "삼 점 일사"),
    ("0.5", "영 점 오"),
    ("3.05", "삼 점 영오"),
    ("-5", "마이너스 오"),
    ("-2.5", "마이너스 이 점 오"),
    ("기온은 -10도", "기온은 마이너스 십도"),
    ("3~5명", "삼에서 다섯명"),
    ("2019-2020", "이천십구 이천이십"),
    # phone-like digit strings, leading zeros
    ("010-1234-5678", "공일공 일이삼사 오육칠팔"),
    ("02-123-4567", "공이 일이삼 사오육칠"),
    ("1588-1234", "일오팔팔 일이삼사"),
    ("007", "공공칠"),
    # Latin letters
    ("TTS", "티티에스"),
    ("a", "에이"),
    ("ABC", "에이비씨"),
    ("abc", "에이비씨"),
    ("wxyz", "더블유엑스와이제트"),
    ("hijklmnopqrsuv", "에이치아이제이케이엘엠엔오피큐알에스유브이"),
    ("defg", "디이에프지"),
    ("KBS 뉴스", "케이비에스 뉴스"),
    ("USB 2개", "유에스비 두개"),
    ("R&D", "알앤드디"),
    ("café", "씨에이에프이"),
    ("５G", "오지"),
    # compatibility jamo -> conjoining (leading consonant / vowel)
    ("ㅋㅋ", "\u110f\u110f"),
    ("ㅎㅎ 좋아", "\u1112\u1112 좋아"),
    ("ㅏ", "\u1161"),
    ("ㅠㅠ", "\u1172\u1172"),
    ("ㄳ", "\u1100\u1109"),
    ("ㅇㅋ", "\u110b\u110f"),
    # punctuation
    ("그래…", "그래."),
    ("그래...", "그래."),
    ("정말?!", "정말?"),
    ("와!!!", "와!"),
    ("잠깐; 다음: 끝", "잠깐, 다음, 끝"),
    ("좋아~", "좋아"),
    ("“안녕”이라고 했다", "안녕이라고 했다"),
    ("'네'", "네"),
    ("(웃음) 네", "웃음 네"),
    ("[주의] 조심", "주의 조심"),
    ("안녕 .", "안녕."),
    ("서울—부산", "서울,부산"),
    ("a_b", "에이 비"),
    # whitespace, Unicode forms
    ("  안녕   하세요  ", "안녕 하세요"),
    ("줄\n바꿈\t탭", "줄 바꿈 탭"),
    ("안\u200b녕", "안녕"),
    ("\u1112\u1161\u11ab", "한"),
    ("１２３", "백이십삼"),
    ("", ""),
    # mixed sentences
    ("2024년 3월 5일, 사과 3개는 ₩1,000!", "이천이십사년 삼월 오일, 사과 세개는 천원!"),
    ("우리 반 학생은 21명, 선생님은 2명이다.", "우리 반 학생은 스물한명, 선생님은 두명이다."),
    ("오늘 최고 기온은 36.5℃, 습도는 80%입니다.", "오늘 최고 기온은 삼십육 점 오도, 습도는 팔십퍼센트입니다."),
    ("문의: 010-1234-5678 (ARS)", "문의, 공일공 일이삼사 오육칠팔 에이알에스"),
]


@pytest.mark.parametrize("text, expected", CLEANER_CASES, ids=[c[0] or "<empty>" for c in CLEANER_CASES])
def test_korean_cleaner_table(text, expected):
    assert normalize_korean(text) == expected
    # korean_cleaners is the same text in conjoining jamo, and every character has an id.
    assert korean_cleaners(text) == jamo.h2j(expected)
    assert sequence_to_text(text_to_sequence(text, ["korean_cleaners"])) == jamo.h2j(expected)


def test_table_is_large_enough():
    assert len(CLEANER_CASES) >= 80
    assert len({text for text, _ in CLEANER_CASES}) == len(CLEANER_CASES)


def test_every_latin_letter_has_a_distinct_hangul_name():
    names = [normalize_korean(c) for c in string.ascii_lowercase]
    assert len(set(names)) == 26
    assert [normalize_korean(c) for c in string.ascii_uppercase] == names


@pytest.mark.parametrize("n, expected", [(1, "한"), (2, "두"), (3, "세"), (4, "네"), (5, "다섯"),
                                         (10, "열"), (11, "열한"), (20, "스무"), (21, "스물한"),
                                         (30, "서른"), (44, "마흔네"), (99, "아흔아홉")])
def test_native_korean_before_counter(n, expected):
    assert native_korean(n) == expected


def test_native_korean_plain_forms_and_fallback():
    assert native_korean(1, before_counter=False) == "하나"
    assert native_korean(20, before_counter=False) == "스물"
    assert native_korean(21, before_counter=False) == "스물하나"
    assert native_korean(100) == "백"
    assert native_korean(0) == "영"


def test_sino_korean_huge_numbers_read_digit_by_digit():
    assert sino_korean("1" + "0" * 16) == "일경"
    assert sino_korean("9" * 20) == "구천구백구십구".join(["", "경", "조", "억", "만", ""])
    assert sino_korean("1" + "0" * 20) == "일" + "영" * 20
    # a digit string longer than Python's int() limit must not crash
    assert normalize_korean("7" * 5000) == "칠" * 5000


def test_decomposition_matches_jamo_h2j_on_every_syllable():
    syllables = "".join(chr(c) for c in range(0xAC00, 0xD7A4))
    assert decompose_hangul(syllables) == jamo.h2j(syllables)


def test_every_compatibility_jamo_maps_into_symbols_or_space():
    allowed = set(symbols) | {" "}
    for code in range(0x3131, 0x318F):
        converted = compat_jamo_to_conjoining(chr(code))
        assert set(converted) <= allowed, (hex(code), converted)
    # consonants become leading consonants, vowels become vowels
    assert compat_jamo_to_conjoining("ㄱㅎㅏㅣ") == "\u1100\u1112\u1161\u1175"


def test_compat_consonant_does_not_glue_onto_previous_syllable():
    # NFKC alone would turn ㄳ into a final consonant and make 가ㄳ one syllable (갃).
    assert normalize_korean("가ㄳ") == "가\u1100\u1109"
    assert normalize_korean("ㅋㅏ") == "\u110f\u1161"


def test_docstring_examples_hold():
    import doctest

    from glow_tts.text import cleaners

    result = doctest.testmod(cleaners)
    assert result.attempted >= 1 and result.failed == 0


def test_basic_cleaners_only_lowercase_and_whitespace():
    assert basic_cleaners("  Hello   WORLD 3개 ") == "hello world 3개"


def test_text_to_sequence_ids_and_add_blank():
    ids = text_to_sequence("한국어, 좋아요!", ["korean_cleaners"])
    assert all(0 < i < len(symbols) for i in ids)
    assert ids[:3] == [symbols.index("\u1112"), symbols.index("\u1161"), symbols.index("\u11ab")]
    assert ids[-1] == symbols.index("!")
    blanked = intersperse(ids, BLANK_ID)
    assert len(blanked) == 2 * len(ids) + 1 and blanked[0] == BLANK_ID == len(symbols)
    assert sequence_to_text(blanked) == sequence_to_text(ids) == jamo.h2j("한국어, 좋아요!")


def test_sequence_to_text_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="out of range"):
        sequence_to_text([5, len(symbols) + 1])
    with pytest.raises(ValueError, match="out of range"):
        sequence_to_text([-1])


def test_cleaner_names_may_be_a_single_string():
    assert clean_text("3개", "korean_cleaners") == jamo.h2j("세개")


def test_unknown_cleaner_name_lists_known_ones():
    with pytest.raises(ValueError) as info:
        text_to_sequence("안녕", ["korean_cleaner"])
    message = str(info.value)
    assert "'korean_cleaner'" in message
    assert "basic_cleaners" in message and "korean_cleaners" in message


def test_unknown_symbol_error_names_char_code_point_position_and_input():
    text = "안녕 漢字"
    with pytest.raises(UnknownSymbolError) as info:
        text_to_sequence(text, ["korean_cleaners"])
    error = info.value
    assert isinstance(error, ValueError)
    cleaned = jamo.h2j("안녕 漢字")
    assert error.char == "漢" and error.position == cleaned.index("漢") == 7
    assert error.text == text and error.cleaned == cleaned
    message = str(error)
    assert "'漢'" in message and "U+6F22" in message and "position 7" in message
    assert repr(text) in message


def test_unknown_symbol_error_for_emoji_and_pad_character():
    with pytest.raises(UnknownSymbolError, match=r"U\+1F600.*position 3"):
        text_to_sequence("가 😀", ["korean_cleaners"])
    # "_" is the pad symbol (id 0) and must never come out of a transcript as padding
    with pytest.raises(UnknownSymbolError, match=r"U\+005F.*position 1"):
        text_to_sequence("\u1100_\u1161", ["basic_cleaners"])
    with pytest.raises(UnknownSymbolError, match=r"U\+005F.*position 1"):
        cleaned_to_sequence("\u1100_\u1161")


def test_basic_cleaners_rejects_undecomposed_hangul():
    with pytest.raises(UnknownSymbolError, match=r"U\+D55C"):
        text_to_sequence("한", ["basic_cleaners"])


# --- property test -------------------------------------------------------------------------

_TOKENS = [
    "개", "명", "살", "시", "월", "일", "번째", "번", "대", "개월", "달러", "원", "제", "만", "천",
    "kg", "km", "m", "g", "L", "%", "℃", "°", "₩", "$", "-", ".", ",", "~", ":", "…", "?!",
    "010-1234-5678", "2024-03-05", "1,000", "3.14", " ", "\n", "ㅋ", "ㄳ", "ㆍ", "\u3164", "_",
    "“", "(", "\u200b", "１", "−",
]
_characters = st.one_of(
    st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3),  # Hangul syllables
    st.characters(min_codepoint=0x3131, max_codepoint=0x318E),  # compatibility jamo
    st.characters(min_codepoint=0x1100, max_codepoint=0x11FF),  # conjoining jamo (+ archaic)
    st.sampled_from(string.digits + string.ascii_letters + string.punctuation + " "),
    st.characters(),                                             # anything else
)
# numbers glued to the words that decide how they are read: "7월", "-12.5kg", "21 살"
_numbers = st.one_of(st.integers(0, 100), st.integers(-10**13, 10**13),
                     st.decimals(-1000, 1000, places=2).map(str))
_NUMBER_FOLLOWERS = ["개", "명", "살", "시", "월", "일", "번째", "번", "대", "개월", "사람", "달러",
                     "원", "만", "천", "kg", "km", "m", "g", "L", "%", "℃", "°", "", ".", "~", "-"]
_number_phrases = st.tuples(_numbers, st.sampled_from(["", " "]), st.sampled_from(_NUMBER_FOLLOWERS)).map(
    lambda parts: f"{parts[0]}{parts[1]}{parts[2]}"
)
_texts = st.lists(
    st.one_of(_number_phrases, _characters, _number_phrases, st.sampled_from(_TOKENS),
              _number_phrases, st.text(max_size=3)),
    max_size=30,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(_texts)
def test_frontend_returns_valid_ids_or_unknown_symbol_error(text):
    try:
        ids = text_to_sequence(text, ["korean_cleaners"])
    except UnknownSymbolError as error:
        assert error.cleaned[error.position] == error.char
        assert f"U+{ord(error.char):04X}" in str(error)
        return
    assert all(0 < i < len(symbols) for i in ids)
    assert all(0 <= i <= len(symbols) for i in intersperse(ids, BLANK_ID))
    assert sequence_to_text(ids) == jamo.h2j(korean_cleaners(text))
    # and our arithmetic decomposition agrees with the jamo package on the readable text
    assert sequence_to_text(ids) == jamo.h2j(normalize_korean(text))
