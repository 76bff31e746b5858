-- Run history: runs, their events, the metric series drawn from metric_update events, reports.
-- Applied once by p2n.db.schema under an advisory lock; never edit an applied migration, add one.

CREATE TABLE runs (
    run_id        text PRIMARY KEY CHECK (length(run_id) BETWEEN 1 AND 512),
    namespace     text NOT NULL,
    name          text NOT NULL,
    paper         text,
    plan          text,
    claim         text,
    metric        text,
    seed          bigint NOT NULL DEFAULT 0,
    phase         text NOT NULL DEFAULT 'Pending',
    observed      double precision,
    claimed       double precision,
    gap_percent   double precision,
    verdict       text,
    reason        text,
    message       text,
    plan_hash     text,
    env_hash      text,
    artifacts     jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- History per namespace, per paper and per plan, newest first (run_id breaks ties stably).
CREATE INDEX runs_namespace_history ON runs (namespace, created_at DESC, run_id DESC);
CREATE INDEX runs_paper_history ON runs (namespace, paper, created_at DESC, run_id DESC);
CREATE INDEX runs_plan_history ON runs (namespace, plan, created_at DESC, run_id DESC);

-- One row per event; the primary key (run_id, seq) drops duplicates and serves "events after seq".
CREATE TABLE run_events (
    run_id  text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    seq     bigint NOT NULL CHECK (seq >= 0),
    event   text NOT NULL,
    ts      double precision NOT NULL,
    data    jsonb NOT NULL,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE metric_series (
    run_id  text NOT NULL,
    seq     bigint NOT NULL,
    metric  text NOT NULL,
    split   text NOT NULL,
    step    bigint NOT NULL,
    value   double precision NOT NULL,
    ts      double precision NOT NULL,
    PRIMARY KEY (run_id, seq),
    FOREIGN KEY (run_id, seq) REFERENCES run_events (run_id, seq) ON DELETE CASCADE
);

CREATE INDEX metric_series_by_metric ON metric_series (run_id, metric, split, step, seq);

CREATE TABLE reports (
    report_id    text PRIMARY KEY CHECK (length(report_id) BETWEEN 1 AND 512),
    namespace    text NOT NULL,
    paper        text,
    plan         text,
    claim        text,
    metric       text,
    observed     double precision,
    claimed      double precision,
    gap_percent  double precision,
    verdict      text,
    body         jsonb NOT NULL DEFAULT '{}'::jsonb,
    json_uri     text,
    html_uri     text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reports_paper_history ON reports (namespace, paper, created_at DESC, report_id DESC);
CREATE INDEX reports_plan_history ON reports (namespace, plan, created_at DESC, report_id DESC);

-- The runs a report aggregates (several seeds of one plan).
CREATE TABLE report_runs (
    report_id  text NOT NULL REFERENCES reports (report_id) ON DELETE CASCADE,
    run_id     text NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
    PRIMARY KEY (report_id, run_id)
);

CREATE INDEX report_runs_by_run ON report_runs (run_id);
