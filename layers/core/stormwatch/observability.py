"""Logger, Metrics and Tracer for the handlers, set up the same way everywhere.

The Tracer is created on a function's first invocation, not when its module is
imported: constructing it starts the X-Ray SDK, whose default sampler builds a botocore
session and client (about 0.3 s measured, see bench/coldstart.py). Importing the handler
stays cheap; the first traced invocation pays that cost once.

Only botocore is patched: AWS calls are traced, channel calls are not. The X-Ray SDK's
`requests` and `http.client` patches record each request's URL without its query, but
with its path, and a feed's path can be its secret (a Google Alerts feed URL is read
access to the alert); a channel's latency and failures are in the poll metrics and logs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

TRACED_MODULES = ("botocore",)


class LazyTracer:
    """`capture_lambda_handler` of a Powertools Tracer made on the first call."""

    def __init__(self) -> None:
        self.tracer: Tracer | None = None

    def capture_lambda_handler(self, handler: Handler) -> Handler:
        traced: Callable[..., Any] | None = None

        @functools.wraps(handler)
        def wrapper(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                from aws_lambda_powertools import Tracer

                self.tracer = Tracer(patch_modules=TRACED_MODULES)
                traced = self.tracer.capture_lambda_handler(capture_response=False)(handler)
            return traced(event, context)

        return wrapper  # type: ignore[return-value]
