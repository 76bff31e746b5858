"""``p2n reproduce`` on one machine: every pipeline stage, the local sandbox, a report on disk.

This is the whole chain the operator runs in a cluster, in one process: ingest, extract, plan,
materialize, one sandboxed run per seed, report. It writes ``plan.json``, ``notebook.ipynb``, one
folder of run artifacts per seed, ``report.json`` and ``report.html`` into the output directory,
keeps the document and notebook in the configured storage, and records the runs in the history
database. A typed error at any stage still yields a report (with ``error`` set), so a failed
reproduction is as inspectable as a successful one.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel

from p2n import db, errors, events, resources, sandbox, storage, telemetry
from p2n.pipeline import extract, ingest, materialize, planning, report, report_html, storybook
from p2n.settings import Settings
from p2n.storage import keys

log = logging.getLogger(__name__)

NAMESPACE = db.records.LOCAL_NAMESPACE
Say = Callable[[str], None]

_PHASES: dict[str, resources.RunPhase] = {
    "succeeded": "Succeeded",
    "failed": "Failed",
    "timed_out": "TimedOut",
    "cancelled": "Cancelled",
}


class Options(BaseModel):
    """What ``p2n reproduce`` was asked to do."""

    claim_id: str | None = None
    seeds: tuple[int, ...] = (0,)
    provider: resources.Provider = "auto"
    tolerance_percent: float = report.DEFAULT_TOLERANCE_PERCENT
    record_history: bool = True
    storybook: bool = False


def paper_name(filename: str, sha256: str) -> str:
    """A Kubernetes-style name for a local paper: its file stem and the start of its hash."""
    stem = re.sub(r"[^a-z0-9]+", "-", Path(filename).stem.lower()).strip("-")[:40] or "paper"
    return f"{stem}-{sha256[:8]}"


def choose_claim(
    claims: Sequence[resources.Claim],
    claim_id: str | None,
    plan_one: Callable[[resources.Claim], planning.ReproductionPlan],
) -> tuple[resources.Claim, planning.ReproductionPlan]:
    """The requested claim, or the first one the planner supports (else the first claim's refusal)."""
    if claim_id is not None:
        chosen = next((c for c in claims if c.id == claim_id), None)
        if chosen is None:
            known = ", ".join(c.id for c in claims)
            raise errors.NotFound(f"no claim {claim_id!r} in the paper (claims: {known})")
        return chosen, plan_one(chosen)
    first_error: errors.P2NError | None = None
    for claim in claims:
        try:
            return claim, plan_one(claim)
        except errors.P2NError as exc:
            first_error = first_error or exc
    assert first_error is not None
    raise first_error


def reproduce(
    source: str,
    out_dir: Path,
    *,
    settings: Settings,
    options: Options | None = None,
    say: Say | None = None,
    on_event: Callable[[events.Event], None] | None = None,
) -> report.Report:
    """Reproduce one claim of the paper at ``source`` (path or URL); the report is also on disk."""
    opts = options or Options()
    tell = say or (lambda _: None)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = storage.from_settings(settings)
    tell(f"reading {source}")
    # One trace per reproduction: every step's span (and each seed's run spans) is a child of this.
    with telemetry.span("p2n.paper.reproduce", {"p2n.namespace": NAMESPACE}) as root:
        with telemetry.span("p2n.paper.ingest"):
            data = ingest.read_location(source, settings=settings, store=store)
            filename = keys.safe_filename(ingest.filename_of(source), default="paper")
            document = ingest.parse(data, filename=filename)
            paper = paper_name(filename, document.sha256)
            document = ingest.save(document, data, store=store, namespace=NAMESPACE, paper=paper)
        root.set_attribute("p2n.paper", paper)
        result = report.Report(
            paper=report.PaperInfo(
                title=document.title,
                sha256=document.sha256,
                source=source,
                pages=document.page_count,
                uri=document.uri,
            ),
            claims=[],
        )
        try:
            result = _reproduce(document, paper, result, out_dir, settings, store, opts, tell, on_event)
        except errors.P2NError as exc:
            tell(f"error {exc.code}: {exc.message}")
            result = result.model_copy(update={"error": report.ErrorBody(code=exc.code, message=exc.message)})
        _write(result, out_dir)
    return result


def _reproduce(
    document: ingest.Document,
    paper: str,
    result: report.Report,
    out_dir: Path,
    settings: Settings,
    store: storage.Storage,
    opts: Options,
    tell: Say,
    on_event: Callable[[events.Event], None] | None,
) -> report.Report:
    tell(f"extracting claims from {document.page_count} page(s)")
    claims = extract.extract_claims(
        document,
        settings=settings,
        extraction=extract.extraction_for(settings, opts.provider),
        on_token=on_event,
    )
    result = result.model_copy(update={"claims": claims})
    tell(f"found {len(claims)} claim(s): {', '.join(c.id for c in claims)}")
    spec = resources.PlanSpec(
        paper_ref=resources.ObjectRef(name=paper),
        claim_id=opts.claim_id or claims[0].id,
        planner=resources.PlannerSpec(provider=opts.provider),
    )
    claim, plan = choose_claim(
        claims,
        opts.claim_id,
        lambda c: planning.plan(
            c, settings=settings, spec=spec, document_text=document.text, on_token=on_event
        ),
    )
    result = result.model_copy(update={"claim": claim, "plan": report.plan_for_report(plan)})
    tell(f"planned {claim.id}: {plan.summary().model} on {plan.dataset.name}, {plan.protocol.description}")
    notebook = materialize.notebook_bytes(plan)
    (out_dir / "plan.json").write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    notebook_path = out_dir / "notebook.ipynb"
    notebook_path.write_bytes(notebook)
    plan_name = f"{paper[:40]}-{claim.id}"[:63].strip("-")
    store.put_bytes(keys.plan_notebook(NAMESPACE, plan_name), notebook, materialize.NOTEBOOK_MEDIA_TYPE)
    result = result.model_copy(update={"notebook": str(notebook_path)})

    runs: list[report.RunResult] = []
    history: list[tuple[db.RunRecord, list[events.Event]]] = []
    for seed in opts.seeds:
        run, record, seen = _run_seed(notebook_path, out_dir, plan, seed, paper, plan_name, tell, on_event)
        runs.append(run)
        history.append((record, seen))
    assessment = report.assess_runs(
        claim, [r.observed for r in runs], tolerance_percent=opts.tolerance_percent
    )
    result = report.with_assessment(result.model_copy(update={"runs": runs}), assessment)
    failed = [r for r in runs if r.error is not None]
    if failed and len(failed) == len(runs):
        first = failed[0].error
        result = result.model_copy(update={"error": first})
    if opts.storybook:
        tell("writing the kid-mode storybook")
        book = storybook.write(
            claim, settings=settings, provider=opts.provider, plan=plan, assessment=assessment
        )
        (out_dir / "storybook.json").write_text(book.model_dump_json(indent=2) + "\n", encoding="utf-8")
        result = result.model_copy(update={"storybook": book.model_dump(mode="json")})
    if opts.record_history:
        _record(settings, history, result, paper, plan_name, out_dir, claim, tell)
    return result


def _run_seed(
    notebook_path: Path,
    out_dir: Path,
    plan: planning.ReproductionPlan,
    seed: int,
    paper: str,
    plan_name: str,
    tell: Say,
    on_event: Callable[[events.Event], None] | None,
) -> tuple[report.RunResult, db.RunRecord, list[events.Event]]:
    run_id = db.new_local_run_id()
    seen: list[events.Event] = []

    def forward(event: events.Event) -> None:
        seen.append(event)
        if isinstance(event, events.Progress):
            tell(f"  seed {seed}: {event.data.percent:.0f}% {event.data.msg}")
        if on_event is not None:
            on_event(event)

    tell(f"running seed {seed} in the local sandbox (run {run_id})")
    started = time.monotonic()
    started_ns = time.time_ns()
    outcome = sandbox.run_notebook(
        notebook_path,
        out_dir / f"seed-{seed}",
        run_id=run_id,
        seed=seed,
        timeout_seconds=plan.timeout_seconds,
        target_metric=plan.metric,
        on_event=forward,
    )
    duration = time.monotonic() - started
    value = (outcome.metrics or {}).get(plan.metric)
    observed = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    error = report.ErrorBody(**outcome.error) if outcome.error else None
    phase = _PHASES[outcome.outcome]
    attributes: dict[str, str | int] = {
        "p2n.namespace": NAMESPACE,
        "p2n.paper": paper,
        "p2n.plan": plan_name,
        "p2n.run": run_id,
        "p2n.seed": seed,
        "p2n.phase": phase,
    }
    if error is not None:
        attributes["p2n.reason"] = error.code
    telemetry.record_execution(
        seen,
        start_ns=started_ns,
        end_ns=started_ns + round(duration * 1_000_000_000),
        attributes=attributes,
        error=error.code if error is not None and phase in ("Failed", "TimedOut") else None,
    )
    tell(f"seed {seed}: {phase}" + (f", {plan.metric} = {observed:.6g}" if observed is not None else ""))
    artifacts = {name: str(path) for name, path in sorted(outcome.artifacts.items())}
    run = report.RunResult(
        seed=seed, phase=phase, observed=observed, artifacts=artifacts, error=error, duration_seconds=duration
    )
    single = report.assess_run(plan.claim, observed)
    record = db.RunRecord(
        run_id=run_id,
        namespace=NAMESPACE,
        name=run_id,
        paper=paper,
        plan=plan_name,
        claim=plan.claim.id,
        metric=plan.metric,
        seed=seed,
        phase=phase,
        observed=observed,
        claimed=plan.target,
        gap_percent=single.gap_percent,
        verdict=single.verdict,
        reason=error.code if error else None,
        message=error.message if error else None,
        plan_hash=plan.plan_hash,
        env_hash=plan.env_hash,
        artifacts=artifacts,
    )
    return run, record, seen


def _record(
    settings: Settings,
    history: list[tuple[db.RunRecord, list[events.Event]]],
    result: report.Report,
    paper: str,
    plan_name: str,
    out_dir: Path,
    claim: resources.Claim,
    tell: Say,
) -> None:
    """Keep the runs, their events and the report in the history; a broken database only warns."""
    tell("recording the runs in the history database")
    try:
        with db.Database.connect(settings) as database:
            for record, seen in history:
                database.upsert_run(record)
                database.ingest_events(record.run_id, seen)
            database.save_report(
                db.ReportRecord(
                    report_id=f"{NAMESPACE}/{plan_name}/{history[0][0].run_id}",
                    namespace=NAMESPACE,
                    paper=paper,
                    plan=plan_name,
                    claim=claim.id,
                    metric=result.metric,
                    observed=result.observed,
                    claimed=result.claimed,
                    gap_percent=result.gap_percent,
                    verdict=result.verdict,
                    run_ids=[record.run_id for record, _ in history],
                    body=result.model_dump(mode="json"),
                    json_uri=str(out_dir / "report.json"),
                    html_uri=str(out_dir / "report.html"),
                )
            )
    except errors.P2NError as exc:
        log.warning("run history not recorded: %s", exc)
        tell(f"warning: the run history was not recorded ({exc.code}: {exc.message})")


def _write(result: report.Report, out_dir: Path) -> None:
    (out_dir / "report.json").write_text(result.to_json() + "\n", encoding="utf-8")
    (out_dir / "report.html").write_text(report_html.render(result), encoding="utf-8")
