"""The chart ships the same CRDs as crds/ (the generated source of truth), byte for byte.
`make crds` regenerates crds/ from the models and copies them here."""

from __future__ import annotations

import pytest
import yaml
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

SOURCE = chart_manifests.REPO / "crds"
CHART_CRDS = chart_manifests.CHART / "crds"


def test_chart_crds_are_byte_identical_to_crds_dir():
    source = {path.name: path.read_bytes() for path in SOURCE.glob("*.yaml")}
    shipped = {path.name: path.read_bytes() for path in CHART_CRDS.iterdir()}
    assert source, "crds/ is empty: run `make crds`"
    assert sorted(shipped) == sorted(source), "run `make crds`"
    for name, content in source.items():
        assert shipped[name] == content, f"charts/p2n/crds/{name} differs from crds/{name}: run `make crds`"


def test_chart_crds_define_the_three_kinds(rendered):
    crds = chart_manifests.of_kind(rendered("default"), "CustomResourceDefinition")
    assert sorted(crd["spec"]["names"]["kind"] for crd in crds) == ["Paper", "Plan", "Run"]
    assert {crd["spec"]["group"] for crd in crds} == {"p2n.dev"}
    for path in CHART_CRDS.glob("*.yaml"):
        (document,) = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        assert document["kind"] == "CustomResourceDefinition"
