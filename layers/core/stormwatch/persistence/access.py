"""Which partitions of the table each function may write, and read: the `dynamodb:LeadingKeys`
conditions of its role in template.yaml (IAM `StringLike` patterns).

IAM cannot import this module, so the template spells the lists out, and
tests/integration/test_template.py holds each role to them; the functions' recorded calls
on the local stack are then judged against the template's conditions (moto enforces no
IAM). Built from `keys`, the one module that knows the key shapes.

Why by partition: a role allowed to write any item could forge another flow's items - a
poller writing an outbox message the evaluator then sends. A partition is what IAM can
tell apart (`LeadingKeys` is the partition key alone), so items that must stay apart live
in partitions of their own.

`reads` is None where the function's reads stay unconditioned: the Act, release and
console functions read nearly every partition (status, timeline, report), and a
read-only slip there exposes nothing a role could not already see.
"""

from __future__ import annotations

from dataclasses import dataclass

from stormwatch.persistence import keys

ANY = "*"

MENTIONS = keys.mention_day(ANY, ANY).replace(f"{ANY}#{ANY}", ANY)
BRANDS = keys.brand_partition(ANY)
CURSORS = keys.cursor_partition(ANY)
MONITOR = keys.MONITOR
OUTBOX = keys.OUTBOX
BUDGETS = keys.budget(ANY, "")["pk"]["S"]
CRISIS = keys.crisis_mode()["pk"]["S"]
STATEMENTS = keys.statement_partition(ANY)
STATEMENT_LIST = keys.STATEMENTS
PARKED = keys.parked_partition(ANY)
QUEUE = keys.QUEUE
AUDIT = keys.audit_partition(ANY)
ALERT_TIMELINES = keys.alert_timeline_partition(ANY)
LINK_USES = keys.link_use(ANY)["pk"]["S"]
COUNTED = keys.counted_position(ANY)["pk"]["S"]


@dataclass(frozen=True, slots=True)
class PartitionAccess:
    writes: tuple[str, ...]
    reads: tuple[str, ...] | None


ACT_WRITES = (CRISIS, STATEMENTS, STATEMENT_LIST, PARKED, QUEUE, AUDIT, ALERT_TIMELINES)

BY_FUNCTION: dict[str, PartitionAccess] = {
    # Never the buckets: those are counted from the stream, by the counter alone.
    "PollMentionsFunction": PartitionAccess(
        writes=(MENTIONS, CURSORS, MONITOR, BUDGETS),
        reads=(CURSORS,),
    ),
    "CountMentionsFunction": PartitionAccess(writes=(BRANDS, COUNTED), reads=(COUNTED,)),
    # Never the pollers' mentions or cursors; the brand's partition holds its alert state.
    "EvaluateAlertsFunction": PartitionAccess(
        writes=(BRANDS, MONITOR, OUTBOX),
        reads=(BRANDS, MONITOR, OUTBOX, MENTIONS),
    ),
    "PublishScheduledFunction": PartitionAccess(
        writes=(QUEUE, PARKED),
        reads=(CRISIS, QUEUE, PARKED),
    ),
    # An acknowledgement writes the brand's alert state, as `stormwatch ack` does.
    "ActFunction": PartitionAccess(writes=(*ACT_WRITES, BRANDS), reads=None),
    "ReleaseStatementFunction": PartitionAccess(writes=ACT_WRITES, reads=None),
    "ConsoleFunction": PartitionAccess(writes=(LINK_USES,), reads=None),
}
