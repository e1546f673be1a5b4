"""Dependencies are pinned, and the tests run the versions Lambda runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        assert "==" in line, f"{path.name}: {line!r} is not pinned with =="
        name, version = line.split("==", 1)
        pins[name.split("[")[0].strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_the_layer_pins_every_package_to_what_the_tests_use() -> None:
    layer = _pins(ROOT / "layers/core/requirements.txt")
    lock = _pins(ROOT / "requirements/dev.lock")
    mismatched = {name: (v, lock.get(name)) for name, v in layer.items() if lock.get(name) != v}
    assert not mismatched, f"layer vs requirements/dev.lock: {mismatched}"


def test_every_tool_environment_is_locked() -> None:
    for lock in ("dev.lock", "sam.lock", "checkov.lock"):
        pins = _pins(ROOT / "requirements" / lock)
        assert len(pins) > 10, lock
