"""Sign-in through Cognito's managed login: the authorization-code grant with PKCE.

    GET  /auth/signin?next=/alerts/x   -> 302 to <login>/oauth2/authorize (state, challenge)
    GET  /auth/callback?code&state     -> the code exchanged for tokens -> 303 to `next`
    POST /auth/signout                 -> cookies cleared, token revoked -> <login>/logout

The console's app client is public (no secret): the PKCE verifier proves that whoever
redeems the code started the sign-in. The verifier, the state and where to go next travel
in a short-lived cookie signed with the console's key, so nothing is stored and `next`
cannot be changed into a redirect elsewhere. The ID token becomes the `__Host-session`
cookie, which CloudFront's viewer-request function copies into the `Authorization` header
the API's JWT authorizer verifies (docs/decisions/0013-console.md); the refresh token is
sent only to `/auth/`, where it renews an expired session without a new password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

if TYPE_CHECKING:
    from aws_lambda_powertools.shared.cookies import Cookie

SESSION_COOKIE = "__Host-session"
REFRESH_COOKIE = "__Secure-refresh"
SIGNIN_COOKIE = "__Host-signin"
REFRESH_PATH = "/auth/"
SIGNIN_VALIDITY = timedelta(minutes=10)
"""Time to type a password and an authenticator code."""
SCOPES = "openid email profile"
_NEXT = re.compile(r"^/(?![/\\])[\x21-\x7e]{0,500}$")
_TOKEN_TIMEOUT_SECONDS = 5


class SignInFailed(Exception):
    """A sign-in that cannot finish: a stale or forged callback, or a refused code."""


class TokenEndpoint(Protocol):
    """Cognito's `/oauth2/token` and `/oauth2/revoke` (a form POST each)."""

    def post(self, url: str, form: Mapping[str, str]) -> tuple[int, Any]: ...


@dataclass(frozen=True, slots=True)
class Tokens:
    id_token: str
    expires_in: int
    refresh_token: str | None


def safe_next(raw: str | None) -> str:
    """Where to go after sign-in: a path of this console, never another site."""
    if raw and _NEXT.match(raw):
        return raw
    return "/"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(key: bytes, text: str) -> str:
    return _b64(hmac.new(key, f"signin|{text}".encode(), hashlib.sha256).digest())


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    state: str
    verifier: str
    next_path: str
    expires: int

    def cookie_value(self, key: bytes) -> str:
        text = f"{self.state}.{self.verifier}.{_b64(self.next_path.encode())}.{self.expires}"
        return f"{text}.{_mac(key, text)}"

    @classmethod
    def from_cookie(cls, key: bytes, value: str | None, now: datetime) -> PendingSignIn:
        parts = (value or "").split(".")
        if len(parts) != 5:
            raise SignInFailed("the sign-in was not started here, or its cookie is gone")
        state, verifier, next_b64, expires, mac = parts
        if not hmac.compare_digest(mac, _mac(key, ".".join(parts[:4]))):
            raise SignInFailed("the sign-in cookie was changed")
        if not expires.isdigit() or int(expires) <= now.timestamp():
            raise SignInFailed("the sign-in took too long; start again")
        padded = next_b64 + "=" * (-len(next_b64) % 4)
        next_path = safe_next(base64.urlsafe_b64decode(padded).decode(errors="replace"))
        return cls(state, verifier, next_path, int(expires))


class CognitoSignIn:
    """The managed login of one user pool domain, for one public app client."""

    def __init__(
        self, login_url: str, client_id: str, console_url: str, endpoint: TokenEndpoint
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.console_url = console_url.rstrip("/")
        self.endpoint = endpoint

    @property
    def redirect_uri(self) -> str:
        return f"{self.console_url}/auth/callback"

    def start(self, next_path: str | None, now: datetime) -> tuple[str, PendingSignIn]:
        """The managed login's URL, and what the callback must find in the cookie."""
        pending = PendingSignIn(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next_path=safe_next(next_path),
            expires=int((now + SIGNIN_VALIDITY).timestamp()),
        )
        challenge = _b64(hashlib.sha256(pending.verifier.encode()).digest())
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": SCOPES,
                "state": pending.state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.login_url}/oauth2/authorize?{query}", pending

    def finish(self, pending: PendingSignIn, code: str | None, state: str | None) -> Tokens:
        """The code redeemed for tokens, if the callback answers the sign-in we started."""
        if not state or not hmac.compare_digest(state, pending.state):
            raise SignInFailed("the sign-in's state does not match; start again")
        if not code or len(code) > 512:
            raise SignInFailed("the managed login sent no code")
        return self._tokens(
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": pending.verifier,
            }
        )

    def refresh(self, refresh_token: str) -> Tokens:
        """A new ID token for a refresh token still valid (Cognito keeps the refresh token)."""
        tokens = self._tokens(
            {
                "grant_type": "refresh_token",
                "client_id": self.client_id,
                "refresh_token": refresh_token,
            }
        )
        return Tokens(tokens.id_token, tokens.expires_in, refresh_token)

    def revoke(self, refresh_token: str) -> None:
        """Best effort: the refresh token dies with the sign-out (the client allows it)."""
        self.endpoint.post(
            f"{self.login_url}/oauth2/revoke",
            {"token": refresh_token, "client_id": self.client_id},
        )

    def logout_url(self) -> str:
        query = urlencode({"client_id": self.client_id, "logout_uri": f"{self.console_url}/"})
        return f"{self.login_url}/logout?{query}"

    def _tokens(self, form: Mapping[str, str]) -> Tokens:
        status, answer = self.endpoint.post(f"{self.login_url}/oauth2/token", form)
        if status != 200 or not isinstance(answer, Mapping):
            error = answer.get("error") if isinstance(answer, Mapping) else None
            raise SignInFailed(f"the managed login refused the sign-in ({error or status})")
        id_token = answer.get("id_token")
        expires_in = answer.get("expires_in")
        if not isinstance(id_token, str) or id_token.count(".") != 2:
            raise SignInFailed("the managed login's answer holds no ID token")
        refresh = answer.get("refresh_token")
        return Tokens(
            id_token,
            int(expires_in) if isinstance(expires_in, int) and expires_in > 0 else 3600,
            refresh if isinstance(refresh, str) else None,
        )


class RequestsTokenEndpoint:
    """The token endpoint over HTTPS (requests, imported when a sign-in needs it)."""

    def post(self, url: str, form: Mapping[str, str]) -> tuple[int, Any]:
        import requests

        try:
            answer = requests.post(url, data=dict(form), timeout=_TOKEN_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            reason = type(error).__name__
            raise SignInFailed(f"the managed login did not answer ({reason})") from None
        try:
            return answer.status_code, answer.json()
        except json.JSONDecodeError:
            return answer.status_code, None


def cookie(name: str, value: str, max_age: int, path: str = "/") -> Cookie:
    """A cookie never readable by script, never sent over plain HTTP, and not sent on
    another site's POST (Lax: a link from the SMS still carries it)."""
    from aws_lambda_powertools.shared.cookies import Cookie, SameSite

    return Cookie(
        name,
        value,
        path=path,
        secure=True,
        http_only=True,
        max_age=max_age,
        same_site=SameSite.LAX_MODE,
    )


def expired_cookie(name: str, path: str = "/") -> Cookie:
    return cookie(name, "", 0, path)


def session_cookies(tokens: Tokens) -> list[Cookie]:
    cookies = [cookie(SESSION_COOKIE, tokens.id_token, tokens.expires_in)]
    if tokens.refresh_token:
        # The client's refresh tokens last 12 hours (template.yaml): one shift.
        cookies.append(cookie(REFRESH_COOKIE, tokens.refresh_token, 12 * 3600, REFRESH_PATH))
    return cookies


def cookies_of(event: Mapping[str, Any]) -> dict[str, str]:
    """The request's cookies (payload 2.0 hands them over as `name=value` strings)."""
    found: dict[str, str] = {}
    for raw in event.get("cookies") or []:
        name, _, value = str(raw).partition("=")
        found.setdefault(name.strip(), value.strip())
    return found
