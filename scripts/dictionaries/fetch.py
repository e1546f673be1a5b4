"""Fetch the spell checker's Hunspell dictionaries, pinned and checksummed (`make` runs it).

    python3 scripts/dictionaries/fetch.py [--into DIR]

Writes <name>.aff, <name>.dic and <name>.license for each entry of `PINS` into
layers/core/stormwatch/act/dictionaries/ (git-ignored), where `sam build` picks them up
with the rest of the layer. Only the package registries the project may reach are used,
through their own clients: npm's registry (`npm pack`, immutable versions) for German and
English, Debian's archive (`apt-get download`) for Polish, whose npm package is the
OpenOffice.org dictionary of 2008 (Debian's 7.5.0 is sjp.pl's, with words such as
"smartfon"); docs/decisions/0010-spelling.md has the measurements. Every download is
checked against the digest pinned here before anything is written, so a changed package
stops the build instead of changing what is checked.

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pinned_download import FetchError, debian_package, fetch_once, npm_package

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARGET = ROOT / "layers/core/stormwatch/act/dictionaries"


@dataclass(frozen=True)
class Pin:
    name: str
    """File stem in the target directory; `stormwatch.act.spelling` knows these names."""
    registry: str
    """"npm" or "debian"."""
    package: str
    version: str
    digest: str
    """npm: the registry's `dist.integrity` (sha512, base64); debian: the .deb's sha256."""
    aff: str
    dic: str
    license: str
    """Paths inside the package."""
    licence_name: str


PINS = (
    Pin(
        "de",
        "npm",
        "dictionary-de",
        "3.0.0",
        "sha512-0Xbq+YpWTscAL1e18aPPaqfG4goC2o9T595L/54v2OvOPC0/TJFFlclYanxuUoK73wutM5f9EgSuWGkvQXlOXw==",
        "package/index.aff",
        "package/index.dic",
        "package/license",
        "GPL-2.0 OR GPL-3.0 (igerman98 20161207)",
    ),
    Pin(
        "en-us",
        "npm",
        "dictionary-en",
        "4.0.0",
        "sha512-3NHnE1uq33ZE/CIwaZ6gqxa4BnglHnxeAcTM0GJ7cmtRGcvX9InMK/IqLtYcUMFCUpUNgybH+DzkqdgAo3F1zg==",
        "package/index.aff",
        "package/index.dic",
        "package/license",
        "MIT AND BSD (SCOWL 2020.12.07)",
    ),
    Pin(
        "en-gb",
        "npm",
        "dictionary-en-gb",
        "3.0.0",
        "sha512-gU/dwC9xGYPh/0CCcmGNXO8OwSgOySAqevcSXxADCsgUD+tr6OJ52u7XaC7No7dNssvdUSfVjkzcqLrRZq3kPA==",
        "package/index.aff",
        "package/index.dic",
        "package/license",
        "MIT AND BSD (SCOWL 2020.12.07)",
    ),
    Pin(
        "pl",
        "debian",
        "hunspell-pl",
        "1:7.5.0-1",
        "9af9e010e5586ab3e5b46009273df8e94c8c1f0da8e3c7b1e2df1398ce68ef07",
        "usr/share/hunspell/pl_PL.aff",
        "usr/share/hunspell/pl_PL.dic",
        "usr/share/doc/hunspell-pl/copyright",
        "GPL-2+ OR LGPL-2.1+ OR MPL-1.1 (sjp.pl, LibreOffice dictionaries 7.5.0)",
    ),
)


def fetch(pin: Pin, target: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        if pin.registry == "npm":
            unpacked = npm_package(pin.package, pin.version, pin.digest, work)
        else:
            unpacked = debian_package(pin.package, pin.version, pin.digest, work)
        for suffix, inside in (("aff", pin.aff), ("dic", pin.dic), ("license", pin.license)):
            source = unpacked / inside
            if not source.is_file():
                raise FetchError(f"{pin.package} {pin.version} has no {inside}")
            shutil.copyfile(source, target / f"{pin.name}.{suffix}")


def stamp_text() -> str:
    return "".join(
        f"{pin.name}\t{pin.registry}\t{pin.package}\t{pin.version}\t{pin.licence_name}\n"
        for pin in PINS
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--into", type=Path, default=DEFAULT_TARGET)
    target: Path = parser.parse_args(argv).into

    def fetch_all(into: Path) -> None:
        for pin in PINS:
            fetch(pin, into)
            print(f"dictionary {pin.name}: {pin.package} {pin.version} ({pin.licence_name})")

    return fetch_once(target, stamp_text(), fetch_all, "the dictionaries")


if __name__ == "__main__":
    sys.exit(main())
