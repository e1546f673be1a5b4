"""CSRF tokens: ``<expiry>.<mac>``, an HMAC of the caller's ``sub`` and the expiry.

A form's token is good for the person it was made for, until it expires; nothing is
stored. The key is the console's secret (Secrets Manager), never an environment variable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

VALIDITY = timedelta(hours=2)
"""Long enough to read a statement at 3 a.m., short enough that a leaked page goes stale."""


def _mac(key: bytes, subject: str, expiry: int) -> str:
    digest = hmac.new(key, f"csrf|{subject}|{expiry}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(key: bytes, subject: str, now: datetime) -> str:
    expiry = int((now + VALIDITY).timestamp())
    return f"{expiry}.{_mac(key, subject, expiry)}"


def is_valid(key: bytes, subject: str, token: str | None, now: datetime) -> bool:
    """True for a token made for `subject` that has not expired."""
    if not token or not subject:
        return False
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isdigit() or not mac:
        return False
    expiry = int(expiry_text)
    moment = now.timestamp()
    if not moment < expiry <= moment + VALIDITY.total_seconds():
        return False
    return hmac.compare_digest(mac, _mac(key, subject, expiry))
