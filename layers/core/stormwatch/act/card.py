"""Instagram's image card: the statement's Instagram text as a 1080x1350 (4:5) JPEG.

Instagram posts no text alone. With ``act.instagram: card`` the release renders the
approved Instagram text onto a plain card - the brand's name on a dark band, the text in
near-black on white (contrast 17:1, WCAG AAA), wrapped to the card's width at the largest
font size from `LARGEST` down to `SMALLEST` at which it fits - uploads it to the media
bucket and gives Instagram a presigned GET URL (Instagram's servers fetch the image).

The card is a pure function of (text, brand): the same approved text always gives the same
bytes and the same key, so the approval's hash binds the card too, and the pre-flight check
shows its layout ("image card, 9 lines, font size 52") before anybody approves. A text that
does not fit even at `SMALLEST` is refused (`CardError`), as is a letter the card's font
cannot draw; a symbol it cannot draw (most emoji) is left off the card, and the pre-flight
check says so as a warning - the caption still carries it.

Pillow is imported only when a card is laid out or drawn: no other function pays for it.

Release step::

    card = publish_card(texts["instagram"], brand=brand.name, statement_hash=sha256,
                        s3=boto3.client("s3"), bucket=os.environ["MEDIA_BUCKET"])
    publish_everywhere(..., image_urls={"instagram": card.url})
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

WIDTH: Final = 1080
HEIGHT: Final = 1350
MARGIN: Final = 90
BAND_HEIGHT: Final = 160
BRAND_SIZE: Final = 48
SMALLEST_BRAND_SIZE: Final = 28
LARGEST: Final = 64
SMALLEST: Final = 32
"""Below this, a card shown about 400 px wide in the app has letters under 12 px."""
STEP: Final = 2
LINE_HEIGHT: Final = 1.3
PARAGRAPH_GAP: Final = 0.6
"""Extra space between paragraphs, in font sizes."""

PAPER: Final = (255, 255, 255)
INK: Final = (17, 24, 39)
BAND: Final = INK
BAND_INK: Final = PAPER
JPEG_QUALITY: Final = 90
CONTENT_TYPE: Final = "image/jpeg"
URL_SECONDS: Final = 3600
"""How long Instagram may fetch the card: its container is made right after."""

FONT_DIR: Final = Path(__file__).with_name("fonts")
TEXT_FONT: Final = "DejaVuSans.ttf"
BRAND_FONT: Final = "DejaVuSans-Bold.ttf"

_HASH = re.compile(r"^[0-9a-f]{64}$")
_GONE = "\0"
_GONE_BEFORE_PUNCTUATION = re.compile(r"[ \t]*\0+(?=[.,;:!?)\]]|[ \t]*(?:\n|$))")


class CardError(ValueError):
    """The text cannot be made into a card; the message says what to change."""


class MissingFont(CardError):
    """The card's font was not fetched (`make`, scripts/fonts/fetch.py)."""


@dataclass(frozen=True, slots=True)
class CardLayout:
    """What the card shows and how: drawing it needs nothing else."""

    brand: str
    brand_size: int
    paragraphs: tuple[tuple[str, ...], ...]
    """The text's paragraphs, each as the lines it is wrapped into."""
    font_size: int
    left_out: tuple[str, ...] = ()
    """Characters of the text the font has no glyph for (emoji): not on the card."""

    @property
    def line_count(self) -> int:
        return sum(len(lines) for lines in self.paragraphs)

    def describe(self) -> str:
        return f"image card, {self.line_count} lines, font size {self.font_size}"


@dataclass(frozen=True, slots=True)
class PublishedCard:
    key: str
    url: str
    """Presigned GET, valid `URL_SECONDS`: what Instagram's container is made from."""
    layout: CardLayout
    size: int
    """Bytes of the JPEG."""


class ObjectStore(Protocol):
    """The two calls of boto3's S3 client the card needs."""

    def put_object(self, **kwargs: Any) -> Any: ...

    def generate_presigned_url(self, ClientMethod: str, **kwargs: Any) -> str: ...


# --- fonts ---------------------------------------------------------------------------------


@cache
def _font(name: str, size: int) -> FreeTypeFont:
    from PIL import ImageFont

    path = FONT_DIR / name
    if not path.is_file():
        raise MissingFont(
            f"the image card's font {path} is missing: run `make` (scripts/fonts/fetch.py)"
        )
    # BASIC layout (no Raqm): the same pixels wherever the layer runs.
    return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)


def _glyph_picture(font: FreeTypeFont, character: str) -> tuple[object, bytes]:
    mask = font.getmask(character)
    return mask.size, bytes(mask)


@cache
def _missing_glyph(name: str) -> tuple[object, bytes]:
    # U+FFFF is a noncharacter: no font has a glyph for it, so it draws the "missing" box.
    return _glyph_picture(_font(name, 24), "\uffff")


@cache
def has_glyph(name: str, character: str) -> bool:
    """Whether the font draws `character` as itself rather than as its missing-glyph box."""
    return _glyph_picture(_font(name, 24), character) != _missing_glyph(name)


# --- layout --------------------------------------------------------------------------------


def _leavable(character: str) -> bool:
    """A character whose absence leaves the text readable: symbols (emoji), their joiners
    and variation selectors."""
    return unicodedata.category(character)[0] in "SMC"


def _drawable(text: str) -> tuple[str, tuple[str, ...]]:
    """`text` without the characters the font cannot draw, and those characters."""
    left_out: dict[str, None] = {}
    unknown: dict[str, None] = {}
    kept = []
    for character in text:
        if character == "\n" or character.isspace() or has_glyph(TEXT_FONT, character):
            kept.append(character)
        elif _leavable(character):
            left_out[character] = None
            kept.append(_GONE)
        else:
            unknown[character] = None
    if unknown:
        names = ", ".join(f"{c!r} ({unicodedata.name(c, f'U+{ord(c):04X}')})" for c in unknown)
        raise CardError(f"the card's font cannot draw {names}: change the Instagram text")
    # "ausgefallen 🙏." becomes "ausgefallen.", not "ausgefallen ."
    drawable = _GONE_BEFORE_PUNCTUATION.sub("", "".join(kept)).replace(_GONE, "")
    return drawable, tuple(left_out)


def _paragraphs(text: str) -> list[str]:
    # Lines of a paragraph run on (the caption's line breaks are for the caption), blank
    # lines separate paragraphs, and any run of spaces is one space.
    blocks = re.split(r"\n\s*\n", text.strip())
    return [" ".join(block.split()) for block in blocks if block.split()]


def _wrap(paragraph: str, font: FreeTypeFont, width: int, limit: int) -> list[str]:
    """`paragraph` in lines no wider than `width`; stops past `limit` lines (too many)."""
    lines: list[str] = []
    current = ""
    for word in paragraph.split(" "):
        if len(lines) > limit:
            break
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        rest = word
        while font.getlength(rest) > width:  # a long URL: broken where it must be
            cut = max(1, _longest_prefix(rest, font, width))
            lines.append(rest[:cut])
            rest = rest[cut:]
        current = rest
    if current:
        lines.append(current)
    return lines


def _longest_prefix(word: str, font: FreeTypeFont, width: int) -> int:
    low, high = 0, len(word)
    while low < high:
        middle = (low + high + 1) // 2
        if font.getlength(word[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _height(paragraphs: list[list[str]], size: int) -> int:
    lines = sum(len(lines) for lines in paragraphs)
    gaps = max(0, len(paragraphs) - 1)
    return lines * round(size * LINE_HEIGHT) + gaps * round(size * PARAGRAPH_GAP)


def _brand_size(brand: str) -> int:
    width = WIDTH - 2 * MARGIN
    for size in range(BRAND_SIZE, SMALLEST_BRAND_SIZE - 1, -STEP):
        if _font(BRAND_FONT, size).getlength(brand) <= width:
            return size
    raise CardError(f"the brand name {brand!r} is too long for the card's band")


def layout_card(text: str, brand: str) -> CardLayout:
    """How `text` goes on the card: the largest font size at which it fits.

    Raises `CardError` when it does not fit even at `SMALLEST`, or holds a letter the font
    cannot draw.
    """
    brand = " ".join(unicodedata.normalize("NFC", brand).split())
    if not brand:
        raise CardError("the card needs the brand's name")
    _, unknown_in_brand = _drawable(brand)
    if unknown_in_brand:
        raise CardError(f"the card's font cannot draw {', '.join(unknown_in_brand)} of the brand")
    drawable, left_out = _drawable(unicodedata.normalize("NFC", text))
    paragraphs = _paragraphs(drawable)
    if not paragraphs:
        raise CardError("the Instagram text has nothing to put on a card")
    width = WIDTH - 2 * MARGIN
    room = HEIGHT - BAND_HEIGHT - 2 * MARGIN
    for size in range(LARGEST, SMALLEST - 1, -STEP):
        font = _font(TEXT_FONT, size)
        wrapped: list[list[str]] = []
        for paragraph in paragraphs:
            wrapped.append(_wrap(paragraph, font, width, room // round(size * LINE_HEIGHT)))
            if _height(wrapped, size) > room:
                break  # this size is too large already: no need to wrap the rest
        else:
            return CardLayout(
                brand=brand,
                brand_size=_brand_size(brand),
                paragraphs=tuple(tuple(lines) for lines in wrapped),
                font_size=size,
                left_out=left_out,
            )
    raise CardError(
        f"the Instagram text does not fit on an image card even at font size {SMALLEST} "
        f"({len(drawable)} characters, the card holds about {_capacity(room, width)}): "
        "shorten it, or set act.instagram to skip"
    )


def _capacity(room: int, width: int) -> int:
    """About how many characters of ordinary text fit at the smallest size."""
    font = _font(TEXT_FONT, SMALLEST)
    sample = "Wir prüfen gerade, was passiert ist, and we will update you. "
    per_line = int(width / (font.getlength(sample) / len(sample)))
    return per_line * (room // round(SMALLEST * LINE_HEIGHT))


# --- drawing -------------------------------------------------------------------------------


def render_card(layout: CardLayout) -> bytes:
    """The card as JPEG bytes: the same layout always gives the same bytes."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, WIDTH - 1, BAND_HEIGHT - 1), fill=BAND)
    draw.text(
        (MARGIN, BAND_HEIGHT // 2),
        layout.brand,
        font=_font(BRAND_FONT, layout.brand_size),
        fill=BAND_INK,
        anchor="lm",
    )
    font = _font(TEXT_FONT, layout.font_size)
    line_height = round(layout.font_size * LINE_HEIGHT)
    gap = round(layout.font_size * PARAGRAPH_GAP)
    top = BAND_HEIGHT + MARGIN
    for lines in layout.paragraphs:
        for line in lines:
            draw.text((MARGIN, top), line, font=font, fill=INK)
            top += line_height
        top += gap
    out = io.BytesIO()
    # 4:4:4 (no chroma subsampling): text edges stay sharp.
    image.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0)
    return out.getvalue()


def card_key(statement_hash: str, image: bytes) -> str:
    """Where a statement's card lives: under its hash, named by the card's own digest, so
    a card drawn differently (another brand name) never overwrites an approved one."""
    if not _HASH.match(statement_hash):
        raise CardError(f"{statement_hash!r} is not a statement's SHA-256 (64 hex digits)")
    return f"cards/{statement_hash}/{hashlib.sha256(image).hexdigest()[:16]}.jpg"


def publish_card(
    text: str,
    *,
    brand: str,
    statement_hash: str,
    s3: ObjectStore,
    bucket: str,
    expires_in: int = URL_SECONDS,
) -> PublishedCard:
    """Render `text` as the card, store it in `bucket` and return its presigned GET URL.

    Safe to call again (a retried release): the same text puts the same bytes at the same
    key. S3's errors (botocore's `ClientError`, connection errors) pass through: without a
    card Instagram cannot be published, and the release records that channel as failed.
    """
    layout = layout_card(text, brand)
    image = render_card(layout)
    key = card_key(statement_hash, image)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=image,
        ContentType=CONTENT_TYPE,
        ContentDisposition="inline",
    )
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
    )
    return PublishedCard(key=key, url=url, layout=layout, size=len(image))


@dataclass(frozen=True, slots=True)
class CardDesigner:
    """The pre-flight check's view of the card (`preflight.Checkers.card`): lays it out for
    one brand, draws nothing."""

    brand: str

    def layout(self, text: str) -> CardLayout:
        return layout_card(text, self.brand)
