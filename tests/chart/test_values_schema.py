"""values.schema.json types and describes every value, and helm refuses bad values with it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

SCHEMA = json.loads((chart_manifests.CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((chart_manifests.CHART / "values.yaml").read_text())

BAD_VALUES = {
    "timeout above the 25 minute cap": "operator.maxTimeoutMinutes=60",
    "unknown auth mode": "api.authMode=ldap",
    "cpu that is not a quantity": "operator.resources.limits.cpu=lots",
    "namespace that is not a DNS label": "runNamespaces.names={Research_Team}",
    "digest that is not sha256": "runner.image.digest=md5:abc",
    "a misspelled top-level key": "databse.existingSecret=pg",
    "a misspelled nested key": "api.ingress.enabeld=true",
    "port out of range": "api.service.port=70000",
    "unknown log format": "logging.format=xml",
    "quota that is not a quantity": "runNamespaces.resourceQuota.hard.pods=many",
    "string where a number belongs": "api.replicas=two",
    "empty database Secret name": "database.existingSecret=",
    "malformed artifact store CIDR": "runNamespaces.networkPolicy.artifactStore.cidr=10.0.0.0",
    "pull policy typo": "operator.image.pullPolicy=Sometimes",
    "no run namespace": "runNamespaces.names={}",
    "sandbox running as root": "runner.uid=0",
}

# Combinations the schema cannot express; the templates refuse them with a message.
INCOMPLETE_VALUES = {
    "static auth without a token Secret": (
        ("api.authMode=static",),
        "api.staticTokens.existingSecret is required when api.authMode is static",
    ),
    "TLS without a certificate Secret": (
        ("api.ingress.enabled=true", "api.ingress.tls.enabled=true"),
        "api.ingress.tls.secretName is required when TLS is enabled",
    ),
}


def _leaves(value, path=()):
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from _leaves(child, (*path, key))
    else:
        yield path


def _schema_at(path):
    node = SCHEMA
    for key in path:
        properties = node.get("properties", {})
        if key in properties:
            node = properties[key]
        else:
            node = node["additionalProperties"]
            assert isinstance(node, dict), path
    return node


@pytest.mark.parametrize("setting", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_helm_template_and_lint_reject_a_bad_value(helm, setting):
    template = helm.template((), (setting,))
    assert template.returncode != 0
    assert "schema" in template.stderr.lower(), template.stderr
    lint = helm.lint((), (setting,))
    assert lint.returncode != 0


@pytest.mark.parametrize(("sets", "message"), INCOMPLETE_VALUES.values(), ids=list(INCOMPLETE_VALUES))
def test_incomplete_options_fail_with_a_message(helm, sets, message):
    proc = helm.template((), sets)
    assert proc.returncode != 0
    assert message in proc.stderr


def test_every_default_value_is_typed_and_described_in_the_schema():
    for path in _leaves(DEFAULTS):
        node = _schema_at(path)
        assert "type" in node, path
    for key in DEFAULTS:
        assert SCHEMA["properties"][key].get("description") or key in ("nameOverride", "fullnameOverride")


def test_every_schema_property_has_a_description_and_objects_are_closed():
    def walk(node, path):
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, path
            for key, child in node["properties"].items():
                assert child.get("description"), (*path, key)
                walk(child, (*path, key))

    walk(SCHEMA, ())


def test_defaults_and_the_all_on_values_are_valid():
    jsonschema.validate(DEFAULTS, SCHEMA)
    all_on = yaml.safe_load(chart_manifests.VALUES_ALL_ON.read_text())
    merged = _merge(DEFAULTS, all_on)
    jsonschema.validate(merged, SCHEMA)


def test_the_all_on_values_touch_every_option():
    # "All on" must not silently miss a value added later: every default leaf is set there too.
    all_on = yaml.safe_load(chart_manifests.VALUES_ALL_ON.read_text())
    missing = [path for path in _leaves(DEFAULTS) if not _has(all_on, path)]
    assert missing == []


def _merge(base, override):
    if not isinstance(base, dict) or not isinstance(override, dict):
        return override
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(base.get(key), value)
    return merged


def _has(values, path):
    node = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True
