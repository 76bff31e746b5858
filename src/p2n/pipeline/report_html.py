"""The report as one self-contained HTML page: inline CSS and an inline SVG chart, no external assets.

The page must open from a file, an artifact store or an air-gapped laptop, so it references nothing
outside itself except the run artifacts it links to. Every value from a paper or a run is escaped:
a paper's text is untrusted input.
"""

from __future__ import annotations

import html
import json
from typing import Any

from p2n.pipeline import report

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2rem auto;
padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.verdict{display:inline-block;padding:.2rem .6rem;border-radius:1rem;font-weight:600;color:#fff}
.reproduced{background:#1a7f37}.not_reproduced{background:#cf222e}.inconclusive{background:#9a6700}
.error{background:#cf222e}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left}
blockquote{border-left:4px solid #d0d7de;margin:0;padding:.2rem 1rem;color:#59636e}
pre{background:#f6f8fa;padding:.8rem;overflow:auto;font-size:.8rem}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def chart_svg(rep: report.Report) -> str:
    """A dot plot on a zoomed axis: the claim with its tolerance band, each seed, and their mean.

    The axis spans only the values shown (plus a margin), so a gap of a tenth of a percent is
    visible; the axis ends are labelled so the zoom is never hidden.
    """
    if rep.claimed is None:
        return ""
    seeds = [(r.seed, r.observed) for r in rep.runs if r.observed is not None]
    allowed = rep.assessment.allowance if rep.assessment is not None else 0.0
    shown = [rep.claimed - allowed, rep.claimed + allowed, *(v for _, v in seeds)]
    if rep.assessment is not None and rep.assessment.interval is not None:
        shown += list(rep.assessment.interval)
    low, high = min(shown), max(shown)
    margin = max((high - low) * 0.15, abs(rep.claimed) * 0.002, 1e-9)
    low, high = low - margin, high + margin
    width, left, right = 640, 110, 20

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (width - left - right)

    band_start = x(rep.claimed - allowed)
    band_width = max(x(rep.claimed + allowed) - band_start, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="150" viewBox="0 0 {width} 150" '
        f'role="img" aria-label="claimed {_fmt(rep.claimed)} versus observed {_fmt(rep.observed)}">',
        f'<line x1="{left}" y1="120" x2="{width - right}" y2="120" stroke="#59636e"/>',
        f'<text x="{left}" y="138" font-size="11" text-anchor="start">{_fmt(low)}</text>',
        f'<text x="{width - right}" y="138" font-size="11" text-anchor="end">{_fmt(high)}</text>',
        f'<rect x="{band_start:.1f}" y="10" width="{band_width:.1f}" height="105" fill="#0969da" '
        'fill-opacity="0.12"><title>claim within precision and tolerance</title></rect>',
        f'<text x="4" y="34" font-size="13">claimed</text>'
        f'<path d="M{x(rep.claimed):.1f},22 l7,8 l-7,8 l-7,-8 z" fill="#59636e"/>'
        f'<text x="{x(rep.claimed) + 10:.1f}" y="34" font-size="12">{_fmt(rep.claimed)}</text>',
    ]
    if rep.assessment is not None and rep.assessment.interval is not None:
        a, b = rep.assessment.interval
        parts.append(
            f'<line x1="{x(a):.1f}" y1="98" x2="{x(b):.1f}" y2="98" stroke="#1f2328" stroke-width="2">'
            f"<title>95% prediction interval [{_fmt(a)}, {_fmt(b)}]</title></line>"
        )
    if rep.observed is not None:
        colour = "#1a7f37" if rep.verdict == "reproduced" else "#cf222e"
        parts.append(
            f'<text x="4" y="68" font-size="13">observed</text>'
            f'<rect x="{x(rep.observed) - 2:.1f}" y="52" width="4" height="24" fill="{colour}"/>'
            f'<text x="{x(rep.observed) + 8:.1f}" y="68" font-size="12">{_fmt(rep.observed)}</text>'
        )
    parts.append(f'<text x="4" y="102" font-size="11">seeds ({len(seeds)})</text>')
    parts.append(
        f'<text x="{width - right}" y="8" font-size="10" text-anchor="end" fill="#59636e">'
        "shaded: the claim within its precision and tolerance; line: 95% prediction interval</text>"
    )
    for seed, value in seeds:
        parts.append(
            f'<circle cx="{x(value):.1f}" cy="98" r="4" fill="#1f2328">'
            f"<title>seed {seed}: {_fmt(value)}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _plan_section(plan: dict[str, Any]) -> str:
    model = plan.get("model", {})
    params = ", ".join(f"{k}={v}" for k, v in sorted(model.get("params", {}).items()))
    dataset = plan.get("dataset", {})
    features = dataset.get("features")
    rows = [
        ("data set", f"{dataset.get('name')}" + (f" (features: {', '.join(features)})" if features else "")),
        ("preprocessing", ", ".join(plan.get("preprocessing", [])) or "none"),
        ("model", f"{model.get('module')}.{model.get('estimator')}({params})"),
        ("protocol", plan.get("protocol", {}).get("description")),
        ("metric", f"{plan.get('metric')} (target {plan.get('target')})"),
        ("planner", plan.get("provider")),
        ("plan hash", plan.get("plan_hash")),
        ("env hash", plan.get("env_hash")),
    ]
    table = "".join(f"<tr><th>{_e(name)}</th><td>{_e(value)}</td></tr>" for name, value in rows)
    notes = "".join(f"<li>{_e(note)}</li>" for note in plan.get("notes", []))
    full = _e(json.dumps(plan, indent=2, sort_keys=True))
    return (
        f"<h2>Plan</h2><table>{table}</table>"
        + (f"<p>Planner notes:</p><ul>{notes}</ul>" if notes else "")
        + f"<details><summary>Full plan (JSON)</summary><pre>{full}</pre></details>"
    )


def _storybook_section(book: dict[str, Any]) -> str:
    pages = "".join(
        f"<li><b>{_e(page.get('title'))}</b> {_e(page.get('body'))} "
        f"<i>(picture: {_e(page.get('alt_text'))})</i></li>"
        for page in book.get("pages", [])
    )
    glossary = "".join(
        f"<dt>{_e(entry.get('term'))}</dt><dd>{_e(entry.get('meaning'))}</dd>"
        for entry in book.get("glossary", [])
    )
    return (
        f"<h2>Kid mode: {_e(book.get('title'))}</h2><ol>{pages}</ol><dl>{glossary}</dl>"
        f"<p><small>Reading level: grade {_e(book.get('grade_level'))} (Flesch-Kincaid)</small></p>"
    )


def _artifact_links(run: report.RunResult) -> str:
    return " ".join(f'<a href="{_e(uri)}">{_e(name)}</a>' for name, uri in sorted(run.artifacts.items()))


def render(rep: report.Report) -> str:
    claim = rep.claim
    verdict = rep.verdict or ("error" if rep.error else "inconclusive")
    title = rep.paper.title or "Untitled paper"
    rows = "".join(
        f"<tr><td>{run.seed}</td><td>{_e(run.phase)}</td><td>{_fmt(run.observed)}</td>"
        f"<td>{_e(run.error.code + ': ' + run.error.message) if run.error else ''}</td>"
        f"<td>{_artifact_links(run)}</td></tr>"
        for run in rep.runs
    )
    claims = "".join(
        f"<tr><td>{_e(c.id)}</td><td>{_e(c.metric)}</td><td>{_fmt(c.value)}</td><td>{_e(c.dataset)}</td>"
        f"<td>{_e(c.model)}</td><td>{_e(c.protocol)}</td><td>{c.citation.page}</td></tr>"
        for c in rep.claims
    )
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p><span class="verdict {_e(verdict)}">{_e(verdict.replace("_", " "))}</span> '
        f"metric <b>{_e(rep.metric)}</b>: claimed <b>{_fmt(rep.claimed)}</b>, "
        f"observed <b>{_fmt(rep.observed)}</b>, "
        f"gap <b>{'—' if rep.gap_percent is None else f'{rep.gap_percent:+.2f}%'}</b></p>",
    ]
    if rep.assessment is not None:
        sections.append(f"<p>{_e(rep.assessment.reason)}.</p>")
    if rep.error is not None:
        sections.append(
            f'<p><span class="verdict error">{_e(rep.error.code)}</span> {_e(rep.error.message)}</p>'
        )
    sections.append(chart_svg(rep))
    if claim is not None:
        sections.append(
            f"<h2>Claim {_e(claim.id)}</h2><blockquote>{_e(claim.citation.quote)}</blockquote>"
            f"<p>Page {claim.citation.page} · data set {_e(claim.dataset)} · model {_e(claim.model)} · "
            f"protocol {_e(claim.protocol)}</p>"
        )
    if rep.plan is not None:
        sections.append(_plan_section(rep.plan))
    if rep.notebook:
        sections.append(f'<p>Notebook: <a href="{_e(rep.notebook)}">{_e(rep.notebook)}</a></p>')
    if rep.runs:
        sections.append(
            "<h2>Runs</h2><table><tr><th>seed</th><th>phase</th><th>observed</th><th>error</th>"
            f"<th>artifacts</th></tr>{rows}</table>"
        )
    if rep.storybook is not None:
        sections.append(_storybook_section(rep.storybook))
    sections.append(
        "<h2>All claims</h2><table><tr><th>id</th><th>metric</th><th>value</th><th>data set</th>"
        f"<th>model</th><th>protocol</th><th>page</th></tr>{claims}</table>"
    )
    sections.append(
        f"<p><small>Document sha256 {_e(rep.paper.sha256)} · generated {_e(rep.generated_at.isoformat())}"
        "</small></p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>P2N report: {_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
