"""The image card in the template's media bucket (moto's server, bucket made from
template.yaml by local/provision.py): stored under the statement's hash, fetched through
its presigned URL as Instagram's servers would, and the bucket private and expiring."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from local.stack import LocalStack
from stormwatch.act.card import URL_SECONDS, publish_card

BRAND = "Nordwind Air"
TEXT = (
    "Wir wissen Bescheid: Flug NW 1234 ab Kraków fällt heute aus.\n\n"
    "Wir melden uns spätestens um 18:00 Uhr wieder. Zażółć gęślą jaźń."
)
HASH = "0123456789abcdef" * 4


@pytest.fixture
def bucket(stack: LocalStack) -> str:
    return stack.outputs["MediaBucketName"]


def test_the_card_is_stored_under_the_hash_and_fetchable_by_its_presigned_url(
    stack: LocalStack, bucket: str
) -> None:
    # Given the template's media bucket
    s3 = stack.client("s3")
    # When the card of an approved text is published
    card = publish_card(TEXT, brand=BRAND, statement_hash=HASH, s3=s3, bucket=bucket)
    # Then it is stored under the statement's hash as a JPEG
    assert card.key.startswith(f"cards/{HASH}/")
    stored = s3.get_object(Bucket=bucket, Key=card.key)
    assert stored["ContentType"] == "image/jpeg"
    body = stored["Body"].read()
    assert len(body) == card.size
    # And the URL is a SigV4 presigned GET valid for an hour
    query = parse_qs(urlsplit(card.url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(URL_SECONDS)]
    assert "X-Amz-Signature" in query
    # And fetching it without credentials, as Instagram does, gives the card's bytes
    fetched = requests.get(card.url, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == body
    from PIL import Image

    assert Image.open(io.BytesIO(fetched.content)).size == (1080, 1350)


def test_publishing_again_puts_the_same_bytes_at_the_same_key(
    stack: LocalStack, bucket: str
) -> None:
    s3 = stack.client("s3")
    first = publish_card(TEXT, brand=BRAND, statement_hash=HASH, s3=s3, bucket=bucket)
    again = publish_card(TEXT, brand=BRAND, statement_hash=HASH, s3=s3, bucket=bucket)
    assert again.key == first.key
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"cards/{HASH}/")["Contents"]
    assert [item["Key"] for item in listed] == [first.key]


def test_the_card_is_private_without_the_presigned_query(stack: LocalStack, bucket: str) -> None:
    s3 = stack.client("s3")
    card = publish_card(TEXT, brand=BRAND, statement_hash=HASH, s3=s3, bucket=bucket)
    assert requests.get(card.url.split("?", 1)[0], timeout=10).status_code == 403


def test_a_missing_bucket_is_an_error_not_a_url(stack: LocalStack) -> None:
    with pytest.raises(ClientError, match="NoSuchBucket"):
        publish_card(
            TEXT, brand=BRAND, statement_hash=HASH, s3=stack.client("s3"), bucket="no-such-bucket"
        )


def test_the_bucket_is_private_encrypted_tls_only_and_expires(
    stack: LocalStack, bucket: str
) -> None:
    s3 = stack.client("s3")
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert len(block) == 4
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    (expiry,) = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert expiry["Status"] == "Enabled"
    assert 1 <= expiry["Expiration"]["Days"] <= 7
    import json

    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_moto_applies_the_tls_only_deny_as_s3_does_over_tls_and_other_denies_still_hold(
    stack: LocalStack,
) -> None:
    # Given a bucket whose policy denies non-TLS requests and, unconditionally, deletes
    # (local/motofix.py: moto's HTTP stands in for S3's HTTPS endpoint)
    import json

    s3 = stack.client("s3")
    name = "motofix-tls-policy"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"})
    arn = f"arn:aws:s3:::{name}"
    deny = {"Effect": "Deny", "Principal": "*", "Resource": [arn, f"{arn}/*"]}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {**deny, "Action": "s3:*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            {**deny, "Action": "s3:DeleteObject"},
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    # Then reads and writes pass, and the unconditional deny still denies
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError, match=r"403|AccessDenied"):
        s3.delete_object(Bucket=name, Key="k")
