"""The console in a real browser: Chromium, driven by Playwright, against the console and
its managed login on the local stack, as a person on call and a communications team use it.

One stack, one console, one Chromium for the module (starting them is most of its time);
each person gets a browser context of their own (their own cookies). The tests run in the
order of a crisis (sign in, take the alert, pause and resume, approve, release, retry), and
each one asserts what it did itself."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from local.browser import (
    PHONE,
    ConsoleInBrowser,
    NoChromium,
    console_and_chromium,
    fill_sign_in,
    require_chromium,
)
from local.console_seed import open_alert, signed_link, submit_statement
from local.fakechannels.publishing import PUBLISHED
from ops.transport import LocalTransport

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
IAM = "arn:aws:iam::123456789012:user"


@pytest.fixture(scope="module")
def _running() -> Iterator[tuple[ConsoleInBrowser, Any]]:
    # (no Chromium: every test fails, saying so; the Makefile installs it)
    with console_and_chromium() as running:
        yield running


@pytest.fixture(scope="module")
def crisis(_running: tuple[ConsoleInBrowser, Any]) -> ConsoleInBrowser:
    return _running[0]


@pytest.fixture(scope="module")
def browser(_running: tuple[ConsoleInBrowser, Any]) -> Any:
    return _running[1]


@pytest.fixture
def as_person(crisis: ConsoleInBrowser, browser: Any) -> Iterator[Any]:
    """`as_person(name)`: the person's tab, in a browser context of their own, signed in;
    `as_person(None, **context options)`: a tab in a new context, signed out."""
    fresh: list[Any] = []

    def open_as(name: str | None, **options: Any) -> Any:
        if name is not None:
            return crisis.page_of(browser, name)
        context = browser.new_context(**options)
        fresh.append(context)
        return context.new_page()

    yield open_as
    for context in fresh:
        if not crisis.kept(context):
            context.close()


def submit(page: Any, button: str) -> None:
    """Click the button named `button` and wait for the page its form leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def main_text(page: Any) -> str:
    return str(page.inner_text("main"))


def posts(crisis: ConsoleInBrowser, channel: str, containing: str) -> list[Any]:
    published = crisis.stack.world.channel_state(channel).get(PUBLISHED, [])
    return [post for post in published if containing in str(post)]


def test_given_no_session_when_ben_signs_in_on_the_managed_login_then_the_console_knows_him(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given a browser without a session, opening the console
    page = as_person(None)
    page.goto(f"{crisis.console.url}/")
    # Then it is at the managed login's form
    assert page.url.startswith(f"{crisis.console.login_url}/oauth2/authorize")
    # When Ben types a wrong password, the form says so and stays
    page.fill("input[name=username]", "ben")
    page.fill("input[name=password]", "not-his-password")
    submit(page, "Sign in")
    assert "Incorrect username or password." in page.inner_text("body")
    # When he signs in with his own
    fill_sign_in(page, "ben", crisis.console.password)
    # Then the console's status page greets him with his groups, the open alert on it
    assert page.url == f"{crisis.console.url}/"
    assert "ben (approver, publisher)" in page.inner_text("header")
    assert "nobody has acknowledged it" in main_text(page)
    # ...holding the session in a cookie no script can read (none runs anyway)
    session = {c["name"]: c for c in page.context.cookies(crisis.console.url)}["__Host-session"]
    assert session["httpOnly"]
    crisis.keep("ben", page)


def test_given_the_alerts_sms_link_when_opened_and_acknowledged_then_the_timeline_names_ben(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given the link of the alert's SMS, opened in a browser not signed in
    page = as_person(None)
    page.goto(crisis.seeded.link)
    # When Ben signs in on the way
    fill_sign_in(page, "ben", crisis.console.password)
    # Then he is on the alert's page
    assert page.url == f"{crisis.console.url}/alerts/{crisis.seeded.alert_id}"
    assert "acknowledged" not in page.inner_text("table")
    # When he acknowledges it
    submit(page, "Acknowledge: I am on it")
    # Then he is back on the alert, whose timeline shows his acknowledgement
    assert page.url == f"{crisis.console.url}/alerts/{crisis.seeded.alert_id}"
    rows = page.locator("table tr", has_text="acknowledged")
    assert rows.count() >= 1
    assert "Ben Kraus" in rows.first.inner_text()


def test_given_a_used_link_and_an_expired_link_when_opened_then_each_says_why(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    page = as_person("ben")
    # Given a fresh link, opened once (to the alert)
    link = signed_link(crisis.stack, crisis.seeded.alert_id, crisis.now)
    first = page.request.get(link, max_redirects=0)
    assert first.status == 303
    assert first.headers["location"] == f"/alerts/{crisis.seeded.alert_id}"
    # When it is opened again
    again = page.goto(link)
    # Then it says it was used, 409, with a way on to the status page
    assert again.status == 409
    assert page.inner_text("h1") == "This link was used already"
    assert page.get_by_role("link", name="Back").get_attribute("href") == "/"
    # When a link issued 25 hours ago is opened
    expired = page.goto(
        signed_link(crisis.stack, crisis.seeded.alert_id, crisis.now - timedelta(hours=25))
    )
    # Then it says it has expired, 410
    assert expired.status == 410
    assert page.inner_text("h1") == "This link has expired"


def test_given_a_phone_when_the_on_call_opens_the_link_then_acknowledge_fits_and_takes_a_tap(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given another brand's open alert, and its SMS link on a phone-sized screen at 3 a.m.
    alert_id = open_alert(crisis.stack, crisis.now - timedelta(minutes=30), brand="kolibri-pay")
    page = as_person(None, **PHONE)
    page.goto(signed_link(crisis.stack, alert_id, crisis.now))
    # When Dieter signs in on the phone
    fill_sign_in(page, "dieter", crisis.console.password)
    assert page.url.endswith(f"/alerts/{alert_id}")
    # Then the page is no wider than the screen
    width = PHONE["viewport"]["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # ...and the Acknowledge button is on it, whole, and a thumb's height
    button = page.get_by_role("button", name="Acknowledge: I am on it")
    box = button.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    assert box["height"] >= 44
    # When he taps it
    with page.expect_navigation():
        button.tap()
    # Then the alert is his
    assert "Dieter" in page.locator("table tr", has_text="acknowledged").first.inner_text()
    crisis.keep("dieter", page)  # (he approves on his phone, later)


def test_given_vera_a_viewer_when_she_opens_the_pages_then_she_sees_no_approve_or_release(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given Vera, in the pool as a viewer and nobody in act.people
    page = as_person("vera")
    statement = f"{crisis.console.url}/statements/{crisis.seeded.statement_id}"
    # When she opens the statement waiting for approval
    page.goto(statement)
    # Then she reads it, with no button to approve or reject and no way to release
    assert crisis.seeded.statement_id in page.inner_text("h1")
    assert page.get_by_role("button").filter(has_text="Approve").count() == 0
    assert page.get_by_role("button").filter(has_text="Reject").count() == 0
    assert page.get_by_role("link").filter(has_text="Release").count() == 0
    # ...nor on the confirm page
    page.goto(f"{statement}/release")
    assert page.get_by_role("button").filter(has_text="Release").count() == 0
    assert "Releasing takes the publisher role." in main_text(page)


def test_given_carlas_own_statement_when_she_approves_it_then_refused_and_nothing_approved(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given Carla, the statement's author and an approver
    page = as_person("carla")
    statement = f"{crisis.console.url}/statements/{crisis.seeded.statement_id}"
    page.goto(statement)
    # When she approves her own statement
    page.get_by_label("I accept the warnings above").check()
    submit(page, "Approve this text")
    # Then the console shows the Act function's refusal
    assert page.inner_text("h1") == "Not done"
    assert "wrote statement" in main_text(page)
    assert "may not approve it" in main_text(page)
    # ...and the statement has no approval
    shown = LocalTransport(crisis.stack, f"{IAM}/anna").request(
        "GET", f"/statements/{crisis.seeded.statement_id}"
    )
    assert shown.body["state"] == "submitted"
    assert shown.body["approvals"] == []


def test_given_a_submitted_statement_when_anna_then_dieter_approve_then_it_is_approved(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given Carla's statement, submitted for approval (two needed, hers not among them)
    statement = f"{crisis.console.url}/statements/{crisis.seeded.statement_id}"
    # When Anna approves it, in her browser
    anna = as_person("anna")
    anna.goto(statement)
    anna.get_by_label("I accept the warnings above").check()
    submit(anna, "Approve this text")
    # Then it counts, one approval still missing
    assert anna.url == statement
    assert "1 approval(s) missing" in main_text(anna)
    # When Dieter approves it, in his (on his phone)
    dieter = as_person("dieter")
    dieter.goto(statement)
    dieter.get_by_label("I accept the warnings above").check()
    submit(dieter, "Approve this text")
    # Then it is approved by both
    text = main_text(dieter)
    assert "approved - by carla." in text
    assert "approval(s) missing" not in text
    assert "Anna" in text
    assert "Dieter" in text


def test_given_posts_waiting_when_ben_pauses_from_the_alert_then_resume_lists_and_restores_them(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    scheduled = crisis.stack.world.channel_state("mastodon")["scheduled"]
    waiting = len(scheduled)
    assert waiting > 0
    # Given Ben on the alert's page
    page = as_person("ben")
    page.goto(f"{crisis.console.url}/alerts/{crisis.seeded.alert_id}")
    # When he pauses everything, saying why
    page.get_by_label("Why (shown to the team)").fill("Storm over Hamburg: hold the winter sale")
    submit(page, "Pause everything now")
    # Then crisis mode is on, and the scheduled posts left the schedulers
    assert "Crisis mode is on" in page.inner_text(".crisis")
    assert len(scheduled) == 0
    # When he opens Resume
    page.get_by_role("link", name="Resume").click()
    page.wait_for_url(f"{crisis.console.url}/resume")
    # Then it lists the held posts of every scheduler
    held = dict(
        (row.locator("td").nth(0).inner_text(), int(row.locator("td").nth(1).inner_text()))
        for row in page.locator("table tr").all()
    )
    assert held["mastodon"] == waiting
    assert all(count > 0 for count in held.values()), held
    # When he ends crisis mode
    submit(page, "End crisis mode and restore the held posts")
    # Then nothing is held any more, and the posts are back where they were
    assert "Crisis mode is off." in page.inner_text("body")
    assert {row.locator("td").nth(1).inner_text() for row in page.locator("table tr").all()} == {
        "0"
    }
    assert len(scheduled) == waiting


def test_given_an_approved_statement_when_ben_releases_it_then_the_grid_links_every_post(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given the approved statement (test above), and Ben on its page
    page = as_person("ben")
    statement = f"{crisis.console.url}/statements/{crisis.seeded.statement_id}"
    page.goto(statement)
    # When he follows Release
    page.get_by_role("link", name="Release on every channel...").click()
    page.wait_for_url(f"{statement}/release")
    # Then the confirm page shows every channel's exact text and the hash approved
    confirm = main_text(page)
    assert crisis.seeded.sha256 in confirm
    texts = page.locator("pre").all_inner_texts()
    assert len(texts) == len(CHANNELS)
    assert all("Since 6 am, flights from Hamburg are delayed." in text for text in texts)
    # When he releases it
    submit(page, "Release it now")
    # Then the statement page shows the grid: every channel published, with its link
    assert page.url == statement
    grid = page.locator("h2:text('Release') + table tr").all()[1:]
    results = {row.locator("td").nth(0).inner_text(): row for row in grid}
    assert set(results) == set(CHANNELS)
    for channel, row in results.items():
        assert row.locator("td").nth(1).inner_text() == "published", channel
        assert (row.get_by_role("link").get_attribute("href") or "").startswith("https://")
    # ...and each channel has the statement once
    for channel in CHANNELS:
        assert len(posts(crisis, channel, "flights from Hamburg")) == 1, channel


def test_given_a_channel_failing_on_release_when_ben_retries_then_it_goes_out_once_everywhere(
    crisis: ConsoleInBrowser, as_person: Any
) -> None:
    # Given another statement approved by Anna and Dieter (through the Act API)
    situation = "Since noon, flights from Kiel are delayed."
    draft = submit_statement(crisis.stack, crisis.now, situation=situation)
    for approver in ("anna", "dieter"):
        approved = LocalTransport(crisis.stack, f"{IAM}/{approver}").request(
            "POST",
            f"/statements/{draft['id']}/approve",
            {"sha256": draft["sha256"], "accept_warnings": True},
        )
        assert approved.ok, approved.body
    # ...and LinkedIn refusing the next post
    crisis.stack.world.faults.arm("status:403", channel="linkedin", path_contains="/rest/posts")
    page = as_person("ben")
    statement = f"{crisis.console.url}/statements/{draft['id']}"
    # When Ben releases it
    page.goto(f"{statement}/release")
    submit(page, "Release it now")
    # Then the grid shows LinkedIn failed, the others published
    status = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(1).inner_text()
        for row in page.locator("h2:text('Release') + table tr").all()[1:]
    }
    assert status.pop("linkedin").startswith("failed"), status
    assert set(status.values()) == {"published"}, status
    # When he retries the failed channels from the grid
    submit(page, "Retry the failed channels (linkedin)")
    # Then LinkedIn has it, no channel has it twice, and nothing is left to retry
    for channel in CHANNELS:
        assert len(posts(crisis, channel, "flights from Kiel")) == 1, channel
    cells = page.locator("h2:text('Release') + table td:nth-child(2)").all_inner_texts()
    assert set(cells) == {"published"}, cells
    assert page.get_by_role("button").filter(has_text="Retry").count() == 0


def test_given_no_chromium_where_the_makefile_puts_it_then_the_browser_tests_fail_saying_so(
    tmp_path: Path,
) -> None:
    # Given a path with no Chromium at it
    missing = tmp_path / "chromium"
    # When the browser tests look for it, Then they fail (not skip), naming it and the fix
    with pytest.raises(NoChromium, match=r"Chromium is missing at .*chromium.*make setup"):
        require_chromium(missing)
