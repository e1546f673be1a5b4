"""The console's sign-in: the PKCE code flow (`stormwatch.console.signin`), CloudFront's
viewer-request function from template.yaml (run by Node.js, as `make console` runs it) and
the JWT authorizer's checks the local console makes as API Gateway does."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from local.console import EdgeFunction, JwtAuthorizer, claims_as_api_gateway_passes_them
from local.stack import TEMPLATE
from stormwatch.console import signin
from stormwatch.console.signin import CognitoSignIn, PendingSignIn, SignInFailed, safe_next

KEY = b"k" * 32
NOW = datetime(2026, 12, 24, 3, 0, tzinfo=UTC)
LOGIN = "https://stormwatch-prod-123456789012.auth.eu-central-1.amazoncognito.com"
CONSOLE = "https://console.nordwind.example"


class TokenEndpointDouble:
    """Cognito's token endpoint: answers as told, and keeps what it was sent."""

    def __init__(self, status: int = 200, answer: Any = None) -> None:
        self.status = status
        self.answer = (
            answer
            if answer is not None
            else {
                "id_token": "a.b.c",
                "access_token": "d.e.f",
                "refresh_token": "r-1",
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )
        self.sent: list[tuple[str, dict[str, str]]] = []

    def post(self, url: str, form: Mapping[str, str]) -> tuple[int, Any]:
        self.sent.append((url, dict(form)))
        return self.status, self.answer


def _flow(endpoint: TokenEndpointDouble | None = None) -> CognitoSignIn:
    return CognitoSignIn(LOGIN, "client-1", CONSOLE, endpoint or TokenEndpointDouble())


# --- the code flow ------------------------------------------------------------------------


def test_a_sign_in_asks_for_a_code_with_an_s256_challenge_of_the_cookies_verifier() -> None:
    # Given a person sent to the sign-in on the way to an alert
    url, pending = _flow().start("/alerts/nordwind-air-20261224-0240", NOW)
    # Then the managed login is asked for a code, for our callback, with PKCE S256
    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{LOGIN}/oauth2/authorize"
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"{CONSOLE}/auth/callback"
    assert query["code_challenge_method"] == "S256"
    digest = hashlib.sha256(pending.verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert query["state"] == pending.state
    # ...and the cookie brings back the state, the verifier and where to go, as they were
    back = PendingSignIn.from_cookie(KEY, pending.cookie_value(KEY), NOW)
    assert back == pending
    assert back.next_path == "/alerts/nordwind-air-20261224-0240"


def test_the_callback_redeems_the_code_with_the_verifier_and_gives_the_session() -> None:
    # Given a sign-in started here
    endpoint = TokenEndpointDouble()
    flow = _flow(endpoint)
    _, pending = flow.start("/", NOW)
    # When the managed login sends the code back with our state
    tokens = flow.finish(pending, "the-code", pending.state)
    # Then the code went with the verifier and our redirect URI, and the ID token came back
    ((url, form),) = endpoint.sent
    assert url == f"{LOGIN}/oauth2/token"
    assert form == {
        "grant_type": "authorization_code",
        "client_id": "client-1",
        "code": "the-code",
        "redirect_uri": f"{CONSOLE}/auth/callback",
        "code_verifier": pending.verifier,
    }
    assert (tokens.id_token, tokens.expires_in, tokens.refresh_token) == ("a.b.c", 3600, "r-1")
    # ...as cookies no script can read, the refresh token only for /auth/
    cookies = [str(c) for c in signin.session_cookies(tokens)]
    assert cookies[0].startswith("__Host-session=a.b.c; Path=/;")
    assert all("Secure" in c and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    assert "Path=/auth/" in cookies[1]


@pytest.mark.parametrize(
    ("code", "state", "reason"),
    [
        ("the-code", "another-state", "state does not match"),
        ("the-code", None, "state does not match"),
        (None, "STATE", "no code"),
    ],
)
def test_a_callback_that_does_not_answer_our_sign_in_redeems_nothing(
    code: str | None, state: str | None, reason: str
) -> None:
    # Given a sign-in started here
    endpoint = TokenEndpointDouble()
    flow = _flow(endpoint)
    _, pending = flow.start("/", NOW)
    # When a callback arrives with another state (a forged or crossed one), or no code
    with pytest.raises(SignInFailed, match=reason):
        flow.finish(pending, code, pending.state if state == "STATE" else state)
    # Then no code was redeemed
    assert endpoint.sent == []


def test_a_changed_stale_or_missing_sign_in_cookie_is_refused() -> None:
    _, pending = _flow().start("/statements/x", NOW)
    value = pending.cookie_value(KEY)
    # A cookie whose `next` was changed to elsewhere
    forged = PendingSignIn(pending.state, pending.verifier, "/evil", pending.expires)
    changed = forged.cookie_value(KEY).rsplit(".", 1)[0] + "." + value.rsplit(".", 1)[1]
    with pytest.raises(SignInFailed, match="changed"):
        PendingSignIn.from_cookie(KEY, changed, NOW)
    # ...one made with another key
    with pytest.raises(SignInFailed, match="changed"):
        PendingSignIn.from_cookie(b"x" * 32, value, NOW)
    # ...one past its ten minutes
    with pytest.raises(SignInFailed, match="too long"):
        PendingSignIn.from_cookie(KEY, value, NOW + timedelta(minutes=11))
    # ...none at all
    with pytest.raises(SignInFailed, match="not started here"):
        PendingSignIn.from_cookie(KEY, None, NOW)


@pytest.mark.parametrize(
    ("wanted", "kept"),
    [
        ("/alerts/a-20261224-0240", "/alerts/a-20261224-0240"),
        ("/statements/x?tab=grid", "/statements/x?tab=grid"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        (None, "/"),
        ("/a\nb", "/"),
    ],
)
def test_after_the_sign_in_only_a_path_of_the_console_is_followed(
    wanted: str | None, kept: str
) -> None:
    assert safe_next(wanted) == kept


@pytest.mark.parametrize(
    ("status", "answer", "reason"),
    [
        (400, {"error": "invalid_grant"}, "invalid_grant"),
        (500, None, "500"),
        (200, {"access_token": "x"}, "no ID token"),
        (200, ["not", "an", "object"], "200"),
    ],
)
def test_a_refused_or_malformed_token_answer_is_a_clear_refusal(
    status: int, answer: Any, reason: str
) -> None:
    flow = _flow(TokenEndpointDouble(status, answer))
    _, pending = flow.start("/", NOW)
    with pytest.raises(SignInFailed, match=reason):
        flow.finish(pending, "code", pending.state)


def test_a_refresh_keeps_the_refresh_token_and_sign_out_goes_to_the_managed_logout() -> None:
    endpoint = TokenEndpointDouble(answer={"id_token": "g.h.i", "expires_in": 3600})
    flow = _flow(endpoint)
    tokens = flow.refresh("r-1")
    assert (tokens.id_token, tokens.refresh_token) == ("g.h.i", "r-1")
    assert endpoint.sent[0][1]["grant_type"] == "refresh_token"
    logout = urlsplit(flow.logout_url())
    assert logout.path == "/logout"
    assert parse_qs(logout.query)["logout_uri"] == [f"{CONSOLE}/"]


# --- CloudFront's viewer-request function ---------------------------------------------------


@pytest.fixture(scope="module")
def edge() -> Iterator[EdgeFunction]:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(TEMPLATE.read_text())
    code = template["Resources"]["ConsoleSessionFunction"]["Properties"]["FunctionCode"]
    function = EdgeFunction(code)
    yield function
    function.close()


def _token(exp: float, claims: dict[str, Any] | None = None) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256'})}.{part({'exp': exp, **(claims or {})})}.signature"


def _viewer(
    uri: str,
    *,
    method: str = "GET",
    cookies: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": method,
            "uri": uri,
            "querystring": query or {},
            "headers": {k: {"value": v} for k, v in (headers or {}).items()},
            "cookies": {k: {"value": v} for k, v in (cookies or {}).items()},
        },
    }


def test_a_live_session_cookie_becomes_the_bearer_token(edge: EdgeFunction) -> None:
    # Given a browser with a session that has an hour left (a name with an umlaut in it)
    token = _token(time.time() + 3600, {"name": "J\u00fcrgen"})
    # When it asks for a page
    out = edge.run(_viewer("/alerts/x", cookies={"__Host-session": token}))
    # Then the request goes on with the token where the JWT authorizer reads it
    assert out["uri"] == "/alerts/x"
    assert out["headers"]["authorization"] == {"value": f"Bearer {token}"}


@pytest.mark.parametrize(
    "cookie", [None, "not-a-token", "expired 5 s ago", "expiring in 10 s", "a.%%%.c"]
)
def test_without_a_live_session_a_page_goes_to_the_sign_in_and_back(
    edge: EdgeFunction, cookie: str | None
) -> None:
    # Given no session, a malformed one, one expired or about to (within 30 s)
    lifetimes = {"expired 5 s ago": -5, "expiring in 10 s": 10}
    if cookie in lifetimes:
        cookie = _token(time.time() + lifetimes[cookie])
    cookies = {"__Host-session": cookie} if cookie else {}
    query = {
        "tab": {"value": "grid"},
        "x": {"value": "1", "multiValue": [{"value": "1"}, {"value": "2"}]},
    }
    # When a page is asked for
    out = edge.run(_viewer("/statements/s-1", cookies=cookies, query=query))
    # Then the browser is sent to the sign-in, which brings it back to the same page
    assert out["statusCode"] == 302
    location = out["headers"]["location"]["value"]
    assert location.startswith("/auth/signin?next=")
    assert parse_qs(urlsplit(location).query)["next"] == ["/statements/s-1?tab=grid&x=1&x=2"]
    assert out["headers"]["cache-control"]["value"] == "no-store"


def test_a_form_posted_after_the_session_ended_goes_to_the_sign_in_then_home(
    edge: EdgeFunction,
) -> None:
    out = edge.run(_viewer("/statements/s-1/approve", method="POST"))
    assert out["statusCode"] == 302
    assert out["headers"]["location"]["value"] == "/auth/signin?next=%2F"


def test_the_sign_in_routes_and_a_client_with_its_own_token_pass_untouched(
    edge: EdgeFunction,
) -> None:
    for uri in ("/auth/signin", "/auth/callback", "/auth/signout"):
        assert "authorization" not in edge.run(_viewer(uri))["headers"]
    own = edge.run(_viewer("/", headers={"authorization": "Bearer x.y.z"}))
    assert own["headers"]["authorization"] == {"value": "Bearer x.y.z"}


# --- the JWT authorizer's checks ------------------------------------------------------------


@pytest.fixture(scope="module")
def signer() -> Any:
    from joserfc.jwk import RSAKey

    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


ISSUER = "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_pool"


def _signed(key: Any, **claims: Any) -> str:
    from joserfc import jwt

    base = {"iss": ISSUER, "aud": "client-1", "token_use": "id", "exp": time.time() + 600}
    return str(jwt.encode({"alg": "RS256", "kid": "k1"}, {**base, **claims}, key))


def test_the_authorizer_takes_only_the_pools_live_tokens_for_the_console(signer: Any) -> None:
    public = {"keys": [signer.as_dict(private=False)]}
    authorizer = JwtAuthorizer(ISSUER, ["client-1"], lambda: public)
    good = _signed(signer, **{"cognito:groups": ["approver", "publisher"]})
    claims = authorizer.claims(f"Bearer {good}")
    assert claims is not None
    assert claims_as_api_gateway_passes_them(claims)["cognito:groups"] == "[approver publisher]"
    # An access token names its client in client_id
    access = _signed(signer, token_use="access", aud=None, client_id="client-1")
    assert authorizer.claims(f"Bearer {access}") is not None
    # Refused: another pool, another client, expired, another key, no token, garbage
    from joserfc.jwk import RSAKey

    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    for refused in (
        _signed(signer, iss="https://cognito-idp.eu-central-1.amazonaws.com/other"),
        _signed(signer, aud="client-2"),
        _signed(signer, exp=time.time() - 1),
        _signed(stranger),
        "",
        "Bearer a.b.c",
    ):
        assert authorizer.claims(f"Bearer {refused}") is None
