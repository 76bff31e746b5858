"""P2N's own SigV4 query signer produces exactly botocore's presigned URLs (botocore is the reference)."""

from __future__ import annotations

import datetime

import botocore.auth
import pytest

from p2n.storage import presign, s3

NOW = datetime.datetime(2026, 11, 22, 5, 30, 12, tzinfo=datetime.UTC)
KEYS = ["runs/ns/run-a/metrics.json", "plans/ns/p~1/notebook.ipynb", "odd name/c+d=e&f.txt"]


@pytest.mark.parametrize(
    "endpoint",
    ["http://127.0.0.1:9000", "https://minio.example:443", "http://minio.p2n.svc:9000/", "https://s3.local"],
)
@pytest.mark.parametrize(("verb", "operation"), [("GET", "get_object"), ("PUT", "put_object")])
def test_signer_matches_botocore(monkeypatch, endpoint, verb, operation):
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW.replace(tzinfo=None))
    store = s3.S3Storage(
        "p2n-bucket",
        endpoint_url=endpoint,
        region="eu-west-1",
        access_key_id="AKIDEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    )
    signer = presign.Signer(endpoint, "eu-west-1", "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    for key in KEYS:
        reference = store._client.generate_presigned_url(
            ClientMethod=operation, Params={"Bucket": "p2n-bucket", "Key": key}, ExpiresIn=900
        )
        assert signer.presigned_url(verb, "p2n-bucket", key, 900, NOW) == reference


def test_signing_key_is_derived_again_on_a_new_day():
    signer = presign.Signer("http://127.0.0.1:9000", "us-east-1", "AKID", "secret")
    today = signer.presigned_url("GET", "b", "k", 60, NOW)
    tomorrow = signer.presigned_url("GET", "b", "k", 60, NOW + datetime.timedelta(days=1))
    fresh = presign.Signer("http://127.0.0.1:9000", "us-east-1", "AKID", "secret")
    assert fresh.presigned_url("GET", "b", "k", 60, NOW + datetime.timedelta(days=1)) == tomorrow
    assert today.split("X-Amz-Signature=")[1] != tomorrow.split("X-Amz-Signature=")[1]


def test_storage_without_static_keys_or_endpoint_keeps_botocore():
    assert s3.S3Storage("b", endpoint_url="http://127.0.0.1:9000")._signer is None
    assert s3.S3Storage("b", access_key_id="a", secret_access_key="s")._signer is None
