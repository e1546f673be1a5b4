"""The Act function through its HTTP API's events, on the local stack (DynamoDB, SNS and
EventBridge Scheduler in moto from template.yaml, every channel and scheduler on the
fake server): who calls comes from the verified identity only, every step names the
hash its caller saw, a release parks everything and posts once per channel, a pause
can end on its own, and resume lists what it will not send."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from local.act_demo import seed_scheduled_posts
from local.console_seed import holding_statement
from local.fakechannels.lookup.mastodon import MAX_CHARACTERS
from local.fakechannels.publishing import AFTER_STORE, LATENCY, PUBLISHED
from local.fakechannels.scheduling import seed_all
from local.iam import refused_calls
from local.localconfig import localize, read_document
from local.stack import LocalStack
from ops.transport import LocalTransport, http_api_event
from stormwatch.act.http import Answer
from stormwatch.persistence.audit import AuditLog
from stormwatch.persistence.table import Table
from stormwatch.runtime import clear_caches
from tests.granted import assert_seen

ACCOUNT = "arn:aws:iam::123456789012:user"
CARLA, ANNA, BEN, DIETER = (f"{ACCOUNT}/{name}" for name in ("carla", "anna", "ben", "dieter"))
PUBLISHED_ON = ("x", "mastodon", "bluesky", "facebook", "linkedin", "instagram")
T0 = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)


def _configure(stack: LocalStack, **act_settings: Any) -> None:
    document = localize(read_document(), stack.channels.channel_url)
    document["act"].update(act_settings)
    stack.client("ssm").put_parameter(
        Name=stack.config_parameter(),
        Value=json.dumps(document, ensure_ascii=False),
        Type="String",
        Tier="Advanced",
        Overwrite=True,
    )
    clear_caches()


@pytest.fixture(scope="module")
def act(stack: LocalStack) -> Iterator[LocalStack]:
    """The stack with the example config as it is (Instagram gets its image card)."""
    _configure(stack)
    yield stack
    stack.world.channel_state("mastodon").pop(MAX_CHARACTERS, None)


@pytest.fixture
def world(act: LocalStack) -> Iterator[Any]:
    for channel in PUBLISHED_ON:
        for key in (PUBLISHED, AFTER_STORE, LATENCY):
            act.world.channel_state(channel).pop(key, None)
    act.world.faults.clear()
    yield act.world
    act.world.faults.clear()


def as_(stack: LocalStack, who: str) -> LocalTransport:
    return LocalTransport(stack, who)


def _body(
    stack: LocalStack, situation: str = "Since 6 am, flights from Hamburg are delayed."
) -> dict[str, Any]:
    """The English holding statement, its link pointed at the fake web."""
    next_update = datetime(2026, 12, 24, 18, 0, tzinfo=timezone(timedelta(hours=1)))
    return holding_statement(stack, situation, next_update)


def _ok(answer: Answer) -> dict[str, Any]:
    assert answer.ok, (answer.status, answer.body)
    return answer.body


def _approved(stack: LocalStack, situation: str) -> dict[str, Any]:
    """A statement by Carla, submitted, approved by Anna and Dieter."""
    draft = _ok(as_(stack, CARLA).request("POST", "/statements", _body(stack, situation)))
    path, seen = f"/statements/{draft['id']}", {"sha256": draft["sha256"]}
    _ok(as_(stack, CARLA).request("POST", f"{path}/submit", seen))
    _ok(as_(stack, ANNA).request("POST", f"{path}/approve", seen))
    return _ok(as_(stack, DIETER).request("POST", f"{path}/approve", seen))


def _resumed(stack: LocalStack) -> None:
    _ok(as_(stack, BEN).request("POST", "/resume", {}))


def _posts(world: Any, channel: str) -> list[Any]:
    return list(world.channel_state(channel).get(PUBLISHED, []))


def test_given_a_statement_when_it_goes_the_whole_way_then_it_is_out_once_everywhere(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    # (three posts waiting in each scheduler, our own queue too)
    seed_scheduled_posts(act, datetime.now(UTC))
    act.received()
    # Given the dry run of Carla's statement
    preview = _ok(as_(act, CARLA).request("POST", "/statements/preview", _body(act)))
    assert preview["ready"], preview["failures"]
    assert {c["channel"] for c in preview["channels"]} == set(PUBLISHED_ON)
    x = next(c for c in preview["channels"] if c["channel"] == "x")
    assert x["lengths"][0]["limit"] == 280
    assert {c["name"] for c in x["checks"]} >= {"length", "links", "spelling", "placeholders"}
    assert preview["left_out"] == {}
    instagram = next(c for c in preview["channels"] if c["channel"] == "instagram")
    card = next(c for c in instagram["checks"] if c["name"] == "image_card")
    assert card["status"] == "passed"
    assert card["message"].startswith("image card, ")
    assert preview["would_pause"]["mastodon"]["count"] == 3
    assert preview["would_pause"]["hootsuite"]["posts"][0]["label"]

    # When she drafts and submits it, and two others approve; her own approval is refused
    draft = _ok(as_(act, CARLA).request("POST", "/statements", _body(act)))
    assert draft["sha256"] == preview["sha256"]
    assert draft["state"] == "draft"
    assert draft["author"] == "carla"
    path, seen = f"/statements/{draft['id']}", {"sha256": draft["sha256"]}
    assert _ok(as_(act, CARLA).request("POST", f"{path}/submit", seen))["state"] == "submitted"
    _ok(as_(act, ANNA).request("POST", f"{path}/approve", seen))
    own = as_(act, CARLA).request("POST", f"{path}/approve", seen)
    # (Carla holds the approver role: the rule refuses her, not a missing role)
    assert own.status == 403
    assert "wrote statement" in own.error
    assert "may not approve it" in own.error
    approved = _ok(as_(act, BEN).request("POST", f"{path}/approve", seen))
    assert approved["state"] == "approved"
    assert approved["missing_approvals"] == 0

    # When Ben releases it
    released = _ok(as_(act, BEN).request("POST", f"{path}/release", seen))

    # Then every channel has it once, with a link
    assert released["outcome"] == "released", released["channels"]
    for channel in PUBLISHED_ON:
        result = released["channels"][channel]
        assert result["status"] == "published", channel
        assert result["url"], channel
        assert len(_posts(world, channel)) == 1, channel
    # ...Instagram's image card is in the media bucket, and Instagram got its presigned URL
    s3, bucket = act.client("s3"), act.outputs["MediaBucketName"]
    cards = s3.list_objects_v2(Bucket=bucket, Prefix=f"cards/{draft['sha256']}/")["Contents"]
    assert len(cards) == 1
    assert s3.get_object(Bucket=bucket, Key=cards[0]["Key"])["ContentType"] == "image/jpeg"
    (instagram_post,) = _posts(world, "instagram")
    card_url = urlsplit(instagram_post["image_url"])
    assert card_url.path == f"/{bucket}/{cards[0]['Key']}"
    assert parse_qs(card_url.query)["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    # ...crisis mode is on, set by the release, and every scheduler was parked
    assert released["crisis"]["active"]
    assert released["crisis"]["by"] == "ben"
    assert released["parked"] == {"mastodon": 3, "facebook": 3, "hootsuite": 3, "queue": 3}
    # ...the alert recipients heard it by email, with each channel's link
    inbox = act.received()
    email = next(messages for name, messages in inbox.items() if "alerts email" in name)
    assert len(email) == 1
    assert email[0]["subject"] == f"stormwatch: statement {draft['id']} is out"
    assert released["channels"]["mastodon"]["url"] in email[0]["message"]
    assert not any(messages for name, messages in inbox.items() if "sms" in name)
    # ...and the audit log has every step, by the verified identities
    shown = _ok(as_(act, ANNA).request("GET", path))
    assert shown["state"] == "released"
    assert {r["status"] for r in shown["releases"].values()} == {"published"}
    table = Table(act.client("dynamodb"), act.outputs["TableName"])
    days = {
        datetime.now(UTC).date().isoformat(),
        (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
    }
    events = [e for day in sorted(days) for e in AuditLog(table).day(day)]
    mine = [(e.action, e.contact) for e in events if e.subject == draft["id"]]
    assert mine == [
        ("statement.drafted", "carla"),
        ("statement.submitted", "carla"),
        ("statement.approved", "anna"),
        ("statement.approved", "ben"),
        ("statement.released", "ben"),
    ]
    assert {e.action for e in events} >= {"crisis.on", "park.done"}
    assert all(e.identity.startswith(ACCOUNT) for e in events if e.subject == draft["id"])

    # When it is released again, nothing is posted twice and nobody is told twice
    again = _ok(as_(act, BEN).request("POST", f"{path}/release", seen))
    assert all(again["channels"][ch]["earlier"] for ch in PUBLISHED_ON)
    assert all(len(_posts(world, ch)) == 1 for ch in PUBLISHED_ON)
    assert again["notice"] == "nothing new"


def test_given_a_body_naming_someone_else_when_called_then_only_the_verified_identity_counts(
    act: LocalStack,
) -> None:
    # Given a body that claims to be Ben's
    body = {**_body(act), "author": "ben", "by": BEN, "userArn": BEN}
    draft = _ok(as_(act, CARLA).request("POST", "/statements", body))
    assert draft["author"] == "carla"
    path, seen = f"/statements/{draft['id']}", {"sha256": draft["sha256"]}
    _ok(as_(act, CARLA).request("POST", f"{path}/submit", seen))

    # When Carla approves with a body naming Ben, she is still the author
    refused = as_(act, CARLA).request("POST", f"{path}/approve", {**seen, "approver": BEN})
    assert refused.status == 403

    # When nobody in act.people or no identity at all calls, nothing happens
    stranger = as_(act, f"{ACCOUNT}/mallory").request("GET", "/status")
    assert stranger.status == 403
    assert "act.people" in stranger.error
    event = http_api_event("GET", "/status", None, user_arn=BEN)
    del event["requestContext"]["authorizer"]
    unsigned = act.invoke("ActFunction", event)
    assert unsigned["statusCode"] == 403
    assert "Traceback" not in unsigned["body"]


def test_given_bad_requests_when_called_then_clear_answers_and_nothing_written(
    act: LocalStack,
) -> None:
    carla = as_(act, CARLA)
    assert carla.request("GET", "/statements/no-such-statement").status == 404
    assert carla.request("POST", "/statements", {"kind": "holding"}).status == 400
    event = http_api_event("POST", "/statements", None, user_arn=CARLA)
    event["body"] = "{not json"
    answer = act.invoke("ActFunction", event)
    assert answer["statusCode"] == 400
    assert "not JSON" in answer["body"]
    placeholder = _body(act)
    placeholder["texts"]["x"] += " {{ date }}"
    draft = _ok(carla.request("POST", "/statements", placeholder))
    failed = carla.request("POST", f"/statements/{draft['id']}/submit", {"sha256": draft["sha256"]})
    assert failed.status == 422
    assert "placeholder" in failed.error
    assert _ok(carla.request("GET", f"/statements/{draft['id']}"))["state"] == "draft"
    bad_hash = carla.request("POST", f"/statements/{draft['id']}/submit", {"sha256": "abc"})
    assert bad_hash.status == 400


def test_given_a_revised_statement_when_approved_with_the_old_hash_then_409_stale(
    act: LocalStack,
) -> None:
    draft = _ok(as_(act, CARLA).request("POST", "/statements", _body(act)))
    path, old = f"/statements/{draft['id']}", {"sha256": draft["sha256"]}
    _ok(as_(act, CARLA).request("POST", f"{path}/submit", old))
    _ok(as_(act, ANNA).request("POST", f"{path}/approve", old))
    revised = _ok(
        as_(act, CARLA).request(
            "POST", f"{path}/revise", {**_body(act, "Flights from Hamburg are late."), **old}
        )
    )
    assert revised["sha256"] != draft["sha256"]
    assert revised["state"] == "draft"

    stale = as_(act, BEN).request("POST", f"{path}/approve", old)

    assert stale.status == 409
    assert "has changed since you saw it" in stale.error


def test_given_approvals_older_than_the_expiry_when_released_then_409_and_nothing_posted(
    act: LocalStack, world: Any
) -> None:
    with time_machine.travel(T0, tick=True) as traveller:
        approved = _approved(act, "Our app is down since 8 am.")
        traveller.shift(timedelta(hours=25))

        late = as_(act, BEN).request(
            "POST", f"/statements/{approved['id']}/release", {"sha256": approved["sha256"]}
        )

    assert late.status == 409
    assert "approvals expire after 24 h" in late.error
    assert all(not _posts(world, channel) for channel in PUBLISHED_ON)


def test_given_a_double_click_when_two_releases_run_at_once_then_one_post_per_channel(
    act: LocalStack, world: Any
) -> None:
    for channel in PUBLISHED_ON:
        world.channel_state(channel)[LATENCY] = 0.2
    approved = _approved(act, "Check-in in Hamburg is closed.")
    answers: list[Answer] = []
    start = threading.Barrier(2)

    def click() -> None:
        start.wait()
        answers.append(
            as_(act, BEN).request(
                "POST", f"/statements/{approved['id']}/release", {"sha256": approved["sha256"]}
            )
        )

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(answer.ok for answer in answers), [a.body for a in answers]
    for channel in PUBLISHED_ON:
        assert len(_posts(world, channel)) == 1, channel


def test_given_one_channel_failing_when_released_again_then_only_it_is_retried(
    act: LocalStack, world: Any
) -> None:
    approved = _approved(act, "Baggage in Hamburg is delayed.")
    path, seen = f"/statements/{approved['id']}/release", {"sha256": approved["sha256"]}
    world.faults.arm("status:403", channel="linkedin", path_contains="/rest/posts")

    first = _ok(as_(act, BEN).request("POST", path, seen))

    assert first["outcome"] == "partial"
    assert first["channels"]["linkedin"]["status"] == "failed"
    assert first["channels"]["linkedin"]["error"]
    assert _ok(as_(act, BEN).request("GET", f"/statements/{approved['id']}"))["state"] == "released"

    second = _ok(as_(act, BEN).request("POST", path, seen))

    assert second["outcome"] == "released"
    assert not second["channels"]["linkedin"]["earlier"]
    assert all(second["channels"][ch]["earlier"] for ch in PUBLISHED_ON if ch != "linkedin")
    assert all(len(_posts(world, ch)) == 1 for ch in PUBLISHED_ON)


def test_given_a_pause_with_a_resume_time_when_its_schedule_fires_then_it_resumes(
    act: LocalStack, world: Any
) -> None:
    _resumed(act)
    seed_all(world, 2, datetime.now(UTC))
    resume_at = (datetime.now(UTC) + timedelta(hours=4)).replace(microsecond=0)
    ben = as_(act, BEN)

    # When Ben pauses everything for an alert, to resume in 4 hours
    paused = _ok(
        ben.request(
            "POST",
            "/pause",
            {"alert_id": "nordwind-air-20261224-0905", "resume_at": resume_at.isoformat()},
        )
    )

    # Then crisis mode is on, every scheduler parked, and a one-time schedule waits
    assert paused["crisis"]["active"]
    assert paused["crisis"]["by"] == "ben"
    assert paused["crisis"]["reason"] == "alert nordwind-air-20261224-0905"
    # (the earlier tests' restored posts wait again, and are parked with these)
    assert paused["parked"]["mastodon"] >= 2
    scheduler = act.client("scheduler")
    schedule = scheduler.get_schedule(
        Name=paused["auto_resume"], GroupName=act.outputs["ScheduleGroupName"]
    )
    assert schedule["ScheduleExpression"] == f"at({resume_at:%Y-%m-%dT%H:%M:%S})"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"].endswith(":function:stormwatch-dev-act")
    assert schedule["Target"]["RoleArn"].endswith("AutoResumeSchedulerRole")
    fired = json.loads(schedule["Target"]["Input"])
    # ...and pausing again is refused while it is on
    again = ben.request("POST", "/pause", {"reason": "again"})
    assert again.status == 409
    assert "already on" in again.error
    status = _ok(ben.request("GET", "/status"))
    assert status["crisis"]["active"]
    assert status["crisis"]["resume_at"]
    assert status["parked"]["mastodon"] >= 2

    # When an auto-resume made for an older pause fires, nothing changes
    stale = act.invoke("ActFunction", {**fired, "crisis_version": fired["crisis_version"] - 1})
    assert stale["outcome"] == "stale"
    assert _ok(ben.request("GET", "/status"))["crisis"]["active"]

    # When this pause's schedule fires, crisis mode ends and the posts are back
    resumed = act.invoke("ActFunction", fired)
    assert resumed["outcome"] == "resumed"
    assert not resumed["crisis"]["active"]
    assert resumed["crisis"]["ended_by"] == "auto-resume"
    assert resumed["restored"]["mastodon"] >= 2
    assert not _ok(ben.request("GET", "/status"))["crisis"]["active"]


def test_given_posts_whose_time_passed_when_resumed_then_listed_for_review_not_sent(
    act: LocalStack, world: Any
) -> None:
    with time_machine.travel(T0, tick=True) as traveller:
        _resumed(act)
        for name in ("mastodon", "facebook", "hootsuite"):
            world.state.pop(name, None)
        seed_all(world, 2, datetime.now(UTC))
        ben = as_(act, BEN)
        assert ben.request("POST", "/pause", {"reason": "storm over the Hamburg delays"}).ok
        # When the pause outlasts the posts' times (the seeded posts wait hours, not days)
        traveller.shift(timedelta(days=45))

        resumed = _ok(ben.request("POST", "/resume", {}))

        # Then nothing is restored on its own: every post is listed for a person
        assert not resumed["crisis"]["active"]
        assert sum(resumed["restored"].values()) == 0
        assert {post["scheduler"] for post in resumed["review"]} >= {"mastodon", "facebook"}
        assert all(post["state"] == "review" for post in resumed["review"])
        status = _ok(ben.request("GET", "/status"))
        assert len(status["review"]) >= len(resumed["review"])
        assert status["statements"]


def test_given_an_author_when_pausing_then_refused_for_lack_of_the_publisher_role(
    act: LocalStack,
) -> None:
    refused = as_(act, CARLA).request("POST", "/pause", {"reason": "storm"})
    assert refused.status == 403
    assert "publisher" in refused.error
    assert as_(act, BEN).request("POST", "/pause", {}).status == 400


def _allowed(stack: LocalStack, function: str) -> set[str]:
    assert stack.deployment is not None
    resources = stack.deployment.template["Resources"]
    return {
        action
        for policy in resources[f"{function}Role"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    }


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("ActFunction", {"dynamodb:Query", "scheduler:CreateSchedule"}),
        (
            "ReleaseStatementFunction",
            {"dynamodb:Query", "sns:Publish", "s3:PutObject", "scheduler:DeleteSchedule"},
        ),
    ],
)
def test_every_aws_call_of_an_act_api_function_is_one_its_role_allows(
    act: LocalStack, function: str, expected: set[str]
) -> None:
    # Given what each handler called in this module's tests (moto does not enforce IAM)
    called = act.aws_actions[function]
    assert expected <= called
    # Then each call is one its own role in the template allows, each DynamoDB one on a
    # partition its role's LeadingKeys allow
    assert act.deployment is not None
    partitions = act.table_partitions[function]
    assert not refused_calls(act.deployment.template, function, called, partitions)
    # ...and each action its role is granted for use was used (tests/granted.py)
    assert_seen(function, called)


def test_the_act_function_no_longer_does_what_only_the_release_needs(act: LocalStack) -> None:
    # Given what the Act function called for every route but the release
    called = act.aws_actions["ActFunction"]
    # Then it published no notice, and its role could not have
    assert "sns:Publish" not in called
    assert "sns:Publish" not in _allowed(act, "ActFunction")
    # ...and it may put nothing in the media bucket: its S3 actions reach crisis reports only
    assert act.deployment is not None
    resources = act.deployment.template["Resources"]
    s3_resources = [
        statement["Resource"]
        for policy in resources["ActFunctionRole"]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        if any(str(action).startswith("s3:") for action in statement["Action"])
    ]
    assert s3_resources == [{"Fn::Sub": "${ReportsBucket.Arn}/reports/*"}]


@pytest.mark.parametrize(("instance_limit", "fits"), [(1000, True), (500, False)])
def test_given_the_instances_own_limit_when_previewed_then_mastodon_counts_against_it(
    act: LocalStack, world: Any, instance_limit: int, fits: bool
) -> None:
    # Given an instance whose GET /api/v2/instance allows `instance_limit` characters
    world.channel_state("mastodon")[MAX_CHARACTERS] = instance_limit
    body = _body(act)
    situation = "Since 6 am, flights from Hamburg are delayed. "
    long_text = (situation * 14)[:577] + " " + body["texts"]["mastodon"][-22:]
    body["texts"]["mastodon"] = long_text
    # When a 600-character Mastodon text is previewed
    preview = _ok(as_(act, CARLA).request("POST", "/statements/preview", body))
    # Then its length is counted against the instance's limit
    mastodon = next(c for c in preview["channels"] if c["channel"] == "mastodon")
    assert mastodon["lengths"][0] == {"used": 600, "limit": instance_limit, "unit": "characters"}
    length = next(c for c in mastodon["checks"] if c["name"] == "length")
    assert length["status"] == ("passed" if fits else "failed")
