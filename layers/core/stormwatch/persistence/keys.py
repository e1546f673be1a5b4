"""Every key of the single table: the one module that knows how items are addressed.

    pk                              sk                          item
    MENTION#<channel>#<UTC day>     <created_at>#<id>           one mention (TTL)
    BRAND#<brand>                   BUCKET#<bucket start>       the brand's counters of every
                                                                channel in one bucket
    BRAND#<brand>                   WARN                        the brand's alert state: every
                                                                series' detector and the lifecycle
    CURSOR#<channel>                <source key>                where a query resumes
    MONITOR                         HEALTH#<channel>            the channel poller's health,
                                                                and each of its sources'
    MONITOR                         BLIND                       channels on which we are blind
    OUTBOX                          <dispatch key>              a message decided, until sent
    BUDGET#<service>                <month>                     spend under a monthly cap
    COUNTED#<stream shard id>       POSITION                    the last stream record of the
                                                                shard counted into buckets (TTL)
    CRISIS                          MODE                        crisis mode: the kill switch
    STATEMENT#<statement id>        STATEMENT                   a statement: its texts, hash,
                                                                state and approvals
    STATEMENT#<statement id>        RELEASE#<channel>           one channel's publication of it
    STATEMENTS                      <created_at>#<statement id> a statement's line in the list
                                                                of recent ones (state, kind)
    PARK#<scheduler>                POST#<post id>              a scheduled post, saved before
                                                                it was cancelled
    QUEUE                           POST#<post id>              a post in our own scheduler
    AUDIT#<UTC day>                 <at>#<event id>             the append-only audit log
    ALERT#<alert id>                <at>#<kind>#<subject>       a step the Act flow took on an
                                                                alert (its timeline)
    LINK#<link id>                  USED                        a signed link once opened
                                                                (single use; TTL)

An alert's timeline partition holds only what the Act flow did about it (paused,
released, resumed); what the Warn flow did (started, escalated, acknowledged, resolved) is
read from the outbox (`OUTBOX` / `<alert id>:...`) and the brand's lifecycle, where it is
written already, so the evaluator writes nothing more.

Why a brand's buckets and its alert state share a partition: the evaluator reads both
every minute, and one Query (`BUCKET#<since>` .. `WARN`) returns the recent buckets and
the state together; `WARN` sorts after every `BUCKET#` key. Why one bucket item holds
every channel: a page of one channel adds to one item per bucket, and the evaluator
reads a brand's recent window as a couple of dozen items instead of one per channel;
the all-channels series is their sum. (docs/decisions/0008-persistence.md)

The day in a mention's partition key spreads a storm's writes over partitions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from stormwatch.model import iso
from stormwatch.persistence.table import Item

BRAND = "BRAND#"
BUCKET = "BUCKET#"
WARN = "WARN"
MONITOR = "MONITOR"
HEALTH = "HEALTH#"
BLIND = "BLIND"
OUTBOX = "OUTBOX"


def _key(pk: str, sk: str) -> Item:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def mention(channel: str, created_at: datetime, mention_id: str) -> Item:
    moment = iso(created_at)
    return _key(mention_day(channel, moment[:10]), f"{moment}#{mention_id}")


def mention_day(channel: str, day: str) -> str:
    """The partition of one channel's mentions of one UTC day (`YYYY-MM-DD`)."""
    return f"{MENTION_PARTITION_PREFIX}{channel}#{day}"


def brand_partition(brand: str) -> str:
    return f"{BRAND}{brand}"


def bucket(brand: str, start: datetime) -> Item:
    return _key(brand_partition(brand), bucket_sort_key(start))


def bucket_sort_key(start: datetime) -> str:
    return f"{BUCKET}{iso(start)}"


def bucket_start_of(sort_key: str) -> str:
    """The ISO start time in a bucket's sort key."""
    return sort_key.removeprefix(BUCKET)


def warn_state(brand: str) -> Item:
    return _key(brand_partition(brand), WARN)


def cursor_partition(channel: str) -> str:
    return f"CURSOR#{channel}"


def cursor(channel: str, source: str) -> Item:
    return _key(cursor_partition(channel), source)


def health(channel: str) -> Item:
    return _key(MONITOR, f"{HEALTH}{channel}")


def blind_monitor() -> Item:
    return _key(MONITOR, BLIND)


def outbox(dispatch_key: str) -> Item:
    return _key(OUTBOX, dispatch_key)


def alert_outbox_prefix(alert_id: str) -> str:
    """The start of every outbox key of one alert (`<alert id>:<event>:<route>`)."""
    return f"{alert_id}:"


def budget(service: str, month: str) -> Item:
    return _key(f"BUDGET#{service}", month)


def counted_position(shard_id: str) -> Item:
    return _key(f"COUNTED#{shard_id}", "POSITION")


MENTION_PARTITION_PREFIX = "MENTION#"
"""What every mention's partition key starts with: the stream's filter for the counter."""


# --- Act ---------------------------------------------------------------------------------

CRISIS = "CRISIS"
STATEMENT = "STATEMENT"
RELEASE = "RELEASE#"
POST = "POST#"
QUEUE = "QUEUE"


def crisis_mode() -> Item:
    return _key(CRISIS, "MODE")


def statement_partition(statement_id: str) -> str:
    return f"STATEMENT#{statement_id}"


def statement(statement_id: str) -> Item:
    return _key(statement_partition(statement_id), STATEMENT)


STATEMENTS = "STATEMENTS"


def statement_listing(created_at: datetime, statement_id: str) -> Item:
    """Newest last in one partition: the few statements of a crisis, listed by one Query."""
    return _key(STATEMENTS, f"{iso(created_at)}#{statement_id}")


def release(statement_id: str, channel: str) -> Item:
    return _key(statement_partition(statement_id), f"{RELEASE}{channel}")


def parked_partition(scheduler: str) -> str:
    return f"PARK#{scheduler}"


def parked(scheduler: str, post_id: str) -> Item:
    return _key(parked_partition(scheduler), f"{POST}{post_id}")


def queued(post_id: str) -> Item:
    return _key(QUEUE, f"{POST}{post_id}")


def audit_partition(day: str) -> str:
    """One UTC day (`YYYY-MM-DD`) of the audit log."""
    return f"AUDIT#{day}"


def audit(at: datetime, event_id: str) -> Item:
    """To the microsecond: events of one second keep the order they happened in."""
    moment = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _key(audit_partition(moment[:10]), f"{moment}#{event_id}")


def alert_timeline_partition(alert_id: str) -> str:
    return f"ALERT#{alert_id}"


def timeline_entry(alert_id: str, at: datetime, kind: str, subject: str) -> Item:
    """To the microsecond, then what and about what: entries sort in time order, and two
    steps of the same moment keep apart."""
    moment = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return _key(alert_timeline_partition(alert_id), f"{moment}#{kind}#{subject}")


def link_use(link_id: str) -> Item:
    return _key(f"LINK#{link_id}", "USED")
