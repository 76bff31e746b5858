"""Kid mode: 5-7 pages, alt text everywhere, grade 3 by Flesch-Kincaid, the final page is our result."""

from __future__ import annotations

import pytest
from tests.unit.pipeline_claims import make_claim

from p2n import resources, settings
from p2n.pipeline import readability, report, storybook

OFFLINE = settings.Settings(openai_api_key=None)


@pytest.mark.parametrize(
    "claim",
    [
        make_claim(),
        make_claim(metric="rmse", value=54.57, unit="", higher_is_better=False, dataset="diabetes"),
    ],
)
def test_offline_book_reads_at_grade_three(claim: resources.Claim) -> None:
    book = storybook.write(claim, settings=OFFLINE, assessment=report.assess_run(claim, claim.value))
    assert 5 <= len(book.pages) <= 7
    assert all(page.alt_text and page.visual_hint and page.title for page in book.pages)
    assert book.glossary
    assert book.grade_level <= 3.9
    assert all(readability.flesch_kincaid_grade(page.body) <= 6 for page in book.pages)
    assert book.provider == "offline"


def test_final_page_carries_our_score_and_the_claim() -> None:
    claim = make_claim()
    book = storybook.write(claim, settings=OFFLINE)
    assert "not get a score yet" in book.pages[-1].body
    updated = storybook.with_result(book, claim, report.assess_run(claim, 0.9))
    assert "90.0 out of 100" in updated.pages[-1].body
    assert "98.0 out of 100" in updated.pages[-1].body
    assert "not as good" in updated.pages[-1].body
    assert updated.pages[:-1] == book.pages[:-1]


def test_flesch_kincaid_orders_simple_and_hard_text() -> None:
    simple = "The cat sat. The dog ran. We had fun."
    hard = (
        "Quantitative reproducibility assessments necessitate comprehensive documentation of "
        "experimental methodology, hyperparameter configurations and evaluation protocols."
    )
    assert readability.flesch_kincaid_grade(simple) < 2 < 12 < readability.flesch_kincaid_grade(hard)
    assert readability.syllables("table") == 2
    assert readability.syllables("cake") == 1
