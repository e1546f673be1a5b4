"""`make local`: the local stack kept running, with the Act API on it, for trying the
`stormwatch` commands by hand as the people of the config's `act.people`.

    make local          # in one shell: prints the environment to use and the users
    AWS_PROFILE=carla stormwatch statement preview holding --lang en --var ...

Each person in `act.people` becomes a moto IAM user with an access key, written as a
profile into a shared-credentials file under `out/local/`; the commands sign their
requests with it, as they would against AWS, and the local gateway checks the signature,
picks the function by the template's routes and invokes it (see `local.gateway`). A few
posts wait in each scheduler, so `pause` has something to park. Stop with Ctrl-C;
nothing outlives the process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.gateway import LocalGateway, create_users, iam_keys
from local.provision import REGION
from local.stack import LocalStack
from local.wsgiserver import KeepAliveWSGIServer

OUT = Path("out/local")


def write_profiles(keys: Mapping[str, tuple[str, str]], folder: Path) -> tuple[Path, Path]:
    """One AWS profile per person: a credentials file and a config file (region)."""
    folder.mkdir(parents=True, exist_ok=True)
    credentials = folder / "credentials"
    config = folder / "config"
    credentials.write_text(
        "".join(
            f"[{name}]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n\n"
            for name, (key, secret) in keys.items()
        )
    )
    credentials.chmod(0o600)
    config.write_text("".join(f"[profile {name}]\nregion = {REGION}\n\n" for name in keys))
    return credentials, config


def serve(
    stack: LocalStack, port: int = 0
) -> tuple[KeepAliveWSGIServer, dict[str, tuple[str, str]]]:
    """The Act API of a started local stack, on 127.0.0.1:`port`; the users' keys."""
    identities = [i for person in stack.config().act.people for i in person.identities]
    keys = create_users(stack, identities)
    from ops.transport import LocalTransport

    def dispatch(caller: str, method: str, path: str, body: Any) -> tuple[int, dict[str, Any]]:
        answer = LocalTransport(stack, caller).request(method, path, body)
        return answer.status, answer.body

    gateway = LocalGateway(dispatch=dispatch, find_key=iam_keys(stack), region=REGION)
    return KeepAliveWSGIServer("127.0.0.1", port, gateway.wsgi).start(), keys


def wait_until_stopped() -> None:
    """Until Ctrl-C or SIGTERM: what a `make local` or `make console` serves stays up."""
    sys.stdout.flush()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.serve",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--port", type=int, default=8765, help="the Act API's port")
    args = parser.parse_args(argv)

    from local.act_demo import STATUS_PAGE, seed_scheduled_posts

    with LocalStack(log=open(os.devnull, "w")) as stack:
        seed_scheduled_posts(stack, datetime.now(UTC))
        server, keys = serve(stack, args.port)
        credentials, config = write_profiles(keys, OUT)
        url = f"http://127.0.0.1:{server.port}"
        print("stormwatch local stack: moto, the fake channels and the Act API are running.\n")
        print("In another shell:\n")
        print(f"  export STORMWATCH_API_URL={url}")
        print(f"  export AWS_SHARED_CREDENTIALS_FILE={credentials.resolve()}")
        print(f"  export AWS_CONFIG_FILE={config.resolve()}")
        print("  source .venv/bin/activate\n")
        print("  AWS_PROFILE=ben stormwatch pause --reason 'trying it out'")
        print("  AWS_PROFILE=ben stormwatch status\n")
        print(
            "A statement's link must answer; the brand's status page here is "
            f"{stack.channels.channel_url('rss')}{STATUS_PAGE}"
        )
        print(f"Profiles (act.people): {', '.join(keys)}. Ctrl-C stops everything.")
        wait_until_stopped()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
