"""`stormwatch credentials push`: the channels' credentials into the stage's one secret.

The secret holds every channel's credentials, keyed by each channel's `secret_key`. A
file usually carries a few of them (a rotated token), so a push merges by default: each
channel in the file replaces that channel's object, the others stay. `--replace` makes
the secret exactly the file, after naming the channels that would go and asking.

Every field is a non-empty text (the functions read them as such: a number stored as a
token fails at 3 a.m., not at push time). Errors are one line naming the file, channel
and field, never a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JSON_KINDS = {
    bool: "a flag",
    int: "a number",
    float: "a number",
    list: "a list",
    dict: "an object",
    type(None): "null",
}


class CredentialsError(ValueError):
    """A credentials file or secret that cannot be pushed or merged; one line."""


Credentials = dict[str, dict[str, str]]


def read_file(path: Path) -> Credentials:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CredentialsError(f"{path}: cannot read it ({error.__class__.__name__})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # Position only: the parser's message may quote the file, which holds secrets.
        raise CredentialsError(
            f"{path}: not valid JSON (line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise CredentialsError(f"{path}: not valid JSON (nested too deep)") from None
    return validate(document, str(path))


def validate(document: Any, origin: str) -> Credentials:
    """`document` as credentials, or a `CredentialsError` naming the first bad field."""
    if not isinstance(document, dict):
        raise CredentialsError(
            f'{origin}: must be a JSON object keyed by secret_key: {{"x": {{"bearer_token": ...}}}}'
        )
    for channel, fields in document.items():
        if not isinstance(fields, dict):
            raise CredentialsError(
                f"{origin}: {_shown(channel)}: must be an object of credential fields"
            )
        for name, value in fields.items():
            where = f"{origin}: {_shown(channel)}.{_shown(name)}"
            if not isinstance(value, str):
                kind = JSON_KINDS.get(type(value), "not a text")
                raise CredentialsError(f"{where}: must be a text, got {kind}")
            if not value:
                raise CredentialsError(f"{where}: must not be empty")
    return document


def _shown(name: str) -> str:
    """A key as an error may quote it: keys are names, not secrets, but kept short."""
    return name if len(name) <= 40 else f"{name[:40]}..."


@dataclass(frozen=True, slots=True)
class Change:
    document: Credentials
    added: tuple[str, ...]
    updated: tuple[str, ...]
    kept: tuple[str, ...]
    removed: tuple[str, ...]


def plan(current: Mapping[str, dict[str, str]], pushed: Credentials, *, replace: bool) -> Change:
    """What the secret becomes: the file merged into it, or (`replace`) the file alone."""
    added = tuple(sorted(set(pushed) - set(current)))
    updated = tuple(sorted(set(pushed) & set(current)))
    untouched = tuple(sorted(set(current) - set(pushed)))
    if replace:
        return Change(dict(pushed), added, updated, (), untouched)
    return Change({**current, **pushed}, added, updated, untouched, ())


def push(
    client: Any,
    secret: str,
    path: Path,
    *,
    replace: bool,
    confirm: Callable[[str], bool],
    say: Callable[[str], None],
) -> bool:
    """Merge (or replace) the file into the secret; False when the operator said no."""
    from stormwatch.config import CHANNELS

    pushed = read_file(path)
    unknown = sorted(set(pushed) - set(CHANNELS))
    if unknown:
        say(f"note: keys {unknown} are not channel names; they must match a secret_key")
    current = _current(client, secret, replace=replace)
    change = plan(current, pushed, replace=replace)
    if change.removed and not confirm(
        f"--replace removes the credentials of {', '.join(change.removed)} from {secret}. Replace?"
    ):
        say("nothing changed")
        return False
    client.put_secret_value(SecretId=secret, SecretString=json.dumps(change.document))
    # Names only: values never reach the terminal or a log.
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (
            ("added", change.added),
            ("updated", change.updated),
            ("removed", change.removed),
        )
        if names
    ]
    if change.kept:
        parts.append(f"kept {len(change.kept)} others")
    say(f"stored credentials in {secret}: {'; '.join(parts)}")
    return True


def _current(client: Any, secret: str, *, replace: bool) -> Credentials:
    """What the secret holds now. One that is not credentials can only be replaced."""
    text = client.get_secret_value(SecretId=secret)["SecretString"]
    try:
        return validate(json.loads(text), f"the secret {secret}")
    except (json.JSONDecodeError, RecursionError):
        if replace:
            return {}
        raise CredentialsError(
            f"the secret {secret} does not hold JSON: push with --replace to overwrite it"
        ) from None
    except CredentialsError as error:
        if replace:
            return {}
        raise CredentialsError(f"{error}; push with --replace to overwrite it") from None
