"""samconfig.toml: every environment deploys the template with valid parameters."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from ops.cli import STACK_TABLE

ROOT = Path(__file__).resolve().parents[2]


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@pytest.mark.parametrize("environment", ["default", "staging", "prod"])
def test_each_environment_sets_valid_parameters(environment: str) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    deploy = config[environment]["deploy"]["parameters"]
    overrides = dict(pair.split("=", 1) for pair in shlex.split(deploy["parameter_overrides"]))
    parameters = template["Parameters"]
    assert set(overrides) <= set(parameters)
    for name, spec in parameters.items():
        value = overrides.get(name, spec.get("Default"))
        assert value is not None, f"{environment}: {name} has no value"
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], str(value)), f"{environment}: {name}"
        if "AllowedValues" in spec:
            assert str(value) in [str(v) for v in spec["AllowedValues"]], f"{environment}: {name}"
    stage = overrides["Stage"]
    assert overrides["ConfigParameterName"].startswith(f"/stormwatch/{stage}/")
    assert config[environment]["global"]["parameters"]["stack_name"] == f"stormwatch-{stage}"
    assert deploy["capabilities"] == "CAPABILITY_IAM"


def test_ops_ack_recognises_the_table_of_every_stage_and_not_its_idempotency_table() -> None:
    # Given the stages the template allows (ops ack finds a stack's table by its name)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    stages = [str(stage) for stage in template["Parameters"]["Stage"]["AllowedValues"]]
    # Then each stage's table is recognised, and its idempotency table is not
    for stage in stages:
        assert STACK_TABLE.match(f"stormwatch-{stage}"), stage
        assert not STACK_TABLE.match(f"stormwatch-{stage}-idempotency"), stage
