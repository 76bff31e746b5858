"""The words ML papers use for metrics, data sets, models and protocols, mapped to canonical names.

Claim extraction and planning must agree on these names (a claim's ``metric`` is what the planner
computes, its ``dataset`` what the planner loads), so both read them from this one table. Patterns
are case-insensitive regular expressions; the first pattern that matches wins, so more specific
phrases (``top-5 error``, ``balanced accuracy``) come before general ones (``error``, ``accuracy``).
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Metric(NamedTuple):
    name: str
    higher_is_better: bool
    pattern: str


METRICS: tuple[Metric, ...] = (
    Metric("top5_error", False, r"top[- ]?5\s+(?:classification\s+)?error(?:\s+rate)?"),
    Metric("top1_error", False, r"top[- ]?1\s+(?:classification\s+)?error(?:\s+rate)?"),
    Metric("top5_accuracy", True, r"top[- ]?5\s+accuracy"),
    Metric("top1_accuracy", True, r"top[- ]?1\s+accuracy"),
    Metric("balanced_accuracy", True, r"balanced\s+accuracy"),
    Metric("rmse", False, r"\bRMSE\b|root[- ]mean[- ]squared?[- ]error"),
    Metric("mse", False, r"\bMSE\b|mean[- ]squared?[- ]error"),
    Metric("mae", False, r"\bMAE\b|mean[- ]absolute[- ]error"),
    Metric(
        "error_rate",
        False,
        r"misclassification\s+rate|(?:classification\s+|test\s+|training\s+)?error\s+rate"
        r"|(?<!standard\s)(?<!squared\s)(?<!absolute\s)\berror\b",
    ),
    Metric("accuracy", True, r"\baccuracy\b|\baccuracies\b|correctly\s+classif\w+"),
    Metric("f1", True, r"\b(?:macro[- ])?F1(?:[- ]score)?\b|\bF[- ]measure\b|\bF[- ]score\b"),
    Metric("auc", True, r"\bROC[- ]AUC\b|\bAUROC\b|\bAUC\b|area\s+under\s+the\s+(?:ROC\s+)?curve"),
    Metric("r2", True, r"\bR\s*\^\s*2|\bR²|\bR2\b|R-squared|coefficient\s+of\s+determination"),
    Metric("precision", True, r"\bprecision\b"),
    Metric("recall", True, r"\brecall\b|\bsensitivity\b"),
    Metric("log_loss", False, r"\blog[- ]loss\b|cross[- ]entropy"),
)
METRIC_BY_NAME: dict[str, Metric] = {m.name: m for m in METRICS}


def _union(patterns: list[str]) -> re.Pattern[str]:
    """One case-insensitive pattern with a group per alternative, so a match tells which one it was."""
    return re.compile("|".join(f"(?P<g{i}>{p})" for i, p in enumerate(patterns)), re.IGNORECASE)


def _alternative(match: re.Match[str]) -> int:
    return int(next(k for k, v in match.groupdict().items() if v is not None)[1:])


METRIC_PATTERN = _union([m.pattern for m in METRICS])


def metric_at(match: re.Match[str]) -> Metric:
    """The metric a match of ``METRIC_PATTERN`` names."""
    return METRICS[_alternative(match)]


def metric_named(text: str) -> Metric | None:
    """The metric a free-text name (from an LLM or a table header) stands for, if any."""
    if text.strip().lower() in METRIC_BY_NAME:
        return METRIC_BY_NAME[text.strip().lower()]
    match = METRIC_PATTERN.search(text)
    return metric_at(match) if match else None


class DatasetName(NamedTuple):
    name: str
    pattern: str


DATASETS: tuple[DatasetName, ...] = (
    DatasetName("iris", r"\biris\b"),
    DatasetName("wine", r"\bwine\b"),
    DatasetName("digits", r"\b(?:hand-?written\s+)?digits\b"),
    DatasetName("breast_cancer", r"breast[- ]cancer|\bWDBC\b|wisconsin\s+diagnostic"),
    DatasetName("diabetes", r"\bdiabetes\b"),
    DatasetName("linnerud", r"\blinnerud\b"),
    DatasetName("imagenet", r"\bImageNet(?:-1k)?\b|\bILSVRC(?:[- ]?20\d\d)?\b"),
    DatasetName("cifar10", r"\bCIFAR[- ]?10\b"),
    DatasetName("cifar100", r"\bCIFAR[- ]?100\b"),
    DatasetName("mnist", r"\bMNIST\b"),
    DatasetName("coco", r"\bMS[- ]?COCO\b|\bCOCO\b"),
)
DATASET_PATTERN = _union([d.pattern for d in DATASETS])


def dataset_at(match: re.Match[str]) -> str:
    return DATASETS[_alternative(match)].name


class ModelName(NamedTuple):
    family: str
    pattern: str


# Families the offline planner can build, plus deep-learning families it must recognise to refuse.
MODELS: tuple[ModelName, ...] = (
    ModelName("qda", r"\bQDA\b|quadratic\s+discriminant(?:\s+analysis)?"),
    ModelName("lda", r"\bLDA\b|(?:Fisher(?:'s)?\s+)?linear\s+discriminant(?:\s+analysis)?"),
    ModelName("logistic_regression", r"logistic\s+regression|\blogit\b|softmax\s+regression"),
    ModelName("ridge", r"\bridge(?:\s+regression)?\b"),
    ModelName("lasso", r"\blasso\b"),
    ModelName(
        "linear_regression",
        r"ordinary\s+least[- ]squares|\bOLS\b|linear\s+regression|least[- ]squares\s+(?:fit|regression)",
    ),
    ModelName("linear_svm", r"linear\s+(?:SVM|SVC|support\s+vector\s+(?:machine|classifier))s?"),
    ModelName(
        "kernel_svm",
        r"(?:RBF|kernel|Gaussian[- ]kernel|polynomial)\s+"
        r"(?:SVM|SVC|support\s+vector\s+(?:machine|classifier))s?"
        r"|\bSVM\b|\bSVC\b|support\s+vector\s+(?:machine|classifier)s?",
    ),
    ModelName(
        "knn", r"\bk[- ]?NN\b|\d+[- ]NN\b|k[- ]nearest[- ]neighbou?rs?|nearest[- ]neighbou?r\s+classifier"
    ),
    ModelName("naive_bayes", r"na[iï]ve[- ]Bayes"),
    ModelName("decision_tree", r"decision[- ]trees?|\bCART\b"),
    ModelName("random_forest", r"random[- ]forests?"),
    ModelName(
        "gradient_boosting",
        r"gradient[- ]boost(?:ing|ed)(?:\s+(?:trees|machines?|classifier|regressor))?|\bGBM\b",
    ),
    ModelName("mlp", r"\bMLP\b|multi-?layer\s+perceptron"),
    ModelName(
        "deep_network",
        r"\bResNet[- ]?\d*\b|\bVGG[- ]?\d*\b|\bBERT\b|\bViT\b|\btransformer\b|\bCNN\b|convolutional",
    ),
)
MODEL_PATTERN = _union([m.pattern for m in MODELS])


def model_family_at(match: re.Match[str]) -> str:
    return MODELS[_alternative(match)].family


def model_family_of(text: str) -> str | None:
    match = MODEL_PATTERN.search(text)
    return model_family_at(match) if match else None


PROTOCOL_PATTERN = re.compile(
    r"(?:(?P<repeats>\d+)\s*(?:×|x|times)\s*)?(?:repeated\s+)?(?:stratified\s+)?"
    r"(?P<folds>\d+|ten|five|three)[- ]fold(?:\s+stratified)?\s+(?:cross[- ]?validation|CV)"
    r"(?:\s*\((?:with\s+)?(?P<repeats2>\d+)\s+repe(?:ats|titions)\))?"
    r"|leave[- ]one[- ]out(?:\s+cross[- ]?validation)?|\bLOOCV\b"
    r"|resubstitution|(?:on|of)\s+the\s+training\s+(?:data|set)"
    r"|training[- ]set\s+accuracy|training\s+accuracy"
    r"|apparent\s+(?:accuracy|error)"
    r"|hold[- ]?out(?:\s+(?:test\s+)?(?:set|split))?|held[- ]out\s+(?:test\s+)?(?:set|split|data)"
    r"|train(?:ing)?\s*/\s*test\s+split|test\s+split|\bon\s+the\s+test\s+set",
    re.IGNORECASE,
)
_NUMBER_WORDS = {"three": 3, "five": 5, "ten": 10}


def protocol_name(phrase: str, context: str) -> str:
    """A canonical description of an evaluation protocol phrase, for ``Claim.protocol``.

    ``context`` (the sentence) supplies qualifiers the phrase itself lacks: stratification, the
    repeat count, the hold-out fraction.
    """
    low = phrase.lower()
    ctx = context.lower()
    if "fold" in low:
        match = PROTOCOL_PATTERN.match(phrase)
        folds_text = match.group("folds").lower() if match and match.group("folds") else "10"
        folds = _NUMBER_WORDS.get(folds_text) or int(folds_text)
        repeats_text = (match.group("repeats") or match.group("repeats2")) if match else None
        repeats = int(repeats_text) if repeats_text else _repeats_in(ctx)
        stratified = "stratified" in ctx
        name = f"{folds}-fold {'stratified ' if stratified else ''}cross-validation"
        return f"repeated {name} ({repeats} repeats)" if repeats and repeats > 1 else name
    if "leave" in low or "loocv" in low:
        return "leave-one-out cross-validation"
    if any(w in low for w in ("resubstitution", "training", "apparent")):
        return "resubstitution"
    fraction = re.search(
        r"(\d{1,2}(?:\.\d+)?)\s*%\s*(?:of\s+the\s+\w+\s+)?(?:held[- ]out|hold[- ]?out|for\s+test|test)"
        r"|(?:test|held[- ]out|hold[- ]?out)\s+(?:test\s+)?(?:set|split)\s+(?:of|with)\s+"
        r"(\d{1,2}(?:\.\d+)?)\s*%",
        ctx,
    )
    test = f", {fraction.group(1) or fraction.group(2)}% test" if fraction else ""
    stratification = ", stratified" if "stratif" in ctx else ""
    return f"hold-out{test}{stratification}"


def _repeats_in(context: str) -> int | None:
    match = re.search(r"repeated\s+(\d+)\s+times|(\d+)\s+repe(?:ats|titions)", context)
    if not match:
        return None
    return int(match.group(1) or match.group(2))


GPU_PATTERN = re.compile(
    r"\bGPUs?\b|\bTPUs?\b|\bCUDA\b|\bV100s?\b|\bA100s?\b|\bH100s?\b|\bTesla\b|\bNVIDIA\b", re.IGNORECASE
)
