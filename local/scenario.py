"""The scripted scenario the local stack plays: a quiet day, then a storm.

Deterministic for a seed. Every post knows the brands it truly mentions (`brands`),
which is the ground truth the tests compare the stored bucket totals with; posts
that only look like a mention (the German word "Nordwind" is also the north wind)
carry no brand and must be filtered out by the configured exclusions.

The storm starts in the night to Sunday (03:00 UTC by default): a cancelled-flights
meltdown at the fictional airline Nordwind Air, in German and English, mostly
negative, on several channels at once. The second brand, Kolibri Pay, stays quiet.

No date is fixed: by default the scenario is the last weekend before the run's clock
(`default_start`), so the demo, the tests and the benches play it on any day; tests
that need a particular night (a daylight-saving change, 29 February) place the storm
there with `start_for_storm`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

STORM_BRAND = "nordwind-air"
QUIET_BRAND = "kolibri-pay"

DEFAULT_HOURS = 48
# The scenario starts on a Saturday at 00:00 UTC; the storm 27 hours later, at 03:00 on Sunday.
STORM_OFFSET = timedelta(hours=27)
SATURDAY = 5


def default_start(now: datetime | None = None, hours: int = DEFAULT_HOURS) -> datetime:
    """Saturday 00:00 UTC of the last scenario of `hours` that is over by `now` (the run's
    clock, the real one unless a test moved it): last weekend's storm, whatever the date."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight - timedelta(days=(midnight.weekday() - SATURDAY) % 7)
    while start + timedelta(hours=hours) > now:
        start -= timedelta(days=7)
    return start


def start_for_storm(storm: datetime) -> datetime:
    """The start of a scenario whose storm begins at `storm` (a test's chosen night)."""
    return storm.astimezone(UTC) - STORM_OFFSET


@dataclass(frozen=True, slots=True)
class Post:
    """One post as the scenario knows it; each fake channel renders it its own way."""

    seq: int
    channel: str
    kind: str
    created_at: datetime
    author: str
    author_name: str
    text: str
    lang: str
    brands: tuple[str, ...]
    reach: int
    likes: int
    reposts: int
    replies: int
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def engagement(self) -> int:
        return self.likes + self.reposts + self.replies


@dataclass(frozen=True, slots=True)
class ChannelProfile:
    """How busy a channel is: posts per hour for the storm brand at rest and at the peak."""

    base_per_hour: float
    peak_per_hour: float
    quiet_brand_per_hour: float
    kinds: tuple[tuple[str, float], ...]
    has_reach: bool
    engagement: tuple[str, ...]  # which of likes/reposts/replies the API reports
    noise_share: float  # share of storm-brand-looking posts that are weather chatter


ALL_ENGAGEMENT = ("likes", "reposts", "replies")
LIKES_REPLIES = ("likes", "replies")

# Reach and engagement only where the channel's API exposes them for other people's posts:
# the ground truth must be what an adapter can actually read.
PROFILES: dict[str, ChannelProfile] = {
    "x": ChannelProfile(6, 360, 1.0, (("post", 0.7), ("mention", 0.3)), True, ALL_ENGAGEMENT, 0.0),
    "mastodon": ChannelProfile(
        2, 70, 0.3, (("status", 0.6), ("mention", 0.4)), True, ALL_ENGAGEMENT, 0.08
    ),
    "bluesky": ChannelProfile(2, 110, 0.3, (("post", 1.0),), False, ALL_ENGAGEMENT, 0.08),
    "facebook": ChannelProfile(
        1.5,
        90,
        0.3,
        (("visitor_post", 0.3), ("comment", 0.6), ("tag", 0.1)),
        False,
        LIKES_REPLIES,
        0.0,
    ),
    "instagram": ChannelProfile(
        1, 30, 0.2, (("hashtag", 0.6), ("mentioned", 0.4)), False, LIKES_REPLIES, 0.0
    ),
    "linkedin": ChannelProfile(0.3, 8, 0.1, (("comment", 0.7), ("mention", 0.3)), False, (), 0.0),
    "reddit": ChannelProfile(
        0.5, 35, 0.1, (("link", 0.4), ("comment", 0.6)), False, ("likes",), 0.1
    ),
    "rss": ChannelProfile(0.2, 5, 0.05, (("article", 0.5), ("alert", 0.5)), False, (), 0.1),
}

# --- text banks -------------------------------------------------------------------
# {brand} is replaced by a way people write the brand name. Plain str.replace is used,
# never a template engine: these are data like any mention.

_STORM_NEGATIVE = {
    "en": [
        "{brand} cancelled my flight AGAIN. 6 hours at the gate and zero information. Disgraceful.",
        "Stuck in Hamburg because {brand} cancelled everything. No hotel, no food vouchers. Never again! 😡",
        "{brand} customer service hung up on me twice. This is a scam. #boycott",
        "Whoever runs {brand} should be ashamed. Families sleeping on the airport floor.",
        "Refund? {brand} says 'maybe in 8 weeks'. Terrible, absolutely terrible 👎",
        "So {brand} thinks posting cheerful ads while thousands are stranded is fine? Tone deaf.",
        "Worst airline ever. {brand} lost my luggage and now cancels the return flight too.",
        "{brand} staff were rude and unhelpful, kids crying, nobody cares. Awful.",
    ],
    "de": [
        "{brand} hat schon wieder meinen Flug gestrichen. Keine Info, keine Entschädigung. Frechheit!",
        "Seit 5 Stunden am Gate, {brand} sagt nichts. Was für ein Chaos 😡",
        "Nie wieder {brand}. Die Hotline legt einfach auf. Katastrophe.",
        "{brand} lässt hunderte Passagiere in München sitzen. Unglaublich schlecht organisiert.",
        "Erstattung bei {brand}? Fehlanzeige. Das ist Betrug am Kunden! #boykott",
        "Wer bei {brand} bucht, ist selbst schuld. Schlechtester Service überhaupt 👎",
        "{brand} streicht alle Flüge und postet fröhliche Werbung. Geschmacklos!",
        "Gepäck weg, Flug weg, Geld weg. Danke für nichts, {brand}. Ärgerlich!",
    ],
    "pl": [
        "{brand} znowu odwołał lot. Zero informacji, fatalna obsługa. Nigdy więcej!",
        "Czekam od 4 godzin, {brand} nic nie mówi. Skandal 😡",
    ],
    "fr": ["{brand} a encore annulé mon vol. Service client nul, aucune information. Honteux."],
}

_STORM_NEUTRAL = {
    "en": [
        "Is anyone else flying {brand} from Frankfurt today? What are they telling you at the desk?",
        "{brand} says the flight operations centre had an IT problem. Updates expected at 10:00.",
        "Reading the {brand} statement now. Let's see what happens with the rebookings.",
    ],
    "de": [
        "Fliegt heute noch jemand mit {brand} ab Düsseldorf? Gibt es schon Infos?",
        "Laut {brand} gab es eine IT-Störung in der Einsatzplanung. Neue Infos um 10 Uhr.",
        "{brand} hat eine Hotline für Umbuchungen eingerichtet: 0800 123 456.",
    ],
}

_STORM_POSITIVE = {
    "en": ["To be fair, the {brand} crew at gate B12 were kind and handed out water. Thank you!"],
    "de": ["Die Crew von {brand} am Gate war trotz allem super freundlich. Danke!"],
}

_QUIET = {
    "en": [
        ("Great flight with {brand} to Lisbon this morning, friendly crew and on time!", "pos"),
        ("Booked {brand} for the holidays. Anyone tried their new premium seats?", "neu"),
        ("{brand} app keeps logging me out, a bit annoying.", "neg"),
        ("Lovely sunset on the {brand} flight home ✈️🌅", "pos"),
        ("{brand} check-in at Berlin takes forever today.", "neg"),
        ("Does {brand} allow two cabin bags on the basic fare?", "neu"),
    ],
    "de": [
        ("Super Flug mit {brand} nach Mallorca, pünktlich und nette Crew!", "pos"),
        ("Hat jemand Erfahrung mit dem Gepäckservice von {brand}?", "neu"),
        ("Bei {brand} ist das Essen an Bord echt lecker geworden 👍", "pos"),
        ("Verspätung von 40 Minuten mit {brand}, naja, kommt vor.", "neg"),
        ("Morgen geht's mit {brand} nach Wien. Freue mich!", "pos"),
        ("Kann man bei {brand} den Sitzplatz online ändern?", "neu"),
    ],
    "pl": [
        ("Lot z {brand} do Gdańska bardzo przyjemny, polecam!", "pos"),
        ("Czy {brand} lata też z Krakowa?", "neu"),
    ],
    "fr": [("Vol agréable avec {brand} vers Nice, équipage sympathique.", "pos")],
}

_QUIET_BRAND_TEXTS = {
    "en": [
        "Paid for my coffee with {brand} in two seconds, love it.",
        "Does {brand} work with Apple Pay yet?",
        "{brand} transfer took a day this time, usually faster.",
    ],
    "de": [
        "Mit {brand} bezahlt, geht echt schnell 👍",
        "Kennt jemand die Gebühren von {brand} im Ausland?",
    ],
    "pl": ["Płacę {brand} od miesiąca, działa bez problemu."],
}

# Weather chatter that contains the word "Nordwind" but is not about the airline.
_NOISE = {
    "de": [
        "Kalter Nordwind heute an der Ostsee, Mütze nicht vergessen!",
        "Der eisige Nordwind fegt über Hamburg, gefühlt minus zehn Grad.",
        "Nordwind weht seit Stunden, die Fähre nach Sylt fällt aus.",
    ],
    "en": ["Nordwind weht: the north wind is brutal on the Baltic coast today."],
}

STORM_BRAND_FORMS = (
    "Nordwind Air",
    "Nordwind Air",
    "@nordwindair",
    "#NordwindAir",
    "NORDWIND AIR",
    "Nordwind",
    "nordwind air",
)
QUIET_BRAND_FORMS = ("Kolibri Pay", "@kolibripay", "#KolibriPay", "KolibriPay")

_AUTHORS = [
    ("anna_k", "Anna Krüger"),
    ("travelmike", "Mike T."),
    ("jkowalski", "Jan Kowalski"),
    ("lena.fliegt", "Lena 🛫"),
    ("sophie_m", "Sophie Martin"),
    ("derpendler", "Der Pendler"),
    ("hamburg_news", "Hamburg Aktuell"),
    ("g_mueller", "Günther Müller"),
    ("ayse.y", "Ayşe Yılmaz"),
    ("tom_b", "Tom Baker"),
    ("marta_w", "Marta Wiśniewska"),
    ("reisefieber", "Reisefieber Blog"),
]


def storm_intensity(hours_after_start: float) -> float:
    """0 before the storm, 1 at the peak: ramps up over 1 h, holds 3 h, then halves every
    90 minutes - the outrage cycle of a night: by the evening it is background noise."""
    if hours_after_start < 0:
        return 0.0
    if hours_after_start < 1:
        return hours_after_start
    if hours_after_start < 4:
        return 1.0
    return float(0.5 ** ((hours_after_start - 4) / 1.5))


def diurnal(moment: datetime) -> float:
    """Quiet nights, busy evenings (UTC+1 audience): a factor around 1."""
    local_hour = (moment.hour + 1) % 24 + moment.minute / 60
    daylight = max(0.0, math.sin(math.pi * (local_hour - 6) / 18))
    return 0.25 + 1.35 * math.pow(daylight, 1.5)


@dataclass
class Scenario:
    start: datetime
    end: datetime
    storm_start: datetime
    posts: list[Post]

    def channel_posts(self, channel: str) -> list[Post]:
        return [post for post in self.posts if post.channel == channel]

    def visible(self, channel: str, now: datetime) -> Iterator[Post]:
        return (p for p in self.posts if p.channel == channel and p.created_at <= now)


def build_scenario(
    *,
    seed: int = 7,
    start: datetime | None = None,
    hours: int = DEFAULT_HOURS,
    storm_offset: timedelta = STORM_OFFSET,
    volume: float = 1.0,
    channels: tuple[str, ...] = tuple(PROFILES),
) -> Scenario:
    """Generate the scenario; `volume` scales every rate (tests use small volumes).

    `start` defaults to `default_start()`. The posts depend on the seed, the time from the
    start and the hour of day, so scenarios that start a whole number of days apart are the
    same story, moved."""
    if start is None:
        start = default_start(hours=hours)
    rng = random.Random(seed)
    storm_start = start + storm_offset
    posts: list[Post] = []
    minutes = hours * 60
    for channel in channels:
        profile = PROFILES[channel]
        for minute in range(minutes):
            moment = start + timedelta(minutes=minute)
            intensity = storm_intensity((moment - storm_start).total_seconds() / 3600)
            rhythm = diurnal(moment)
            storm_rate = profile.base_per_hour * rhythm + profile.peak_per_hour * intensity
            quiet_rate = profile.quiet_brand_per_hour * rhythm
            for _ in range(_poisson(rng, storm_rate * volume / 60)):
                posts.append(_storm_brand_post(rng, channel, profile, moment, intensity))
            for _ in range(_poisson(rng, quiet_rate * volume / 60)):
                posts.append(_quiet_brand_post(rng, channel, profile, moment))
    posts.sort(key=lambda post: (post.created_at, post.channel))
    numbered = [
        Post(
            seq=index + 1,
            channel=post.channel,
            kind=post.kind,
            created_at=post.created_at,
            author=post.author,
            author_name=post.author_name,
            text=post.text,
            lang=post.lang,
            brands=post.brands,
            reach=post.reach,
            likes=post.likes,
            reposts=post.reposts,
            replies=post.replies,
            extra=post.extra,
        )
        for index, post in enumerate(posts)
    ]
    return Scenario(start, start + timedelta(hours=hours), storm_start, numbered)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the per-minute means here are small.
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _pick_kind(rng: random.Random, profile: ChannelProfile) -> str:
    roll = rng.random()
    for kind, share in profile.kinds:
        roll -= share
        if roll <= 0:
            return kind
    return profile.kinds[-1][0]


def _storm_brand_post(
    rng: random.Random, channel: str, profile: ChannelProfile, minute: datetime, intensity: float
) -> Post:
    moment = minute + timedelta(seconds=rng.randrange(60))
    kind = _pick_kind(rng, profile)
    if rng.random() < profile.noise_share:
        lang = "de" if rng.random() < 0.8 else "en"
        return _post(rng, channel, kind, moment, rng.choice(_NOISE[lang]), lang, (), profile)
    if intensity > 0.05 and rng.random() < min(0.95, 0.3 + intensity):
        lang = _weighted(rng, (("de", 0.5), ("en", 0.42), ("pl", 0.05), ("fr", 0.03)))
        roll = rng.random()
        bank = _STORM_NEGATIVE if roll < 0.8 else _STORM_NEUTRAL if roll < 0.95 else _STORM_POSITIVE
        template = rng.choice(bank.get(lang) or bank["en"])
        lang = lang if lang in bank else "en"
    else:
        lang = _weighted(rng, (("de", 0.5), ("en", 0.4), ("pl", 0.07), ("fr", 0.03)))
        template, _tone = rng.choice(_QUIET[lang])
    form = "@nordwindair" if kind == "mention" else rng.choice(STORM_BRAND_FORMS)
    text = template.replace("{brand}", form)
    if kind == "mention" and "@nordwindair" not in text:
        text = f"@nordwindair {text}"
    return _post(rng, channel, kind, moment, _oddities(rng, text), lang, (STORM_BRAND,), profile)


def _quiet_brand_post(
    rng: random.Random, channel: str, profile: ChannelProfile, minute: datetime
) -> Post:
    moment = minute + timedelta(seconds=rng.randrange(60))
    kind = _pick_kind(rng, profile)
    lang = _weighted(rng, (("de", 0.5), ("en", 0.4), ("pl", 0.1)))
    text = rng.choice(_QUIET_BRAND_TEXTS[lang]).replace("{brand}", rng.choice(QUIET_BRAND_FORMS))
    return _post(rng, channel, kind, moment, text, lang, (QUIET_BRAND,), profile)


def _oddities(rng: random.Random, text: str) -> str:
    """Real posts carry odd Unicode now and then: joiners, marks, repeated emoji."""
    roll = rng.random()
    if roll < 0.02:
        return text + " 👨\u200d👩\u200d👧"
    if roll < 0.03:
        return "\u200e" + text
    if roll < 0.04:
        return text + " " + "😡" * rng.randint(3, 12)
    return text


def _post(
    rng: random.Random,
    channel: str,
    kind: str,
    moment: datetime,
    text: str,
    lang: str,
    brands: tuple[str, ...],
    profile: ChannelProfile,
) -> Post:
    author, author_name = rng.choice(_AUTHORS)
    reach = int(rng.lognormvariate(5.5, 1.6)) if profile.has_reach else 0
    return Post(
        seq=0,
        channel=channel,
        kind=kind,
        created_at=moment,
        author=author,
        author_name=author_name,
        text=text,
        lang=lang,
        brands=brands,
        reach=reach,
        likes=int(rng.expovariate(0.2)) if "likes" in profile.engagement else 0,
        reposts=int(rng.expovariate(0.6)) if "reposts" in profile.engagement else 0,
        replies=int(rng.expovariate(0.8)) if "replies" in profile.engagement else 0,
    )


def _weighted(rng: random.Random, options: tuple[tuple[str, float], ...]) -> str:
    roll = rng.random() * sum(weight for _, weight in options)
    for value, weight in options:
        roll -= weight
        if roll <= 0:
            return value
    return options[-1][0]
