"""Who is looking (from the JWT authorizer's verified claims) and what every answer carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GROUPS = ("viewer", "approver", "publisher")

SECURITY_HEADERS = {
    # No script runs at all; styles are inline in the page; forms post to the console only
    # (and sign-out's redirect may reach the managed login: security_headers).
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def security_headers(login_url: str) -> dict[str, str]:
    """The headers of every answer. Chromium holds a form's redirect to `form-action` too,
    so the sign-out form's way on to the managed login's /logout must be named there."""
    from urllib.parse import urlsplit

    parts = urlsplit(login_url)
    headers = dict(SECURITY_HEADERS)
    if parts.scheme in ("https", "http") and parts.netloc:
        headers["Content-Security-Policy"] = headers["Content-Security-Policy"].replace(
            "form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}"
        )
    return headers


class NotSignedIn(Exception):
    """The event carries no verified claims: API Gateway's authorizer did not run."""


@dataclass(frozen=True, slots=True)
class Viewer:
    sub: str
    username: str
    groups: frozenset[str]

    def may(self, group: str) -> bool:
        return group in self.groups


def _groups(raw: object) -> frozenset[str]:
    # An HTTP API hands array claims over as one string, "[approver publisher]".
    if isinstance(raw, str):
        raw = raw.strip("[]").replace(",", " ").split()
    if not isinstance(raw, list | tuple):
        return frozenset()
    return frozenset(str(g).strip('"') for g in raw) & frozenset(GROUPS)


def viewer_of(event: Mapping[str, Any]) -> Viewer:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") if isinstance(authorizer, dict) else None
    if not isinstance(claims, Mapping):
        raise NotSignedIn("no verified claims")
    sub = claims.get("sub")
    username = claims.get("cognito:username") or claims.get("username")
    if not isinstance(sub, str) or not sub or not isinstance(username, str) or not username:
        raise NotSignedIn("the token names nobody")
    return Viewer(sub, username, _groups(claims.get("cognito:groups")))
