"""The chart's metrics and tracing options: the operator's metrics port and Service, the optional
ServiceMonitors (scraping the right Service ports and paths), and the OTLP endpoint variable."""

from __future__ import annotations

import copy

import pytest
from tests.chart import custom_kinds
from tests.chart.chart_manifests import RELEASE_NAMESPACE, of_kind, one

pytestmark = pytest.mark.chart

BAD_VALUES = {
    "interval that is not a duration": "metrics.serviceMonitor.interval=often",
    "operator metrics port out of range": "metrics.operatorPort=0",
    "operator metrics port on the liveness port": "metrics.operatorPort=8080",
    "namespace that is not a DNS label": "metrics.serviceMonitor.namespace=Monitoring_NS",
    "misspelled ServiceMonitor key": "metrics.serviceMonitor.enable=true",
    "OTLP endpoint that is not a URL": "tracing.otlpEndpoint=collector:4318",
}


def _container(manifests, component):
    deployment = one(manifests, "Deployment", _fullname(manifests, component))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _fullname(manifests, component):
    (deployment,) = [
        d
        for d in of_kind(manifests, "Deployment")
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return deployment["metadata"]["name"]


def _env(container):
    return {item["name"]: item.get("value") for item in container["env"]}


def test_no_service_monitor_unless_enabled(rendered):
    assert of_kind(rendered("default"), "ServiceMonitor") == []


def test_operator_metrics_port_is_configured_exposed_and_reachable_through_its_network_policy(rendered):
    for values_set, port in (("default", 9090), ("all-on", 9191)):
        manifests = rendered(values_set)
        container = _container(manifests, "operator")
        assert _env(container)["P2N_OPERATOR_METRICS_PORT"] == str(port)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"health": 8080, "metrics": port}
        service = one(manifests, "Service", f"{_fullname(manifests, 'operator')}-metrics", RELEASE_NAMESPACE)
        assert service["spec"]["ports"] == [
            {"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}
        ]
        deployment = one(manifests, "Deployment", _fullname(manifests, "operator"))
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        policy = one(manifests, "NetworkPolicy", _fullname(manifests, "operator"), RELEASE_NAMESPACE)
        allowed = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
        assert allowed == {8080, port}


def test_service_monitors_scrape_metrics_of_the_api_and_operator_services(rendered):
    manifests = rendered("all-on")
    monitors = of_kind(manifests, "ServiceMonitor")
    assert sorted(m["metadata"]["name"] for m in monitors) == ["p2n-all-api", "p2n-all-operator"]
    services = of_kind(manifests, "Service")
    scraped = {}
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert monitor["metadata"]["namespace"] == "monitoring"
        assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        spec = monitor["spec"]
        assert spec["namespaceSelector"] == {"matchNames": [RELEASE_NAMESPACE]}
        # The selector picks exactly one Service of the release, and the endpoint names its port.
        selector = spec["selector"]["matchLabels"]
        (service,) = [
            s
            for s in services
            if s["metadata"]["namespace"] == RELEASE_NAMESPACE
            and selector.items() <= s["metadata"]["labels"].items()
        ]
        (endpoint,) = spec["endpoints"]
        timing = (endpoint["interval"], endpoint["scrapeTimeout"])
        assert (endpoint["path"], endpoint["scheme"], timing) == ("/metrics", "http", ("1m", "20s"))
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
        scraped[monitor["metadata"]["labels"]["app.kubernetes.io/component"]] = (
            service["metadata"]["name"],
            port["targetPort"],
        )
    assert scraped == {"api": ("p2n-all-api", "http"), "operator": ("p2n-all-operator-metrics", "metrics")}
    # The targeted container ports exist on the pods the Services select.
    assert "http" in {p["name"] for p in _container(manifests, "api")["ports"]}
    assert "metrics" in {p["name"] for p in _container(manifests, "operator")["ports"]}


def test_service_monitors_default_to_the_release_namespace(helm):
    manifests = helm.manifests((), ("metrics.serviceMonitor.enabled=true",))
    monitors = of_kind(manifests, "ServiceMonitor")
    assert len(monitors) == 2
    for monitor in monitors:
        assert monitor["metadata"]["namespace"] == RELEASE_NAMESPACE
        (endpoint,) = monitor["spec"]["endpoints"]
        assert (endpoint["interval"], endpoint["scrapeTimeout"]) == ("30s", "10s")
        assert custom_kinds.errors(monitor) == []


def test_the_service_monitor_schema_rejects_what_the_api_server_would(rendered):
    (monitor,) = [
        m for m in of_kind(rendered("all-on"), "ServiceMonitor") if m["metadata"]["name"].endswith("operator")
    ]
    assert custom_kinds.errors(monitor) == []
    misspelled = copy.deepcopy(monitor)
    misspelled["spec"]["endpoints"][0]["scrapeTimout"] = "10s"
    bad_interval = copy.deepcopy(monitor)
    bad_interval["spec"]["endpoints"][0]["interval"] = "often"
    assert custom_kinds.errors(misspelled)
    assert custom_kinds.errors(bad_interval)


def test_otlp_endpoint_reaches_both_services_only_when_set(rendered):
    for component in ("api", "operator"):
        assert "P2N_OTLP_ENDPOINT" not in _env(_container(rendered("default"), component))
        assert (
            _env(_container(rendered("all-on"), component))["P2N_OTLP_ENDPOINT"]
            == "http://otel-collector.observability.svc:4318"
        )


@pytest.mark.parametrize("setting", BAD_VALUES.values(), ids=list(BAD_VALUES))
def test_bad_observability_values_are_rejected_by_the_schema(helm, setting):
    proc = helm.template((), (setting,))
    assert proc.returncode != 0
    assert "schema" in proc.stderr.lower(), proc.stderr


@pytest.mark.parametrize(
    ("interval", "timeout", "accepted"),
    [("30s", "30s", True), ("1h", "59m59s999ms", True), ("1m", "1m1s", False), ("500ms", "1s", False)],
)
def test_a_scrape_timeout_longer_than_the_interval_is_refused(helm, interval, timeout, accepted):
    proc = helm.template(
        (),
        (
            "metrics.serviceMonitor.enabled=true",
            f"metrics.serviceMonitor.interval={interval}",
            f"metrics.serviceMonitor.scrapeTimeout={timeout}",
        ),
    )
    assert (proc.returncode == 0) is accepted, proc.stderr
    if not accepted:
        assert "scrapeTimeout must not exceed metrics.serviceMonitor.interval" in proc.stderr
