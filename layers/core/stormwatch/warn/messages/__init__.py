"""What an alert says: the email (subject and plain-text body) and the one-segment SMS. Pure.

The evaluator fills a `Notice` with the rules' findings and the lifecycle's event;
`email` and `sms` turn it into the texts SNS sends.

Everything that comes from outside (brand and people's names, mention text, channel names,
commands) is data: it is cleaned of control characters and inserted as a value, never used
as a format string, so ``{brand}`` in a mention stays ``{brand}``.

The parts, each importing only those above it:
- `gsm7`: the GSM 03.38 alphabet, lengths, SMS segments, transliteration.
- `layout`: cleaning and capping outside text; numbers, durations, clock times.
- `compose`: fitting parts into a length limit without cutting a word.
- `notice`: the `Notice` and its parts, as data.
- `wording`: the findings in words, shared by both messages.
- `sms_text`, `email_text`: the two messages. (Not `sms` and `email`: the functions of
  those names are what this package exports, and a module would hide behind them.)
"""

from stormwatch.warn.messages.email_text import (
    SUBJECT_LIMIT,
    EmailMessage,
    email,
    read_again_email,
)
from stormwatch.warn.messages.gsm7 import gsm7_length, sms_segments, to_gsm7, ucs2_length
from stormwatch.warn.messages.layout import EXCERPT_CHARS, excerpt
from stormwatch.warn.messages.notice import (
    Acknowledgement,
    ChannelCount,
    Escalation,
    Notice,
    Resolution,
    TopMention,
    Totals,
)
from stormwatch.warn.messages.sms_text import sms

__all__ = [
    "EXCERPT_CHARS",
    "SUBJECT_LIMIT",
    "Acknowledgement",
    "ChannelCount",
    "EmailMessage",
    "Escalation",
    "Notice",
    "Resolution",
    "TopMention",
    "Totals",
    "email",
    "excerpt",
    "gsm7_length",
    "read_again_email",
    "sms",
    "sms_segments",
    "to_gsm7",
    "ucs2_length",
]
