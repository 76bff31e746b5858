"""Notebooks fetched over HTTP and from s3://, artifacts sent to presigned PUT URLs (moto over HTTP).

The runner holds no storage credentials: it only sees URLs, exactly as in a pod.
"""

from __future__ import annotations

import json

import pytest

from p2n import events

pytestmark = pytest.mark.runner

ARTIFACTS = ("metrics.json", "events.jsonl", "logs.txt", "notebook.ipynb")


def test_http_notebook_and_presigned_put_artifacts(notebook, start_runner, s3_storage, report_cell, tmp_path):
    nb = notebook(report_cell, "print('uploaded run')\nreport(accuracy=0.5)")
    s3_storage.put_bytes("plans/p1/notebook.ipynb", nb.read_bytes(), "application/x-ipynb+json")
    urls = {name: s3_storage.presign_put(f"runs/r1/{name}") for name in ARTIFACTS}
    urls_file = tmp_path / "urls.json"
    urls_file.write_text(json.dumps(urls))

    source = s3_storage.presign_get("plans/p1/notebook.ipynb")
    run = start_runner(source, "--artifact-urls", str(urls_file), "--target-metric", "accuracy")
    assert run.finish() == events.RUNNER_EXIT_OK
    assert run.terminal().data.stage == "run_complete"
    # Presigned signatures never reach the events or the logs.
    assert "Signature" not in json.dumps([e.model_dump(mode="json") for e in run.events])
    assert "Signature" not in run.stderr.decode()

    uploaded = {name: s3_storage.get_bytes(f"runs/r1/{name}") for name in ARTIFACTS}
    assert json.loads(uploaded["metrics.json"]) == {"accuracy": 0.5}
    assert uploaded["logs.txt"].decode().splitlines() == ["uploaded run"]
    assert [events.parse_line(line) for line in uploaded["events.jsonl"].splitlines()] == run.events
    assert json.loads(uploaded["notebook.ipynb"])["cells"][1]["outputs"][0]["text"] == ["uploaded run\n"]


def test_s3_uri_is_read_anonymously_from_the_configured_endpoint(
    notebook, start_runner, s3_storage, moto_endpoint
):
    import boto3

    nb = notebook("print('from s3')")
    uri = s3_storage.uri("plans/p2/notebook.ipynb")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    # A public object (as on a public MinIO endpoint): the runner reads it with no credentials at all.
    admin = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    admin.put_object(Bucket=bucket, Key=key, Body=nb.read_bytes(), ACL="public-read")
    run = start_runner(uri, env={"P2N_S3_ENDPOINT_URL": moto_endpoint})
    assert run.finish() == events.RUNNER_EXIT_OK, run.terminal().data.message
    assert run.log_texts() == ["from s3"]


def test_s3_uri_without_endpoint_and_failed_upload_are_reported(notebook, start_runner, tmp_path):
    missing = start_runner("s3://bucket/nb.ipynb", env={"P2N_S3_ENDPOINT_URL": ""})
    assert missing.finish() == events.RUNNER_EXIT_INVALID_INPUT
    assert "presigned https URL" in (missing.terminal().data.message or "")

    refused = start_runner(
        notebook("print(1)"),
        "--artifact-urls",
        json.dumps({"logs.txt": "http://127.0.0.1:9/logs.txt?X-Sig=secret"}),
    )
    assert refused.finish() == events.RUNNER_EXIT_STORAGE
    assert refused.terminal().data.code == "E_STORAGE"
    assert "logs.txt" in (refused.terminal().data.message or "")
    assert "secret" not in (refused.terminal().data.message or "")
