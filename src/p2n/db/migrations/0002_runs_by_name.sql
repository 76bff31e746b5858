-- A Run deleted and recreated under the same name is a new history row (its run_id carries the
-- Kubernetes uid), so "the Run called <namespace>/<name>" means the newest row of that name:
-- this index serves p2n.db.Database.latest_run without a sort.

CREATE INDEX runs_by_name ON runs (namespace, name, created_at DESC, run_id DESC);
