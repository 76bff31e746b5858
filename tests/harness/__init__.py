"""Test infrastructure: an emulated Kubernetes cluster on loopback for the cluster and API tiers.

No kube-apiserver or container engine runs on the CI machines, so the operator and the API are
tested against an emulated API server (real HTTP, Kubernetes semantics) and a kubelet emulator that
runs pod commands as local processes. kopf, the `kubernetes` client and the real kubectl all work
against it.

Fixtures (``tests/harness/fixtures.py``; import them into a tier's conftest.py by name):

``kube`` (session) -> :class:`tests.harness.cluster.Cluster`
    ``.url``, ``.kubeconfig_path`` (``KUBECONFIG`` is set to it for the session), the p2n.dev CRDs
    from ``crds/`` installed; ``create_namespace()``, ``create/get/find/list/patch/delete(...)``
    on manifest dicts, ``events_for(obj)``, ``api_client()`` (a `kubernetes` ApiClient),
    ``compact()`` (older watch resourceVersions get 410), ``.store`` (direct synchronous access),
    ``.access`` and ``.faults`` (below).
``namespace`` (function) -> str
    A fresh namespace, purged with its contents after the test.
``kubelet`` (function view of a session kubelet) -> :class:`tests.harness.kubelet.Kubelet`
    Runs pods as local processes; ``pause()``/``resume()``, ``log(ns, name)``, ``pid(ns, name)``.
    Image pull convention: an image reference containing ``does-not-exist`` fails to pull
    (ErrImagePull, then ImagePullBackOff; the pod stays Pending).
``kubectl`` (function) -> :class:`tests.harness.kubectl.Kubectl`
    The venv's kubectl 1.37 in ``namespace``: ``kubectl("get", "runs")`` returns stdout,
    ``kubectl.json("get", "pods")`` parses ``-o json``, ``kubectl.run(..., check=False)``.
``faults`` (function) -> :class:`tests.harness.faults.Faults`
    ``fail_next(n, code=500|409, verb=..., resource=...)``, ``drop_watches(resource)``.
``access`` (function) -> :class:`tests.harness.access.AccessTable`
    ``add_token(token, user, groups)``, ``allow(user_or_group, verb, resource, namespace)`` for
    TokenReview and SubjectAccessReview.

Running a kopf operator in the test process: :func:`tests.harness.operators.running`.
Waiting for a condition: :func:`tests.harness.cluster.wait_for`.
"""
