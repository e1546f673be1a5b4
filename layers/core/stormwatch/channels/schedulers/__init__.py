"""Schedulers whose posts are parked in a crisis: Mastodon's scheduled statuses, a Facebook
Page's scheduled posts, Hootsuite, and our own queue. `base` has the interface."""
