"""Screenshots of the console's pages, for the README, from a real browser on the local stack.

    python -m local.screenshots [--out docs/screenshots]

The same setup as tests/browser (`local.browser`): the local stack with the console, its
managed login and a seeded crisis, Debian's Chromium through Playwright. It signs in and
saves one PNG per page, as a person on call and a communications team see them:

    login.png        the managed login's form
    status.png       crisis mode, the open alert, the last 24 hours
    alert.png        the alert: acknowledge, pause, timeline, mentions, charts
    alert-phone.png  the same alert from the SMS link, on a phone
    statement.png    a statement waiting for approval, with the pre-flight checks
    confirm.png      the confirm page before a release: the exact texts and the hash
    release.png      the per-channel grid after a release, one channel failed
    resume.png       the held posts, after the release put crisis mode on

Desktop pages are 1100 px wide, cut at 1600 px; PNGs are stored with a 256-colour palette
(text and flat colours: it costs nothing visible and most of the size).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from local.browser import PHONE, ConsoleInBrowser, console_and_chromium, fill_sign_in

ROOT = Path(__file__).resolve().parent.parent
DESKTOP = {"viewport": {"width": 1100, "height": 900}}
MAX_HEIGHT = 1600
IAM = "arn:aws:iam::123456789012:user"


def save(page: Any, path: Path, max_height: int = MAX_HEIGHT) -> Path:
    """The page, whole, at most `max_height` CSS pixels of it, as a palette PNG."""
    from PIL import Image

    width = page.viewport_size["width"]
    height = min(int(page.evaluate("document.documentElement.scrollHeight")), max_height)
    page.screenshot(
        path=str(path),
        full_page=True,
        clip={"x": 0, "y": 0, "width": width, "height": height},
    )
    with Image.open(path) as shot:
        small = shot.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return path


def _approved_by_two(crisis: ConsoleInBrowser) -> None:
    from ops.transport import LocalTransport

    seen = {"sha256": crisis.seeded.sha256, "accept_warnings": True}
    for approver in ("anna", "dieter"):
        answer = LocalTransport(crisis.stack, f"{IAM}/{approver}").request(
            "POST", f"/statements/{crisis.seeded.statement_id}/approve", seen
        )
        if not answer.ok:
            raise RuntimeError(f"{approver} could not approve: {answer.body}")


def _mentions(crisis: ConsoleInBrowser) -> None:
    """A few negative mentions of the storm in the last hour: the alert page quotes them."""
    from stormwatch.model import Mention, ScoredMention, Sentiment
    from stormwatch.persistence.mentions import MentionLedger
    from stormwatch.persistence.table import Table

    said = [
        ("x", "@lena_hh", 48_000,
         "Third hour at Hamburg gate B12 and still no word from @NordwindAir."),
        ("mastodon", "@tobi@norden.social", 9_200,
         "Nordwind cancelled my flight and the app shows nothing."),
        ("bluesky", "@mira.bsky.social", 3_100,
         "Nobody at the Nordwind desk in HAM. Kids asleep on the floor."),
    ]  # fmt: skip
    mentions = [
        ScoredMention(
            Mention(
                channel,
                f"storm-{number}",
                f"{crisis.stack.channels.channel_url(channel)}/post/storm-{number}",
                author,
                text,
                crisis.now - timedelta(minutes=5 + 7 * number),
                reach=reach,
            ),
            "en",
            Sentiment.NEGATIVE,
            -0.8,
            ("nordwind-air",),
        )
        for number, (channel, author, reach, text) in enumerate(said)
    ]
    table = Table(crisis.stack.client("dynamodb"), crisis.stack.outputs["TableName"])
    for mention in mentions:
        MentionLedger(table).commit_page(
            mention.mention.channel,
            "search:nordwind",
            0,
            {"n": 1},
            [mention],
            bucket_minutes=5,
            mention_ttl_days=30,
            now=crisis.now,
        )


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    with console_and_chromium() as (crisis, browser):
        console = crisis.console.url
        statement = f"{console}/statements/{crisis.seeded.statement_id}"
        _mentions(crisis)

        # The managed login, on the way to the status page
        desktop = browser.new_context(**DESKTOP)
        page = desktop.new_page()
        page.goto(f"{console}/")
        saved.append(save(page, out / "login.png", max_height=600))
        fill_sign_in(page, "anna", crisis.console.password)
        saved.append(save(page, out / "status.png"))
        page.goto(f"{console}/alerts/{crisis.seeded.alert_id}")
        saved.append(save(page, out / "alert.png"))
        page.goto(statement)
        saved.append(save(page, out / "statement.png"))
        desktop.close()

        # On call, at 3 a.m.: the SMS's link on a phone
        phone = browser.new_context(**PHONE)
        page = phone.new_page()
        page.goto(crisis.seeded.link)
        fill_sign_in(page, "dieter", crisis.console.password)
        saved.append(save(page, out / "alert-phone.png", max_height=PHONE["viewport"]["height"]))
        phone.close()

        # Approved by two; Ben releases it, LinkedIn refuses once
        _approved_by_two(crisis)
        crisis.stack.world.faults.arm("status:403", channel="linkedin", path_contains="/rest/posts")
        page = crisis.page_of(browser, "ben", **DESKTOP)
        page.goto(f"{statement}/release")
        saved.append(save(page, out / "confirm.png"))
        with page.expect_navigation():
            page.get_by_role("button", name="Release it now").click()
        saved.append(save(page, out / "release.png"))
        page.goto(f"{console}/resume")
        saved.append(save(page, out / "resume.png"))
    return saved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.screenshots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    saved = take(args.out)
    total = 0
    for path in saved:
        size = path.stat().st_size
        total += size
        print(f"  {path}  {size / 1024:.0f} KiB")
    print(f"{len(saved)} screenshots, {total / 1024:.0f} KiB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
