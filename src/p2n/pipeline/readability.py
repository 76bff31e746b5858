"""Flesch-Kincaid grade level, so kid-mode text can be checked rather than hoped to be simple.

    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

Syllables are estimated by counting vowel groups with the usual English corrections (a silent
final "e", "-le" endings); good enough to tell a grade-3 sentence from a grade-9 one.

    >>> round(flesch_kincaid_grade("The cat sat on the mat. It was a big cat."), 1)
    -1.6
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|\d+(?:\.\d+)?")
_SENTENCE_END = re.compile(r"[.!?]+")


def syllables(word: str) -> int:
    word = word.lower()
    if word.isdigit() or re.fullmatch(r"\d+\.\d+", word):
        return 2
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(count, 1)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentence_count(text: str) -> int:
    return max(len([s for s in _SENTENCE_END.split(text) if words(s)]), 1)


def flesch_kincaid_grade(text: str) -> float:
    found = words(text)
    if not found:
        return 0.0
    total_syllables = sum(syllables(w) for w in found)
    return 0.39 * (len(found) / sentence_count(text)) + 11.8 * (total_syllables / len(found)) - 15.59
