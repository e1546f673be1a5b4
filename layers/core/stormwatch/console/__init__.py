"""The console: pages for signed-in people (docs/decisions/0013-console.md).

It reads the table through the Act flow's own stores and changes nothing itself: every
step is an Act function's, invoked with the caller's verified claims."""
