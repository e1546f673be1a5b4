"""What an SMS costs: septets and UTF-16 units, segments, and names moved into GSM-7."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stormwatch.warn.messages.gsm7 import gsm7_length, sms_segments, to_gsm7, ucs2_length


def test_gsm7_letters_count_one_septet_each() -> None:
    # Given text in the GSM 03.38 basic set, accented letters and Greek capitals included
    text = "Nordwind Äir @ £ ñ é ß Ø Δ"
    # Then each character is one septet
    assert gsm7_length(text) == len(text)


@pytest.mark.parametrize("char", ["€", "[", "]", "{", "}", "^", "~", "\\", "|", "\f"])
def test_escape_table_characters_count_two_septets(char: str) -> None:
    assert gsm7_length(char) == 2
    assert gsm7_length(f"a{char}b") == 4


@pytest.mark.parametrize("char", ["ł", "ó", "ç", "`", "😀", "北", "д", "\u00a0", "\x1b"])
def test_characters_outside_gsm7_cannot_be_encoded(char: str) -> None:
    assert gsm7_length(f"abc{char}") is None


def test_gsm7_segments_count_escape_pairs_and_never_split_them() -> None:
    assert sms_segments("a" * 160) == 1
    assert sms_segments("a" * 159 + "€") == 2  # 161 septets
    assert sms_segments("a" * 158 + "€") == 1
    assert sms_segments("a" * 306) == 2  # concatenated segments hold 153
    assert sms_segments("a" * 307) == 3
    # Given an escape pair that would straddle the first segment's end
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, as many as two segments hold
    # Then it moves whole to the second segment, which pushes the tail into a third
    assert sms_segments(text) == 3


def test_ucs2_counts_code_units_so_emoji_count_two() -> None:
    assert ucs2_length("ł" * 70) == 70
    assert sms_segments("ł" * 70) == 1
    assert sms_segments("ł" * 71) == 2
    assert ucs2_length("😀") == 2
    assert sms_segments("😀" * 35) == 1
    assert sms_segments("😀" * 36) == 2
    assert sms_segments("a" * 69 + "😀") == 2
    assert sms_segments("ł" * 134) == 2  # 67 per concatenated segment
    assert sms_segments("ł" * 66 + "😀" + "ł" * 66) == 3  # the pair is not split


def test_an_empty_text_still_takes_one_segment() -> None:
    assert sms_segments("") == 1


@given(st.text())
def test_segment_counting_agrees_with_the_encodings(text: str) -> None:
    septets = gsm7_length(text)
    if septets is not None:
        assert septets == len(text) + sum(c in "\f^{}\\[~]|€" for c in text)
        assert (sms_segments(text) == 1) == (septets <= 160)
    else:
        assert (sms_segments(text) == 1) == (ucs2_length(text) <= 70)


@pytest.mark.parametrize(
    ("given_text", "expected"),
    [
        ("Łódź", "Lodz"),
        ("Zażółć gęślą jaźń", "Zazolc gesla jazn"),
        ("Nordwind Äir", "Nordwind Äir"),  # Ä is GSM-7: kept
        ("Müller ß Ñandú", "Müller ß Ñandu"),  # ü, ß, Ñ are GSM-7, ú is not
        ("“quoted” – dash…", '"quoted" - dash...'),
        ("Nordwind ✈️ Air 👍🏽", "Nordwind Air"),
        ("北風航空", None),
        ("Аэрофлот", None),
    ],
)
def test_transliteration_keeps_gsm7_letters_and_only_replaces_the_rest(
    given_text: str, expected: str | None
) -> None:
    assert to_gsm7(given_text) == expected
