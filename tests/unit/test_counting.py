"""Length as each channel counts it, graphemes, and the links, mentions and tags it sees."""

from __future__ import annotations

import unicodedata

import pytest
import regex  # type: ignore[import-untyped]  # the reference segmenter; no stubs installed
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stormwatch.act.counting import (
    Length,
    bluesky_bytes,
    bluesky_length,
    channel_lengths,
    facebook_length,
    find_hashtags,
    find_links,
    find_mentions,
    find_urls,
    grapheme_count,
    graphemes,
    instagram_hashtags,
    instagram_length,
    linkedin_length,
    mastodon_length,
    x_length,
)
from stormwatch.channels.linkedin import escape_little_text
from tests.helpers import examples

# --- X: twitter-text v3 weighted length ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        # the kinds of case twitter-text's conformance suite (validate.yml) covers, worked
        # out from the v3 config: no copy of the suite is at hand here
        ("a" * 280, 280),
        ("a" * 281, 281),
        ("日本語" * 46 + "日本", 280),  # 140 CJK characters weigh 2 each
        ("日" * 141, 282),
        ("Hello 😀", 8),  # one emoji counts 2
        ("👨‍👩‍👧‍👦", 2),  # a ZWJ family is one emoji
        ("🙋🏽‍♀️", 2),  # skin tone + ZWJ + gender + VS16
        ("👍🏿👍🏻", 4),  # two emoji with skin tones
        ("🇩🇪🇺🇸", 4),  # two flags
        ("1️⃣", 2),  # keycap
        ("https://twitter.com/twitter/status/123456789012345678", 23),  # URL counts 23
        ("twitter.com", 23),  # without scheme, a generic TLD is a link
        ("see https://example.com/" + "a" * 200 + " now", 4 + 23 + 4),
        ("café", 4),  # NFC: é is one code point of weight 1
        ("cafe\u0301", 4),  # NFD: normalised to NFC before counting
        ("“quotes” – dash", 15),  # general punctuation X treats as narrow
        ("…", 2),  # but not the ellipsis (U+2026 is outside its ranges)
        ("☃", 2),  # a BMP symbol outside the light ranges weighs 2
        ("한국어", 6),  # Hangul weighs 2
        ("Привет", 6),  # Cyrillic weighs 1
    ],
)
def test_x_counts_as_twitter_text_v3(text: str, weighted: int) -> None:
    # Given a text / When X's weighted length is taken / Then it is twitter-text's
    assert x_length(text) == Length(weighted, 280, "weighted characters")


def test_x_limit_is_280_weighted() -> None:
    # Given 140 CJK characters and one more / Then the first fits and the second does not
    assert x_length("字" * 140).fits
    assert not x_length("字" * 141).fits
    assert x_length("字" * 141).over == 2


def test_x_counts_a_host_under_an_unknown_tld_by_its_characters() -> None:
    # Given a link to a host twitter-text does not know as a domain / Then no URL weight:
    # counting it character by character can only be too strict, never too lenient
    assert x_length("https://nordwind.example/a").used == len("https://nordwind.example/a")


def test_x_bare_country_domain_is_a_link_only_with_a_path() -> None:
    assert x_length("nordwind.de").used == len("nordwind.de")
    assert x_length("nordwind.de/status").used == 23


# --- graphemes --------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [
        *"aZé ,.\r\n\t",
        "\u0301",  # combining acute
        "\u0308",  # combining diaeresis
        "\u200d",  # ZWJ
        "\u200c",  # ZWNJ
        "\ufe0f",  # VS16
        "\u20e3",  # keycap
        "\u00ad",  # soft hyphen (Cf)
        *"😀👨👩👧👦🙋♀❤✈☃©",
        *"\U0001f3fb\U0001f3fd\U0001f3ff",  # skin tones
        *"\U0001f1e9\U0001f1ea\U0001f1fa\U0001f1f8",  # regional indicators
        *"\u1100\u1161\u11a8가각한",  # Hangul jamo and syllables
        # Devanagari consonants and vowel signs, and a virama after a consonant (GB9c; the
        # `regex` module also joins a virama that follows no consonant, which UAX #29 does not)
        *"नमसतक\u093e\u093f\u0902",
        "क\u094d",
        *"日本語",
        "\u0600",  # Arabic number sign (Prepend)
        "\U000e0067",  # tag character
    ]
)


@example("क्\u200cन")  # ZWNJ ends a conjunct (found by this property)
@settings(max_examples=examples(2000))
@given(st.lists(_ALPHABET, max_size=12).map("".join))
def test_graphemes_split_as_unicode_says(text: str) -> None:
    # Given any mix of joiners, marks, emoji, flags, Hangul and Indic conjuncts
    # When split into grapheme clusters / Then exactly where the `regex` module's \X splits
    assert list(graphemes(text)) == regex.findall(r"\X", text)


@settings(max_examples=examples(500))
@given(st.lists(st.one_of(_ALPHABET, st.characters(max_codepoint=0x2FF)), max_size=12).map("".join))
def test_the_count_of_graphemes_is_the_number_of_clusters(text: str) -> None:
    # Given any text, Latin-1 only or not / Then the count is that of the clusters
    assert grapheme_count(text) == len(regex.findall(r"\X", text))


def test_graphemes_keep_what_a_reader_sees_as_one() -> None:
    assert list(graphemes("e\u0301👨‍👩‍👧🇩🇪x")) == ["e\u0301", "👨‍👩‍👧", "🇩🇪", "x"]
    assert grapheme_count("नमस्ते") == 3
    assert grapheme_count("") == 0


# --- Mastodon -------------------------------------------------------------------------------


def test_mastodon_counts_a_link_as_23_and_a_remote_mention_as_its_local_part() -> None:
    # Given a remote mention and a long link
    text = "@nordwind@mastodon.social hi https://nordwind-air.de/" + "x" * 100
    # Then "@nordwind" (9) + " hi " (4) + 23
    assert mastodon_length(text) == Length(9 + 4 + 23, 500)


def test_mastodon_limit_comes_from_the_instance() -> None:
    # Given an instance allowing 1000 characters / Then 600 graphemes fit there, not at 500
    assert mastodon_length("ä" * 600, limit=1000).fits
    assert not mastodon_length("ä" * 600).fits


def test_mastodon_counts_graphemes() -> None:
    assert mastodon_length("👨‍👩‍👧‍👦 e\u0301").used == 3


# --- Bluesky, LinkedIn, Facebook, Instagram -------------------------------------------------


def test_bluesky_counts_300_graphemes_and_3000_bytes() -> None:
    family = "👨‍👩‍👧‍👦"  # 1 grapheme, 25 bytes
    assert bluesky_length(family * 300) == Length(300, 300, "graphemes")
    assert not bluesky_bytes(family * 300).fits
    assert not bluesky_length("a" * 301).fits
    assert channel_lengths("bluesky", "ab") == (
        Length(2, 300, "graphemes"),
        Length(2, 3000, "bytes"),
    )


def test_linkedin_escapes_its_reserved_characters_and_counts_them() -> None:
    # Given every little-text reserved character / Then each is escaped with a backslash
    assert escape_little_text(r"\|{}@[]()<>#*_~") == r"\\\|\{\}\@\[\]\(\)\<\>\#\*\_\~"
    assert escape_little_text("Flug NW 1234 (Hamburg)") == "Flug NW 1234 \\(Hamburg\\)"
    # And the escaped text is what counts against 3,000
    assert linkedin_length("(" * 1500) == Length(3000, 3000)
    assert not linkedin_length("(" * 1501).fits


def test_facebook_and_instagram_count_utf16_units() -> None:
    assert facebook_length("😀").used == 2
    assert facebook_length("a" * 63_206).fits
    assert not facebook_length("a" * 63_207).fits
    assert instagram_length("a" * 2200).fits
    assert not instagram_length("a" * 2201).fits


def test_instagram_allows_30_hashtags() -> None:
    assert instagram_hashtags(" ".join(f"#tag{n}" for n in range(30))).fits
    assert not instagram_hashtags(" ".join(f"#tag{n}" for n in range(31))).fits


def test_an_unknown_channel_has_no_length_rules() -> None:
    with pytest.raises(ValueError, match="reddit"):
        channel_lengths("reddit", "text")


# --- extraction -------------------------------------------------------------------------


def test_urls_lose_trailing_punctuation_and_keep_balanced_parentheses() -> None:
    text = "Infos: https://nordwind-air.de/status. Wiki (https://de.wikipedia.org/wiki/A_(B))"
    assert [span.text for span in find_urls(text, "mastodon")] == [
        "https://nordwind-air.de/status",
        "https://de.wikipedia.org/wiki/A_(B)",
    ]


def test_only_x_takes_links_without_a_scheme() -> None:
    assert [span.text for span in find_urls("see nordwind.com", "x")] == ["nordwind.com"]
    assert find_urls("see nordwind.com", "mastodon") == []


@pytest.mark.parametrize(
    ("channel", "text", "mentions"),
    [
        ("x", "Danke @NordwindAir und @ben_k!", ["@NordwindAir", "@ben_k"]),
        ("x", "mail an desk@nordwind.example", []),
        (
            "mastodon",
            "@nordwind@mastodon.social und @anna.",
            ["@nordwind@mastodon.social", "@anna"],
        ),
        ("bluesky", "Fragen an @nordwind.bsky.social.", ["@nordwind.bsky.social"]),
        ("bluesky", "@nobody ohne Domain", []),
        ("instagram", "@nordwind.air!", ["@nordwind.air"]),
    ],
)
def test_mentions_follow_each_channels_syntax(channel: str, text: str, mentions: list[str]) -> None:
    assert [span.text for span in find_mentions(text, channel)] == mentions


def test_hashtags_skip_digits_only_and_link_fragments() -> None:
    text = "#Nordwind! #2026 #Flug2026 https://nordwind-air.de/#status"
    assert [span.text for span in find_hashtags(text, "mastodon")] == ["#Nordwind", "#Flug2026"]


def test_spans_carry_utf8_byte_offsets_for_bluesky_facets() -> None:
    # Given a mention after multi-byte text / Then its byte offsets are Bluesky's facet index
    text = "Grüße an @nordwind.bsky.social 👋"
    (span,) = find_mentions(text, "bluesky")
    encoded = text.encode()
    assert encoded[span.byte_start : span.byte_end].decode() == "@nordwind.bsky.social"
    assert span.byte_start == len("Grüße an ".encode())


@settings(max_examples=examples(500))
@given(st.text(max_size=80))
def test_x_length_is_the_same_for_nfc_and_nfd(text: str) -> None:
    # Given any text / Then its weighted length does not depend on its normal form
    assert x_length(unicodedata.normalize("NFD", text)) == x_length(
        unicodedata.normalize("NFC", text)
    )


# --- links with any host -------------------------------------------------------------------


def test_a_link_to_an_ip_address_is_checked_but_counted_as_x_and_mastodon_count_it() -> None:
    # Given a text linking the local status page by its loopback address
    link = "http://127.0.0.1:8080/web/page/updates"
    text = f"Updates: {link}. More: https://nordwind.de/news"
    # When its links are found / Then both are, for the link check, on every channel
    for channel in ("x", "mastodon", "bluesky", "linkedin"):
        assert [span.text for span in find_links(text, channel)] == [
            link,
            "https://nordwind.de/news",
        ], channel
    # ...but X and Mastodon take no IP host as a link: its characters count one by one
    assert [span.text for span in find_urls(text, "x")] == ["https://nordwind.de/news"]
    assert x_length(text).used == len("Updates: ") + len(link) + len(". More: ") + 23
    assert mastodon_length(text).used == len("Updates: ") + len(link) + len(". More: ") + 23


def test_mastodon_counts_a_link_as_the_instances_characters_per_url() -> None:
    assert mastodon_length("see https://nordwind.de/news", url_weight=30).used == 4 + 30
