"""The embedded local stack: moto's server, the template deployed into it, the fake channels.

    with LocalStack(scenario=build_scenario()) as stack:
        stack.invoke("PollMentionsFunction", {"channel": "x"})

boto3 finds moto through the standard `AWS_ENDPOINT_URL` variable, exactly as the
handlers' own clients do; nothing in the application knows it runs locally.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, TYPE_CHECKING, Any, TextIO

from local.fakechannels.registry import all_fakes, available_channels, fake_module
from local.fakechannels.server import FakeChannelServer
from local.fakechannels.world import World
from local.localconfig import localize, read_document
from local.provision import REGION, Deployment, deploy, translate
from local.routes import RouteTable, routes_of
from local.scenario import Scenario, build_scenario
from local.streams import StreamDelivery
from ops.cli import config_key
from stormwatch.config import Config, parse_config
from stormwatch.runtime import clear_caches

if TYPE_CHECKING:
    from stormwatch.channels.schedulers.queue import QueueScheduler

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# SQS's longest retention (14 days): see `LocalStack._tap_subscriptions`.
TAP_RETENTION_SECONDS = 14 * 24 * 3600

DEFAULT_PARAMETERS = {
    "Stage": "dev",
    "AlertEmail": "oncall@stormwatch.example",
    "AlertPhone": "+4915112345678",
    # Statement links locally lead to the fake web on loopback (`local.fakechannels`).
    "LinkCheckAllowedNetworks": "127.0.0.0/8,::1/128",
}

# What a Lambda runtime has that a developer's shell does not.
LOCAL_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    # No X-Ray daemon runs locally.
    "POWERTOOLS_TRACE_DISABLED": "true",
}


@dataclass
class FakeLambdaContext:
    """The parts of Lambda's context object the handlers use."""

    function_name: str
    budget_seconds: float
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.budget_seconds - (time.monotonic() - self._started)) * 1000))


class _AwsCalls:
    """Which AWS actions each function called, as IAM names them (`dynamodb:PutItem`; a
    transaction counts as the actions in it, as IAM checks it), so that tests can hold
    them against the function's role in the template. moto does not enforce IAM.

    The same seam emulates Lambda's asynchronous invoke, which moto cannot (it runs Lambda
    code only with Docker): a handler's `lambda:Invoke` with ``InvocationType="Event"`` on
    a function of the template is accepted (202) and queued on the stack, which runs it
    in-process once the calling invocation returned (`LocalStack.invoke`)."""

    _current = threading.local()
    _installed = False
    _runtimes: dict[str, Any] = {}  # noqa: RUF012 - one registry for the process
    """Lambda's Invoke of a local stack's function, by function name: moto cannot run
    Lambda code, so the stack runs the handler in-process (`LocalStack.answer_invoke`)."""

    @classmethod
    @contextlib.contextmanager
    def recording(cls, stack: LocalStack, function: str) -> Iterator[None]:
        cls._install()
        previous = getattr(cls._current, "target", None)
        previous_stack = getattr(cls._current, "stack", None)
        previous_partitions = getattr(cls._current, "partitions", None)
        cls._current.target = stack.aws_actions.setdefault(function, set())
        cls._current.partitions = stack.table_partitions.setdefault(function, set())
        cls._current.stack = stack
        try:
            yield
        finally:
            cls._current.target = previous
            cls._current.partitions = previous_partitions
            cls._current.stack = previous_stack

    @classmethod
    @contextlib.contextmanager
    def not_recording(cls) -> Iterator[None]:
        previous = getattr(cls._current, "target", None)
        cls._current.target = None
        try:
            yield
        finally:
            cls._current.target = previous

    @classmethod
    def _record(cls, prefix: str, operation: str, params: dict[str, Any]) -> None:
        target: set[str] | None = getattr(cls._current, "target", None)
        if target is None:
            return
        partitions: set[tuple[str, str]] | None = getattr(cls._current, "partitions", None)
        if operation == "TransactWriteItems":
            for action in params.get("TransactItems", []):
                for kind, request in action.items():
                    name = f"{prefix}:{_TRANSACTION_ACTIONS[kind]}"
                    target.add(name)
                    if partitions is not None:
                        partitions.update((name, pk) for pk in _partition_keys(request))
        else:
            name = f"{prefix}:{_IAM_ACTIONS.get((prefix, operation), operation)}"
            target.add(name)
            if prefix == "dynamodb" and partitions is not None:
                partitions.update((name, pk) for pk in _partition_keys(params))

    @classmethod
    def _invoke_locally(cls, params: dict[str, Any]) -> Any:
        """Lambda's Invoke of one of the stack's own functions, which moto cannot run: an
        asynchronous one (InvocationType Event) is queued to run after the calling
        invocation, a synchronous one runs now. None: not one of ours."""
        stack: LocalStack | None = getattr(cls._current, "stack", None)
        if stack is not None and params.get("InvocationType") == "Event":
            accepted = stack._queue_event(params)
            if accepted is not None:
                return accepted
        runtime = cls._runtimes.get(str(params.get("FunctionName")))
        return runtime(params) if runtime is not None else None

    @classmethod
    def _install(cls) -> None:
        if cls._installed:
            return
        from botocore.client import BaseClient

        real = BaseClient._make_api_call  # type: ignore[attr-defined]

        def call(client: Any, operation: str, params: dict[str, Any]) -> Any:
            prefix = client.meta.service_model.signing_name
            cls._record(prefix, operation, params)
            if prefix == "lambda" and operation == "Invoke":
                answered = cls._invoke_locally(params)
                if answered is not None:
                    return answered
            return real(client, operation, params)

        BaseClient._make_api_call = call  # type: ignore[attr-defined]

        # A handler's worker threads (parking one thread per scheduler, publishing one per
        # channel) call AWS as the function too: they record where the thread that
        # started them does.
        real_start = threading.Thread.start

        def start(thread: threading.Thread) -> None:
            target: set[str] | None = getattr(cls._current, "target", None)
            partitions = getattr(cls._current, "partitions", None)
            if target is not None:
                run = thread.run

                def run_recording() -> None:
                    cls._current.target = target
                    cls._current.partitions = partitions
                    run()

                thread.run = run_recording  # type: ignore[method-assign]
            real_start(thread)

        threading.Thread.start = start  # type: ignore[method-assign,assignment]
        cls._installed = True


def _partition_keys(request: dict[str, Any]) -> list[str]:
    """The partition keys (`pk`) a DynamoDB request touches, as IAM's `dynamodb:LeadingKeys`
    sees them: the item's or key's, each of a batch's, or a Query's `pk = :value`."""
    items = [request.get("Item"), request.get("Key")]
    for entries in (request.get("RequestItems") or {}).values():
        for entry in entries if isinstance(entries, list) else ():
            for change in entry.values():
                items += [change.get("Item"), change.get("Key")]
    found = [str(item["pk"]["S"]) for item in items if isinstance(item, dict) and "pk" in item]
    condition = str(request.get("KeyConditionExpression", ""))
    match = re.match(r"\s*pk\s*=\s*(:\w+)", condition)
    if match:
        found.append(str(request["ExpressionAttributeValues"][match.group(1)]["S"]))
    return found


# Where IAM's action is not the API operation's name.
_IAM_ACTIONS = {("lambda", "Invoke"): "InvokeFunction"}

_TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


class _HandlerOutput(io.TextIOBase):
    """Process-wide stdout that sends what handlers print to the stack's log.

    Installed once: Powertools binds its log handler to the stdout it finds at import,
    and overlapping invocations run in threads, so swapping `sys.stdout` per invocation
    (contextlib.redirect_stdout) would tangle; here each thread says whether it is inside
    an invocation, and everything else reaches the original stdout.
    """

    _installed: _HandlerOutput | None = None

    def __init__(self, outside: TextIO) -> None:
        self.outside = outside
        self.log: IO[str] | None = None
        self.inside = threading.local()

    @classmethod
    def install(cls) -> _HandlerOutput:
        if cls._installed is None:
            cls._installed = cls(sys.stdout)
        if sys.stdout is not cls._installed:
            # Someone put their own stdout back since (pytest does, after each test).
            cls._installed.outside = sys.stdout
            sys.stdout = cls._installed
        return cls._installed

    def _target(self) -> IO[str]:
        if self.log is not None and getattr(self.inside, "active", False):
            return self.log
        return self.outside

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def writable(self) -> bool:
        return True


class LocalStack:
    def __init__(
        self,
        *,
        scenario: Scenario | None = None,
        parameters: dict[str, str] | None = None,
        config_document: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        log: IO[str] | None = None,
        record_exchanges: bool = False,
        environment_overrides: dict[str, dict[str, str]] | None = None,
    ) -> None:
        """`record_exchanges`: the fake channels keep every request and answer (for tests
        that check them); off by default, since a long run would hold them all in memory
        (the fault-injection run's 20,000 requests cost it a sixth of its time).

        `environment_overrides`: per function (logical id), variables that point at where
        a service answers locally instead of its AWS name (the console's managed login)."""
        self.scenario = scenario or build_scenario()
        self.record_exchanges = record_exchanges
        self.environment_overrides = environment_overrides or {}
        self.parameters = {**DEFAULT_PARAMETERS, **(parameters or {})}
        self.config_document = config_document
        self.settings = settings or {}
        self.log = log
        self.world = _world(self.scenario, self.record_exchanges)
        self.channels = FakeChannelServer(self.world, all_fakes())
        self.deployment: Deployment | None = None
        self.endpoint = ""
        self._moto: Any = None
        self._saved_environment: dict[str, str | None] = {}
        self._handlers: dict[str, ModuleType] = {}
        self._routes: dict[str, RouteTable] = {}
        self._config: Config | None = None
        self._code_dirs: dict[str, str] = {}
        self._taps: dict[str, str] = {}
        self._inbox: dict[str, list[dict[str, Any]]] = {}
        self._inbox_lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self.streams: StreamDelivery | None = None
        self.aws_actions: dict[str, set[str]] = {}
        """Per function (logical id), every AWS action its handler called (IAM's names)."""
        self.table_partitions: dict[str, set[tuple[str, str]]] = {}
        """...and each DynamoDB action with the partition key it touched: (action, pk)."""
        self._events: list[tuple[str, dict[str, Any]]] = []
        self._events_lock = threading.Lock()
        self.async_invocations: list[tuple[str, dict[str, Any]]] = []
        """Every asynchronous invocation a handler made and the stack ran: (function, event)."""
        self.async_failures: list[tuple[str, dict[str, Any], str]] = []
        """...and those whose handler raised (Lambda would put the event in the function's
        on-failure destination): (function, event, error)."""

    # --- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from local import motofix
        from local.wsgiserver import KeepAliveWSGIServer

        motofix.install()
        self._moto = KeepAliveWSGIServer(
            "127.0.0.1", 0, DomainDispatcherApplication(create_backend_app)
        ).start()
        self._clients.clear()
        self.endpoint = f"http://127.0.0.1:{self._moto.port}"
        # moto keeps state per process, not per server: start from nothing.
        import requests

        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self._set_environment({**LOCAL_ENVIRONMENT, "AWS_ENDPOINT_URL": self.endpoint})
        self.channels.start()

        # A previous stack in this process may have left its config and secrets cached.
        clear_caches()
        template, self._code_dirs = translate(TEMPLATE, self.parameters)
        self.deployment = deploy(template, self.parameters, self.client)
        self._answer_invokes()
        self.streams = StreamDelivery(self)
        self._routes.clear()
        self._tap_subscriptions()
        self._store_configuration()
        self._store_credentials()
        return self

    def _answer_invokes(self) -> None:
        """Lambda's Invoke of a function of this stack runs its handler here."""
        assert self.deployment is not None
        _AwsCalls._install()
        for logical_id, resource in self.deployment.template["Resources"].items():
            if resource["Type"] == "AWS::Lambda::Function":
                name = self.deployment.function_name(logical_id)
                _AwsCalls._runtimes[name] = functools.partial(self.answer_invoke, logical_id)

    def reset(self, scenario: Scenario | None = None) -> LocalStack:
        """Back to as deployed, without a new moto and a new deployment (seconds each):
        every table empty, nothing delivered, the configuration and the channels' secret
        as `start` stored them, no cached copy of either, and the fake channels playing
        `scenario` (a new one) or the same one afresh (no faults, no requests recorded).
        Test modules that need a clean stack share one this way."""
        from moto.sns.models import sns_backends

        from local.provision import ACCOUNT_ID

        self.empty_tables()
        self._delete_made_schedules()
        self.received()  # drained and forgotten
        self.async_invocations.clear()
        self.async_failures.clear()
        sns_backends[ACCOUNT_ID][REGION].sms_messages.clear()
        self.scenario = scenario or self.scenario
        self.world = _world(self.scenario, self.record_exchanges)
        self.channels.world = self.world
        self._config = None
        self._store_configuration()
        self._store_credentials()
        clear_caches()
        return self

    def empty_tables(self) -> None:
        """Every table of the template empty, and nothing else touched: what a test that
        starts over many times in a row needs, without `reset`'s storing of the
        configuration and the secret again."""
        from moto.dynamodb.models import dynamodb_backends

        from local.provision import ACCOUNT_ID

        assert self.deployment is not None
        tables = dynamodb_backends[ACCOUNT_ID][REGION]
        for logical_id, resource in self.deployment.template["Resources"].items():
            if resource["Type"] == "AWS::DynamoDB::Table":
                tables.get_table(self.deployment.resources[logical_id].ref).items.clear()

    def _delete_made_schedules(self) -> None:
        """The schedules the functions made (our queue's posts, auto-resume), not the
        template's: a test that starts over must not find the last one's."""
        assert self.deployment is not None
        deployed = {
            self.deployment.resources[logical_id].ref
            for logical_id, resource in self.deployment.template["Resources"].items()
            if resource["Type"] == "AWS::Scheduler::Schedule"
        }
        scheduler = self.client("scheduler")
        for page in scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                if summary["Name"] not in deployed:
                    scheduler.delete_schedule(Name=summary["Name"], GroupName=summary["GroupName"])

    def stop(self) -> None:
        if self.deployment is not None:
            for logical_id, resource in self.deployment.template["Resources"].items():
                if resource["Type"] == "AWS::Lambda::Function":
                    _AwsCalls._runtimes.pop(self.deployment.function_name(logical_id), None)
        self.channels.stop()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environment.clear()

    def client(self, service: str) -> Any:
        """A boto3 client of the stack's moto, one per service (making one costs ~0.1 s)."""
        import boto3

        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(  # type: ignore[call-overload]
                    service, endpoint_url=self.endpoint, region_name=REGION
                )
            return self._clients[service]

    # --- what the stack holds ----------------------------------------------------------

    @property
    def outputs(self) -> dict[str, str]:
        assert self.deployment is not None
        return self.deployment.outputs

    def queue_scheduler(self) -> QueueScheduler:
        """Our own queue (`QueueScheduler`) on this stack's table and schedule group, as the
        Act functions build it from the template's outputs."""
        from stormwatch.channels.schedulers.queue import QueueScheduler, QueueTarget
        from stormwatch.persistence.queue import QueueStore
        from stormwatch.persistence.table import Table

        outputs = self.outputs
        return QueueScheduler(
            QueueStore(Table(self.client("dynamodb"), outputs["TableName"])),
            self.client("scheduler"),
            QueueTarget(
                group=outputs["ScheduleGroupName"],
                function_arn=outputs["PublishScheduledFunctionArn"],
                role_arn=outputs["QueueSchedulerRoleArn"],
            ),
        )

    def config_parameter(self) -> str:
        return self.outputs["ConfigParameterName"]

    def config(self) -> Config:
        """The configuration document the functions read, parsed."""
        if self._config is None:
            text = self.client("ssm").get_parameter(
                Name=self.config_parameter(), WithDecryption=True
            )["Parameter"]
            self._config = parse_config(json.loads(text["Value"]))
        return self._config

    def _store_configuration(self) -> None:
        document = self.config_document or localize(read_document(), self.channels.channel_url)
        document = {**document, **self.settings}
        parse_config(document)  # refuse to start with a document the functions would reject
        text = json.dumps(document, ensure_ascii=False)
        self.client("ssm").put_parameter(
            Name=self.config_parameter(),
            Value=text,
            Type="SecureString",
            KeyId=config_key(self.config_parameter()),
            Tier="Advanced" if len(text.encode()) > 4096 else "Standard",
            Overwrite=True,
        )

    def _store_credentials(self) -> None:
        document = self.config_document or read_document()
        channels = document.get("channels") or {}
        secret = {
            (settings or {}).get("secret_key", name): self.world.credentials[name]
            for name, settings in channels.items()
            if name in self.world.credentials
        }
        hootsuite = ((document.get("act") or {}).get("schedulers") or {}).get("hootsuite")
        if isinstance(hootsuite, dict) and hootsuite.get("enabled"):
            from local.fakechannels.scheduling import hootsuite as fake_hootsuite

            key = hootsuite.get("secret_key", "hootsuite")
            secret[key] = dict(fake_hootsuite.CREDENTIALS)
        self.client("secretsmanager").put_secret_value(
            SecretId=self.outputs["ChannelSecretName"], SecretString=json.dumps(secret)
        )

    # --- what people would have received ------------------------------------------------

    def _tap_subscriptions(self) -> None:
        """Beside every email and SMS subscription, a queue with the same filter policy.

        moto applies filter policies but keeps nothing it "sent" by email or to a
        subscribed phone; the queue receives exactly what that subscription would have.

        SQS drops a message once it is older than the queue's retention, and moto measures
        that age on whatever clock runs when the queue is read: a message sent on a
        simulated Sunday and read after the simulation stopped may already be "gone". So
        the taps are read while the clock that sent the messages still stands, at the end
        of every invocation of a function that can publish (`_collect`); what they
        received waits in `_inbox`, and the queues keep SQS's longest retention besides.
        """
        sns, sqs = self.client("sns"), self.client("sqs")
        self._taps = {}
        for number, subscription in enumerate(sns.list_subscriptions()["Subscriptions"]):
            if subscription["Protocol"] not in ("email", "sms"):
                continue
            attributes = sns.get_subscription_attributes(
                SubscriptionArn=subscription["SubscriptionArn"]
            )["Attributes"]
            url = sqs.create_queue(
                QueueName=f"local-tap-{number}",
                Attributes={"MessageRetentionPeriod": str(TAP_RETENTION_SECONDS)},
            )["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            tap = {"RawMessageDelivery": "false"}
            for name in ("FilterPolicy", "FilterPolicyScope"):
                if name in attributes:
                    tap[name] = attributes[name]
            sns.subscribe(
                TopicArn=subscription["TopicArn"], Protocol="sqs", Endpoint=arn, Attributes=tap
            )
            topic = subscription["TopicArn"].rsplit(":", 1)[1]
            self._taps[f"{topic} {subscription['Protocol']}:{subscription['Endpoint']}"] = url
        self._inbox = {name: [] for name in self._taps}

    def received(self) -> dict[str, list[dict[str, Any]]]:
        """What each email/SMS subscription received since the last call, oldest first."""
        self._collect()
        with self._inbox_lock:
            inbox, self._inbox = self._inbox, {name: [] for name in self._taps}
        return inbox

    def _collect(self) -> None:
        """Move what the tap queues hold into `_inbox`."""
        if not self._taps_hold_messages():
            return
        sqs = self.client("sqs")
        with self._inbox_lock:
            for name, url in self._taps.items():
                while True:
                    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
                        "Messages", []
                    )
                    if not batch:
                        break
                    for message in batch:
                        envelope = json.loads(message["Body"])
                        self._inbox[name].append(
                            {
                                "subject": envelope.get("Subject"),
                                "message": envelope["Message"],
                                "attributes": {
                                    key: value["Value"]
                                    for key, value in envelope.get("MessageAttributes", {}).items()
                                },
                            }
                        )
                    sqs.delete_message_batch(
                        QueueUrl=url,
                        Entries=[
                            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                            for index, message in enumerate(batch)
                        ],
                    )

    def _taps_hold_messages(self) -> bool:
        """A look into moto's queues (in this process) that saves three ReceiveMessage calls
        after most evaluations, which send nothing."""
        from moto.sqs.models import sqs_backends

        from local.provision import ACCOUNT_ID

        queues = sqs_backends[ACCOUNT_ID][REGION].queues
        return any(
            queues[url.rsplit("/", 1)[1]].approximate_number_of_messages
            for url in self._taps.values()
        )

    def sms_sent(self) -> list[tuple[str, str]]:
        """Every SMS published to a phone number so far: (number, text)."""
        from moto.sns.models import sns_backends

        from local.provision import ACCOUNT_ID

        return list(sns_backends[ACCOUNT_ID][REGION].sms_messages.values())

    # --- running handlers ------------------------------------------------------------

    def invoke(self, function: str, event: dict[str, Any], budget_seconds: float = 60.0) -> Any:
        """Call a function's handler in-process with the environment Lambda would give it;
        then run what it invoked asynchronously (each as its own function, after this one
        returned, as Lambda would a moment later), and hand the table's new stream records
        to the functions mapped to it (`local.streams`)."""
        try:
            return self._invoke_now(function, event, budget_seconds)
        finally:
            self._run_queued_events()
            if self.streams is not None and self.streams.automatic:
                self.streams.deliver()

    def _invoke_now(self, function: str, event: dict[str, Any], budget_seconds: float) -> Any:
        assert self.deployment is not None
        environment = {
            **self.deployment.function_environment(function),
            **self.environment_overrides.get(function, {}),
        }
        with self._environment(environment), self._output():
            module = self._handler_module(function)
            context = FakeLambdaContext(self.deployment.function_name(function), budget_seconds)
            try:
                with _AwsCalls.recording(self, function):
                    return module.handler(event, context)
            finally:
                # Read what it published while the clock it published at still stands.
                if self._taps and _can_publish(environment):
                    # The stack's own reading, not the calling function's (a console's
                    # invocation of the release function is still recording).
                    with _AwsCalls.not_recording():
                        self._collect()

    def answer_invoke(self, function: str, params: dict[str, Any]) -> dict[str, Any]:
        """Lambda's Invoke (RequestResponse) of one of this stack's functions, answered as
        Lambda would: the handler's result as the payload, its exception as a FunctionError."""
        event = json.loads(params.get("Payload") or b"{}")
        try:
            result = self.invoke(function, event)
        except Exception as error:
            payload = {"errorMessage": str(error), "errorType": type(error).__name__}
            return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _payload(payload)}
        return {"StatusCode": 200, "ExecutedVersion": "$LATEST", "Payload": _payload(result)}

    def _queue_event(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """Accept an asynchronous invocation of a function of the template, as Lambda
        answers it (202, an empty payload); None for a function the template has not."""
        from botocore.response import StreamingBody

        function = self._function_named(str(params.get("FunctionName", "")))
        if function is None:
            return None
        payload = params.get("Payload") or b"{}"
        if hasattr(payload, "read"):
            payload = payload.read()
        with self._events_lock:
            self._events.append((function, json.loads(payload)))
        return {
            "StatusCode": 202,
            "Payload": StreamingBody(io.BytesIO(b""), 0),
            "ResponseMetadata": {"HTTPStatusCode": 202},
        }

    def _function_named(self, name: str) -> str | None:
        """The logical id of the function `name` (a name or an ARN, as Lambda accepts)."""
        assert self.deployment is not None
        for logical_id, resource in self.deployment.template["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            deployed = self.deployment.function_name(logical_id)
            # A name, or an ARN that may carry a qualifier (`...:function:NAME:$LATEST`).
            unqualified = name.rsplit(":function:", maxsplit=1)[-1].split(":", maxsplit=1)[0]
            if unqualified == deployed:
                return str(logical_id)
        return None

    def _run_queued_events(self) -> None:
        while True:
            with self._events_lock:
                if not self._events:
                    return
                function, event = self._events.pop(0)
            self.async_invocations.append((function, event))
            assert self.deployment is not None
            timeout = self.deployment.template["Resources"][function]["Properties"].get("Timeout")
            try:
                self._invoke_now(function, event, float(timeout or 60))
            except Exception as error:  # Lambda keeps a failed event; the caller never hears
                self.async_failures.append((function, event, f"{type(error).__name__}: {error}"))

    def routes(self, api: str) -> RouteTable:
        """The routes of the template's HTTP API `api` (logical id), by function: what the
        local transport dispatches on, as API Gateway would."""
        assert self.deployment is not None
        if api not in self._routes:
            self._routes[api] = routes_of(self.deployment.template, api)
        return self._routes[api]

    def _handler_module(self, function: str) -> ModuleType:
        if function not in self._handlers:
            assert self.deployment is not None
            properties = self.deployment.template["Resources"][function]["Properties"]
            module_name, _, _attribute = properties["Handler"].rpartition(".")
            path = Path(self._code_dirs[function]) / f"{module_name.replace('.', '/')}.py"
            spec = importlib.util.spec_from_file_location(f"stormwatch_fn_{function}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load {path}")
            module = importlib.util.module_from_spec(spec)
            # Its Powertools logger may be the first of the process, and binds to the stdout
            # it finds: the router, so the stack's log gets what it prints whoever came first.
            _HandlerOutput.install()
            spec.loader.exec_module(module)
            self._handlers[function] = module
        return self._handlers[function]

    @contextlib.contextmanager
    def _output(self) -> Iterator[None]:
        """What the handler prints goes to this stack's log (the demo keeps it in a file)."""
        if self.log is None:
            yield
            return
        router = _HandlerOutput.install()
        router.log = self.log
        router.inside.active = True
        try:
            yield
        finally:
            router.inside.active = False

    @contextlib.contextmanager
    def _environment(self, variables: dict[str, str]) -> Iterator[None]:
        saved = {name: os.environ.get(name) for name in variables}
        os.environ.update(variables)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def _set_environment(self, variables: dict[str, str]) -> None:
        for name, value in variables.items():
            self._saved_environment.setdefault(name, os.environ.get(name))
            os.environ[name] = value


def _payload(result: Any) -> io.BytesIO:
    return io.BytesIO(json.dumps(result, ensure_ascii=False, default=str).encode())


def _world(scenario: Scenario, record: bool) -> World:
    """The fake channels' world for `scenario`, accepting each fake's credentials."""
    return World(
        scenario=scenario,
        credentials={ch: dict(fake_module(ch).CREDENTIALS) for ch in available_channels()},
        record=record,
    )


def _can_publish(environment: dict[str, str]) -> bool:
    """Whether a function's environment names an SNS topic it may publish to."""
    return any(value.startswith("arn:aws:sns:") for value in environment.values())


def schedules(stack: LocalStack) -> list[dict[str, Any]]:
    """The schedules deployed from the template, with their targets' input."""
    scheduler = stack.client("scheduler")
    found = []
    for summary in scheduler.list_schedules()["Schedules"]:
        detail = scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
        found.append(detail)
    return found


if __name__ == "__main__":  # pragma: no cover - a quick manual check
    with LocalStack(log=sys.stderr) as running:
        print(json.dumps(running.outputs, indent=2))
