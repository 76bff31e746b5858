"""Fuzzing against the published OpenAPI schema: no server errors, every response as documented."""

from __future__ import annotations

import secrets

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from tests.api import support

from p2n_api import main

pytestmark = pytest.mark.api


@pytest.fixture
def fuzz_token(access) -> str:
    token = f"fuzz-{secrets.token_hex(8)}"
    access.add_token(token, "fuzzer")
    access.allow("fuzzer", "*", "*", namespace="*")
    return token


# The schema the app publishes (building the app connects nowhere); requests go to the test server.
schema = schemathesis.openapi.from_dict(main.create_app().openapi())


@pytest.fixture(scope="module")
def fuzz_server(kube, api_config, db):
    """A server whose body limit is above every documented field size: an oversized field gets 422."""
    with support.serve(kube, api_config.model_copy(update={"max_body_bytes": 8 * 1024 * 1024}), db) as server:
        yield server


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case, fuzz_server, fuzz_token):
    # Query strings carry no types (the boolean true and the string "true" are the same bytes), so
    # schemathesis' negative-data check misfires on them; invalid bodies still must not crash the server.
    case.call_and_validate(
        base_url=fuzz_server.url,
        headers={"Authorization": f"Bearer {fuzz_token}"},
        timeout=30,
        excluded_checks=[schemathesis.checks.negative_data_rejection],
    )


def test_openapi_is_complete(api_server):
    import httpx

    spec = httpx.get(f"{api_server.url}/openapi.json").json()
    operation_ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(operation_ids) == len(set(operation_ids))
    assert all(op_id.isidentifier() and op_id.islower() for op_id in operation_ids)
    for path, methods in spec["paths"].items():
        for operation in methods.values():
            responses = operation["responses"]
            if path.startswith("/api/v1"):
                assert {"401", "403", "422"} <= set(responses), path
                assert operation["security"] == [{"HTTPBearer": []}], path
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
