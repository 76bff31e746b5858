"""The offline claim extractor: deterministic rules for how ML papers state their numbers.

It reads sentences ("LDA achieved an accuracy of 98.9%", "reaches 97.5% (10-fold cross-validation)",
"R^2 = 0.518", "a top-5 error of 4.49%") and results tables (markdown pipes, or the caption + header
+ rows that PDF text extraction yields), and attaches to each number its metric, data set, model,
protocol and citation. A number counts only when it is tied to a metric word or to a verb of
achievement: sample sizes, fold counts, hyper-parameters and years are never claims.

It never calls the network and gives the same claims for the same document, which is what makes
it the default provider and the reference the openai provider is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from p2n import resources
from p2n.pipeline import ingest, vocabulary

_VALUE = re.compile(
    r"(?<![\w.])(?P<num>\d+(?:\.\d+)?|\.\d+)(?:\s*(?:±|\+/-|\+-)\s*\d+(?:\.\d+)?)?\s*(?P<pct>%|percent\b|per\s+cent\b)?"
)
_CONNECTORS = frozenset(
    {
        "of",
        "=",
        ":",
        "≈",
        "~",
        "is",
        "was",
        "were",
        "are",
        "be",
        "been",
        "equals",
        "equal",
        "to",
        "reached",
        "reaching",
        "reaches",
        "at",
        "around",
        "about",
        "approximately",
        "roughly",
        "nearly",
        "value",
        "score",
        "rate",
        "an",
        "a",
        "the",
        "mean",
        "average",
        "averaged",
        "overall",
        "its",
        "their",
        "our",
        "with",
        "by",
    }
)
_BETWEEN_VALUE_AND_METRIC = frozenset(
    {
        "mean",
        "average",
        "averaged",
        "overall",
        "test",
        "training",
        "train",
        "classification",
        "resubstitution",
        "cross",
        "validated",
        "validation",
        "held",
        "out",
        "holdout",
        "hold",
        "the",
        "a",
        "an",
        "in",
    }
)
_ACHIEVES = re.compile(
    r"\b(?:achiev\w*|reach\w*|attain\w*|obtain\w*|scor\w*|yield\w*|gets?|got|report\w*|records?|recorded)\s+"
    r"(?:an?\s+|the\s+)?(?:mean\s+|average\s+|overall\s+)?$",
    re.IGNORECASE,
)
_FRACTION_METRICS = frozenset(
    {"accuracy", "error_rate", "f1", "auc", "precision", "recall", "balanced_accuracy"}
    | {"top1_error", "top5_error", "top1_accuracy", "top5_accuracy"}
)
_SPREAD = re.compile(r"\s*(?:±|\+/-|\+-)\s*\d+(?:\.\d+)?")
_TABLE_CAPTION = re.compile(r"^\s*Table\s+\d+\s*[.:]", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'])")


class _Found(NamedTuple):
    metric: vocabulary.Metric
    number: str
    percent: bool
    quote: str
    position: int  # where the number is in the quote, to pick the nearest model/protocol
    model: str | None = None


def find_claims(
    document: ingest.Document, *, max_claims: int = 50, dataset_names: Sequence[str] = ()
) -> list[resources.Claim]:
    """Every quantitative claim of a document, in reading order, duplicates dropped.

    ``dataset_names`` are the paper's own CSV data sets (``PaperSpec.datasets``), recognised in
    the text besides the well-known ones.
    """
    context = _DocumentContext(document, dataset_names)
    claims: list[resources.Claim] = []
    seen: set[tuple[object, ...]] = set()
    counters: dict[str, int] = {}
    for page in document.pages:
        for found in _page_claims(page.text):
            claim = _to_claim(found, page.number, context)
            if claim is None:
                continue
            family = vocabulary.model_family_of(claim.model or "") or claim.model
            key = (claim.metric, claim.value, claim.dataset, family, claim.protocol)
            if key in seen:
                continue
            seen.add(key)
            stem = f"{(claim.dataset or 'data').replace('_', '-')}-{claim.metric.replace('_', '-')}"
            counters[stem] = counters.get(stem, 0) + 1
            claims.append(claim.model_copy(update={"id": f"{stem}-{counters[stem]}"}))
            if len(claims) >= max_claims:
                return claims
    return claims


# --- reading a page ------------------------------------------------------------------------------


def _page_claims(text: str) -> list[_Found]:
    found: list[_Found] = []
    prose: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if _is_markdown_table_row(line) or _TABLE_CAPTION.match(line):
            found.extend(_sentences_claims(prose))
            prose = []
            captioned = bool(_TABLE_CAPTION.match(line))
            caption = line.strip() if captioned else ""
            i, rows = _table_block(lines, i + 1 if captioned else i)
            found.extend(_table_claims(caption, rows))
            continue
        prose.append(line)
        i += 1
    found.extend(_sentences_claims(prose))
    return found


def _sentences_claims(lines: list[str]) -> list[_Found]:
    found: list[_Found] = []
    for paragraph in _paragraphs(lines):
        for sentence in _SENTENCE_END.split(paragraph):
            found.extend(_sentence_claims(sentence.strip()))
    return found


def _paragraphs(lines: list[str]) -> list[str]:
    """Join wrapped lines; blank lines, markdown headings and short unpunctuated lines end paragraphs."""
    paragraphs: list[str] = []
    current: list[str] = []
    for raw in lines:
        line = raw.strip()
        heading = _is_heading(line)
        if not line or heading:
            if current:
                paragraphs.append(_join(current))
                current = []
            if heading:
                paragraphs.append(line.lstrip("#").strip())
            continue
        current.append(line)
        if line.endswith((".", "!", "?")) and len(line) < 60:
            paragraphs.append(_join(current))
            current = []
    if current:
        paragraphs.append(_join(current))
    return [re.sub(r"\s+", " ", p).strip() for p in paragraphs if p.strip()]


def _join(lines: list[str]) -> str:
    """Wrapped lines as one text; a line ending in a hyphen continues the word ("cross-" "validation")."""
    return re.sub(r"-\n", "-", "\n".join(lines)).replace("\n", " ")


_SMALL_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or", "the", "to", "vs", "with"}
)


def _is_heading(line: str) -> bool:
    """A markdown heading, a numbered section title, or a short Title Case line without a full stop.

    Narrow PDF columns make every line short, so shortness alone is not enough: a wrapped sentence
    ("LDA achieved an") has lower-case words and stays in its paragraph.
    """
    if line.startswith("#"):
        return True
    if not 0 < len(line) < 60 or line.endswith((".", ",", ";", ":", "!", "?")):
        return False
    words = re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", line).split()
    return bool(words) and all(w[0].isupper() or w[0].isdigit() or w.lower() in _SMALL_WORDS for w in words)


def _sentence_claims(sentence: str) -> list[_Found]:
    if not _VALUE.search(sentence):
        return []
    found: list[_Found] = []
    used: set[int] = set()
    metric_matches = list(vocabulary.METRIC_PATTERN.finditer(sentence))
    for match in metric_matches:
        metric = vocabulary.metric_at(match)
        value = _value_after(sentence, match.end())
        if value is None:
            value = _value_before(sentence, match.start())
        if value is None or value.start("num") in used:
            continue
        used.add(value.start("num"))
        found.append(_Found(metric, value.group("num"), bool(value.group("pct")), sentence, value.start()))
    for value in _VALUE.finditer(sentence):
        if value.start("num") in used or not value.group("pct"):
            continue
        if not _ACHIEVES.search(sentence[: value.start()]):
            continue
        named = {vocabulary.metric_at(m).name for m in metric_matches}
        metric = vocabulary.METRIC_BY_NAME[named.pop() if len(named) == 1 else "accuracy"]
        used.add(value.start("num"))
        found.append(_Found(metric, value.group("num"), True, sentence, value.start()))
    return sorted(found, key=lambda f: f.position)


def _value_after(sentence: str, start: int) -> re.Match[str] | None:
    value = _VALUE.search(sentence, start)
    if value is None:
        return None
    gap = sentence[start : value.start()]
    return value if _is_connector_gap(gap, _CONNECTORS) and len(gap) <= 60 else None


def _value_before(sentence: str, end: int) -> re.Match[str] | None:
    candidates = list(_VALUE.finditer(sentence[:end]))
    if not candidates:
        return None
    value = candidates[-1]
    gap = sentence[value.end() : end]
    return value if _is_connector_gap(gap, _BETWEEN_VALUE_AND_METRIC) and len(gap) <= 30 else None


def _is_connector_gap(gap: str, allowed: frozenset[str]) -> bool:
    without_brackets = re.sub(r"\([^()]*\)", " ", gap)
    if re.search(r"[.;!?]\s", without_brackets + " ") or re.search(r"\d", without_brackets):
        return False
    words = re.findall(r"[A-Za-z]+|[=:≈~]", without_brackets.replace("-", " "))
    return all(w.lower() in allowed for w in words)


# --- tables --------------------------------------------------------------------------------------


def _is_markdown_table_row(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("|") and stripped.count("|") >= 2


def _table_block(lines: list[str], start: int) -> tuple[int, list[str]]:
    """The lines of a table: markdown rows, or a header and the rows that end in numbers."""
    rows: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i].strip()
        if not line and not rows:
            i += 1
            continue
        if not line:
            break
        is_row = _is_markdown_table_row(line) or not rows or bool(_trailing_numbers(line)[1])
        if not is_row or (_TABLE_CAPTION.match(line) and rows):
            break
        rows.append(line)
        i += 1
    return i, rows


def _trailing_numbers(line: str) -> tuple[str, list[str]]:
    # "96.1 ± 1.2" is one value with its spread: keep the value.
    tokens = _SPREAD.sub("", line).split()
    numbers: list[str] = []
    while tokens and re.fullmatch(r"\d+(?:\.\d+)?%?|\.\d+%?", tokens[-1]):
        numbers.insert(0, tokens.pop())
    return " ".join(tokens), numbers


def _cells(row: str) -> list[str]:
    if _is_markdown_table_row(row):
        return [c.strip() for c in row.strip().strip("|").split("|")]
    label, numbers = _trailing_numbers(row)
    return [label, *numbers]


def _table_claims(caption: str, rows: list[str]) -> list[_Found]:
    rows = [r for r in rows if not re.fullmatch(r"\|?[\s:|-]+\|?", r.strip())]
    if len(rows) < 2:
        return []
    header = rows[0]
    columns = _header_columns(header, caption)
    if not columns:
        return []
    found: list[_Found] = []
    for row in rows[1:]:
        cells = _cells(row)
        values = cells[1:]
        if _is_markdown_table_row(row):
            pairs = [(columns.get(j), v) for j, v in enumerate(values, start=1)]
        else:
            ordered = [columns[k] for k in sorted(columns)]
            if len(ordered) != len(values):
                continue
            pairs = list(zip(ordered, values, strict=True))
        for column, cell in pairs:
            if column is None:
                continue
            metric, percent = column
            value = _VALUE.fullmatch(cell.strip())
            if value is None:
                continue
            quote = f"{caption} {row}".strip() if caption else f"{header} {row}"
            found.append(
                _Found(
                    metric,
                    value.group("num"),
                    percent or bool(value.group("pct")),
                    re.sub(r"\s+", " ", quote),
                    len(quote),
                    model=cells[0].strip() or None,
                )
            )
    return found


def _header_columns(header: str, caption: str) -> dict[int, tuple[vocabulary.Metric, bool]]:
    """Column index (1-based, after the label column) -> (metric, given in percent)."""
    caption_percent = "%" in caption or "percent" in caption.lower()
    caption_metric = vocabulary.metric_named(caption)
    if _is_markdown_table_row(header):
        cells = _cells(header)[1:]
    else:
        matches = list(vocabulary.METRIC_PATTERN.finditer(header))
        ends = [m.start() for m in matches[1:]] + [len(header)]
        cells = [header[m.start() : end] for m, end in zip(matches, ends, strict=True)]
    columns: dict[int, tuple[vocabulary.Metric, bool]] = {}
    for j, cell in enumerate(cells, start=1):
        metric = vocabulary.metric_named(cell) or (caption_metric if len(cells) == 1 else None)
        if metric is not None:
            columns[j] = (metric, "%" in cell or (caption_percent and len(cells) == 1))
    return columns


# --- from a found number to a Claim --------------------------------------------------------------


class _DocumentContext:
    """What the whole paper says about data sets, models and protocols, for sentences that don't."""

    def __init__(self, document: ingest.Document, dataset_names: Sequence[str]) -> None:
        text = document.text
        self._own = (
            re.compile("|".join(_name_pattern(n) for n in dataset_names), re.IGNORECASE)
            if dataset_names
            else None
        )
        self._own_names = {_squash_name(n): n for n in dataset_names}
        datasets = [self._dataset_of(m) for m in self._dataset_matches(text)]
        self.dataset = max(set(datasets), key=datasets.count) if datasets else None
        protocols = {
            vocabulary.protocol_name(m.group(0), text) for m in vocabulary.PROTOCOL_PATTERN.finditer(text)
        }
        self.protocol = protocols.pop() if len(protocols) == 1 else None
        models = list(vocabulary.MODEL_PATTERN.finditer(text))
        families = {vocabulary.model_family_at(m) for m in models}
        self.model = models[0].group(0) if len(families) == 1 else None

    def _dataset_matches(self, text: str) -> list[re.Match[str]]:
        own = list(self._own.finditer(text)) if self._own else []
        return own + list(vocabulary.DATASET_PATTERN.finditer(text))

    def _dataset_of(self, match: re.Match[str]) -> str:
        own = self._own_names.get(_squash_name(match.group(0)))
        return own if own is not None else vocabulary.dataset_at(match)

    def dataset_near(self, quote: str, position: int) -> str | None:
        matches = self._dataset_matches(quote)
        if not matches:
            return self.dataset
        nearest = min(matches, key=lambda m: min(abs(m.start() - position), abs(m.end() - position)))
        return self._dataset_of(nearest)


def _squash_name(name: str) -> str:
    return re.sub(r"[-_\s]+", "", name.lower())


def _name_pattern(name: str) -> str:
    parts = [re.escape(p) for p in re.split(r"[-_\s]+", name) if p]
    return r"\b" + r"[-_\s]?".join(parts) + r"\b"


def _nearest(pattern: re.Pattern[str], text: str, position: int) -> re.Match[str] | None:
    matches = list(pattern.finditer(text))
    if not matches:
        return None
    return min(matches, key=lambda m: min(abs(m.start() - position), abs(m.end() - position)))


def _to_claim(found: _Found, page: int, context: _DocumentContext) -> resources.Claim | None:
    metric = found.metric
    number = float(found.number)
    decimals = len(found.number.split(".", 1)[1]) if "." in found.number else 0
    percent = found.percent or (metric.name in _FRACTION_METRICS and 1 < number <= 100)
    value = number / 100 if percent else number
    if metric.name in _FRACTION_METRICS and not 0 <= value <= 1:
        return None
    quote = found.quote
    protocol_match = _nearest(vocabulary.PROTOCOL_PATTERN, quote, found.position)
    model = found.model
    if model is None:
        model_match = _nearest(vocabulary.MODEL_PATTERN, quote, found.position)
        model = _model_phrase(quote, model_match) if model_match else context.model
    return resources.Claim(
        id="pending",
        metric=metric.name,
        value=round(value, 12),
        unit="fraction" if percent else "",
        decimals=decimals,
        higher_is_better=metric.higher_is_better,
        dataset=context.dataset_near(quote, found.position),
        model=model,
        protocol=vocabulary.protocol_name(protocol_match.group(0), quote)
        if protocol_match
        else context.protocol,
        citation=resources.Citation(page=page, quote=quote[:4000]),
    )


def _model_phrase(sentence: str, match: re.Match[str]) -> str:
    """The model name plus a directly following parenthesis, which usually holds hyper-parameters."""
    tail = re.match(r"\s*(\([^()%]{1,80}\))", sentence[match.end() :])
    if tail is None or vocabulary.PROTOCOL_PATTERN.search(tail.group(1)):
        return match.group(0)
    return f"{match.group(0)} {tail.group(1)}"
