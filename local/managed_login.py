"""Cognito's managed login, as the console uses it, for the local stack.

moto has the user pool, its users, groups and app client, and signs their tokens, but not
the managed login's web endpoints. This serves them on loopback, over moto's own API:

    GET  /oauth2/authorize   the sign-in form, for a registered client and callback URL
    POST /login              the password checked by moto (AdminInitiateAuth), then a
                             one-time code sent to the callback with the caller's state
    POST /oauth2/token       authorization_code (with the PKCE verifier) or refresh_token
    POST /oauth2/revoke      a refresh token revoked
    GET  /logout             back to a registered sign-out URL

As Cognito does: a code is good once, for five minutes, for the client and the redirect
URI it was issued to, and only with the verifier whose S256 hash was the challenge;
errors are OAuth's JSON (`invalid_grant`, `invalid_request`, ...).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

CODE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    tokens: dict[str, Any]
    expires: float


class ManagedLogin:
    def __init__(self, cognito: Any, pool_id: str) -> None:
        self.cognito = cognito
        self.pool_id = pool_id
        self._codes: dict[str, _Code] = {}
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        route = {
            ("GET", "/oauth2/authorize"): self._authorize,
            ("POST", "/login"): self._login,
            ("POST", "/oauth2/token"): self._token,
            ("POST", "/oauth2/revoke"): self._revoke,
            ("GET", "/logout"): self._logout,
        }.get((request.method, request.path))
        answer = route(request) if route else _page(404, "Not found", "<p>No such page.</p>")
        return answer(environ, start_response)

    # --- the sign-in page --------------------------------------------------------------

    def _client(self, client_id: str) -> dict[str, Any] | None:
        try:
            found = self.cognito.describe_user_pool_client(
                UserPoolId=self.pool_id, ClientId=client_id
            )
        except Exception:  # moto's ResourceNotFoundException: an unknown client
            return None
        return dict(found["UserPoolClient"])

    def _authorize(self, request: Request) -> Response:
        query = request.args
        client = self._client(query.get("client_id", ""))
        if client is None:
            return _page(400, "Sign-in error", "<p>An unknown client.</p>")
        if query.get("redirect_uri") not in client.get("CallbackURLs", []):
            return _page(400, "Sign-in error", "<p>redirect_mismatch</p>")
        if query.get("response_type") != "code" or query.get("code_challenge_method") != "S256":
            return _page(400, "Sign-in error", "<p>The console asks for code with S256 PKCE.</p>")
        return self._form(dict(query.items()))

    def _form(self, fields: dict[str, str], problem: str = "") -> Response:
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in fields.items()
            if k not in ("username", "password")
        )
        body = (
            (f'<p class="error" role="alert">{html.escape(problem)}</p>' if problem else "")
            + '<form method="post" action="/login">'
            + hidden
            + '<label>Username<input name="username" autocomplete="username"></label>'
            + '<label>Password<input name="password" type="password" '
            + 'autocomplete="current-password"></label>'
            + '<button type="submit">Sign in</button></form>'
        )
        return _page(200, "Sign in to stormwatch", body)

    def _login(self, request: Request) -> Response:
        fields = dict(request.form.items())
        client = self._client(fields.get("client_id", ""))
        if client is None or fields.get("redirect_uri") not in client.get("CallbackURLs", []):
            return _page(400, "Sign-in error", "<p>redirect_mismatch</p>")
        try:
            answer = self.cognito.admin_initiate_auth(
                UserPoolId=self.pool_id,
                ClientId=client["ClientId"],
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={
                    "USERNAME": fields.get("username", ""),
                    "PASSWORD": fields.get("password", ""),
                },
            )
        except Exception:  # NotAuthorized, UserNotFound: Cognito says the same for both
            return self._form(fields, "Incorrect username or password.")
        result = answer.get("AuthenticationResult")
        if result is None:
            challenge = answer.get("ChallengeName", "a challenge")
            return self._form(fields, f"This account must first answer {challenge}.")
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client["ClientId"],
                fields["redirect_uri"],
                fields.get("code_challenge", ""),
                {
                    "id_token": result["IdToken"],
                    "access_token": result["AccessToken"],
                    "refresh_token": result["RefreshToken"],
                    "expires_in": result["ExpiresIn"],
                    "token_type": "Bearer",
                },
                time.monotonic() + CODE_SECONDS,
            )
        back = urlencode({"code": code, "state": fields.get("state", "")})
        return Response(status=302, headers={"Location": f"{fields['redirect_uri']}?{back}"})

    # --- the token endpoint ------------------------------------------------------------

    def _token(self, request: Request) -> Response:
        grant = request.form.get("grant_type")
        if grant == "authorization_code":
            return self._redeem(request.form)
        if grant == "refresh_token":
            return self._refresh(request.form)
        return _oauth_error("unsupported_grant_type")

    def _redeem(self, form: Mapping[str, str]) -> Response:
        with self._lock:
            issued = self._codes.pop(form.get("code", ""), None)
        if issued is None or issued.expires < time.monotonic():
            return _oauth_error("invalid_grant")
        if (form.get("client_id"), form.get("redirect_uri")) != (
            issued.client_id,
            issued.redirect_uri,
        ):
            return _oauth_error("invalid_grant")
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest())
        if not hmac.compare_digest(challenge.rstrip(b"=").decode(), issued.challenge):
            return _oauth_error("invalid_grant")
        return _json(200, issued.tokens)

    def _refresh(self, form: Mapping[str, str]) -> Response:
        refresh = form.get("refresh_token", "")
        if refresh in self._revoked:
            return _oauth_error("invalid_grant")
        try:
            answer = self.cognito.admin_initiate_auth(
                UserPoolId=self.pool_id,
                ClientId=form.get("client_id", ""),
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh},
            )
        except Exception:  # moto's NotAuthorized: an unknown or foreign refresh token
            return _oauth_error("invalid_grant")
        result = answer["AuthenticationResult"]
        return _json(
            200,
            {
                "id_token": result["IdToken"],
                "access_token": result["AccessToken"],
                "expires_in": result["ExpiresIn"],
                "token_type": "Bearer",
            },
        )

    def _revoke(self, request: Request) -> Response:
        self._revoked.add(request.form.get("token", ""))
        return Response(status=200)

    def _logout(self, request: Request) -> Response:
        client = self._client(request.args.get("client_id", ""))
        target = request.args.get("logout_uri", "")
        if client is None or target not in client.get("LogoutURLs", []):
            return _page(400, "Sign-out error", "<p>An unknown sign-out URL.</p>")
        return Response(status=302, headers={"Location": target})


def _oauth_error(error: str) -> Response:
    return _json(400, {"error": error})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _page(status: int, title: str, body: str) -> Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>"
        "body{font:16px/1.45 system-ui,sans-serif;max-width:24rem;margin:2rem auto;padding:0 1rem}"
        "label{display:block;margin:.8rem 0}input{display:block;width:100%;min-height:40px;"
        "font:inherit;box-sizing:border-box}button{font:inherit;min-height:44px;width:100%}"
        ".error{color:#b00020}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(page, status=status, content_type="text/html; charset=utf-8")
