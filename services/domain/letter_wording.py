"""The letters' small wording rules: plurals, counted nouns, and the per-100,000 phrase
(docs/domain.md §6 and §8). Every sentence that prints a count goes through these, so a
plural is decided in one place."""

from __future__ import annotations


def noun(number: int, singular: str) -> str:
    """The noun for a count: singular for exactly one, plural (a trailing s) otherwise,
    which is right for every noun the letters count (decision, outcome, investigation)."""
    return singular if number == 1 else singular + "s"


def counted(number: int, singular: str) -> str:
    """``1 upheld decision`` / ``0 upheld decisions`` / ``2 upheld decisions``."""
    return f"{number} {noun(number, singular)}"


def per_100k_phrase(figure: str) -> str:
    """What follows a per-100,000 figure as printed: ``1`` reads ``1 upheld decision per
    100,000 residents``, anything else (``0``, ``3.4``, ``10``) the plural."""
    return f"{noun(1 if figure == '1' else 2, 'upheld decision')} per 100,000 residents"
