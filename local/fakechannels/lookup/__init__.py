"""Act's account and tag lookups on each channel's fake, and a small web for link checks."""
