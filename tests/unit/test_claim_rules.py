"""The offline claim extractor on the usual phrasings of ML papers, tables, and non-claims."""

from __future__ import annotations

import pytest

from p2n import errors, settings
from p2n.pipeline import claim_rules, extract, ingest


def claims_of(text: str, filename: str = "paper.md") -> list:
    return claim_rules.find_claims(ingest.parse(text.encode(), filename=filename))


@pytest.mark.parametrize(
    ("sentence", "metric", "value", "decimals", "higher"),
    [
        ("Our LDA classifier achieved an accuracy of 98.9% on the iris data.", "accuracy", 0.989, 1, True),
        (
            "The k-NN with z-scoring reaches 97.5% (10-fold cross-validation) on wine.",
            "accuracy",
            0.975,
            1,
            True,
        ),
        ("Ordinary least squares gives R^2 = 0.518 on the diabetes data.", "r2", 0.518, 3, True),
        ("ResNet-152 has a top-5 error of 4.49% on ImageNet.", "top5_error", 0.0449, 2, False),
        ("Ridge regression obtains an RMSE of 54.57 on diabetes.", "rmse", 54.57, 2, False),
        ("The model has a mean absolute error of 44.48 on diabetes.", "mae", 44.48, 2, False),
        ("Logistic regression yields an AUC of 0.995 on breast cancer.", "auc", 0.995, 3, True),
        ("The forest reaches a macro F1 score of 0.91 on digits.", "f1", 0.91, 2, True),
        ("The tree has an error rate of 5.3% on wine.", "error_rate", 0.053, 1, False),
        ("LDA gets 98.0% accuracy on iris.", "accuracy", 0.98, 1, True),
        (
            "The SVM attains a balanced accuracy of 0.934 on breast cancer.",
            "balanced_accuracy",
            0.934,
            3,
            True,
        ),
        ("Naive Bayes reaches an accuracy of 97.2 ± 1.1% on wine.", "accuracy", 0.972, 1, True),
    ],
)
def test_usual_phrasings(sentence: str, metric: str, value: float, decimals: int, higher: bool) -> None:
    (claim,) = claims_of(sentence)
    assert claim.metric == metric
    assert claim.value == pytest.approx(value)
    assert claim.decimals == decimals
    assert claim.higher_is_better is higher
    assert claim.citation.page == 1
    assert claim.citation.quote == sentence


@pytest.mark.parametrize(
    "sentence",
    [
        "We use 10-fold cross-validation with k = 5 neighbours on 150 samples collected in 2019.",
        "We hold out 25% of the data for testing.",
        "Training takes three weeks on 8 GPUs with a learning rate of 0.1.",
        "Ridge regression (alpha = 0.1) is evaluated on the diabetes data set.",
        "Scores are averaged over folds, with a standard error of 0.012.",
    ],
)
def test_numbers_that_are_not_claims(sentence: str) -> None:
    assert claims_of(sentence) == []


def test_context_dataset_model_and_protocol() -> None:
    (claim,) = claims_of(
        "A k-NN (k = 5, z-scored) reaches 96.1% on the Wine data (10-fold stratified cross-validation)."
    )
    assert claim.dataset == "wine"
    assert claim.model == "k-NN (k = 5, z-scored)"
    assert claim.protocol == "10-fold stratified cross-validation"


def test_several_claims_in_one_sentence_and_paper() -> None:
    text = (
        "# Iris\n\nLDA reaches a training accuracy of 98.0% (resubstitution) on iris, "
        "and an accuracy of 97.3% under leave-one-out cross-validation.\n\n"
        "QDA achieved an accuracy of 98.7% on iris (resubstitution)."
    )
    claims = claims_of(text)
    assert [(c.id, c.value, c.protocol) for c in claims] == [
        ("iris-accuracy-1", 0.98, "resubstitution"),
        ("iris-accuracy-2", 0.973, "leave-one-out cross-validation"),
        ("iris-accuracy-3", 0.987, "resubstitution"),
    ]
    assert claims[2].model == "QDA"


def test_markdown_results_table() -> None:
    text = (
        "Table 2: Results on the diabetes data set, 10-fold cross-validation.\n\n"
        "| Model | R^2 | RMSE |\n|---|---|---|\n"
        "| Ridge (alpha = 1) | 0.42 | 55.1 |\n| Lasso | 0.41 | 55.3 |\n"
    )
    claims = claims_of(text)
    assert [(c.metric, c.value, c.model) for c in claims] == [
        ("r2", 0.42, "Ridge (alpha = 1)"),
        ("rmse", 55.1, "Ridge (alpha = 1)"),
        ("r2", 0.41, "Lasso"),
        ("rmse", 55.3, "Lasso"),
    ]
    assert all(c.dataset == "diabetes" and c.protocol == "10-fold cross-validation" for c in claims)


def test_text_table_as_pdf_extraction_gives_it_with_percent_header() -> None:
    text = (
        "Table 1: Accuracy (%) on the Wine data set, 10-fold stratified cross-validation.\n"
        "Model Accuracy (%)\nk-NN (k = 5) 96.1\nGaussian naive Bayes 97.2\nThe end of the table."
    )
    claims = claims_of(text, filename="paper.txt")
    assert [(c.model, c.value, c.unit) for c in claims] == [
        ("k-NN (k = 5)", 0.961, "fraction"),
        ("Gaussian naive Bayes", 0.972, "fraction"),
    ]


def test_text_table_values_with_spread() -> None:
    text = (
        "Table 3: Accuracy (%) on iris, 10-fold cross-validation.\n"
        "Model Accuracy (%)\nLDA 98.0 ± 1.1\nQDA 97.3 +/- 2.0\nEnd of table."
    )
    claims = claims_of(text, filename="paper.txt")
    assert [(c.model, c.value) for c in claims] == [("LDA", 0.98), ("QDA", 0.973)]


def test_narrow_pdf_columns_are_joined_into_sentences() -> None:
    text = (
        "2 Results\nOn the iris data, LDA\nachieved an accuracy of\n98.9% under leave-one-out cross-\n"
        "validation.\nConclusion"
    )
    (claim,) = claims_of(text, filename="paper.txt")
    assert claim.citation.quote == (
        "On the iris data, LDA achieved an accuracy of 98.9% under leave-one-out cross-validation."
    )
    assert claim.protocol == "leave-one-out cross-validation"


def test_pages_are_cited_by_number() -> None:
    text = "# Paper\n\nNothing measured here.\fLDA achieved an accuracy of 98.0% on iris (resubstitution)."
    (claim,) = claims_of(text, filename="paper.txt")
    assert claim.citation.page == 2


def test_a_paper_without_claims_is_a_typed_error() -> None:
    document = ingest.parse(b"# Essay\n\nWe discuss ideas. There are 3 of them.", filename="essay.md")
    with pytest.raises(errors.NoClaims):
        extract.extract_claims(document, settings=settings.Settings(openai_api_key=None))


def test_duplicate_statements_are_one_claim() -> None:
    text = (
        "LDA achieved an accuracy of 98.0% on iris (resubstitution).\n\n"
        "Again: LDA achieved an accuracy of 98.0% on iris (resubstitution)."
    )
    assert len(claims_of(text)) == 1


def test_csv_data_set_names_from_the_spec_are_recognised() -> None:
    document = ingest.parse(b"LDA achieved an accuracy of 91.0% on the penguin-sizes data.", filename="p.md")
    (claim,) = claim_rules.find_claims(document, dataset_names=["penguin_sizes"])
    assert claim.dataset == "penguin_sizes"
