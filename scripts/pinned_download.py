"""Downloads from the registries the project may reach, each checked against a pinned
digest before anything is unpacked: Debian's archive (`apt-get download`) and npm's
registry (`npm pack`). Used by scripts/dictionaries/fetch.py and scripts/fonts/fetch.py.

Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

STAMP = ".complete"


class FetchError(Exception):
    pass


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Fixed commands (npm, apt-get, dpkg-deb) with pinned names, no shell.
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603


def debian_package(package: str, version: str, sha256: str, work: Path) -> Path:
    """The package's files unpacked under `work`, after its .deb matched `sha256`."""
    spec = f"{package}={version}"
    result = run(["apt-get", "download", spec], work)
    if result.returncode != 0:
        # A fresh machine may have no package lists yet.
        run(["apt-get", "update", "-qq"], work)
        result = run(["apt-get", "download", spec], work)
    if result.returncode != 0:
        raise FetchError(
            f"apt-get download {spec} failed ({result.stderr.strip()}); if this machine's "
            "Debian release no longer has that version, pin the one it has here"
        )
    deb = next(work.glob(f"{package}_*.deb"))
    actual = hashlib.sha256(deb.read_bytes()).hexdigest()
    if actual != sha256:
        raise FetchError(f"{deb.name}: sha256 {actual} is not the pinned {sha256}")
    unpacked = work / "unpacked"
    extracted = run(["dpkg-deb", "-x", str(deb), str(unpacked)], work)
    if extracted.returncode != 0:
        raise FetchError(f"dpkg-deb -x {deb.name} failed: {extracted.stderr.strip()}")
    return unpacked


def npm_package(package: str, version: str, integrity: str, work: Path) -> Path:
    """The package's files unpacked under `work`, after its tarball matched `integrity`
    (npm's `sha512-<base64>`)."""
    result = run(["npm", "pack", f"{package}@{version}", "--silent"], work)
    if result.returncode != 0:
        raise FetchError(f"npm pack {package}@{version} failed: {result.stderr.strip()}")
    tarball = work / result.stdout.strip().splitlines()[-1]
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise FetchError(f"{tarball.name}: {algorithm} {actual} is not the pinned {expected}")
    unpacked = work / "unpacked"
    with tarfile.open(tarball) as archive:
        archive.extractall(unpacked, filter="data")
    return unpacked


def fetch_once(target: Path, stamp_text: str, fetch: Callable[[Path], None], what: str) -> int:
    """`fetch` into `target`, unless its stamp says these very pins are there already;
    the stamp is written last, so a failed or cut run is done again. Exit code."""
    stamp = target / STAMP
    if stamp.is_file() and stamp.read_text() == stamp_text:
        stamp.touch()  # newer than the script again, so make is satisfied
        return 0
    target.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    try:
        fetch(target)
    except FetchError as error:
        print(f"fetching {what} failed: {error}", file=sys.stderr)
        return 1
    stamp.write_text(stamp_text)
    return 0
