"""Fitting a text into a length limit (an SMS segment, an email subject) without cutting a
word. Pure; knows nothing of alerts.

A text is built from parts, most important first, one per line or joined by a space. A
part goes in only if it fits whole, and it may offer shorter wordings (fewer names, a
name cut at a word boundary with an ellipsis), tried in order. `compose` also grades the
result, so that the SMS can build the same parts in two encodings and keep the better.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "Mode",
    "Part",
    "Text",
    "capitalised",
    "compose",
    "listed",
    "phrases",
    "ranked",
    "shortened",
]

Text = Callable[[str], str | None]
"""How data enters a message: cleaned, maybe transliterated; None when it cannot."""

_MISSING = 99  # quality of a part left out


@dataclass(frozen=True, slots=True)
class Mode:
    """A limit and how a text is measured against it."""

    budget: int
    measure: Callable[[str], int | None]
    """Units a text takes; None when it cannot be sent in this encoding at all."""
    data: Text
    ellipsis: str
    head_cap: int
    """Most units the tag and brand may take, so that the essentials still follow."""


@dataclass(frozen=True, slots=True)
class Part:
    alternatives: Sequence[tuple[str, int]]
    """(text, quality): the first that fits is taken; lower quality numbers are better."""
    joiner: str = "\n"
    """Put before the part unless it comes first; " " keeps it on the line before."""
    cap: int | None = None
    """At most this many units for this part alone."""
    priority: int | None = None
    """Parts are offered the room in this order (lower first; by default their position),
    and shown in their position: a detail may read before a command yet yield to it."""


def _render(parts: Sequence[Part], chosen: dict[int, str]) -> str:
    pieces: list[str] = []
    for index in sorted(chosen):
        pieces.append(parts[index].joiner + chosen[index] if pieces else chosen[index])
    return "".join(pieces)


def compose(parts: Sequence[Part], mode: Mode) -> tuple[str, tuple[int, ...]]:
    """The text of the parts that fit, and its quality: per part, most important first, the
    quality of the wording taken (_MISSING when left out). Lower tuples are better texts."""

    def rank(i: int) -> tuple[int, int]:
        priority = parts[i].priority
        return (i if priority is None else priority, i)

    order = sorted(range(len(parts)), key=rank)
    chosen: dict[int, str] = {}
    qualities = []
    for index in order:
        part, quality_taken = parts[index], _MISSING
        for alternative, quality in part.alternatives:
            size = mode.measure(alternative)
            if size is None or (part.cap is not None and size > part.cap):
                continue
            total = mode.measure(_render(parts, {**chosen, index: alternative}))
            if total is not None and total <= mode.budget:
                chosen[index], quality_taken = alternative, quality
                break
        qualities.append(quality_taken)
    return _render(parts, chosen), tuple(qualities)


def shortened(name: str, ellipsis: str, longest: int) -> list[str]:
    """`name`, then ever fewer of its words followed by an ellipsis, each at most `longest`
    characters: never part of a word."""
    options = [name] if len(name) <= longest else []
    words = name.split(" ")
    prefix_lengths = [0]
    for word in words:
        prefix_lengths.append(prefix_lengths[-1] + len(word) + 1)
    for keep in range(len(words) - 1, 0, -1):
        if prefix_lengths[keep] - 1 + len(ellipsis) > longest:
            continue
        head = " ".join(words[:keep]).rstrip(" ,;:-&/+")
        if head:
            options.append(head + ellipsis)
    return options


def listed(items: Sequence[str], *, separator: str = ", ") -> list[str]:
    """All items, then fewer with '+N more': whole items only; no options for no items."""
    if not items:
        return []
    options = [separator.join(items)]
    options += [
        separator.join(items[:keep]) + f" +{len(items) - keep} more"
        for keep in range(len(items) - 1, 0, -1)
    ]
    return options


def phrases(items: Sequence[str]) -> list[str]:
    """All items, then ever fewer from the end: the most telling is kept longest."""
    return [", ".join(items[:keep]) for keep in range(len(items), 0, -1)]


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def ranked(options: Iterable[str]) -> list[tuple[str, int]]:
    """Alternatives in order of preference."""
    return [(option, rank) for rank, option in enumerate(options)]
