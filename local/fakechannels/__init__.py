"""A local server that speaks each channel's real HTTP API over the scenario's posts."""
