"""One poll of one channel: every source, page by page, committed as it goes.

A storm is bigger than one invocation. Pages are pulled one at a time and each is
committed with the cursor that follows it, so stopping anywhere - out of time, rate
limited, crashed - loses nothing: the next run resumes from the last committed cursor.
One source failing never stops the others, and one slow source cannot starve them:
each gets an equal share of the time left, and its requests end with that share. Health
is kept per source and per channel (one item, one write a run); a run counts as failing
only when every source it tried failed, so a poller that keeps failing can be noticed
without one bad feed making the whole channel "blind".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from stormwatch.channels.base import Cursor, MentionSource
from stormwatch.channels.chains import without_page_token
from stormwatch.config import Config
from stormwatch.deadline import TimeBudget
from stormwatch.errors import ChannelError, ConfigError, RateLimited, StoreConflict
from stormwatch.listen.scoring import MentionScorer, ScoringTally
from stormwatch.model import ScoredMention
from stormwatch.persistence.mentions import CommitResult, CursorRecord

logger = logging.getLogger(__name__)

# Time kept back after the last page for logging, metrics and the health record.
FINAL_RESERVE_SECONDS = 3.0
# The least time a source's turn is worth starting with (a request needs a second or so).
MIN_TURN_SECONDS = 1.5
# A source's cursor moves with every this many pages of mentions (and when it stops): a
# run that dies reads at most these pages again, and a page of 100 costs 4 requests, not 5.
CURSOR_EVERY_PAGES = 4


class Ledger(Protocol):
    """Where mentions are written and the cursors moved (`persistence.mentions`)."""

    def load_cursors(self, channel: str) -> dict[str, CursorRecord]: ...

    def store(
        self,
        scored: Sequence[ScoredMention],
        *,
        bucket_minutes: int,
        mention_ttl_days: int,
        now: datetime,
    ) -> CommitResult: ...

    def move_cursor(
        self,
        channel: str,
        source: str,
        expected_version: int,
        cursor_state: Cursor,
        now: datetime,
    ) -> int: ...

    def set_backoff(self, channel: str, source: str, until: datetime, reason: str) -> None: ...


class HealthRecorder(Protocol):
    def record_poll(
        self,
        channel: str,
        at: datetime,
        *,
        succeeded: bool,
        error: str | None,
        mentions: int,
        source_errors: Mapping[str, str] | None = None,
        working_sources: Sequence[str] = (),
    ) -> set[str]: ...


class PollBudget(TimeBudget, Protocol):
    """The invocation's time as the poll loop shares it out (a `Deadline`)."""

    def remaining(self) -> float: ...

    def capped(self, seconds: float) -> AbstractContextManager[None]: ...


@dataclass(slots=True)
class SourceReport:
    key: str
    pages: int = 0
    stored: int = 0
    negative: int = 0
    duplicates: int = 0
    outcome: str = "done"  # done | more | backing-off | rate-limited | conflict | failed | skipped
    error: str | None = None
    newest: datetime | None = None


@dataclass(slots=True)
class PollReport:
    channel: str
    sources: list[SourceReport] = field(default_factory=list)
    tally: ScoringTally = field(default_factory=ScoringTally)

    @property
    def stored(self) -> int:
        return sum(source.stored for source in self.sources)

    @property
    def negative(self) -> int:
        return sum(source.negative for source in self.sources)

    @property
    def errors(self) -> list[str]:
        return [f"{s.key}: {s.error}" for s in self.sources if s.error and s.outcome == "failed"]

    @property
    def newest(self) -> datetime | None:
        moments = [source.newest for source in self.sources if source.newest]
        return max(moments) if moments else None

    def summary(self) -> dict[str, object]:
        return {
            "channel": self.channel,
            "read": self.tally.read,
            "stored": self.stored,
            "duplicates": sum(source.duplicates for source in self.sources),
            "unmatched": self.tally.unmatched,
            "too_old": self.tally.too_old,
            "sources": {source.key: source.outcome for source in self.sources},
            "errors": self.errors,
        }


def poll_channel(
    channel: str,
    sources: Sequence[MentionSource],
    ledger: Ledger,
    health: HealthRecorder,
    scorer: MentionScorer,
    config: Config,
    deadline: PollBudget,
    now: Callable[[], datetime],
) -> PollReport:
    report = PollReport(channel)
    cursors = ledger.load_cursors(channel)
    max_pages = config.channel(channel).max_pages_per_run
    turns: list[_Turn] = []
    for source in sources:
        source_report = SourceReport(source.key)
        report.sources.append(source_report)
        record = cursors.get(source.key)
        if record and record.backoff_until and record.backoff_until > now():
            source_report.outcome = "backing-off"
            continue
        position = _Position(channel, source.key, record, ledger, config, now)
        turns.append(_Turn(source, source_report, position))

    def run(turn: _Turn, seconds: float) -> None:
        with deadline.capped(seconds):
            _poll_source(channel, turn, scorer, config, deadline, now, max_pages, report.tally)

    # Every source gets its turn: each has an equal share of the time left, so one slow
    # feed cannot hold the others back; time a quick source leaves over goes to the next.
    for index, turn in enumerate(turns):
        if not deadline.allows(FINAL_RESERVE_SECONDS + MIN_TURN_SECONDS):
            turn.report.outcome = "skipped"
            continue
        share = (deadline.remaining() - FINAL_RESERVE_SECONDS) / (len(turns) - index)
        run(turn, max(MIN_TURN_SECONDS, share))
    # Then what is left goes to those with more to read, in turn.
    for turn in turns:
        if turn.report.outcome != "more" or turn.report.pages >= max_pages:
            continue
        if not deadline.allows(FINAL_RESERVE_SECONDS + MIN_TURN_SECONDS):
            break
        run(turn, deadline.remaining() - FINAL_RESERVE_SECONDS)

    tried = [s for s in report.sources if s.outcome not in ("skipped", "backing-off")]
    failed = {s.key: s.error or "unknown" for s in tried if s.outcome == "failed"}
    repeated = health.record_poll(
        channel,
        now(),
        # Blind only when every source tried failed: one bad feed is that feed's problem.
        succeeded=len(failed) < len(tried) or not failed,
        error="; ".join(report.errors)[:1000] or None,
        mentions=report.stored,
        source_errors=failed,
        working_sources=[s.key for s in tried if s.outcome in ("done", "more")],
    )
    for turn in turns:
        if turn.report.outcome == "failed" and turn.source.key in repeated:
            _forget_page_token(turn.position)
    return report


@dataclass(slots=True)
class _Turn:
    source: MentionSource
    report: SourceReport
    position: _Position


def _forget_page_token(position: _Position) -> None:
    """A source failed twice in a row in the same way: its chain resumes below its floor
    from now on, without the page token. A refusal of the token in a shape the adapter
    does not recognise as an expired one must not fail every run until it ages out."""
    fresh = without_page_token(position.state)
    if fresh is None:
        return
    try:
        position.move(fresh)
    except Exception:  # the next identical failure tries again
        logger.warning(
            "page token not dropped",
            extra={"channel": position.channel, "source": position.source},
            exc_info=True,
        )
        return
    logger.warning(
        "page token dropped after failing twice the same way",
        extra={"channel": position.channel, "source": position.source},
    )


def _poll_source(
    channel: str,
    turn: _Turn,
    scorer: MentionScorer,
    config: Config,
    deadline: TimeBudget,
    now: Callable[[], datetime],
    max_pages: int,
    tally: ScoringTally,
) -> None:
    source, position, report, ledger = turn.source, turn.position, turn.report, turn.position.ledger
    start = now() - timedelta(minutes=config.initial_lookback_minutes)
    slowest_page = 0.0
    try:
        pages = source.pages(position.state, start)
        while True:
            began = time.monotonic()
            page = next(pages, None)
            if page is None:
                position.flush()
                report.outcome = "done"
                return
            scored = scorer.score(page.mentions, now(), tally)
            if scored:
                result = position.store(page.cursor, scored)
                report.stored += result.stored
                report.negative += result.negative
                report.duplicates += result.duplicates
            else:
                position.hold(page.cursor)
            report.pages += 1
            for item in scored:
                if report.newest is None or item.mention.created_at > report.newest:
                    report.newest = item.mention.created_at
            slowest_page = max(slowest_page, time.monotonic() - began)
            # Stop while a page as slow as the slowest so far still fits this turn, twice over.
            if report.pages >= max_pages or not deadline.allows(2 * slowest_page):
                position.flush()
                report.outcome = "more"
                return
    except StoreConflict as error:
        report.outcome = "conflict"
        report.error = str(error)
        logger.info(
            "another run moved the cursor", extra={"channel": channel, "source": source.key}
        )
    except RateLimited as error:
        report.outcome = "rate-limited"
        report.error = str(error)
        logger.warning(
            "rate limited, backing off",
            extra={"channel": channel, "source": source.key, "until": error.retry_at.isoformat()},
        )
        position.flush_after_failure()
        ledger.set_backoff(channel, source.key, error.retry_at, str(error))
    except (ChannelError, ConfigError) as error:
        report.outcome = "failed"
        report.error = str(error)
        logger.warning(
            "source failed, cursor kept",
            extra={"channel": channel, "source": source.key, "error": str(error)},
        )
        position.flush_after_failure()
    except Exception as error:  # one source's bug must not stop the others
        report.outcome = "failed"
        report.error = f"{error.__class__.__name__}: {error}"
        logger.exception("source crashed", extra={"channel": channel, "source": source.key})
        position.flush_after_failure()


class _Position:
    """A source's cursor during one run: what is committed, and a move held back.

    A page's mentions are written at once; the move of the cursor past them is held and
    written with the page that makes `CURSOR_EVERY_PAGES` held, or when the source stops,
    as one conditional update. Losing a held move (the run dies) only means reading those
    pages again: their mentions are written again, and a mention written again is not
    counted again (`persistence.counting`). A page without a mention only moves the
    cursor (a Facebook page's comment threads are one page each).
    """

    def __init__(
        self,
        channel: str,
        source: str,
        record: CursorRecord | None,
        ledger: Ledger,
        config: Config,
        now: Callable[[], datetime],
    ) -> None:
        self.channel = channel
        self.source = source
        self.state: Cursor | None = record.state if record else None
        self.version = record.version if record else 0
        self.ledger = ledger
        self.config = config
        self.now = now
        self.held: Cursor | None = None
        self.held_pages = 0

    def store(self, cursor: Cursor, scored: Sequence[ScoredMention]) -> CommitResult:
        """Write a page's mentions, and hold the cursor past them."""
        result = self.ledger.store(
            scored,
            bucket_minutes=self.config.bucket_minutes,
            mention_ttl_days=self.config.mention_ttl_days,
            now=self.now(),
        )
        self.held = cursor
        self.held_pages += 1
        if self.held_pages >= CURSOR_EVERY_PAGES:
            self.flush()
        return result

    def hold(self, cursor: Cursor) -> None:
        self.held = cursor

    def move(self, cursor: Cursor) -> None:
        """Move the cursor now (to `cursor`)."""
        self.version = self.ledger.move_cursor(
            self.channel, self.source, self.version, cursor, self.now()
        )
        self.state, self.held, self.held_pages = cursor, None, 0

    def flush(self) -> None:
        if self.held is not None and self.held != self.state:
            self.move(self.held)
        self.held, self.held_pages = None, 0

    def flush_after_failure(self) -> None:
        """Keep what the pages before the failure read, if that can be written; the
        failure itself is what the report shows."""
        try:
            self.flush()
        except Exception:  # the source already failed; the next run re-reads those pages
            logger.warning(
                "held cursor not written",
                extra={"channel": self.channel, "source": self.source},
                exc_info=True,
            )
