"""The Act API on the local stack: an HTTP API with IAM authorization, as API Gateway runs it.

`stormwatch` talks to a deployed stack's HTTP API with SigV4-signed requests; the API's
IAM authorizer checks the signature and hands the function the caller's ARN. Here the
same requests reach a local gateway that does the same: it finds the access key among
moto's IAM users, checks the signature with that user's secret (and the request's age),
picks the function by the template's routes, builds the payload-2.0 event with the
caller's ARN and invokes the handler in-process. So `stormwatch --api-url ... status`
with a local user's keys goes the whole way a deployed call goes; only the signature
check is ours instead of AWS's.

One invocation at a time: the handlers run in this process, and each invocation sets the
function's environment as Lambda would.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

MAX_CLOCK_SKEW = timedelta(minutes=5)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[^,]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

Dispatch = Callable[[str, str, str, Any], tuple[int, dict[str, Any]]]
"""(caller's ARN, method, path with query, JSON body) -> (status, JSON answer): the
routing and the invocation (`ops.transport.LocalTransport`)."""


@dataclass(frozen=True, slots=True)
class Caller:
    arn: str
    secret: str


class LocalGateway:
    def __init__(
        self,
        dispatch: Dispatch,
        find_key: Callable[[str], Caller | None],
        region: str,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.dispatch = dispatch
        self.find_key = find_key
        self.region = region
        self.now = now
        self._one_at_a_time = threading.Lock()

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        return self.answer(request)(environ, start_response)

    def answer(self, request: Request) -> Response:
        body = request.get_data(cache=True)
        caller = self._verified(request, body)
        if isinstance(caller, Response):
            return caller
        path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
        try:
            payload = json.loads(body) if body else None
        except json.JSONDecodeError:
            # The function would say the same; the in-process dispatch takes JSON only.
            return Response(
                json.dumps({"error": "the request body is not JSON"}),
                status=400,
                content_type="application/json",
            )
        with self._one_at_a_time:
            status, answer = self.dispatch(caller, request.method, path, payload)
        return Response(json.dumps(answer), status=status, content_type="application/json")

    def _verified(self, request: Request, body: bytes) -> str | Response:
        """The caller's ARN, or API Gateway's own refusal."""
        try:
            return self._caller(request, body)
        except _Refused as refused:
            return _message(403, str(refused))

    def _caller(self, request: Request, body: bytes) -> str:
        match = _AUTHORIZATION.match(request.headers.get("Authorization", ""))
        if match is None:
            raise _Refused("Missing Authentication Token")
        if match["service"] != "execute-api" or match["region"] != self.region:
            raise _Refused("Credential should be scoped to a valid region and service.")
        caller = self.find_key(match["key"])
        if caller is None:
            raise _Refused("The security token included in the request is invalid.")
        stamp = request.headers.get("X-Amz-Date", "")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise _Refused("Missing or malformed X-Amz-Date.") from None
        if abs(self.now() - signed_at) > MAX_CLOCK_SKEW:
            raise _Refused("Signature expired.")
        expected = _signature(request, body, match, caller.secret, stamp, self.region)
        if not hmac.compare_digest(expected, match["signature"]):
            raise _Refused(
                "The request signature we calculated does not match the signature you "
                "provided. Check your AWS Secret Access Key and signing method."
            )
        return caller.arn


class _Refused(Exception):
    """API Gateway's 403, with its message."""


def _signature(
    request: Request,
    body: bytes,
    authorization: re.Match[str],
    secret: str,
    stamp: str,
    region: str,
) -> str:
    """SigV4 of the request as it arrived, over the headers the client signed."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = authorization["headers"].split(";")
    headers = {name: request.headers.get(name, "") for name in signed}
    raw = request.environ.get("RAW_URI") or request.full_path
    url = f"http://{request.headers.get('Host', '')}{raw}"
    copy = AWSRequest(method=request.method, url=url, data=body or None, headers=headers)
    copy.context["timestamp"] = stamp
    signer = SigV4Auth(Credentials(authorization["key"], secret), "execute-api", region)
    canonical = signer.canonical_request(copy)
    return str(signer.signature(signer.string_to_sign(copy, canonical), copy))


def _message(status: int, message: str) -> Response:
    return Response(
        json.dumps({"message": message}), status=status, content_type="application/json"
    )


def iam_keys(stack: Any) -> Callable[[str], Caller | None]:
    """An access key's user and secret, from moto's IAM (this process's backend)."""
    from moto.iam.models import iam_backends

    from local.provision import ACCOUNT_ID

    def find(access_key_id: str) -> Caller | None:
        backend = iam_backends[ACCOUNT_ID]["global"]
        for user in backend.users.values():
            for key in user.access_keys:
                if key.access_key_id == access_key_id and key.status == "Active":
                    return Caller(user.arn, key.secret_access_key)
        return None

    del stack  # the backend is per process, as the stack's moto is
    return find


def create_users(stack: Any, arns: Iterable[str]) -> dict[str, tuple[str, str]]:
    """An IAM user with an access key for each `arn:aws:iam::<account>:user/<name>`:
    {name: (access key id, secret)}."""
    iam = stack.client("iam")
    keys: dict[str, tuple[str, str]] = {}
    for arn in arns:
        name = arn.rsplit("/", 1)[-1]
        if ":user/" not in arn or name in keys:
            continue
        # moto's IAM outlives a stack's reset: then a new key for the same user.
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_user(UserName=name)
        key = iam.create_access_key(UserName=name)["AccessKey"]
        keys[name] = (key["AccessKeyId"], key["SecretAccessKey"])
    return keys
