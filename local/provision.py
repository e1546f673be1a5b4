"""Create the resources of template.yaml in moto's server: the local stack's deployment.

The SAM template is translated by aws-sam-translator into plain CloudFormation (as
`sam deploy` would have it translated), then every resource is created through boto3
in dependency order, with intrinsic functions resolved. There is no second list of
tables and topics: a resource type this module does not know is an error, so a
template change cannot be skipped locally without anyone noticing.

Lambda functions are not created in moto (moto runs Lambda code only with Docker);
their handlers are called in-process with the environment resolved here.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "eu-central-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "stormwatch-local"
ARTIFACT_BUCKET = "stormwatch-local-artifacts"

# Types that need nothing locally, and why.
NOT_CREATED = {
    "AWS::Lambda::Function": "handlers run in-process; moto runs Lambda code only with Docker",
    "AWS::Lambda::LayerVersion": "the layer's package is imported directly",
    "AWS::Lambda::Permission": "nothing invokes through AWS locally",
    "AWS::Lambda::EventInvokeConfig": "asynchronous invocations run in-process, once (local.stack)",
    "AWS::Lambda::EventSourceMapping": "local.streams reads the table's stream from moto and "
    "hands the function its batches, as Lambda's poller would",
    "AWS::IAM::Role": "moto does not enforce IAM; tests check the policies in the template",
    "AWS::IAM::Policy": "moto does not enforce IAM; tests check the policies in the template",
    "AWS::ApiGatewayV2::Api": "moto cannot put an HTTP API before in-process handlers; the "
    "local transport routes by the API's body (local.routes) and builds its payload-2.0 "
    "events itself (ops.transport)",
    "AWS::ApiGatewayV2::Stage": "the HTTP API is not created locally",
    "AWS::ApiGatewayV2::Route": "the local console gateway routes by these (local.routes)",
    "AWS::ApiGatewayV2::Integration": "the local console gateway invokes the function itself",
    "AWS::ApiGatewayV2::Authorizer": "the local console gateway verifies the pool's tokens "
    "as the JWT authorizer does (local.console)",
    "AWS::CloudFront::Function": "the local console gateway runs its code with Node.js",
    "AWS::CloudFront::CachePolicy": "nothing is cached locally",
    "AWS::CloudFront::Distribution": "the local console gateway stands where it would",
}


class _NoValue:
    """AWS::NoValue: the property is dropped."""


NO_VALUE = _NoValue()


@dataclass
class Physical:
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class Deployment:
    template: dict[str, Any]
    parameters: dict[str, str]
    conditions: dict[str, bool] = field(default_factory=dict)
    resources: dict[str, Physical] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The environment variables Lambda would give this function."""
        properties = self.template["Resources"][logical_id]["Properties"]
        variables = (properties.get("Environment") or {}).get("Variables") or {}
        resolved = Resolver(self).resolve(variables)
        return {key: str(value) for key, value in resolved.items()}

    def function_name(self, logical_id: str) -> str:
        return self.resources[logical_id].ref


# --- translation ------------------------------------------------------------------------


def translate(
    sam_template: Path, parameters: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """CloudFormation for the SAM template, and each function's code folder."""
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse(sam_template.read_text(encoding="utf-8"))
    code_dirs: dict[str, str] = {}
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for uri_key in ("CodeUri", "ContentUri"):
            uri = properties.get(uri_key)
            if isinstance(uri, str) and not uri.startswith("s3://"):
                code_dirs[logical_id] = str((sam_template.parent / uri).resolve())
                # What `sam package` would have uploaded.
                properties[uri_key] = f"s3://{ARTIFACT_BUCKET}/{logical_id}.zip"

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    import os

    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    translated = transform(template, dict(parameters), NoManagedPolicies())
    return json.loads(json.dumps(translated)), code_dirs


# --- intrinsic functions ------------------------------------------------------------------


class Resolver:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": _arn("cloudformation", f"stack/{STACK_NAME}/local"),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.deployment.parameters:
            return self.deployment.parameters[name]
        if name in self.deployment.resources:
            return self.deployment.resources[name].ref
        raise KeyError(f"Ref {name}: not a parameter or a created resource")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": lambda arg: str(arg[0]).join(str(x) for x in self.resolve(arg[1])),
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(arg[0]),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::If": lambda arg: self.resolve(
                arg[1] if self.deployment.conditions[arg[0]] else arg[2]
            ),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(x) for x in arg),
            "Fn::Or": lambda arg: any(self.resolve(x) for x in arg),
            "Condition": lambda arg: self.deployment.conditions[arg],
        }

    def _get_att(self, argument: Any) -> str:
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        physical = self.deployment.resources.get(logical_id)
        if physical is None:
            raise KeyError(f"GetAtt {logical_id}.{attribute}: resource not created")
        if attribute not in physical.attributes:
            raise KeyError(f"GetAtt {logical_id}.{attribute}: unknown attribute locally")
        return physical.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        values = {name: self.resolve(item) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self._get_att(name))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


# --- creators -----------------------------------------------------------------------------

Clients = Callable[[str], Any]


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def _kms_key(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    kms = clients("kms")
    key = kms.create_key(
        Description=props.get("Description", ""), Policy=json.dumps(props.get("KeyPolicy", {}))
    )["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return Physical(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})


def _kms_alias(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    clients("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Physical(props["AliasName"])


def _table(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    dynamodb = clients("dynamodb")
    request = {
        "TableName": props["TableName"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if "GlobalSecondaryIndexes" in props:
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        # CloudFormation names the view type only; the API also wants the switch.
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    sse = props.get("SSESpecification")
    if sse:
        request["SSESpecification"] = {
            "Enabled": bool(sse.get("SSEEnabled")),
            "SSEType": sse.get("SSEType", "KMS"),
            **({"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}),
        }
    table = dynamodb.create_table(**request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=props["TableName"],
            TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"],
                "Enabled": ttl["Enabled"],
            },
        )
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        dynamodb.update_continuous_backups(
            TableName=props["TableName"],
            PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": pitr["PointInTimeRecoveryEnabled"]
            },
        )
    return Physical(
        props["TableName"],
        {"Arn": table["TableArn"], "StreamArn": table.get("LatestStreamArn", "")},
    )


def _secret(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    request = {"Name": props["Name"], "Description": props.get("Description", "")}
    if "KmsKeyId" in props:
        request["KmsKeyId"] = props["KmsKeyId"]
    if "SecretString" in props:
        request["SecretString"] = props["SecretString"]
    elif "GenerateSecretString" in props:
        # What CloudFormation does with it: a random string from Secrets Manager itself.
        generate = props["GenerateSecretString"]
        request["SecretString"] = clients("secretsmanager").get_random_password(
            PasswordLength=int(generate.get("PasswordLength", 32)),
            ExcludePunctuation=bool(generate.get("ExcludePunctuation", False)),
        )["RandomPassword"]
    arn = clients("secretsmanager").create_secret(**request)["ARN"]
    return Physical(arn, {"Id": arn})


def _topic(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    attributes = {
        key: str(props[prop])
        for prop, key in (("DisplayName", "DisplayName"), ("KmsMasterKeyId", "KmsMasterKeyId"))
        if prop in props
    }
    arn = clients("sns").create_topic(Name=props["TopicName"], Attributes=attributes)["TopicArn"]
    return Physical(arn, {"TopicArn": arn, "TopicName": props["TopicName"]})


def _topic_policy(props: dict[str, Any], clients: Clients, logical_id: str) -> Physical:
    # moto keeps the policy and enforces none of it (as with IAM); tests read the template.
    for arn in props["Topics"]:
        clients("sns").set_topic_attributes(
            TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(props["PolicyDocument"])
        )
    return Physical(logical_id)


def _subscription(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    attributes = {}
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
        attributes["FilterPolicyScope"] = props.get("FilterPolicyScope", "MessageAttributes")
    if props.get("RawMessageDelivery"):
        attributes["RawMessageDelivery"] = "true"
    arn = clients("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return Physical(arn)


def _queue(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    attributes = {
        key: str(props[key])
        for key in ("MessageRetentionPeriod", "KmsMasterKeyId", "VisibilityTimeout")
        if key in props
    }
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Physical(url, {"Arn": arn, "QueueName": props["QueueName"], "QueueUrl": url})


def _queue_policy(props: dict[str, Any], clients: Clients, logical_id: str) -> Physical:
    for url in props["Queues"]:
        clients("sqs").set_queue_attributes(
            QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
        )
    return Physical(logical_id)


def _log_group(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    logs = clients("logs")
    name = props["LogGroupName"]
    request = {"logGroupName": name}
    if "KmsKeyId" in props:
        request["kmsKeyId"] = props["KmsKeyId"]
    logs.create_log_group(**request)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return Physical(name, {"Arn": _arn("logs", f"log-group:{name}:*")})


def _alarm(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    request: dict[str, Any] = {
        key: props[key]
        for key in (
            "AlarmName",
            "AlarmDescription",
            "Namespace",
            "MetricName",
            "Statistic",
            "Period",
            "EvaluationPeriods",
            "DatapointsToAlarm",
            "Threshold",
            "ComparisonOperator",
            "TreatMissingData",
            "AlarmActions",
            "OKActions",
        )
        if key in props
    }
    for number in ("Period", "EvaluationPeriods", "DatapointsToAlarm"):
        if number in request:
            request[number] = int(request[number])
    request["Threshold"] = float(request["Threshold"])
    if "Metrics" in props:
        request["Metrics"] = [_metric_query(query) for query in props["Metrics"]]
    else:
        request["Dimensions"] = props.get("Dimensions", [])
    clients("cloudwatch").put_metric_alarm(**request)
    return Physical(props["AlarmName"], {"Arn": _arn("cloudwatch", f"alarm:{props['AlarmName']}")})


def _metric_query(query: dict[str, Any]) -> dict[str, Any]:
    """A metric-math alarm's query: CloudFormation's spelling is the API's, but numbers
    arrive as the template wrote them."""
    converted = dict(query)
    if "Period" in converted:
        converted["Period"] = int(converted["Period"])
    if "MetricStat" in converted:
        stat = dict(converted["MetricStat"])
        stat["Period"] = int(stat["Period"])
        converted["MetricStat"] = stat
    return converted


def _dashboard(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    name = props["DashboardName"]
    clients("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    return Physical(name)


def _schedule_group(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    arn = clients("scheduler").create_schedule_group(Name=props["Name"])["ScheduleGroupArn"]
    return Physical(props["Name"], {"Arn": arn})


def _schedule(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    request: dict[str, Any] = {
        key: props[key]
        for key in (
            "Name",
            "GroupName",
            "Description",
            "ScheduleExpression",
            "State",
            "Target",
            "FlexibleTimeWindow",
            "ScheduleExpressionTimezone",
        )
        if key in props
    }
    arn = clients("scheduler").create_schedule(**request)["ScheduleArn"]
    return Physical(props["Name"], {"Arn": arn})


def _bucket(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    s3 = clients("s3")
    name = props["BucketName"]
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    encryption = props.get("BucketEncryption")
    if encryption:
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                            **(
                                {"KMSMasterKeyID": key}
                                if (
                                    key := rule["ServerSideEncryptionByDefault"].get(
                                        "KMSMasterKeyID"
                                    )
                                )
                                else {}
                            ),
                        },
                        "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled")),
                    }
                    for rule in encryption["ServerSideEncryptionConfiguration"]
                ]
            },
        )
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    lifecycle = props.get("LifecycleConfiguration")
    if lifecycle:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]
            },
        )
    return Physical(
        name,
        {
            "Arn": f"arn:aws:s3:::{name}",
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
        },
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's spelling of a lifecycle rule in the S3 API's."""
    converted: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        converted["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(days)}
    return converted


def _bucket_policy(props: dict[str, Any], clients: Clients, logical_id: str) -> Physical:
    clients("s3").put_bucket_policy(
        Bucket=props["Bucket"], Policy=json.dumps(props["PolicyDocument"])
    )
    return Physical(logical_id)


def _user_pool(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    request: dict[str, Any] = {"PoolName": props["UserPoolName"]}
    for key in (
        "Policies",
        "AdminCreateUserConfig",
        "UsernameConfiguration",
        "AutoVerifiedAttributes",
        "MfaConfiguration",
        "AccountRecoverySetting",
        "DeletionProtection",
    ):
        if key in props:
            request[key] = props[key]
    pool = clients("cognito-idp").create_user_pool(**request)["UserPool"]
    return Physical(
        pool["Id"],
        {"Arn": pool["Arn"], "ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"},
    )


def _user_pool_group(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    clients("cognito-idp").create_group(
        UserPoolId=props["UserPoolId"],
        GroupName=props["GroupName"],
        Description=props.get("Description", ""),
    )
    return Physical(props["GroupName"])


def _user_pool_client(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    request = {key: value for key, value in props.items() if key != "UserPoolId"}
    client = clients("cognito-idp").create_user_pool_client(
        UserPoolId=props["UserPoolId"], **request
    )["UserPoolClient"]
    return Physical(client["ClientId"], {"ClientSecret": client.get("ClientSecret", "")})


def _function(props: dict[str, Any], _: Clients, logical_id: str) -> Physical:
    name = props.get("FunctionName") or f"{STACK_NAME}-{logical_id}"
    return Physical(name, {"Arn": _arn("lambda", f"function:{name}")})


def _role(props: dict[str, Any], _: Clients, logical_id: str) -> Physical:
    name = props.get("RoleName") or f"{STACK_NAME}-{logical_id}"
    return Physical(name, {"Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}", "RoleId": name})


def _event_source_mapping(props: dict[str, Any], _: Clients, logical_id: str) -> Physical:
    """Nothing in moto (it would try to run the function in Docker): the resolved
    properties, for `local.streams`."""
    return Physical(logical_id, {"Properties": json.dumps(props)})


def _placeholder(_: dict[str, Any], __: Clients, logical_id: str) -> Physical:
    return Physical(logical_id, {"Arn": _arn("lambda", f"layer:{logical_id}:1")})


def _http_api(_: dict[str, Any], __: Clients, logical_id: str) -> Physical:
    api_id = f"local{logical_id.lower()}"[:10]
    endpoint = f"https://{api_id}.execute-api.{REGION}.amazonaws.com"
    return Physical(api_id, {"ApiId": api_id, "ApiEndpoint": endpoint})


def _user_pool_domain(props: dict[str, Any], clients: Clients, _: str) -> Physical:
    clients("cognito-idp").create_user_pool_domain(
        Domain=props["Domain"], UserPoolId=props["UserPoolId"]
    )
    return Physical(props["Domain"], {"CloudFrontDistribution": "local.cloudfront.net"})


def _cloudfront_function(props: dict[str, Any], _: Clients, __: str) -> Physical:
    arn = f"arn:aws:cloudfront::{ACCOUNT_ID}:function/{props['Name']}"
    return Physical(props["Name"], {"FunctionARN": arn, "FunctionMetadata.FunctionARN": arn})


def _distribution(_: dict[str, Any], __: Clients, logical_id: str) -> Physical:
    # A name of CloudFront's shape; locally nothing answers on it (`make console` serves
    # the console on localhost, with ConsoleUrl set to that).
    distribution_id = f"E{logical_id.upper()[:13]}"
    domain = f"d{logical_id.lower()[:13]}.cloudfront.net"
    return Physical(distribution_id, {"DomainName": domain, "Id": distribution_id})


CREATORS: dict[str, Callable[[dict[str, Any], Clients, str], Physical]] = {
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::DynamoDB::Table": _table,
    "AWS::SecretsManager::Secret": _secret,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::SNS::TopicPolicy": _topic_policy,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::Logs::LogGroup": _log_group,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::Scheduler::ScheduleGroup": _schedule_group,
    "AWS::Scheduler::Schedule": _schedule,
    "AWS::S3::Bucket": _bucket,
    "AWS::S3::BucketPolicy": _bucket_policy,
    "AWS::Cognito::UserPool": _user_pool,
    "AWS::Cognito::UserPoolGroup": _user_pool_group,
    "AWS::Cognito::UserPoolClient": _user_pool_client,
    "AWS::Lambda::Function": _function,
    "AWS::IAM::Role": _role,
    "AWS::IAM::Policy": _placeholder,
    "AWS::Lambda::LayerVersion": _placeholder,
    "AWS::Lambda::Permission": _placeholder,
    "AWS::Lambda::EventInvokeConfig": _placeholder,
    "AWS::Lambda::EventSourceMapping": _event_source_mapping,
    "AWS::ApiGatewayV2::Api": _http_api,
    "AWS::ApiGatewayV2::Stage": _placeholder,
    "AWS::ApiGatewayV2::Route": _placeholder,
    "AWS::ApiGatewayV2::Integration": _placeholder,
    "AWS::ApiGatewayV2::Authorizer": _placeholder,
    "AWS::Cognito::UserPoolDomain": _user_pool_domain,
    "AWS::CloudFront::Function": _cloudfront_function,
    "AWS::CloudFront::CachePolicy": _placeholder,
    "AWS::CloudFront::Distribution": _distribution,
}


# --- deployment ---------------------------------------------------------------------------


def _dependencies(resource: dict[str, Any]) -> set[str]:
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "Ref" and isinstance(item, str):
                    found.add(item)
                elif key == "Fn::GetAtt":
                    found.add(item[0] if isinstance(item, list) else item.split(".")[0])
                elif key == "Fn::Sub":
                    text = item if isinstance(item, str) else item[0]
                    found.update(
                        name.split(".")[0] for name in re.findall(r"\$\{([^}!][^}]*)\}", text)
                    )
                    walk(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(resource.get("Properties", {}))
    depends = resource.get("DependsOn", [])
    found.update([depends] if isinstance(depends, str) else depends)
    return found


def plan(template: dict[str, Any], parameters: Mapping[str, str]) -> Deployment:
    """Parameter values and evaluated conditions, before anything is created."""
    values = {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }
    values.update(parameters)
    missing = [name for name in template.get("Parameters", {}) if name not in values]
    if missing:
        raise ValueError(f"template parameters without a value: {', '.join(missing)}")
    deployment = Deployment(template=template, parameters=values)
    resolver = Resolver(deployment)
    for name, expression in template.get("Conditions", {}).items():
        deployment.conditions[name] = bool(resolver.resolve(expression))
    return deployment


def deploy(template: dict[str, Any], parameters: Mapping[str, str], clients: Clients) -> Deployment:
    deployment = plan(template, parameters)
    resolver = Resolver(deployment)

    resources = template["Resources"]
    unknown = sorted({r["Type"] for r in resources.values()} - set(CREATORS))
    if unknown:
        raise ValueError(f"the local stack cannot create {', '.join(unknown)}: add a creator")
    remaining = {
        logical_id
        for logical_id, resource in resources.items()
        if deployment.conditions.get(resource.get("Condition", ""), True)
    }
    while remaining:
        ready = sorted(
            logical_id
            for logical_id in remaining
            if not (_dependencies(resources[logical_id]) & remaining)
        )
        if not ready:
            raise ValueError(f"dependency cycle among {sorted(remaining)}")
        for logical_id in ready:
            resource = resources[logical_id]
            properties = resolver.resolve(copy.deepcopy(resource.get("Properties", {})))
            deployment.resources[logical_id] = CREATORS[resource["Type"]](
                properties, clients, logical_id
            )
            if resource["Type"] in NOT_CREATED:
                deployment.skipped[logical_id] = NOT_CREATED[resource["Type"]]
            remaining.discard(logical_id)
    for name, output in template.get("Outputs", {}).items():
        if deployment.conditions.get(output.get("Condition", ""), True):
            deployment.outputs[name] = str(resolver.resolve(output["Value"]))
    return deployment
