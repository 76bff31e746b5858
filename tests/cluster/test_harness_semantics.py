"""The emulated API server keeps the Kubernetes semantics P2N relies on, over real HTTP."""

from __future__ import annotations

import datetime
import json
import threading

import httpx
import kubernetes
import pytest
from tests.harness import cluster
from tests.harness.widgets import MERGE, widget

pytestmark = pytest.mark.cluster


@pytest.fixture
def http() -> httpx.Client:
    return httpx.Client(timeout=10)


def test_discovery_serves_what_kopf_and_p2n_need(kube: cluster.Cluster, http: httpx.Client) -> None:
    core = {r["name"]: r for r in http.get(f"{kube.url}/api/v1").json()["resources"]}
    assert {"namespaces", "pods", "pods/log", "pods/status", "events", "configmaps"} <= set(core)
    assert core["namespaces"]["namespaced"] is False
    groups = {g["name"] for g in http.get(f"{kube.url}/apis").json()["groups"]}
    assert {"p2n.dev", "apiextensions.k8s.io", "events.k8s.io", "networking.k8s.io"} <= groups
    assert {"authentication.k8s.io", "authorization.k8s.io"} <= groups
    p2n = {r["name"]: r for r in http.get(f"{kube.url}/apis/p2n.dev/v1alpha1").json()["resources"]}
    assert {"papers", "plans", "runs", "runs/status"} <= set(p2n)
    assert p2n["runs"]["kind"] == "Run"
    assert "p2n" in p2n["runs"]["categories"]
    crds = http.get(f"{kube.url}/apis/apiextensions.k8s.io/v1").json()["resources"]
    assert "customresourcedefinitions" in {r["name"] for r in crds}


def test_create_sets_server_metadata_and_lists_carry_kind(
    kube: cluster.Cluster, namespace: str, widgets: str, http: httpx.Client
) -> None:
    first = http.post(f"{widgets}/{namespace}/widgets", json=widget("a", size=1))
    second = http.post(f"{widgets}/{namespace}/widgets", json=widget("b", size=2))
    assert first.status_code == second.status_code == 201
    a, b = first.json(), second.json()
    assert a["metadata"]["uid"] != b["metadata"]["uid"]
    assert a["metadata"]["creationTimestamp"].endswith("Z")
    assert a["metadata"]["generation"] == 1
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    listing = http.get(f"{widgets}/{namespace}/widgets").json()
    assert listing["kind"] == "WidgetList"
    assert listing["apiVersion"] == "harness.p2n.dev/v1"
    assert [i["metadata"]["name"] for i in listing["items"]] == ["a", "b"]
    assert int(listing["metadata"]["resourceVersion"]) >= int(b["metadata"]["resourceVersion"])


def test_generate_name(namespace: str, widgets: str, http: httpx.Client) -> None:
    body = widget("")
    body["metadata"] = {"generateName": "w-"}
    created = http.post(f"{widgets}/{namespace}/widgets", json=body).json()
    assert created["metadata"]["name"].startswith("w-")
    assert len(created["metadata"]["name"]) > 2


def test_generation_moves_on_spec_changes_only(namespace: str, widgets: str, http: httpx.Client) -> None:
    url = f"{widgets}/{namespace}/widgets/g"
    http.post(f"{widgets}/{namespace}/widgets", json=widget("g", size=1))
    labelled = http.patch(url, json={"metadata": {"labels": {"x": "y"}}}, headers=MERGE).json()
    assert labelled["metadata"]["generation"] == 1
    status = http.patch(f"{url}/status", json={"status": {"phase": "Ready"}}, headers=MERGE).json()
    assert status["metadata"]["generation"] == 1
    resized = http.patch(url, json={"spec": {"size": 2}}, headers=MERGE).json()
    assert resized["metadata"]["generation"] == 2
    same = http.patch(url, json={"spec": {"size": 2}}, headers=MERGE).json()
    assert same["metadata"]["generation"] == 2
    assert same["metadata"]["resourceVersion"] == resized["metadata"]["resourceVersion"]


def test_status_subresource_isolation(namespace: str, widgets: str, http: httpx.Client) -> None:
    url = f"{widgets}/{namespace}/widgets/s"
    http.post(f"{widgets}/{namespace}/widgets", json={**widget("s", size=1), "status": {"phase": "Ignored"}})
    assert "status" not in http.get(url).json()
    via_main = http.patch(
        url, json={"spec": {"size": 5}, "status": {"phase": "Sneaky"}}, headers=MERGE
    ).json()
    assert via_main["spec"]["size"] == 5
    assert "status" not in via_main
    via_status = http.patch(
        f"{url}/status", json={"spec": {"size": 9}, "status": {"phase": "Ready"}}, headers=MERGE
    ).json()
    assert via_status["status"] == {"phase": "Ready"}
    assert via_status["spec"]["size"] == 5
    replaced = http.get(url).json()
    replaced["spec"]["size"] = 6
    replaced["status"] = {"phase": "Overwritten"}
    after_put = http.put(url, json=replaced).json()
    assert after_put["spec"]["size"] == 6
    assert after_put["status"] == {"phase": "Ready"}


def test_json_patch_and_strategic_merge_patch(
    kube: cluster.Cluster, namespace: str, http: httpx.Client
) -> None:
    pods = f"{kube.url}/api/v1/namespaces/{namespace}/pods"
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "finalizers": ["a/one"], "labels": {"keep": "1", "drop": "1"}},
        "spec": {"containers": [{"name": "main", "image": "i:1", "env": [{"name": "A", "value": "1"}]}]},
    }
    http.post(pods, json=pod)
    strategic = {
        "metadata": {"finalizers": ["b/two"], "labels": {"drop": None}},
        "spec": {
            "containers": [
                {"name": "main", "env": [{"name": "B", "value": "2"}]},
                {"name": "side", "image": "s"},
            ]
        },
    }
    patched = http.patch(
        f"{pods}/p",
        content=json.dumps(strategic),
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    ).json()
    assert patched["metadata"]["finalizers"] == ["a/one", "b/two"]
    assert patched["metadata"]["labels"] == {"keep": "1"}
    main, side = patched["spec"]["containers"]
    assert main["image"] == "i:1"
    assert [e["name"] for e in main["env"]] == ["A", "B"]
    assert side["name"] == "side"
    ops = [
        {"op": "test", "path": "/metadata/finalizers/0", "value": "a/one"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
        {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
    ]
    jsonpatched = http.patch(
        f"{pods}/p", content=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
    ).json()
    assert jsonpatched["metadata"]["finalizers"] == ["b/two"]
    assert jsonpatched["metadata"]["annotations"] == {"k": "v"}
    failed = http.patch(
        f"{pods}/p",
        content=json.dumps([{"op": "test", "path": "/metadata/name", "value": "other"}]),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert failed.status_code == 422
    assert failed.json()["kind"] == "Status"


def test_errors_are_kubernetes_statuses(namespace: str, widgets: str, http: httpx.Client) -> None:
    http.post(f"{widgets}/{namespace}/widgets", json=widget("e"))
    again = http.post(f"{widgets}/{namespace}/widgets", json=widget("e"))
    assert again.status_code == 409
    assert again.json()["reason"] == "AlreadyExists"
    assert again.json()["details"]["name"] == "e"
    missing = http.get(f"{widgets}/{namespace}/widgets/nope")
    assert missing.status_code == 404
    assert missing.json() | {"message": ""} == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "",
        "reason": "NotFound",
        "details": {"name": "nope", "group": "harness.p2n.dev", "kind": "widgets"},
        "code": 404,
    }
    current = http.get(f"{widgets}/{namespace}/widgets/e").json()
    http.patch(f"{widgets}/{namespace}/widgets/e", json={"spec": {"v": 1}}, headers=MERGE)
    current["spec"] = {"v": 2}
    stale = http.put(f"{widgets}/{namespace}/widgets/e", json=current)
    assert stale.status_code == 409
    assert stale.json()["reason"] == "Conflict"
    stale_patch = http.patch(
        f"{widgets}/{namespace}/widgets/e",
        json={"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "spec": {"v": 3}},
        headers=MERGE,
    )
    assert stale_patch.status_code == 409


def test_kubernetes_client_sees_conflicts_as_api_exceptions(kube: cluster.Cluster, namespace: str) -> None:
    core = kubernetes.client.CoreV1Api(kube.api_client())
    body = kubernetes.client.V1ConfigMap(metadata=kubernetes.client.V1ObjectMeta(name="cm"), data={"a": "1"})
    created = core.create_namespaced_config_map(namespace, body)
    assert created.metadata.uid
    with pytest.raises(kubernetes.client.ApiException) as exc:
        core.create_namespaced_config_map(namespace, body)
    assert exc.value.status == 409
    patched = core.patch_namespaced_config_map("cm", namespace, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    listed = core.list_namespaced_config_map(namespace)
    assert [i.metadata.name for i in listed.items] == ["cm"]


def test_label_and_field_selectors(namespace: str, widgets: str, http: httpx.Client) -> None:
    for name, labels in (
        ("x1", {"app": "x", "tier": "a"}),
        ("x2", {"app": "x", "tier": "b"}),
        ("y", {"app": "y"}),
    ):
        body = widget(name)
        body["metadata"]["labels"] = labels  # type: ignore[index]
        http.post(f"{widgets}/{namespace}/widgets", json=body)

    def names(**params: str) -> list[str]:
        items = http.get(f"{widgets}/{namespace}/widgets", params=params).json()["items"]
        return [i["metadata"]["name"] for i in items]

    assert names(labelSelector="app=x") == ["x1", "x2"]
    assert names(labelSelector="app=x,tier!=a") == ["x2"]
    assert names(labelSelector="tier in (a,b)") == ["x1", "x2"]
    assert names(labelSelector="!tier") == ["y"]
    assert names(labelSelector="tier") == ["x1", "x2"]
    assert names(fieldSelector="metadata.name=y") == ["y"]
    assert http.get(f"{widgets}/{namespace}/widgets", params={"labelSelector": "a in b"}).status_code == 400


def _watch(url: str, params: dict[str, str], count: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = []
    with httpx.stream("GET", url, params={"watch": "true", **params}, timeout=10) as response:
        for line in response.iter_lines():
            if line:
                events.append(json.loads(line))
            if len(events) >= count:
                break
    return events


def test_watch_resumes_from_a_resource_version_with_selectors(
    namespace: str, widgets: str, http: httpx.Client
) -> None:
    url = f"{widgets}/{namespace}/widgets"
    start = http.get(url).json()["metadata"]["resourceVersion"]
    seen: list[dict[str, object]] = []
    live = threading.Thread(
        target=lambda: seen.extend(_watch(url, {"resourceVersion": start, "labelSelector": "w=1"}, 3))
    )
    live.start()
    body = widget("w")
    body["metadata"]["labels"] = {"w": "1"}  # type: ignore[index]
    http.post(url, json=widget("other"))
    http.post(url, json=body)
    http.patch(f"{url}/w", json={"spec": {"n": 1}}, headers=MERGE)
    http.delete(f"{url}/w")
    live.join(10)
    assert [e["type"] for e in seen] == ["ADDED", "MODIFIED", "DELETED"]
    replay = _watch(url, {"resourceVersion": start}, 4)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replay] == [  # type: ignore[index]
        ("ADDED", "other"),
        ("ADDED", "w"),
        ("MODIFIED", "w"),
        ("DELETED", "w"),
    ]
    fresh = _watch(url, {}, 1)
    assert fresh[0]["type"] == "ADDED"


def test_watch_from_a_compacted_version_gets_410(kube: cluster.Cluster, namespace: str, widgets: str) -> None:
    url = f"{widgets}/{namespace}/widgets"
    httpx.post(url, json=widget("old"))
    old = httpx.get(url).json()["metadata"]["resourceVersion"]
    httpx.post(url, json=widget("new"))
    kube.compact()
    (event,) = _watch(url, {"resourceVersion": old}, 1)
    assert event["type"] == "ERROR"
    assert event["object"]["code"] == 410  # type: ignore[index]
    core = kubernetes.client.CoreV1Api(kube.api_client())
    with pytest.raises(kubernetes.client.ApiException) as exc:
        for _ in kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, namespace, resource_version=old, timeout_seconds=2
        ):
            pass
    assert exc.value.status == 410


def test_finalizers_hold_deletion_until_the_last_is_removed(
    namespace: str, widgets: str, http: httpx.Client
) -> None:
    url = f"{widgets}/{namespace}/widgets"
    body = widget("f")
    body["metadata"]["finalizers"] = ["p2n.dev/cleanup", "other/x"]  # type: ignore[index]
    http.post(url, json=body)
    deleted = http.delete(f"{url}/f").json()
    assert deleted["metadata"]["deletionTimestamp"]
    assert http.get(f"{url}/f").json()["metadata"]["deletionTimestamp"]
    http.patch(f"{url}/f", json={"metadata": {"finalizers": ["other/x"]}}, headers=MERGE)
    assert http.get(f"{url}/f").status_code == 200
    readded = http.patch(f"{url}/f", json={"metadata": {"finalizers": ["other/x", "new/y"]}}, headers=MERGE)
    assert readded.json()["metadata"]["finalizers"] == ["other/x"]
    http.patch(f"{url}/f", json={"metadata": {"finalizers": []}}, headers=MERGE)
    assert http.get(f"{url}/f").status_code == 404


def test_owner_deletion_cascades_to_owned_pods(kube: cluster.Cluster, namespace: str, widgets: str) -> None:
    owner = httpx.post(f"{widgets}/{namespace}/widgets", json=widget("owner")).json()
    ref = {
        "apiVersion": "harness.p2n.dev/v1",
        "kind": "Widget",
        "name": "owner",
        "uid": owner["metadata"]["uid"],
    }
    for name in ("owned-1", "owned-2"):
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "ownerReferences": [ref]},
                "spec": {"containers": [{"name": "c", "image": "i:does-not-exist"}]},
            },
            namespace,
        )
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unowned"}}, namespace)
    httpx.delete(f"{widgets}/{namespace}/widgets/owner")
    cluster.wait_for(lambda: not kube.list("v1", "Pod", namespace), what="owned pods to go")
    assert kube.find("v1", "ConfigMap", "unowned", namespace) is not None


def test_namespaces_scope_objects(kube: cluster.Cluster, widgets: str, http: httpx.Client) -> None:
    missing = http.post(f"{widgets}/no-such-ns/widgets", json=widget("w"))
    assert missing.status_code == 404
    ns = kube.create_namespace()
    http.post(f"{widgets}/{ns}/widgets", json=widget("w"))
    assert http.get(f"{kube.url}/api/v1/namespaces/{ns}").json()["status"]["phase"] == "Active"
    http.delete(f"{kube.url}/api/v1/namespaces/{ns}")
    cluster.wait_for(
        lambda: http.get(f"{kube.url}/api/v1/namespaces/{ns}").status_code == 404, what="ns gone"
    )
    assert http.get(f"{widgets}/{ns}/widgets/w").status_code == 404


def test_token_and_access_reviews_come_from_the_table(
    kube: cluster.Cluster, access: object, http: httpx.Client
) -> None:
    kube.access.add_token("s3cr3t", "alice", groups=["team-a"])
    kube.access.allow("alice", "create", "runs", namespace="ns1", group="p2n.dev")
    kube.access.allow("group:team-a", "get", "*")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": "s3cr3t"}}
    who = http.post(f"{kube.url}/apis/authentication.k8s.io/v1/tokenreviews", json=review).json()
    assert who["status"]["authenticated"] is True
    assert who["status"]["user"]["username"] == "alice"
    assert who["status"]["user"]["groups"] == ["team-a"]
    review["spec"]["token"] = "wrong"  # type: ignore[index]
    nobody = http.post(f"{kube.url}/apis/authentication.k8s.io/v1/tokenreviews", json=review).json()
    assert nobody["status"]["authenticated"] is False

    def allowed(verb: str, resource: str, namespace: str, groups: list[str] | None = None) -> bool:
        body = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": {
                "user": "alice",
                "groups": groups or [],
                "resourceAttributes": {
                    "verb": verb,
                    "resource": resource,
                    "namespace": namespace,
                    "group": "p2n.dev",
                },
            },
        }
        url = f"{kube.url}/apis/authorization.k8s.io/v1/subjectaccessreviews"
        return bool(http.post(url, json=body).json()["status"]["allowed"])

    assert allowed("create", "runs", "ns1")
    assert not allowed("create", "runs", "ns2")
    assert not allowed("delete", "runs", "ns1")
    assert allowed("get", "plans", "ns9", groups=["team-a"])
    assert not allowed("get", "plans", "ns9")


def test_events_in_both_groups_and_network_policies(kube: cluster.Cluster, namespace: str) -> None:
    api = kube.api_client()
    core = kubernetes.client.CoreV1Api(api)
    events = kubernetes.client.EventsV1Api(api)
    involved = kubernetes.client.V1ObjectReference(kind="Run", name="r", namespace=namespace, uid="u-1")
    core.create_namespaced_event(
        namespace,
        kubernetes.client.CoreV1Event(
            metadata=kubernetes.client.V1ObjectMeta(generate_name="r-"),
            involved_object=involved,
            reason="Started",
            message="core event",
        ),
    )
    events.create_namespaced_event(
        namespace,
        kubernetes.client.EventsV1Event(
            metadata=kubernetes.client.V1ObjectMeta(generate_name="r-"),
            event_time=datetime.datetime.now(datetime.UTC),
            regarding=involved,
            reason="Started",
            note="events.k8s.io event",
            action="Start",
            reporting_controller="p2n.dev/operator",
            reporting_instance="test",
        ),
    )
    assert [e.message for e in core.list_namespaced_event(namespace).items] == ["core event"]
    assert [e.note for e in events.list_namespaced_event(namespace).items] == ["events.k8s.io event"]
    selected = core.list_namespaced_event(namespace, field_selector="involvedObject.uid=u-1")
    assert len(selected.items) == 1

    networking = kubernetes.client.NetworkingV1Api(api)
    policy = kubernetes.client.V1NetworkPolicy(
        metadata=kubernetes.client.V1ObjectMeta(name="deny-all"),
        spec=kubernetes.client.V1NetworkPolicySpec(
            pod_selector=kubernetes.client.V1LabelSelector(), policy_types=["Egress"]
        ),
    )
    networking.create_namespaced_network_policy(namespace, policy)
    stored = networking.read_namespaced_network_policy("deny-all", namespace)
    assert stored.spec.policy_types == ["Egress"]


def test_watch_ends_after_its_timeout(kube: cluster.Cluster, namespace: str) -> None:
    core = kubernetes.client.CoreV1Api(kube.api_client())
    kube.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}, namespace)
    seen = [
        (event["type"], event["object"].metadata.name)
        for event in kubernetes.watch.Watch().stream(
            core.list_namespaced_config_map, namespace, timeout_seconds=1
        )
    ]
    assert seen == [("ADDED", "one")]
