"""The console in a real browser: the local stack with the console, its managed login and a
seeded crisis (`ConsoleInBrowser`), Debian's Chromium driven by Playwright, and a person's
sign-in through the managed login's form. Shared by tests/browser and `local.screenshots`.

Playwright's own browser download cannot work here, so it drives /usr/bin/chromium (the
Makefile installs it); without it this fails, it never falls back to skipping."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from local.console import LocalConsole, console_stack_settings, free_port, serve_console
from local.console_seed import SeededCrisis, seed_crisis
from local.stack import LocalStack

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


class NoChromium(RuntimeError):
    """Chromium is not where the browser tests and the screenshots expect it."""


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright."""
    if not os.access(CHROMIUM, os.X_OK):
        raise NoChromium(
            f"Chromium is missing at {CHROMIUM}: the console's browser tests and screenshots "
            "need it (`make setup` installs Debian's chromium package)"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)


def fill_sign_in(page: Any, name: str, password: str) -> None:
    """On the managed login's form: the name, the password, the button; then wait for the
    console to take the code and send the browser on."""
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation(url=lambda url: "/auth/" not in url and "/oauth2/" not in url):
        page.click("button[type=submit]")


@dataclass
class ConsoleInBrowser:
    """A local stack with the console on loopback and a crisis to look at."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    log: IO[str] | None = None
    stack: LocalStack = field(init=False)
    console: LocalConsole = field(init=False)
    seeded: SeededCrisis = field(init=False)
    _sessions: dict[str, Any] = field(init=False, default_factory=dict)
    _devnull: IO[str] | None = field(init=False, default=None)

    def __enter__(self) -> ConsoleInBrowser:
        console_port, login_port = free_port(), free_port()
        if self.log is None:
            self.log = self._devnull = open(os.devnull, "w")  # closed on exit
        self.stack = LocalStack(log=self.log, **console_stack_settings(console_port, login_port))
        self.stack.start()
        try:
            self.console = serve_console(self.stack, console_port, login_port)
            self.seeded = seed_crisis(self.stack, self.now)
        except BaseException:
            self.stack.stop()
            self._close_log()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.console.stop()
        self.stack.stop()
        self._close_log()

    def _close_log(self) -> None:
        if self._devnull is not None:
            self._devnull.close()

    def context(self, browser: Any, name: str | None = None, **options: Any) -> Any:
        """A browser context of its own (its own cookies), signed in as `name` (through
        the managed login once per person; later contexts start from that session)."""
        if name is not None and name in self._sessions:
            return browser.new_context(storage_state=self._sessions[name], **options)
        context = browser.new_context(**options)
        if name is not None:
            page = context.new_page()
            page.goto(f"{self.console.url}/")
            fill_sign_in(page, name, self.console.password)
            self._sessions[name] = context.storage_state()
            page.close()
        return context
