"""The Act flow: the guarded release.

A statement is rendered for each channel (`statements`), checked before anyone may
approve it (`preflight`, `spelling`), approved by distinct people bound to the hash of
every channel's text (`approval`), and released: crisis mode on (the kill switch every
publisher of ours reads at send time), every scheduled post parked (`parking`), each
channel's text published exactly once (`release`). `resume` ends crisis mode and
restores what was parked. The domain here is pure; channels and schedulers are adapters
under `stormwatch.channels`, items under `stormwatch.persistence`.
"""
