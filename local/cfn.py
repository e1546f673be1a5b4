"""Print template.yaml as the CloudFormation it becomes (for checkov and for reading)."""

from __future__ import annotations

import json
import sys

from local.provision import translate
from local.stack import DEFAULT_PARAMETERS, TEMPLATE


def main() -> None:
    translated, _ = translate(TEMPLATE, DEFAULT_PARAMETERS)
    json.dump(translated, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
