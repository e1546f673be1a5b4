"""Does every link in a statement lead somewhere? Checked over HTTP before anyone approves.

A link is fine when it answers 2xx or 3xx, after following its redirects (at most
`max_redirects`; a redirect back to a URL already visited is a loop, and fails). A
server that refuses HEAD (405, 501, or 403 from servers that only forbid the method) is
asked again with GET, whose body is never read.

The links are outside input: whoever drafts a statement picks them, and the checker runs
inside our network. So only http(s) URLs are requested, and every host, at every hop of
a redirect chain, is resolved first and refused when any of its addresses is not on the
public internet (private, loopback, link-local such as the instance metadata service,
shared, reserved, multicast). Networks that may be reached anyway are an explicit
constructor argument: the local stack allows loopback, where its fake web server runs;
production passes none. (The address is resolved again by the HTTP client when it
connects; a host that answers DNS differently within that moment could still slip
through, which is why the checker only ever sends bodiless HEAD/GET and reports a status,
never content.)

Several links are checked at once within one overall deadline; a URL's result is kept
for the life of the checker (one pre-flight run), so a link repeated on six channels is
asked once.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from stormwatch.channels.http import USER_AGENT

if TYPE_CHECKING:
    import requests

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# host, port -> the addresses a connection could go to.
Resolver = Callable[[str, int], list[str]]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Answers of servers that do not do HEAD (some forbid the method rather than refuse it).
HEAD_REFUSED = frozenset({403, 405, 501})
DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_WORKERS = 8
# What the local stack allows: its fake web server listens on loopback.
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, slots=True)
class LinkResult:
    """What one link answered: `ok` for 2xx/3xx at the end of its redirects."""

    url: str
    ok: bool
    status: int | None
    final_url: str | None
    message: str


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, as the HTTP client will look them up."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


class _Failed(Exception):
    """One hop could not be asked; the message says why, for the person reading results."""


class HttpLinkChecker:
    """Checks links over HTTP(S) with SSRF protection, concurrently, once per URL per run."""

    def __init__(
        self,
        *,
        allowed_networks: Iterable[str | IpNetwork] = (),
        timeout: float = DEFAULT_TIMEOUT,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        workers: int = DEFAULT_WORKERS,
        resolve: Resolver = system_resolver,
        user_agent: str = USER_AGENT,
    ) -> None:
        """`allowed_networks`: non-public networks links may still point into (the local
        stack's loopback); empty in production. `timeout`: seconds one request may take."""
        self.allowed_networks = tuple(ipaddress.ip_network(network) for network in allowed_networks)
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.workers = workers
        self._resolve = resolve
        self._user_agent = user_agent
        self._results: dict[str, LinkResult] = {}
        self._lock = threading.Lock()

    def check(self, url: str) -> LinkResult:
        """Whether `url` resolves (2xx/3xx); never raises for what the link answers."""
        with self._lock:
            known = self._results.get(url)
        if known is not None:
            return known
        result = self._follow(url)
        with self._lock:
            return self._results.setdefault(url, result)

    def check_all(self, urls: Iterable[str], *, within: float) -> dict[str, LinkResult]:
        """Every distinct URL of `urls`, checked concurrently; those still unanswered after
        `within` seconds fail with a message saying so (and are not kept)."""
        distinct = list(dict.fromkeys(urls))
        if not distinct:
            return {}
        pool = ThreadPoolExecutor(
            max_workers=min(self.workers, len(distinct)), thread_name_prefix="links"
        )
        try:
            futures = {url: pool.submit(self.check, url) for url in distinct}
            wait(futures.values(), timeout=within)
        finally:
            # Unstarted checks are dropped; running ones end within their own timeouts.
            pool.shutdown(wait=False, cancel_futures=True)
        results: dict[str, LinkResult] = {}
        for url, future in futures.items():
            if future.done() and not future.cancelled():
                results[url] = future.result()
            else:
                results[url] = LinkResult(
                    url, False, None, None, f"not checked: no answer within {within:g} s"
                )
        return results

    # --- one link ------------------------------------------------------------------------

    def _follow(self, url: str) -> LinkResult:
        visited = [url]
        current = url
        for _hop in range(self.max_redirects + 1):
            try:
                self._refuse_unsafe(current)
                status, location = self._ask(current)
            except _Failed as failure:
                return LinkResult(
                    url, False, None, _moved(url, current), _via(visited, str(failure))
                )
            if status in REDIRECTS and location:
                target = urljoin(current, location)
                if target in visited:
                    chain = " -> ".join([*visited, target])
                    return LinkResult(url, False, status, None, f"redirect loop: {chain}")
                visited.append(target)
                current = target
                continue
            answer = _status_text(status)
            if 200 <= status < 400:
                return LinkResult(url, True, status, current, _via(visited, f"answers {answer}"))
            return LinkResult(url, False, status, current, _via(visited, f"answers {answer}"))
        return LinkResult(
            url,
            False,
            None,
            None,
            f"more than {self.max_redirects} redirects: {' -> '.join(visited)}",
        )

    def _refuse_unsafe(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise _Failed("only http and https links can be checked")
        host = parts.hostname
        if not host:
            raise _Failed("the link has no host")
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            raise _Failed("the link's port is not a number") from None
        for address in self._addresses(host, port):
            if any(address in network for network in self.allowed_networks):
                continue
            if not address.is_global or address.is_multicast:
                raise _Failed(
                    f"refused: {host} is not on the public internet ({address}); "
                    "a statement's links must be public"
                )

    def _addresses(self, host: str, port: int) -> list[IpAddress]:
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            return [_unmapped(literal)]
        try:
            found = self._resolve(host, port)
        except (OSError, UnicodeError):
            raise _Failed(f"the host name {host} does not resolve") from None
        if not found:
            raise _Failed(f"the host name {host} does not resolve")
        # IPv6 scope ids (fe80::1%eth0) are not part of the address.
        return [_unmapped(ipaddress.ip_address(address.split("%", 1)[0])) for address in found]

    def _ask(self, url: str) -> tuple[int, str | None]:
        status, location = self._request("HEAD", url)
        if status in HEAD_REFUSED:
            status, location = self._request("GET", url)
        return status, location

    def _request(self, method: str, url: str) -> tuple[int, str | None]:
        import requests

        try:
            with (
                self._session() as session,
                session.request(
                    method,
                    url,
                    headers={"User-Agent": self._user_agent, "Accept": "*/*"},
                    timeout=(min(3.05, self.timeout), self.timeout),
                    allow_redirects=False,
                    stream=True,
                ) as response,
            ):
                return response.status_code, response.headers.get("location")
        except requests.Timeout:
            raise _Failed(f"did not answer within {self.timeout:g} s") from None
        except requests.exceptions.SSLError:
            raise _Failed("no secure connection (TLS certificate or handshake refused)") from None
        except requests.ConnectionError:
            raise _Failed("could not connect") from None
        except requests.RequestException as error:
            raise _Failed(f"request failed ({error.__class__.__name__})") from None

    def _session(self) -> requests.Session:
        from http.cookiejar import DefaultCookiePolicy

        import requests

        session = requests.Session()
        # No cookie set by one link may travel to another.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        return session


def _unmapped(address: IpAddress) -> IpAddress:
    """::ffff:10.0.0.1 is 10.0.0.1 to the network."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _status_text(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def _moved(url: str, current: str) -> str | None:
    return current if current != url else None


def _via(visited: list[str], message: str) -> str:
    if len(visited) == 1:
        return message
    hops = len(visited) - 1
    return f"{message} (after {hops} redirect{'s' if hops > 1 else ''}, at {visited[-1]})"
