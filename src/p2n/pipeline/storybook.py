"""Kid mode: the claim and our check of it, told as a 5-7 page picture book for a grade-3 reader.

Every page has a title, a short body, alt text (the book must work with a screen reader) and a
hint for an illustrator; a glossary explains the few words a child may not know. The reading level
is measured with Flesch-Kincaid, not assumed: the offline template is written to stay at grade 3
or below and a model-written book above grade 4 is rejected. The last page always carries our
score next to the paper's, written from the assessment, so no provider can misstate the result.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from p2n import errors, llm, resources
from p2n.pipeline import readability, report
from p2n.settings import Settings

MAX_GRADE = 4.0

_DATASET_WORDS: dict[str, str] = {
    "iris": "a list of iris flowers, with how long and wide their parts are",
    "wine": "a list of wines, with what is in each one",
    "digits": "a pile of small hand-drawn numbers",
    "breast_cancer": "notes on cells seen in a lab",
    "diabetes": "health notes from many people",
    "linnerud": "notes on how fit some men were",
}
_METRIC_WORDS: dict[str, str] = {
    "accuracy": "right answers",
    "balanced_accuracy": "right answers",
    "error_rate": "mistakes",
    "auc": "telling two kinds apart",
    "f1": "finding the right ones",
    "r2": "guessing numbers well",
    "rmse": "how far off its guesses were",
    "mae": "how far off its guesses were",
}
_PROTOCOL_WORDS: dict[str, str] = {
    "resubstitution": "It took a test on the same facts it learned from.",
    "holdout": "It kept some facts back. Then it took a quiz on them.",
    "kfold": "It cut the facts into parts. It learned from some parts and took a quiz on the rest.",
    "repeated_kfold": "It cut the facts into parts, and did it again and again. Each time it took a quiz.",
    "loo": "It hid one fact at a time. Then it tried to guess the one it did not see.",
}


class StoryPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=80)
    body: str = Field(min_length=1, max_length=600)
    alt_text: str = Field(
        min_length=1, max_length=300, description="What the picture shows, for screen readers."
    )
    visual_hint: str = Field(min_length=1, max_length=300, description="What an illustrator should draw.")


class GlossaryEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    term: str = Field(min_length=1, max_length=40)
    meaning: str = Field(min_length=1, max_length=200)


class StoryDraft(BaseModel):
    """What a provider writes; the schema the openai provider fills."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=120)
    pages: list[StoryPage] = Field(min_length=5, max_length=7)
    glossary: list[GlossaryEntry] = Field(min_length=1, max_length=12)


class Storybook(StoryDraft):
    grade_level: float = Field(description="Flesch-Kincaid grade of all page bodies together.")
    provider: Literal["offline", "openai"]


def grade_of(pages: list[StoryPage]) -> float:
    return round(readability.flesch_kincaid_grade(" ".join(p.body for p in pages)), 2)


def _score_words(value: float, unit: str) -> str:
    return f"{value * 100:.1f} out of 100" if unit == "fraction" else f"{value:.3g}"


def result_page(claim: resources.Claim, assessment: report.Assessment | None) -> StoryPage:
    """The last page: our number next to the paper's, in words a child can read."""
    claimed = _score_words(claim.value, claim.unit)
    if assessment is None or assessment.observed is None:
        body = (
            f"The paper said {claimed}. We ran the test too, but we did not get a score yet. "
            "So we can not tell."
        )
        return StoryPage(
            title="Our turn",
            body=body,
            alt_text="A child waits next to a computer with a blank score board.",
            visual_hint="A blank score board with a question mark.",
        )
    observed = _score_words(assessment.observed, claim.unit)
    ending = {
        "reproduced": "That is just as good. The paper told the truth!",
        "not_reproduced": "That is not as good. We could not get the same score.",
        "inconclusive": "The scores jump up and down. We can not tell yet.",
    }[assessment.verdict]
    return StoryPage(
        title="Our turn",
        body=f"We ran the same test. We got {observed}. The paper said {claimed}. {ending}",
        alt_text=f"Two score bars side by side: ours at {observed} and the paper's at {claimed}.",
        visual_hint="Two bars of a chart, one for the paper and one for us.",
    )


def write(
    claim: resources.Claim,
    *,
    settings: Settings,
    provider: resources.Provider = "auto",
    plan: BaseModel | None = None,
    assessment: report.Assessment | None = None,
    on_token: llm.TokenCallback | None = None,
) -> Storybook:
    """A storybook for one claim; ``plan`` (a ReproductionPlan) and ``assessment`` make it concrete."""
    resolved = llm.choose(provider, settings)
    draft = _openai_draft(claim, settings, on_token) if resolved == "openai" else _template(claim, plan)
    pages = [*draft.pages[:-1], result_page(claim, assessment)]
    grade = grade_of(pages)
    if grade > MAX_GRADE:
        raise errors.LlmError(f"the storybook reads at grade {grade:.1f}, above grade {MAX_GRADE:.0f}")
    return Storybook(
        title=draft.title, pages=pages, glossary=draft.glossary, grade_level=grade, provider=resolved
    )


def with_result(book: Storybook, claim: resources.Claim, assessment: report.Assessment) -> Storybook:
    """The same book with its final page updated to the (new) result."""
    pages = [*book.pages[:-1], result_page(claim, assessment)]
    return book.model_copy(update={"pages": pages, "grade_level": grade_of(pages)})


def _template(claim: resources.Claim, plan: BaseModel | None) -> StoryDraft:
    dataset = _DATASET_WORDS.get(claim.dataset or "", "a big list of facts")
    protocol_kind = getattr(getattr(plan, "protocol", None), "kind", None)
    test = _PROTOCOL_WORDS.get(str(protocol_kind), "Then it took a test to see how well it did.")
    metric = _METRIC_WORDS.get(claim.metric, claim.metric.replace("_", " "))
    claimed = _score_words(claim.value, claim.unit)
    better = "A big score is good." if claim.higher_is_better else "A small score is good, like in golf."
    pages = [
        StoryPage(
            title="A big claim",
            body="Some people wrote a paper. They said a computer did very well on a test. "
            "We want to check it.",
            alt_text="A stack of paper with a gold star on top.",
            visual_hint="A paper with a big gold star and a magnifying glass.",
        ),
        StoryPage(
            title="The facts",
            body=f"The computer got to look at {dataset}. These facts are called data.",
            alt_text="A long list of facts on a big sheet.",
            visual_hint="Rows of small pictures, like a table of cards.",
        ),
        StoryPage(
            title="How it learns",
            body="The computer used a math rule to sort the facts. This rule is called a model. "
            "It finds what is the same and what is not.",
            alt_text="A robot puts cards into piles.",
            visual_hint="A friendly robot sorting cards into piles.",
        ),
        StoryPage(
            title="The test",
            body=test,
            alt_text="A robot at a desk takes a quiz.",
            visual_hint="A robot with a pencil and a quiz sheet.",
        ),
        StoryPage(
            title="The score",
            body=f"The paper said the score for {metric} was {claimed}. {better}",
            alt_text=f"A score board that says {claimed}.",
            visual_hint="A score board with the paper's number on it.",
        ),
        StoryPage(
            title="Our turn",
            body="We will run the test too.",
            alt_text="A child at a computer.",
            visual_hint="A child at a computer.",
        ),
    ]
    glossary = [
        GlossaryEntry(term="data", meaning="Facts that a computer can look at."),
        GlossaryEntry(term="model", meaning="A math rule that a computer learns from data."),
        GlossaryEntry(term="test", meaning="A check to see how well the model does on facts."),
        GlossaryEntry(term="score", meaning="A number that says how well the model did."),
    ]
    return StoryDraft(title="Can We Check the Score?", pages=pages, glossary=glossary)


_STORY_INSTRUCTIONS = """\
Write a picture book of 6 pages for a child of 8 (grade 3) about one claim from a science paper and
how a computer checks it. Short sentences, short words. Each page has a title, a body of 1-3
sentences, alt_text describing the picture for a screen reader, and a visual_hint for the artist.
The last page will be replaced by the result, so keep it short. Add a glossary of 3-6 words.
Answer with JSON only."""


def _openai_draft(
    claim: resources.Claim, settings: Settings, on_token: llm.TokenCallback | None
) -> StoryDraft:
    client = llm.structured_client(
        settings,
        caps=llm.Caps(max_tokens=settings.llm_max_tokens, max_tool_calls=0),
        on_token=on_token,
    )
    return client.complete(
        instructions=_STORY_INSTRUCTIONS,
        prompt=f"The claim:\n{claim.model_dump_json(indent=1)}",
        schema=StoryDraft,
        schema_name="storybook",
    )
