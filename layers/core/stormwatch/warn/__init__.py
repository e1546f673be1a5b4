"""Warn flow domain: storm detection on bucket counts and the alert-start rule, pure."""
