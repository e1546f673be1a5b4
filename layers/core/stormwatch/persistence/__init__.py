"""DynamoDB access for the single table, one module per kind of item, each taking and
returning domain types. The only package that knows keys (`keys.py` has the layout);
raw items never leave it.

- `mentions`: cursors, mentions and the exactly-once commit of a page
- `buckets`: per-brand bucket counters (read, history import)
- `health`: each channel poller's health
- `warn_state`: a brand's detectors and alert lifecycle; the blind monitor
- `outbox`: messages decided, until sent
- `budgets`: monthly spending caps
- `table`: the client, request counting, write-unit estimates
"""

from stormwatch.persistence.table import Table

__all__ = ["Table"]
