"""Instagram's image card: laid out to fit, drawn the same every time, refused clearly,
and shown in the pre-flight report before approval."""

from __future__ import annotations

import io
from types import MappingProxyType

import pytest

from stormwatch.act.card import (
    BAND,
    BAND_INK,
    HEIGHT,
    INK,
    LARGEST,
    PAPER,
    SMALLEST,
    WIDTH,
    CardDesigner,
    CardError,
    card_key,
    has_glyph,
    layout_card,
    render_card,
)
from stormwatch.act.preflight import IMAGE_CARD, INSTAGRAM_SKIPPED, Checkers, Status, preflight
from stormwatch.act.statements import Rendering, statement_hash
from stormwatch.config.act import ActSettings

BRAND = "Nordwind Air"
HASH = "a" * 64
TEXTS = {
    "de": (
        "Wir wissen Bescheid: Flug NW 1234 ab Düsseldorf fällt heute aus.\n\n"
        "Wir prüfen gerade, was passiert ist, und melden uns spätestens um 18:00 Uhr "
        "wieder. Größere Verspätungen möglich.\n\nAlle Neuigkeiten: https://nordwind-air.de/info"
    ),
    "en": (
        "We know: flight NW 1234 from Düsseldorf is cancelled today.\n\n"
        "We are looking into what happened and will update you by 6 pm at the latest.\n\n"
        "All news: https://nordwind-air.com/news"
    ),
    "pl": (
        "Wiemy o tym: lot NW 1234 z Krakowa został dziś odwołany. Sprawdzamy, co się stało, "
        "i odezwiemy się najpóźniej o 18:00. Źródło: https://nordwind-air.pl/ważne"
    ),
}
POLISH_AND_GERMAN = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻäöüÄÖÜß"


def _jpeg(data: bytes) -> object:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _contrast(one: tuple[int, int, int], other: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        channels = [c / 255 for c in rgb]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_pillows_own_font_lacks_german_and_polish_letters_so_a_font_ships() -> None:
    # Given Pillow's built-in FreeType font (Aileron), which would need no download
    from PIL import ImageFont

    builtin = ImageFont.load_default(size=40)
    missing = builtin.getmask("\uffff")

    def drawn(character: str) -> bool:
        mask = builtin.getmask(character)
        return (mask.size, bytes(mask)) != (missing.size, bytes(missing))

    # Then it draws ASCII but not ä or ł: the card uses the fetched DejaVu Sans instead
    assert drawn("A")
    assert not all(drawn(c) for c in POLISH_AND_GERMAN)
    # ... which draws every one of them
    assert all(has_glyph("DejaVuSans.ttf", c) for c in POLISH_AND_GERMAN)
    assert all(has_glyph("DejaVuSans-Bold.ttf", c) for c in POLISH_AND_GERMAN)


@pytest.mark.parametrize("language", sorted(TEXTS))
def test_a_statement_renders_as_a_4_to_5_jpeg_at_a_large_font(language: str) -> None:
    # Given a short statement in German, English or Polish
    text = TEXTS[language]
    # When laid out and drawn
    layout = layout_card(text, BRAND)
    image = _jpeg(render_card(layout))
    # Then it is a 1080x1350 JPEG, at a large size, every word of the text on it
    assert (image.format, image.size, image.mode) == ("JPEG", (WIDTH, HEIGHT), "RGB")  # type: ignore[attr-defined]
    assert layout.font_size >= 48
    drawn = "".join(line for lines in layout.paragraphs for line in lines)
    assert "".join(drawn.split()) == "".join(text.split())
    assert (
        layout.describe() == f"image card, {layout.line_count} lines, font size {layout.font_size}"
    )
    assert layout.left_out == ()


def test_the_card_is_plain_and_legible() -> None:
    # Given the card's colours
    # Then text and brand have WCAG AAA contrast (7:1 at least) on their backgrounds
    assert _contrast(INK, PAPER) >= 7
    assert _contrast(BAND_INK, BAND) >= 7
    # And the drawn card really uses them: white paper, dark band and dark ink
    image = _jpeg(render_card(layout_card(TEXTS["de"], BRAND)))
    assert image.getpixel((WIDTH // 2, HEIGHT - 10)) == pytest.approx(PAPER, abs=3)  # type: ignore[attr-defined]
    assert image.getpixel((WIDTH - 10, 10)) == pytest.approx(BAND, abs=3)  # type: ignore[attr-defined]
    darkest, _ = image.convert("L").crop((0, 200, WIDTH, HEIGHT)).getextrema()  # type: ignore[attr-defined]
    assert darkest < 60


def test_a_long_text_shrinks_the_font_until_it_fits() -> None:
    # Given a text three times as long as a short one
    short = layout_card(TEXTS["en"], BRAND)
    long = layout_card(" ".join([TEXTS["en"].replace("\n\n", " ")] * 4), BRAND)
    # Then it is set smaller, but not below the smallest legible size, and still fits
    assert short.font_size == LARGEST
    assert SMALLEST <= long.font_size < short.font_size
    assert long.line_count > short.line_count


def test_a_text_that_cannot_fit_is_refused_with_what_to_do() -> None:
    # Given Instagram's longest caption, 2,200 characters of words
    text = ("Wir prüfen das gerade sehr gründlich. " * 60)[:2200]
    # When laid out, Then refused, naming the smallest size and the way out
    with pytest.raises(CardError, match=f"does not fit .* font size {SMALLEST}.*act.instagram"):
        layout_card(text, BRAND)


def test_a_url_longer_than_a_line_is_broken_rather_than_overflowing() -> None:
    url = "https://nordwind-air.de/" + "sehr-lang/" * 12
    layout = layout_card(f"Infos: {url}", BRAND)
    assert "".join(line for lines in layout.paragraphs for line in lines).endswith(url)
    assert layout.line_count >= 3


def test_emoji_the_font_lacks_are_left_off_and_named() -> None:
    # Given a caption with an emoji the card's font cannot draw
    layout = layout_card("Wir kümmern uns 🙏. Danke für Ihre Geduld 🙏", BRAND)
    # Then the card leaves it off (no box, no space before the full stop) and says so
    assert layout.left_out == ("🙏",)
    assert layout.paragraphs == (("Wir kümmern uns. Danke für Ihre", "Geduld"),) or (
        " ".join(layout.paragraphs[0]) == "Wir kümmern uns. Danke für Ihre Geduld"
    )


def test_a_letter_the_font_cannot_draw_is_refused() -> None:
    with pytest.raises(CardError, match="cannot draw '航'"):
        layout_card("Flug 航班 fällt aus", BRAND)


def test_nothing_to_draw_and_a_missing_brand_are_refused() -> None:
    with pytest.raises(CardError, match="nothing to put on a card"):
        layout_card(" \n\n 🙏 ", BRAND)
    with pytest.raises(CardError, match="brand"):
        layout_card(TEXTS["en"], "  ")
    with pytest.raises(CardError, match="too long for the card's band"):
        layout_card(TEXTS["en"], "Nordwind " * 20)


def test_the_same_text_gives_the_same_bytes_and_key() -> None:
    # Given the same text twice, and a different one
    first = render_card(layout_card(TEXTS["pl"], BRAND))
    again = render_card(layout_card(TEXTS["pl"], BRAND))
    other = render_card(layout_card(TEXTS["pl"] + " Dziękujemy.", BRAND))
    # Then the bytes and the key are the same; another text gets another key
    assert first == again
    assert card_key(HASH, first) == card_key(HASH, again)
    assert card_key(HASH, first).startswith(f"cards/{HASH}/")
    assert card_key(HASH, first).endswith(".jpg")
    assert card_key(HASH, other) != card_key(HASH, first)


def test_a_key_needs_a_statement_hash() -> None:
    with pytest.raises(CardError, match="SHA-256"):
        card_key("../../etc/passwd", b"x")


# --- the pre-flight report -------------------------------------------------------------------


def _rendering(texts: dict[str, str]) -> Rendering:
    return Rendering(
        kind="holding",
        language="de",
        variables=MappingProxyType({}),
        base=texts["instagram"],
        texts=MappingProxyType(texts),
        sha256=statement_hash(texts, texts["instagram"]),
    )


def test_preflight_shows_the_cards_layout_before_approval() -> None:
    # Given act.instagram: card and the card designer among the checkers
    report = preflight(
        _rendering({"instagram": TEXTS["de"]}), ActSettings(), Checkers(card=CardDesigner(BRAND))
    )
    # Then Instagram's report says how the card will look
    check = report.channel("instagram").check(IMAGE_CARD)
    layout = layout_card(TEXTS["de"], BRAND)
    assert check.status is Status.PASSED
    assert check.message == f"image card, {layout.line_count} lines, font size {layout.font_size}"
    assert report.ready


def test_preflight_fails_a_text_too_long_for_the_card_and_warns_of_left_out_emoji() -> None:
    checkers = Checkers(card=CardDesigner(BRAND))
    too_long = preflight(
        _rendering({"instagram": "Wir prüfen das. " * 150}), ActSettings(), checkers
    )
    check = too_long.channel("instagram").check(IMAGE_CARD)
    assert check.status is Status.FAILED
    assert "does not fit" in check.message
    assert not too_long.ready
    emoji = preflight(_rendering({"instagram": "Wir kümmern uns 🙏"}), ActSettings(), checkers)
    warned = emoji.channel("instagram").check(IMAGE_CARD)
    assert warned.status is Status.WARNING
    assert warned.message.endswith("no glyph): 🙏")
    assert emoji.accept("instagram", IMAGE_CARD, by="ben").ready


def test_preflight_says_skipped_when_instagram_is_skip() -> None:
    settings = ActSettings.model_validate({"instagram": "skip"})
    report = preflight(
        _rendering({"x": TEXTS["de"], "instagram": TEXTS["de"]}),
        settings,
        Checkers(card=CardDesigner(BRAND)),
    )
    assert report.channel("instagram").skipped == INSTAGRAM_SKIPPED
    assert "act.instagram is 'skip'" in INSTAGRAM_SKIPPED


def test_a_designer_that_breaks_fails_its_check_and_the_others_run() -> None:
    class Broken:
        def layout(self, text: str) -> object:
            raise OSError("font file unreadable")

    report = preflight(
        _rendering({"instagram": TEXTS["de"]}),
        ActSettings(),
        Checkers(card=Broken()),  # type: ignore[arg-type]
    )
    checks = report.channel("instagram").checks
    assert [c.name for c in checks if c.status is Status.FAILED] == [IMAGE_CARD]
    assert "font file unreadable" in checks[-1].message


def test_pillow_is_imported_only_when_a_card_is_laid_out() -> None:
    # Cold start: the release function imports the card module; Pillow waits for a card.
    import subprocess
    import sys

    code = (
        "import sys, stormwatch.act.card, stormwatch.act.preflight\n"
        "assert 'PIL' not in sys.modules\n"
        "stormwatch.act.card.layout_card('Hallo', 'Nordwind Air')\n"
        "assert 'PIL' in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
