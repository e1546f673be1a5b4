"""template.yaml as CloudFormation sees it (aws-sam-translator): what each function may do."""

from __future__ import annotations

from typing import Any

import pytest

from local.iam import actions_of, allows, leading_keys, role_statements
from local.provision import plan, translate
from local.stack import DEFAULT_PARAMETERS, TEMPLATE
from stormwatch.persistence.access import BY_FUNCTION
from tests.granted import GRANTED

CHANNELS = ("x", "mastodon", "bluesky", "facebook", "instagram", "linkedin", "reddit", "rss")


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    translated, _ = translate(TEMPLATE, DEFAULT_PARAMETERS)
    return translated


def _resources(cfn: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in cfn["Resources"].items() if r["Type"] == kind}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        found.extend(policy["PolicyDocument"]["Statement"])
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def _resources_by_action(role: dict[str, Any]) -> dict[str, list[Any]]:
    """Each action the role's policies allow, with the Resource of every statement naming
    it; every statement must allow (a Deny would hide what a role really may do)."""
    by_action: dict[str, list[Any]] = {}
    for statement in _statements(role):
        assert statement["Effect"] == "Allow"
        for action in _actions(statement):
            by_action.setdefault(action, []).append(statement["Resource"])
    return by_action


# Queries and conditional writes on the one table (transactions are checked action by
# action); no single-item or batch reads (nothing uses them), scans, deletes or admin.
TABLE_ACTIONS = {
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
}


def test_the_poller_may_touch_only_its_table_config_secret_and_queue(cfn: dict[str, Any]) -> None:
    role = cfn["Resources"]["PollMentionsFunctionRole"]
    statements = _statements(role)
    by_action = _resources_by_action(role)
    dynamodb = {a for a in by_action if a.startswith("dynamodb:")}
    # (mentions 25 to a BatchWriteItem, never a single put)
    assert dynamodb == TABLE_ACTIONS - {"dynamodb:PutItem"} | {"dynamodb:BatchWriteItem"}
    for action in dynamodb:
        assert by_action[action] == [{"Fn::GetAtt": ["Table", "Arn"]}]
    assert by_action["ssm:GetParameter"] == [
        {
            "Fn::Sub": (
                "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterName}"
            )
        }
    ]
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "ChannelSecret"}]
    assert by_action["sqs:SendMessage"] == [{"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}]
    # No wildcard resources: Comprehend (which has no resource-level permissions) is a
    # policy of its own, only when opted in
    assert not {a for a, resources in by_action.items() if "*" in resources}
    # It publishes nothing and cannot touch other secrets, parameters or tables
    assert not {a for a in by_action if a.startswith(("sns:", "iam:", "kms:Encrypt"))}
    # KMS use is bounded to the services that encrypt our data (table, secret, queue,
    # config)
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    assert len(kms) == 4
    for statement in kms:
        assert statement["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}
        assert "kms:ViaService" in statement["Condition"]["StringEquals"]
    managed = role["Properties"].get("ManagedPolicyArns", [])
    assert any("AWSLambdaBasicExecutionRole" in str(arn) for arn in managed)
    assert all(
        "AWSLambdaBasicExecutionRole" in str(arn) or "AWSXrayWriteOnlyAccess" in str(arn)
        for arn in managed
    )


def test_the_scheduler_may_only_invoke_the_scheduled_functions(cfn: dict[str, Any]) -> None:
    statements = _statements(cfn["Resources"]["SchedulerRole"])
    invoke = [s for s in statements if "lambda:InvokeFunction" in _actions(s)]
    assert [s["Resource"] for s in invoke] == [
        [
            {"Fn::GetAtt": ["PollMentionsFunction", "Arn"]},
            {"Fn::GetAtt": ["EvaluateAlertsFunction", "Arn"]},
        ]
    ]
    trust = cfn["Resources"]["SchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Statement"][0]["Condition"]["StringEquals"]


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [(",".join(CHANNELS), set(CHANNELS)), ("x,rss", {"x", "rss"}), ("mastodon", {"mastodon"})],
)
def test_one_schedule_per_enabled_channel(
    cfn: dict[str, Any], enabled: str, expected: set[str]
) -> None:
    # Given the EnabledChannels parameter / When conditions are evaluated
    deployment = plan(cfn, {**DEFAULT_PARAMETERS, "EnabledChannels": enabled})
    schedules = {
        name: resource
        for name, resource in _resources(cfn, "AWS::Scheduler::Schedule").items()
        if name.startswith("Poll") and deployment.conditions[resource["Condition"]]
    }
    # Then exactly those channels are polled, each at the PollRate, with a dead-letter queue
    channels = {
        resource["Properties"]["Target"]["Input"].split('"')[3] for resource in schedules.values()
    }
    assert channels == expected
    for resource in schedules.values():
        properties = resource["Properties"]
        assert properties["ScheduleExpression"] == {"Ref": "PollRate"}
        assert properties["Target"]["DeadLetterConfig"]["Arn"] == {
            "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
        }
        assert properties["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_the_evaluator_may_read_and_decide_and_notify_only(cfn: dict[str, Any]) -> None:
    by_action = _resources_by_action(cfn["Resources"]["EvaluateAlertsFunctionRole"])
    dynamodb = {a for a in by_action if a.startswith("dynamodb:")}
    assert dynamodb == TABLE_ACTIONS
    assert by_action["sns:Publish"] == [[{"Ref": "AlertsTopic"}, {"Ref": "OpsTopic"}]]
    # It never reads channel credentials: only the console's key, to sign alert links
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "ConsoleSecret"}]
    assert not {a for a, resources in by_action.items() if "*" in resources}
    # Direct SMS needs "*" (no resource for a phone number): one separate, marked policy
    sms = cfn["Resources"]["EvaluateAlertsSmsPolicy"]
    assert sms["Properties"]["Roles"] == [{"Ref": "EvaluateAlertsFunctionRole"}]
    assert sms["Properties"]["PolicyDocument"]["Statement"] == [
        {"Sid": "SmsToPhoneNumbers", "Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}
    ]
    assert sms["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_111"


def test_the_evaluator_runs_every_minute_and_knows_which_minute(cfn: dict[str, Any]) -> None:
    schedule = cfn["Resources"]["EvaluateAlertsSchedule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "EvaluateRate"}
    assert cfn["Parameters"]["EvaluateRate"]["Default"] == "rate(1 minute)"
    assert schedule["Target"]["Input"] == '{"scheduled_time": "<aws.scheduler.scheduled-time>"}'
    assert schedule["Target"]["Arn"] == {"Fn::GetAtt": ["EvaluateAlertsFunction", "Arn"]}


def test_data_is_durable_encrypted_and_expires(cfn: dict[str, Any]) -> None:
    tables = _resources(cfn, "AWS::DynamoDB::Table")
    # (no idempotency table: the release is exactly-once through its own items, 0009)
    assert set(tables) == {"Table"}
    for table in tables.values():
        properties = table["Properties"]
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
        assert properties["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "Key"}
        assert properties["TimeToLiveSpecification"]["Enabled"] is True
    assert tables["Table"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert tables["Table"]["DeletionPolicy"] == "Retain"
    topics = _resources(cfn, "AWS::SNS::Topic")
    assert set(topics) == {"AlertsTopic", "OpsTopic"}
    for topic in topics.values():
        assert topic["Properties"]["KmsMasterKeyId"] == {"Ref": "Key"}
    assert cfn["Resources"]["Key"]["Properties"]["EnableKeyRotation"] is True


def test_the_key_stays_with_the_retained_table_it_encrypts(cfn: dict[str, Any]) -> None:
    # Given the table survives the stack's deletion (and a replacement)
    table = cfn["Resources"]["Table"]
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"
    # When the stack is deleted, Then the key its data is encrypted with is kept too,
    # or the retained table could never be read again
    key = cfn["Resources"]["Key"]
    assert key["DeletionPolicy"] == "Retain"
    assert key["UpdateReplacePolicy"] == "Retain"


def test_every_function_logs_with_retention_alarms_and_parks_failures(cfn: dict[str, Any]) -> None:
    functions = _resources(cfn, "AWS::Lambda::Function")
    alarms = _resources(cfn, "AWS::CloudWatch::Alarm")
    invoke_configs = _resources(cfn, "AWS::Lambda::EventInvokeConfig")
    mappings = _resources(cfn, "AWS::Lambda::EventSourceMapping")
    assert set(functions) == {
        "PollMentionsFunction",
        "CountMentionsFunction",
        "EvaluateAlertsFunction",
        "PublishScheduledFunction",
        "ActFunction",
        "ReleaseStatementFunction",
        "ConsoleFunction",
    }
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["Architectures"] == ["arm64"]
        assert properties["Runtime"] == "python3.13"
        # The scheduled functions are traced only when asked (ScheduledTracing): Lambda
        # would trace every one of their ~300,000 runs a month
        scheduled = name in ("PollMentionsFunction", "EvaluateAlertsFunction")
        scheduled |= name == "CountMentionsFunction"  # as often as the pollers
        tracing = {"Fn::If": ["TraceScheduled", "Active", "PassThrough"]} if scheduled else "Active"
        assert properties["TracingConfig"] == {"Mode": tracing}
        group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert cfn["Resources"][group]["Properties"]["RetentionInDays"] == {
            "Ref": "LogRetentionDays"
        }
        stream = [m for m in mappings.values() if m["Properties"]["FunctionName"] == {"Ref": name}]
        if stream:
            # A stream's batch is retried until it succeeds (a batch given up is mentions
            # never counted); a failing or held-back function shows as its iterator age
            assert [m["Properties"]["MaximumRetryAttempts"] for m in stream] == [-1]
            assert any(
                alarm["Properties"].get("MetricName") == "IteratorAge"
                and alarm["Properties"]["Dimensions"][0]["Value"] == {"Ref": name}
                for alarm in alarms.values()
            ), f"{name} has no iterator age alarm"
            continue
        assert any(
            alarm["Properties"].get("MetricName") == "Errors"
            and alarm["Properties"]["Dimensions"][0]["Value"] == {"Ref": name}
            for alarm in alarms.values()
        ), f"{name} has no error alarm"
        assert any(
            config["Properties"]["FunctionName"] == {"Ref": name}
            and config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
            for config in invoke_configs.values()
        ), f"{name} has no on-failure destination"


def test_the_layer_is_built_by_sam_for_the_runtime(cfn: dict[str, Any]) -> None:
    from samtranslator.yaml_helper import yaml_parse

    sam = yaml_parse(TEMPLATE.read_text())
    layer = sam["Resources"]["CoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    assert set(sam["Outputs"]) >= {
        "TableName",
        "AlertsTopicArn",
        "ChannelSecretName",
        "ConfigParameterName",
        "DeadLetterQueueUrl",
    }
    assert "IdempotencyTableName" not in sam["Outputs"]


def test_every_act_route_is_iam_authorized_and_reaches_its_function(
    cfn: dict[str, Any],
) -> None:
    api = cfn["Resources"]["ActApi"]
    assert api["Type"] == "AWS::ApiGatewayV2::Api"
    paths = api["Properties"]["Body"]["paths"]
    routes = {(method.upper(), path) for path, methods in paths.items() for method in methods}
    assert routes == {
        ("POST", "/statements/preview"),
        ("POST", "/statements"),
        ("GET", "/statements"),
        ("GET", "/statements/{id}"),
        *{("POST", f"/statements/{{id}}/{step}") for step in ("revise", "submit", "approve")},
        *{("POST", f"/statements/{{id}}/{step}") for step in ("reject", "release")},
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("GET", "/status"),
        ("GET", "/alerts/{id}/timeline"),
        ("POST", "/alerts/{id}/report"),
        ("POST", "/alerts/{id}/acknowledge"),
    }
    for path, methods in paths.items():
        for method, operation in methods.items():
            assert operation["security"] == [{"AWS_IAM": []}], (method, path)
            uri = operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            if (method, path) == ("post", "/statements/{id}/release"):
                assert "${ReleaseStatementFunction.Arn}" in uri
            else:
                assert "${ActFunction.Arn}" in uri
    stage = cfn["Resources"]["ActApiApiGatewayDefaultStage"]["Properties"]
    assert stage["AccessLogSettings"]["DestinationArn"]


def test_the_act_function_may_do_only_what_preview_approval_pause_and_resume_need(
    cfn: dict[str, Any],
) -> None:
    role = cfn["Resources"]["ActFunctionRole"]
    by_action = _resources_by_action(role)
    dynamodb = {a for a in by_action if a.startswith("dynamodb:")}
    assert dynamodb == TABLE_ACTIONS
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "ChannelSecret"}]
    schedules = {a for a in by_action if a.startswith("scheduler:")}
    assert schedules == {
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    }
    for action in schedules:
        (resource,) = by_action[action]
        assert "schedule/${ScheduleGroup}/*" in resource["Fn::Sub"]
    (pass_role,) = [s for s in _statements(role) if "iam:PassRole" in _actions(s)]
    assert pass_role["Resource"] == [
        {"Fn::GetAtt": ["QueueSchedulerRole", "Arn"]},
        {"Fn::GetAtt": ["AutoResumeSchedulerRole", "Arn"]},
    ]
    assert pass_role["Condition"] == {
        "StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}
    }
    # What only the release needs is the release function's: no notice, no card, no key
    # for the topic, and no environment naming them
    assert not {a for a in by_action if a.startswith("sns:")}
    assert not _key_uses_via(role, "sns")
    environment = cfn["Resources"]["ActFunction"]["Properties"]["Environment"]["Variables"]
    assert not {"MEDIA_BUCKET", "ALERTS_TOPIC_ARN", "OPS_TOPIC_ARN"} & set(environment)
    # Its S3 is the crisis reports' prefix alone (put, and get for the presigned link)
    assert {a for a in by_action if a.startswith("s3:")} == {"s3:PutObject", "s3:GetObject"}
    for action in ("s3:PutObject", "s3:GetObject"):
        assert by_action[action] == [{"Fn::Sub": "${ReportsBucket.Arn}/reports/*"}]
    assert len(_key_uses_via(role, "s3")) == 1
    assert environment["REPORTS_BUCKET"] == {"Ref": "ReportsBucket"}
    assert not {a for a in by_action if "*" in by_action[a]}
    assert not {a for a in by_action if a.startswith(("lambda:", "iam:Create", "kms:Encrypt"))}
    # The auto-resume schedule's role may invoke the Act function and nothing else
    resume_role = cfn["Resources"]["AutoResumeSchedulerRole"]
    invoke = _resources_by_action(resume_role)["lambda:InvokeFunction"]
    assert invoke == [
        {
            "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
            ":function:stormwatch-${Stage}-act"
        }
    ]
    assert cfn["Resources"]["ActFunction"]["Properties"]["FunctionName"] == {
        "Fn::Sub": "stormwatch-${Stage}-act"
    }


def _key_uses_via(role: dict[str, Any], service: str) -> list[dict[str, Any]]:
    return [
        s
        for s in _statements(role)
        if s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
        == {"Fn::Sub": f"{service}.${{AWS::Region}}.amazonaws.com"}
    ]


def test_the_release_has_its_own_function_role_and_route_and_no_schedule(
    cfn: dict[str, Any],
) -> None:
    # The release route, and only it, reaches the release function
    paths = cfn["Resources"]["ActApi"]["Properties"]["Body"]["paths"]
    reaching = {
        (method.upper(), path)
        for path, methods in paths.items()
        for method, operation in methods.items()
        if "${ReleaseStatementFunction.Arn}"
        in operation["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
    }
    assert reaching == {("POST", "/statements/{id}/release")}
    function = cfn["Resources"]["ReleaseStatementFunction"]["Properties"]
    assert function["FunctionName"] == {"Fn::Sub": "stormwatch-${Stage}-release-statement"}
    # Longer than the API's 30 s on purpose (0009): the release finishes, the CLI follows it
    assert function["Timeout"] == 120
    environment = function["Environment"]["Variables"]
    assert environment["MEDIA_BUCKET"] == {"Ref": "MediaBucket"}
    assert environment["ALERTS_TOPIC_ARN"] == {"Ref": "AlertsTopic"}
    assert "AUTO_RESUME_ROLE_ARN" not in environment

    # Its role: the release's items, config, secret, the notice, the cards, parking
    role = cfn["Resources"]["ReleaseStatementFunctionRole"]
    by_action = _resources_by_action(role)
    assert {a for a in by_action if a.startswith("dynamodb:")} == TABLE_ACTIONS
    assert by_action["ssm:GetParameter"]
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "ChannelSecret"}]
    assert by_action["sns:Publish"] == [{"Ref": "AlertsTopic"}]
    s3 = {a for a in by_action if a.startswith("s3:")}
    assert s3 == {"s3:PutObject", "s3:GetObject"}
    for action in s3:
        assert by_action[action] == [{"Fn::Sub": "${MediaBucket.Arn}/cards/*"}]
    (media_key,) = _key_uses_via(role, "s3")
    assert media_key["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}
    # Parking only deletes the queue's schedules: nothing created, no role passed
    assert {a for a in by_action if a.startswith("scheduler:")} == {"scheduler:DeleteSchedule"}
    (schedules,) = by_action["scheduler:DeleteSchedule"]
    assert "schedule/${ScheduleGroup}/*" in schedules["Fn::Sub"]
    assert not {a for a in by_action if a.startswith(("iam:", "lambda:", "kms:Encrypt"))}
    assert not {a for a in by_action if "*" in by_action[a]}

    # Never scheduled: no schedule, rule or scheduler role may invoke it; the console's
    # role may, synchronously, with the signed-in person's verified claims (0013)
    for name, resource in cfn["Resources"].items():
        if resource["Type"] in ("AWS::Scheduler::Schedule", "AWS::Events::Rule"):
            assert "ReleaseStatementFunction" not in str(resource["Properties"]), name
        if resource["Type"] == "AWS::Lambda::Permission":
            properties = resource["Properties"]
            if "ReleaseStatementFunction" in str(properties["FunctionName"]):
                assert properties["Principal"] == "apigateway.amazonaws.com", name
        if resource["Type"] == "AWS::IAM::Role" and name not in (
            "ReleaseStatementFunctionRole",
            "ConsoleFunctionRole",
        ):
            invoked = _resources_by_action(resource).get("lambda:InvokeFunction", [])
            assert "ReleaseStatementFunction" not in str(invoked), name
            assert "release-statement" not in str(invoked), name
    assert cfn["Outputs"]["ReleaseStatementFunctionName"]["Value"] == {
        "Ref": "ReleaseStatementFunction"
    }


def test_the_act_outputs_name_the_api_and_the_function(cfn: dict[str, Any]) -> None:
    assert "execute-api" in cfn["Outputs"]["ActApiUrl"]["Value"]["Fn::Sub"]
    assert cfn["Outputs"]["ActFunctionName"]["Value"] == {"Ref": "ActFunction"}


def test_the_reports_bucket_is_private_encrypted_tls_only_and_expiring(
    cfn: dict[str, Any],
) -> None:
    bucket = cfn["Resources"]["ReportsBucket"]["Properties"]
    block = bucket["PublicAccessBlockConfiguration"]
    assert all(block[name] for name in block)
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["Key", "Arn"]},
    }
    (expiry,) = bucket["LifecycleConfiguration"]["Rules"]
    assert expiry["ExpirationInDays"] == 400
    policy = cfn["Resources"]["ReportsBucketPolicy"]["Properties"]["PolicyDocument"]
    (tls,) = policy["Statement"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_console_is_behind_the_pools_jwt_authorizer_and_may_only_read_and_invoke(
    cfn: dict[str, Any],
) -> None:
    # Every route of the console's API needs the pool's token, for the console's client,
    # but the sign-in's own three, which only trade a code or a refresh token for a cookie
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
        and r["Properties"]["ApiId"] == {"Ref": "ConsoleApi"}
    }
    unguarded = {key for key, route in routes.items() if route["AuthorizationType"] != "JWT"}
    assert unguarded == {"GET /auth/signin", "GET /auth/callback", "POST /auth/signout"}
    assert {"GET /", "ANY /{proxy+}"} <= set(routes)
    for key in set(routes) - unguarded:
        assert routes[key]["AuthorizerId"] == {"Ref": "ConsoleApiAuthorizer"}, key
    jwt = cfn["Resources"]["ConsoleApiAuthorizer"]["Properties"]
    assert jwt["AuthorizerType"] == "JWT"
    assert jwt["IdentitySource"] == ["$request.header.Authorization"]
    assert jwt["JwtConfiguration"]["Audience"] == [{"Ref": "ConsoleUserPoolClient"}]
    assert "${ConsoleUserPool}" in jwt["JwtConfiguration"]["Issuer"]["Fn::Sub"]
    # ...reached through CloudFront, whose viewer-request function brings the cookie's token
    behavior = cfn["Resources"]["ConsoleDistribution"]["Properties"]["DistributionConfig"][
        "DefaultCacheBehavior"
    ]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["FunctionAssociations"] == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["ConsoleSessionFunction", "FunctionARN"]},
        }
    ]
    cache = cfn["Resources"]["ConsoleCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 0
    assert cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == [
        "Authorization"
    ]
    # ...the pool: operators create the users, strong passwords, TOTP, the three groups
    pool = cfn["Resources"]["ConsoleUserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Policies"]["PasswordPolicy"]["MinimumLength"] >= 14
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    groups = {
        r["Properties"]["GroupName"]
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Cognito::UserPoolGroup"
    }
    assert groups == {"viewer", "approver", "publisher"}
    client = cfn["Resources"]["ConsoleUserPoolClient"]["Properties"]
    assert client["AllowedOAuthFlows"] == ["code"]
    assert client["GenerateSecret"] is False
    # ...its role reads the table and the console's key, and invokes the two Act functions
    by_action = _resources_by_action(cfn["Resources"]["ConsoleFunctionRole"])
    assert {a for a in by_action if a.startswith("dynamodb:")} == {
        "dynamodb:Query",
        "dynamodb:PutItem",
    }
    # ...its one write, a signed link's use, only in the links' partitions
    (link_use,) = [
        s
        for s in _statements(cfn["Resources"]["ConsoleFunctionRole"])
        if "dynamodb:PutItem" in _actions(s)
    ]
    assert link_use["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LINK#*"]}
    }
    assert by_action["secretsmanager:GetSecretValue"] == [{"Ref": "ConsoleSecret"}]
    assert by_action["lambda:InvokeFunction"] == [
        [
            {"Fn::GetAtt": ["ActFunction", "Arn"]},
            {"Fn::GetAtt": ["ReleaseStatementFunction", "Arn"]},
        ]
    ]
    # ...and reads the crisis reports, nothing else of S3
    assert by_action["s3:GetObject"] == [{"Fn::Sub": "${ReportsBucket.Arn}/reports/*"}]
    assert not {a for a in by_action if a.startswith(("sns:", "scheduler:", "iam:"))}
    assert {a for a in by_action if a.startswith("s3:")} == {"s3:GetObject"}
    # ...and no wildcard but the reports' own prefix
    assert not {a for a in by_action if "*" in str(by_action[a]) and a != "s3:GetObject"}


def test_the_evaluator_may_invoke_the_act_function_only_for_crisis_reports(
    cfn: dict[str, Any],
) -> None:
    # Given the evaluator's role and environment
    role = cfn["Resources"]["EvaluateAlertsFunctionRole"]
    function = cfn["Resources"]["EvaluateAlertsFunction"]["Properties"]
    # Then it may invoke the Act function, and no other
    assert _resources_by_action(role)["lambda:InvokeFunction"] == [
        {"Fn::GetAtt": ["ActFunction", "Arn"]}
    ]
    assert function["Environment"]["Variables"]["REPORT_FUNCTION_ARN"] == {
        "Fn::GetAtt": ["ActFunction", "Arn"]
    }


DYNAMODB_WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}


@pytest.mark.parametrize("function", sorted(BY_FUNCTION))
def test_each_role_writes_and_reads_only_its_own_partitions(
    cfn: dict[str, Any], function: str
) -> None:
    # Given the function's role as translated, and the partitions persistence/access.py
    # gives it
    access = BY_FUNCTION[function]
    statements = role_statements(cfn, function)
    table = [
        s
        for s in statements
        if any(a.startswith("dynamodb:") for a in actions_of(s))
        # The stream's records are read by Lambda's event source mapping, not by key
        and s.get("Resource") != {"Fn::GetAtt": ["Table", "StreamArn"]}
    ]
    writes = [s for s in table if DYNAMODB_WRITES & set(actions_of(s))]
    reads = [s for s in table if not DYNAMODB_WRITES & set(actions_of(s))]
    # Then every statement that writes is limited to exactly those partitions
    assert writes
    for statement in writes:
        assert leading_keys(statement) == list(access.writes), statement.get("Sid")
    # ...and so is every read, where its reads are limited
    for statement in reads:
        expected = None if access.reads is None else list(access.reads)
        assert leading_keys(statement) == expected, statement.get("Sid")


def test_a_poller_may_not_write_what_the_evaluator_sends_nor_its_alert_state_elsewhere(
    cfn: dict[str, Any],
) -> None:
    # Given the poller's and the evaluator's roles, judged as IAM would
    poller = role_statements(cfn, "PollMentionsFunction")
    evaluator = role_statements(cfn, "EvaluateAlertsFunction")
    # When the poller puts an outbox message (an SMS to any number) / Then it is refused
    assert allows(poller, "dynamodb:BatchWriteItem", "MENTION#x#2026-11-22")
    assert not allows(poller, "dynamodb:BatchWriteItem", "OUTBOX")
    assert not allows(poller, "dynamodb:PutItem", "OUTBOX")
    assert not allows(poller, "dynamodb:UpdateItem", "OUTBOX")
    assert not allows(poller, "dynamodb:PutItem", "CRISIS")
    # ...and the evaluator may not touch the pollers' mentions and cursors
    assert allows(evaluator, "dynamodb:PutItem", "OUTBOX")
    assert not allows(evaluator, "dynamodb:PutItem", "MENTION#x#2026-11-22")
    assert not allows(evaluator, "dynamodb:UpdateItem", "CURSOR#x")
    assert not allows(evaluator, "dynamodb:PutItem", "STATEMENT#s1")


def test_every_role_that_reads_the_config_may_decrypt_it_only_through_ssm(
    cfn: dict[str, Any],
) -> None:
    # Given every role allowed to read the config parameter (a SecureString under the key)
    readers = [
        name
        for name, resource in _resources(cfn, "AWS::IAM::Role").items()
        if "ssm:GetParameter" in _resources_by_action(resource)
    ]
    assert len(readers) == 6
    for name in readers:
        # Then it may decrypt with the stack's key, through SSM alone, for that parameter
        (decrypt,) = _key_uses_via(cfn["Resources"][name], "ssm")
        assert decrypt["Action"] == "kms:Decrypt"
        assert decrypt["Resource"] == {"Fn::GetAtt": ["Key", "Arn"]}
        context = decrypt["Condition"]["StringEquals"]["kms:EncryptionContext:PARAMETER_ARN"]
        assert "parameter${ConfigParameterName}" in context["Fn::Sub"]


@pytest.mark.parametrize(("opted_in", "granted"), [("off", False), ("on", True)])
def test_comprehend_is_granted_only_when_opted_in(
    cfn: dict[str, Any], opted_in: str, granted: bool
) -> None:
    # Given the ComprehendSentiment parameter (off by default, as the config's analyzer)
    assert cfn["Parameters"]["ComprehendSentiment"]["Default"] == "off"
    deployment = plan(cfn, {**DEFAULT_PARAMETERS, "ComprehendSentiment": opted_in})
    # When the conditions are evaluated / Then the poller's Comprehend policy exists only
    # when it is "on", and it is the only place Comprehend is granted
    (policy,) = [
        resource
        for resource in _resources(cfn, "AWS::IAM::Policy").values()
        if "comprehend:" in str(resource["Properties"]["PolicyDocument"])
    ]
    assert deployment.conditions[policy["Condition"]] is granted
    assert policy["Properties"]["Roles"] == [{"Ref": "PollMentionsFunctionRole"}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "comprehend:BatchDetectSentiment"


def test_the_schedulers_may_use_the_key_only_for_their_dead_letters(cfn: dict[str, Any]) -> None:
    # Given the roles EventBridge Scheduler assumes
    for name in ("SchedulerRole", "QueueSchedulerRole", "AutoResumeSchedulerRole"):
        statements = _statements(cfn["Resources"][name])
        kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
        # Then their KMS grant holds only through SQS (the encrypted dead-letter queue)
        assert kms, name
        for statement in kms:
            assert statement["Condition"] == {
                "StringEquals": {"kms:ViaService": {"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}}
            }, name


@pytest.mark.parametrize(
    ("topic", "publishers"),
    [
        ("AlertsTopic", ["EvaluateAlertsFunctionRole", "ReleaseStatementFunctionRole"]),
        ("OpsTopic", ["EvaluateAlertsFunctionRole"]),
    ],
)
def test_each_topic_takes_only_tls_and_only_its_publishers(
    cfn: dict[str, Any], topic: str, publishers: list[str]
) -> None:
    # Given the topic's policy
    (policy,) = [
        r["Properties"]
        for r in _resources(cfn, "AWS::SNS::TopicPolicy").values()
        if {"Ref": topic} in r["Properties"]["Topics"]
    ]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    # Then anything over plain HTTP is refused
    tls = statements["OnlyTls"]
    assert tls["Effect"] == "Deny"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # ...and a publish from anyone but its functions (and CloudWatch's alarms) is refused
    others = statements["OnlyItsPublishers"]
    assert others["Effect"] == "Deny"
    assert others["Action"] == "sns:Publish"
    condition = others["Condition"]
    assert condition["ArnNotEquals"]["aws:PrincipalArn"] == [
        {"Fn::GetAtt": [role, "Arn"]} for role in publishers
    ]
    assert condition["StringNotEquals"]["aws:PrincipalServiceName"] == "cloudwatch.amazonaws.com"


@pytest.mark.parametrize("function", sorted(GRANTED))
def test_every_action_a_role_grants_is_used_or_has_its_reason(
    cfn: dict[str, Any], function: str
) -> None:
    # Given every statement of the function's role, attached policies included
    granted = {action for s in role_statements(cfn, function) for action in actions_of(s)}
    # Then each action is one a test sees the function call (tests/granted.py: SEEN), or
    # one listed there with the reason it is needed; nothing else is granted
    unexplained = granted - set(GRANTED[function])
    assert not unexplained, f"{function} is granted, without a use or reason: {unexplained}"
    # ...and nothing is listed that is no longer granted
    assert set(GRANTED[function]) <= granted, set(GRANTED[function]) - granted
