"""The console in a real browser: the local stack with the console, its managed login and a
seeded crisis (`ConsoleInBrowser`), Debian's Chromium driven by Playwright, and a person's
sign-in through the managed login's form. Shared by tests/browser and `local.screenshots`.

Playwright's own browser download cannot work here, so it drives /usr/bin/chromium (the
Makefile installs it); without it this fails, it never falls back to skipping."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


class NoChromium(RuntimeError):
    """Chromium is not where the browser tests and the screenshots expect it."""


def require_chromium(path: Path = CHROMIUM) -> Path:
    if not os.access(path, os.X_OK):
        raise NoChromium(
            f"Chromium is missing at {path}: the console's browser tests and screenshots "
            "need it (`make setup` installs Debian's chromium package)"
        )
    return path


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright."""
    return playwright.chromium.launch(executable_path=str(require_chromium()), args=LAUNCH_ARGS)


@contextlib.contextmanager
def console_and_chromium(**options: Any) -> Iterator[tuple[ConsoleInBrowser, Any]]:
    """The console with its seeded crisis, and Chromium: the stack starts in a thread while
    Chromium does (no Chromium: NoChromium at once, before the stack's seconds)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    crisis = ConsoleInBrowser(**options)
    with ThreadPoolExecutor(1) as pool, contextlib.ExitStack() as running:
        starting = pool.submit(crisis.__enter__)
        try:
            playwright = running.enter_context(sync_playwright())
            browser = launch_chromium(playwright)
            running.callback(browser.close)
        except BaseException:
            if starting.exception() is None:
                crisis.__exit__(None, None, None)
            raise
        starting.result()
        running.push(crisis.__exit__)
        yield crisis, browser


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
    _people: dict[str, Any] = field(init=False, default_factory=dict)
    _devnull: IO[str] | None = field(init=False, default=None)

    def __enter__(self) -> ConsoleInBrowser:
        ports = free_port(), free_port()
        if self.log is None:
            self.log = self._devnull = open(os.devnull, "w")  # closed on exit
        with contextlib.ExitStack() as undo:
            undo.callback(self._close_log)
            self.stack = LocalStack(log=self.log, **console_stack_settings(*ports))
            self.stack.start()
            undo.callback(self.stack.stop)
            self.console = serve_console(self.stack, *ports)
            undo.callback(self.console.stop)
            self.seeded = seed_crisis(self.stack, self.now)
            undo.pop_all()  # started: __exit__ stops it all
        return self

    def __exit__(self, *exc: object) -> None:
        self.console.stop()
        self.stack.stop()
        self._close_log()

    def _close_log(self) -> None:
        if self._devnull is not None:
            self._devnull.close()

    def page_of(self, browser: Any, name: str, **options: Any) -> Any:
        """`name`'s tab, in a browser context of their own (their own cookies): signed in
        through the managed login the first time, the same tab after (a new context or tab
        costs Chromium a renderer process: half a second on a busy machine)."""
        if name not in self._people:
            page = browser.new_context(**options).new_page()
            # (signed in on the way to the lightest page: the status page draws charts)
            page.goto(f"{self.console.url}/resume")
            fill_sign_in(page, name, self.console.password)
            self._people[name] = page
        return self._people[name]

    def keep(self, name: str, page: Any) -> None:
        """A tab signed in as `name` another way (through a link, on a phone) as theirs."""
        self._people[name] = page

    def kept(self, context: Any) -> bool:
        return any(page.context is context for page in self._people.values())
