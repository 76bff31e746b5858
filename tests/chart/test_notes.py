"""NOTES.txt tells the installer what to do next, with commands that match the values."""

from __future__ import annotations

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart


def test_notes_name_the_secrets_readiness_examples_and_crd_upgrade(helm):
    notes = helm.notes()
    assert "create secret generic p2n-database" in notes
    assert "create secret generic p2n-s3" in notes
    assert "offline provider" in notes
    assert "rollout status deployment/p2n-operator" in notes
    assert "kubectl -n p2n-runs apply -f examples/paper-text.yaml" in notes
    assert "port-forward service/p2n-api 8000:80" in notes
    assert "kubectl apply --server-side -f charts/p2n/crds/" in notes
    # With no artifact store configured, the installer learns that sandboxes cannot upload.
    assert "cannot upload their artifacts" in notes


def test_notes_follow_the_values(helm):
    notes = helm.notes((chart_manifests.VALUES_ALL_ON,))
    assert "create secret generic p2n-openai" in notes
    assert "--from-literal=AWS_ACCESS_KEY_ID=" in notes
    assert "https://p2n.example.org/api/v1" in notes
    assert "port-forward" not in notes
    assert "cannot upload" not in notes
    assert "p2n-team-a, p2n-team-b" in notes
