"""Who calls: a verified identity, looked up in the config's `act.people`.

The identity comes from what AWS verified, never from the request's body: API Gateway's
IAM authorizer puts the signer's ARN in ``requestContext.authorizer.iam.userArn`` (an
HTTP API) or ``requestContext.identity.userArn`` (a REST API); its JWT authorizer puts a
Cognito user's claims in ``requestContext.authorizer.jwt.claims``. Somebody who signs
with an assumed role is ``arn:aws:sts::<account>:assumed-role/<role>/<session>``: the
config names that ARN (the session name is the person, as an SSO login sets it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stormwatch.act.approval import Caller, NotAllowed
from stormwatch.config import Config


class Unverified(NotAllowed):
    """The request carries no identity AWS verified."""


def verified_identity(event: Mapping[str, Any]) -> str:
    """The caller's verified identity in an API Gateway proxy event."""
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        raise Unverified("the request has no requestContext: call through the API")
    authorizer = context.get("authorizer")
    if isinstance(authorizer, Mapping):
        iam = authorizer.get("iam")
        if isinstance(iam, Mapping) and isinstance(iam.get("userArn"), str) and iam["userArn"]:
            return str(iam["userArn"])
        jwt = authorizer.get("jwt")
        claims = jwt.get("claims") if isinstance(jwt, Mapping) else None
        if isinstance(claims, Mapping):
            username = claims.get("cognito:username") or claims.get("username")
            if isinstance(username, str) and username:
                return f"cognito:{username}"
    identity = context.get("identity")
    user_arn = identity.get("userArn") if isinstance(identity, Mapping) else None
    if isinstance(user_arn, str) and user_arn:
        return user_arn
    raise Unverified("the request carries no verified identity (sign it with AWS credentials)")


def resolve_caller(identity: str, config: Config) -> Caller:
    """The person the config names for `identity`, with their roles."""
    for person in config.act.people:
        if identity in person.identities:
            contact = config.contacts.get(person.contact)
            name = contact.name if contact is not None else person.contact
            return Caller(identity, person.contact, name, frozenset(person.roles))
    raise NotAllowed(
        f"{identity} is nobody in act.people: ask an operator to add this identity "
        "to the config (stormwatch config push)"
    )
