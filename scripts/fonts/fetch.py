"""Fetch the image card's font, pinned and checksummed (`make` runs it).

    python3 scripts/fonts/fetch.py [--into DIR]

Writes DejaVuSans.ttf, DejaVuSans-Bold.ttf and LICENSE into
layers/core/stormwatch/act/fonts/ (git-ignored), where `sam build` picks them up with the
rest of the layer. Pillow's built-in font (Aileron, `ImageFont.load_default`) has no
glyph for ä, ö, ü, ß or any Polish letter (tests/unit/test_card.py shows it), so the
card needs a font of its own; DejaVu Sans covers German, Polish and English, is freely
licensed (Bitstream Vera licence, public-domain changes) and comes from Debian's archive
through `apt-get download`, the way the Polish dictionary does. The .deb is checked
against the digest pinned here before anything is written.

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pinned_download import FetchError, debian_package, fetch_once

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGET = ROOT / "layers/core/stormwatch/act/fonts"

PACKAGE = "fonts-dejavu-core"
VERSION = "2.37-6"
SHA256 = "8892669e51aab4dc56682c8e39d8ddb7d70fad83c369344e1e240bf3ca22bb76"
FILES = {
    # target name: path inside the package; `stormwatch.act.card` knows the target names.
    "DejaVuSans.ttf": "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf": "usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "LICENSE": f"usr/share/doc/{PACKAGE}/copyright",
}
LICENCE_NAME = "Bitstream Vera Fonts licence with DejaVu changes in the public domain"


def fetch(target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        unpacked = debian_package(PACKAGE, VERSION, SHA256, work)
        for name, inside in FILES.items():
            source = unpacked / inside
            if not source.is_file():
                raise FetchError(f"{PACKAGE} {VERSION} has no {inside}")
            shutil.copyfile(source, target / name)


def stamp_text() -> str:
    return f"{PACKAGE}\t{VERSION}\t{SHA256}\t{LICENCE_NAME}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, default=DEFAULT_TARGET)
    target: Path = parser.parse_args(argv).into

    def fetch_font(into: Path) -> None:
        fetch(into)
        print(f"font: {PACKAGE} {VERSION} ({LICENCE_NAME})")

    return fetch_once(target, stamp_text(), fetch_font, "the card's font")


if __name__ == "__main__":
    sys.exit(main())
