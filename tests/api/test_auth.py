"""Bearer tokens: TokenReview authenticates, SubjectAccessReview authorizes the exact verb; static mode."""

from __future__ import annotations

import secrets

import httpx
import pytest
from pydantic import SecretStr
from tests.api.support import API, ApiClient, error_of, serve

from p2n.storage import s3

pytestmark = pytest.mark.api


def test_health_needs_no_token(api_server):
    assert httpx.get(f"{api_server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api_server.url}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "kubernetes": "ok"}


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-known-token"])
def test_missing_or_bad_token_is_401(api, header):
    headers = {"Authorization": header} if header else {}
    response = httpx.get(
        f"{api.base_url}/api/v1/papers", headers=headers, params={"namespace": api.namespace}
    )
    assert response.status_code == 401
    assert error_of(response)["code"] == "E_UNAUTHORIZED"
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_known_user_without_permission_is_403(api, access):
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "mallory")
    with api.as_token(token) as mallory:
        response = mallory.get("/api/v1/papers")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "E_FORBIDDEN"
    assert "mallory" in error["message"]
    assert "list" in error["message"]
    assert token not in response.text


def test_authorization_is_for_the_exact_verb_resource_and_namespace(api, access, kube):
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "reader", groups=["readers"])
    access.allow("group:readers", "list", "papers", namespace=api.namespace)
    access.allow("reader", "get", "papers", namespace=api.namespace, name="visible")
    other = kube.create_namespace()
    with api.as_token(token) as reader:
        assert reader.get("/api/v1/papers").status_code == 200
        assert reader.get("/api/v1/papers", params={"namespace": other}).status_code == 403
        assert reader.get("/api/v1/plans").status_code == 403
        created = reader.post("/api/v1/papers", json={"text": "Accuracy was 0.9 on iris."})
        assert created.status_code == 403
        assert reader.get("/api/v1/papers/hidden").status_code == 403
        assert reader.get("/api/v1/papers/visible").status_code == 404
    kube.purge_namespace(other)


def test_token_reviews_are_cached_but_access_is_checked_every_time(api, access):
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "carol")
    access.allow("carol", "list", "runs", namespace=api.namespace)
    with api.as_token(token) as carol:
        assert carol.get("/api/v1/runs").status_code == 200
        # A revoked permission takes effect at once (access reviews are not cached) ...
        access.clear()
        assert carol.get("/api/v1/runs").status_code == 403
        access.allow("carol", "list", "runs", namespace=api.namespace)
        # ... while the token's review is still cached (the token table was emptied too).
        assert carol.get("/api/v1/runs").status_code == 200


def test_approval_records_the_authenticated_user(api, kube, access):
    kube.create(
        {"apiVersion": API, "kind": "Paper", "metadata": {"name": "p1"}, "spec": {"source": {"text": "x"}}},
        api.namespace,
    )
    plan = api.post(
        "/api/v1/plans", json={"name": "plan-a", "paper": "p1", "claim_id": "c1", "approval_required": True}
    )
    assert plan.status_code == 201, plan.text
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "system:serviceaccount:team:approver")
    access.allow("system:serviceaccount:team:approver", "patch", "plans", namespace=api.namespace)
    with api.as_token(token) as approver:
        approved = approver.post("/api/v1/plans/plan-a/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == "system:serviceaccount:team:approver"
    stored = kube.get(API, "Plan", "plan-a", api.namespace)
    assert stored["metadata"]["annotations"]["p2n.dev/approved-by"] == "system:serviceaccount:team:approver"


def test_static_token_mode(kube, api_config, db, namespace):
    config = api_config.model_copy(
        update={"auth_mode": "static", "static_tokens": SecretStr("s3cr3t-token=alice,other=bob")}
    )
    with serve(kube, config, db) as server:
        with ApiClient(server.url, "s3cr3t-token", namespace) as alice:
            assert alice.get("/api/v1/papers").status_code == 200
            created = alice.post("/api/v1/papers", json={"name": "from-static", "text": "Accuracy 0.9."})
            assert created.status_code == 201, created.text
        with ApiClient(server.url, "s3cr3t-tokeX", namespace) as wrong:
            assert wrong.get("/api/v1/papers").status_code == 401
        with ApiClient(server.url, None, namespace) as anonymous:
            assert anonymous.get("/api/v1/papers").status_code == 401


def test_uploads_are_authorized_before_the_form_is_read(api, access, api_config):
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "viewer")
    access.allow("viewer", "list", "papers", namespace=api.namespace)
    files = {"file": ("p.pdf", b"%PDF-1.4 nothing", "application/pdf")}
    with api.as_token(None) as anonymous:
        assert anonymous.post("/api/v1/papers/upload", files=files, data={"name": "nope"}).status_code == 401
    with api.as_token(token) as viewer:
        denied = viewer.post("/api/v1/papers/upload", files=files, data={"name": "nope"})
    assert denied.status_code == 403
    assert s3.S3Storage.from_settings(api_config).list(f"papers/{api.namespace}/") == []


def test_starting_a_plan_needs_create_on_runs_only(api, access, kube):
    kube.create(
        {
            "apiVersion": API,
            "kind": "Plan",
            "metadata": {"name": "plan-x"},
            "spec": {"paperRef": {"name": "p"}, "claimId": "c1"},
        },
        api.namespace,
    )
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "starter")
    access.allow("starter", "create", "runs", namespace=api.namespace)
    with api.as_token(token) as starter:
        assert starter.get("/api/v1/plans/plan-x").status_code == 403
        started = starter.post("/api/v1/plans/plan-x/run", json={"seeds": [1, 2]})
    assert started.status_code == 201, started.text
    assert len(started.json()["run_ids"]) == 2
