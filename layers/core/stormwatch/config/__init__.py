"""The one configuration document, validated on load.

The document lives in SSM Parameter Store as JSON (ops edit `config/*.yaml` and push it
with `stormwatch config push`, which validates first). One pydantic model describes
all of it, `Config`; its JSON Schema (`stormwatch config schema`, copied to
`config/schema.json`) lets editors check a file as it is typed. Every problem is a
`ConfigError` naming the key, e.g. ``channels.facebook.page_id: required``.

This package depends on no flow: the flows import it. Its sections:

- `stormwatch.config.document`: the top-level keys, brands, sentiment (`Config`)
- `stormwatch.config.channels`: ``channels`` (`ChannelConfig` per channel)
- `stormwatch.config.alerts`: ``alerts`` (`AlertSettings`, the detector's tuning)
- `stormwatch.config.roster`: ``contacts`` and ``roster`` (built into `stormwatch.oncall`)
"""

from stormwatch.config.alerts import AlertSettings
from stormwatch.config.channels import ChannelConfig, Feed
from stormwatch.config.document import (
    COMPREHEND_LANGUAGES,
    Brand,
    Config,
    SentimentConfig,
    config_schema,
    load_config_json,
    parse_config,
)
from stormwatch.model import CHANNELS

__all__ = [
    "CHANNELS",
    "COMPREHEND_LANGUAGES",
    "AlertSettings",
    "Brand",
    "ChannelConfig",
    "Config",
    "Feed",
    "SentimentConfig",
    "config_schema",
    "load_config_json",
    "parse_config",
]
