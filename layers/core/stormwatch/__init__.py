"""stormwatch: social-media crisis early warning and response (shared Lambda layer)."""
