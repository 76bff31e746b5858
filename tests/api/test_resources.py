"""Papers, Plans and Runs through the REST API against the emulated API server (no operator)."""

from __future__ import annotations

import pytest
from tests.api.support import API, error_of

from p2n.storage import s3

pytestmark = pytest.mark.api

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _paper(kube, namespace, name="p1"):
    kube.create(
        {"apiVersion": API, "kind": "Paper", "metadata": {"name": name}, "spec": {"source": {"text": "x"}}},
        namespace,
    )


def test_paper_lifecycle_from_text(api, kube):
    created = api.post(
        "/api/v1/papers", json={"name": "iris-paper", "title": "Iris", "text": "Accuracy 0.98."}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert (body["name"], body["namespace"], body["source"], body["phase"]) == (
        "iris-paper",
        api.namespace,
        "text",
        "Pending",
    )
    stored = kube.get(API, "Paper", "iris-paper", api.namespace)
    assert stored["spec"]["source"] == {"text": "Accuracy 0.98."}
    assert [p["name"] for p in api.get("/api/v1/papers").json()["items"]] == ["iris-paper"]
    assert api.get("/api/v1/papers/iris-paper").json()["title"] == "Iris"

    # Claims come from the status the operator writes.
    claim = {
        "id": "c1",
        "metric": "accuracy",
        "value": 0.98,
        "unit": "fraction",
        "higherIsBetter": True,
        "citation": {"page": 1, "quote": "Accuracy 0.98."},
    }
    kube.patch(
        API,
        "Paper",
        "iris-paper",
        {"status": {"phase": "Ready", "claims": [claim]}},
        api.namespace,
        status=True,
    )
    claims = api.get("/api/v1/papers/iris-paper/claims").json()
    assert claims["items"][0]["citation"] == {"page": 1, "quote": "Accuracy 0.98."}
    assert claims["items"][0]["higher_is_better"] is True

    duplicate = api.post("/api/v1/papers", json={"name": "iris-paper", "text": "again"})
    assert duplicate.status_code == 409
    assert error_of(duplicate)["code"] == "E_INVALID_INPUT"

    assert api.delete("/api/v1/papers/iris-paper").status_code == 204
    missing = api.get("/api/v1/papers/iris-paper")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "E_NOT_FOUND"


def test_paper_from_url_and_generated_name(api):
    created = api.post("/api/v1/papers", json={"url": "https://example.org/paper.pdf"})
    assert created.status_code == 201, created.text
    assert created.json()["name"].startswith("paper-")
    assert created.json()["source_url"] == "https://example.org/paper.pdf"


def test_uploaded_pdf_is_stored_and_the_paper_points_at_it(api, kube, api_config):
    response = api.post(
        "/api/v1/papers/upload",
        files={"file": ("My Paper (v2).pdf", PDF, "application/pdf")},
        data={"name": "uploaded", "title": "Uploaded"},
    )
    assert response.status_code == 201, response.text
    url = kube.get(API, "Paper", "uploaded", api.namespace)["spec"]["source"]["url"]
    assert url.startswith(f"s3://{api_config.s3_bucket}/")
    assert url.endswith("/My_Paper_v2_.pdf")
    assert s3.S3Storage.from_settings(api_config).get_bytes(url) == PDF
    again = api.post(
        "/api/v1/papers/upload",
        files={"file": ("x.pdf", b"other", "application/pdf")},
        data={"name": "uploaded"},
    )
    assert again.status_code == 409
    assert s3.S3Storage.from_settings(api_config).get_bytes(url) == PDF


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Bad_Name", "text": "x"}, "name"),
        ({"text": "x", "url": "https://example.org/a.pdf"}, "body"),
        ({"url": "ftp://example.org/a.pdf"}, "url"),
        ({"text": "x", "unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_paper_is_422_naming_the_field(api, body, field):
    response = api.post("/api/v1/papers", json=body)
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "E_INVALID_INPUT"
    assert error["details"]["field"] == field
    assert "Traceback" not in response.text


def test_plans_and_runs(api, kube):
    _paper(kube, api.namespace)
    missing_paper = api.post("/api/v1/plans", json={"paper": "nope", "claim_id": "c1"})
    assert missing_paper.status_code == 404
    plan = api.post(
        "/api/v1/plans", json={"name": "plan-a", "paper": "p1", "claim_id": "c1", "timeout_minutes": 5}
    )
    assert plan.status_code == 201, plan.text
    assert plan.json()["paper"] == "p1"
    assert plan.json()["timeout_minutes"] == 5
    stored = kube.get(API, "Plan", "plan-a", api.namespace)
    assert stored["spec"]["paperRef"] == {"name": "p1"}
    assert stored["metadata"]["labels"]["p2n.dev/paper"] == "p1"
    assert [p["name"] for p in api.get("/api/v1/plans").json()["items"]] == ["plan-a"]

    started = api.post("/api/v1/plans/plan-a/run", json={"seeds": [1, 2, 3]})
    assert started.status_code == 201, started.text
    run_ids = started.json()["run_ids"]
    assert len(run_ids) == 3
    assert started.json()["run_id"] == run_ids[0]
    seeds = sorted(kube.get(API, "Run", r, api.namespace)["spec"]["seed"] for r in run_ids)
    assert seeds == [1, 2, 3]
    listed = api.get("/api/v1/runs", params={"plan": "plan-a"}).json()["items"]
    assert sorted(r["name"] for r in listed) == sorted(run_ids)

    run = api.get(f"/api/v1/runs/{run_ids[0]}").json()
    assert (run["plan"], run["phase"], run["cancel"]) == ("plan-a", "Pending", False)
    cancelled = api.post(f"/api/v1/runs/{run_ids[0]}/cancel")
    assert cancelled.status_code == 202
    assert kube.get(API, "Run", run_ids[0], api.namespace)["spec"]["cancel"] is True

    duplicate_seeds = api.post("/api/v1/plans/plan-a/run", json={"seeds": [1, 1]})
    assert duplicate_seeds.status_code == 422
    gpu = api.post("/api/v1/plans/plan-a/run", json={"resources": {"limits": {"nvidia.com/gpu": "1"}}})
    assert gpu.status_code == 422
    assert error_of(gpu)["code"] == "E_GPU_REQUESTED"
    assert api.post("/api/v1/plans/nope/run", json={}).status_code == 404

    kube.patch(
        API,
        "Plan",
        "plan-a",
        {"status": {"phase": "Failed", "message": "no data"}},
        api.namespace,
        status=True,
    )
    failed = api.post("/api/v1/plans/plan-a/run", json={})
    assert failed.status_code == 409
    assert error_of(failed)["code"] == "E_PLAN_NOT_READY"
    assert api.delete("/api/v1/plans/plan-a").status_code == 204


def test_unknown_routes_and_methods_use_the_envelope(api):
    unknown = api.get("/api/v1/nothing-here")
    assert unknown.status_code == 404
    assert error_of(unknown)["code"] == "E_NOT_FOUND"
    wrong_method = api.put("/api/v1/papers")
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "E_INVALID_INPUT"
    bad_json = api.post("/api/v1/papers", content=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 422
    assert error_of(bad_json)["code"] == "E_INVALID_INPUT"
    bad_namespace = api.get("/api/v1/papers", params={"namespace": "Not_A_Namespace"})
    assert bad_namespace.status_code == 422
    assert error_of(bad_namespace)["details"]["field"] == "namespace"
