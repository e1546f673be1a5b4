"""From raw mentions to scored ones: drop what is too old or about no brand, then language
and sentiment. Pure apart from the analyzer it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stormwatch.config import Config
from stormwatch.listen.language import detect_language
from stormwatch.listen.matching import BrandMatcher
from stormwatch.listen.sentiment import SentimentAnalyzer
from stormwatch.model import Mention, ScoredMention


@dataclass(slots=True)
class ScoringTally:
    read: int = 0
    unmatched: int = 0
    too_old: int = 0
    by_language: dict[str, int] = field(default_factory=dict)


class MentionScorer:
    def __init__(self, config: Config, analyzer: SentimentAnalyzer) -> None:
        self.matcher = BrandMatcher(config.brands)
        self.analyzer = analyzer
        self.max_age = timedelta(hours=config.max_mention_age_hours)

    def score(
        self, mentions: Sequence[Mention], now: datetime, tally: ScoringTally
    ) -> list[ScoredMention]:
        oldest_allowed = now - self.max_age
        kept: list[tuple[Mention, tuple[str, ...], str]] = []
        for mention in mentions:
            tally.read += 1
            if mention.created_at < oldest_allowed:
                tally.too_old += 1
                continue
            brands = self.matcher.brands_of(mention.text)
            if not brands:
                tally.unmatched += 1
                continue
            language = detect_language(mention.text, mention.language)
            tally.by_language[language] = tally.by_language.get(language, 0) + 1
            kept.append((mention, brands, language))
        sentiments = self.analyzer.analyze([(mention.text, lang) for mention, _, lang in kept])
        return [
            ScoredMention(mention, language, label, score, brands)
            for (mention, brands, language), (label, score) in zip(kept, sentiments, strict=True)
        ]
