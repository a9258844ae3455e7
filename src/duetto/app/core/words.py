"""Counts in words: "1 term", "2 terms", for every message that says how many of something."""

from __future__ import annotations


def counted(count: int, one: str, many: str | None = None) -> str:
    """`count` and the noun in the number it takes: counted(1, "post") is "1 post", counted(0, "post")
    "0 posts"; irregular plurals are given (counted(2, "copy", "copies"))."""
    return f"{count} {one if count == 1 else (many or one + 's')}"
