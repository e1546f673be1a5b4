"""The link checker against the fake web below /rss/web: statuses, redirects, HEAD refused,
timeouts, the SSRF guard, the overall deadline and the per-run cache."""

from __future__ import annotations

import socket
import time

import pytest

from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from stormwatch.act.links import LOOPBACK_NETWORKS as LOOPBACK
from stormwatch.act.links import HttpLinkChecker


@pytest.fixture
def web(fake_server: FakeChannelServer) -> str:
    return fake_server.channel_url("rss") + "/web"


@pytest.fixture
def checker() -> HttpLinkChecker:
    """As the local stack builds it: loopback allowed, where the fake web is."""
    return HttpLinkChecker(allowed_networks=LOOPBACK, timeout=2)


def _requests_to(world: World, path_part: str) -> list[str]:
    return [e.method for e in world.exchanges_of("rss") if path_part in e.path]


def test_given_a_page_that_answers_200_when_checked_then_ok(
    checker: HttpLinkChecker, web: str
) -> None:
    result = checker.check(f"{web}/page/status")

    assert result.ok
    assert result.status == 200
    assert result.final_url == f"{web}/page/status"
    assert result.message == "answers 200 OK"


def test_given_a_redirect_chain_when_checked_then_ok_with_the_final_url(
    checker: HttpLinkChecker, web: str
) -> None:
    # Given two 301s with root-relative Locations, ending on a page
    result = checker.check(f"{web}/redirect/2")

    # Then the chain is followed and the final URL reported
    assert result.ok
    assert result.status == 200
    assert result.final_url == f"{web}/page/home"
    assert "after 2 redirects" in result.message


@pytest.mark.parametrize(("code", "words"), [(404, "404 Not Found"), (410, "410 Gone")])
def test_given_a_client_error_when_checked_then_failed_naming_the_status(
    checker: HttpLinkChecker, web: str, code: int, words: str
) -> None:
    result = checker.check(f"{web}/status/{code}")

    assert not result.ok
    assert result.status == code
    assert result.message == f"answers {words}"


def test_given_a_redirect_to_a_missing_page_when_checked_then_failed_where_it_ended(
    checker: HttpLinkChecker, web: str
) -> None:
    result = checker.check(f"{web}/away?to={web}/status/404")

    assert not result.ok
    assert result.status == 404
    assert result.final_url == f"{web}/status/404"
    assert "after 1 redirect," in result.message


def test_given_a_server_error_when_checked_then_failed_not_retried_as_ok(
    checker: HttpLinkChecker, web: str
) -> None:
    result = checker.check(f"{web}/status/503")

    assert not result.ok
    assert result.message == "answers 503 Service Unavailable"


def test_given_a_3xx_without_location_when_checked_then_ok(
    checker: HttpLinkChecker, web: str
) -> None:
    # 304 Not Modified carries no Location: a 3xx that ends the chain
    result = checker.check(f"{web}/status/304")

    assert result.ok
    assert result.status == 304


def test_given_a_redirect_loop_when_checked_then_failed_showing_the_loop(
    checker: HttpLinkChecker, web: str, world: World
) -> None:
    result = checker.check(f"{web}/loop/0")

    assert not result.ok
    assert result.message == (f"redirect loop: {web}/loop/0 -> {web}/loop/1 -> {web}/loop/0")
    # Each URL of the loop was asked once
    assert len(_requests_to(world, "/web/loop/")) == 2


def test_given_more_redirects_than_allowed_when_checked_then_failed(web: str) -> None:
    checker = HttpLinkChecker(allowed_networks=LOOPBACK, max_redirects=2)

    result = checker.check(f"{web}/redirect/3")

    assert not result.ok
    assert result.message.startswith("more than 2 redirects: ")


def test_given_a_server_that_refuses_head_when_checked_then_get_decides(
    checker: HttpLinkChecker, web: str, world: World
) -> None:
    result = checker.check(f"{web}/no-head")

    assert result.ok
    assert result.status == 200
    assert _requests_to(world, "/web/no-head") == ["HEAD", "GET"]


def test_given_a_server_that_does_not_answer_in_time_when_checked_then_failed_saying_so(
    web: str,
) -> None:
    checker = HttpLinkChecker(allowed_networks=LOOPBACK, timeout=0.2)

    result = checker.check(f"{web}/slow/1000")

    assert not result.ok
    assert result.status is None
    assert result.message == "did not answer within 0.2 s"


def test_given_nothing_listening_when_checked_then_failed_could_not_connect() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    checker = HttpLinkChecker(allowed_networks=LOOPBACK, timeout=1)

    result = checker.check(f"http://127.0.0.1:{port}/")

    assert not result.ok
    assert result.message == "could not connect"


def test_given_https_to_a_server_without_tls_when_checked_then_failed_as_not_secure(
    checker: HttpLinkChecker, web: str
) -> None:
    result = checker.check(web.replace("http://", "https://") + "/page/home")

    assert not result.ok
    assert result.message == "no secure connection (TLS certificate or handshake refused)"


@pytest.mark.parametrize(
    "url", ["ftp://example.com/file", "javascript:alert(1)", "file:///etc/passwd", "mailto:a@b.c"]
)
def test_given_a_link_that_is_not_http_when_checked_then_refused_without_a_request(
    checker: HttpLinkChecker, url: str
) -> None:
    result = checker.check(url)

    assert not result.ok
    assert result.message == "only http and https links can be checked"


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://10.0.0.8/admin", "10.0.0.8"),
        ("http://192.168.1.1/", "192.168.1.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::1]:8080/", "::1"),
        ("http://[::ffff:172.16.0.1]/", "172.16.0.1"),
        ("http://100.64.0.1/", "100.64.0.1"),
        ("http://0.0.0.0/", "0.0.0.0"),  # noqa: S104 (a URL under test, not a bind)
    ],
)
def test_given_a_non_public_address_in_production_when_checked_then_refused(
    url: str, address: str
) -> None:
    # Given the production checker: no network allowed beyond the public internet
    checker = HttpLinkChecker()

    # When the link names a private, loopback, link-local or shared address
    result = checker.check(url)

    # Then it is refused before any connection (the test guard would raise on one)
    assert not result.ok
    assert result.status is None
    assert f"is not on the public internet ({address})" in result.message


def test_given_a_host_name_that_resolves_to_a_private_address_when_checked_then_refused() -> None:
    def resolve(host: str, port: int) -> list[str]:
        assert (host, port) == ("intranet.nordwind.example", 443)
        return ["93.184.215.14", "10.20.30.40"]

    checker = HttpLinkChecker(resolve=resolve)

    result = checker.check("https://intranet.nordwind.example/wiki")

    assert not result.ok
    assert "intranet.nordwind.example is not on the public internet (10.20.30.40)" in (
        result.message
    )


def test_given_a_host_name_that_does_not_resolve_when_checked_then_failed() -> None:
    def resolve(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    checker = HttpLinkChecker(resolve=resolve)

    result = checker.check("https://nordwind-air.invalid/")

    assert not result.ok
    assert result.message == "the host name nordwind-air.invalid does not resolve"


def test_given_a_public_link_that_redirects_into_the_metadata_service_then_refused_there(
    checker: HttpLinkChecker, web: str, world: World
) -> None:
    # Given a link on an allowed host that redirects to the instance metadata address
    result = checker.check(f"{web}/away?to=http://169.254.169.254/latest/meta-data/")

    # Then the hop is refused (the guard is applied at every hop, not only the first)
    assert not result.ok
    assert result.final_url == "http://169.254.169.254/latest/meta-data/"
    assert "169.254.169.254 is not on the public internet" in result.message
    assert len(_requests_to(world, "/web/away")) == 1


def test_given_no_allowed_networks_when_the_fake_web_is_checked_then_loopback_is_refused(
    web: str, world: World
) -> None:
    result = HttpLinkChecker().check(f"{web}/page/home")

    assert not result.ok
    assert "127.0.0.1 is not on the public internet" in result.message
    assert _requests_to(world, "/web/page/") == []


def test_given_a_link_checked_twice_in_a_run_then_it_is_asked_once(
    checker: HttpLinkChecker, web: str, world: World
) -> None:
    first = checker.check(f"{web}/page/faq")
    again = checker.check(f"{web}/page/faq")
    both = checker.check_all([f"{web}/page/faq", f"{web}/page/faq"], within=2)

    assert first == again == both[f"{web}/page/faq"]
    assert _requests_to(world, "/web/page/faq") == ["HEAD"]


def test_given_several_slow_links_when_checked_together_then_they_run_concurrently(
    checker: HttpLinkChecker, web: str
) -> None:
    urls = [f"{web}/slow/400?n={n}" for n in range(4)]

    started = time.monotonic()
    results = checker.check_all(urls, within=5)
    elapsed = time.monotonic() - started

    assert [results[url].ok for url in urls] == [True] * 4
    # One after another would take 1.6 s
    assert elapsed < 1.2


def test_given_a_link_slower_than_the_overall_deadline_then_it_fails_when_the_deadline_passes(
    web: str,
) -> None:
    checker = HttpLinkChecker(allowed_networks=LOOPBACK, timeout=5)

    started = time.monotonic()
    results = checker.check_all([f"{web}/slow/1500", f"{web}/page/home"], within=0.4)
    elapsed = time.monotonic() - started

    assert elapsed < 1.0
    assert results[f"{web}/page/home"].ok
    late = results[f"{web}/slow/1500"]
    assert not late.ok
    assert late.message == "not checked: no answer within 0.4 s"


def test_given_no_links_when_checked_together_then_nothing_is_asked(
    checker: HttpLinkChecker,
) -> None:
    assert checker.check_all([], within=1) == {}
