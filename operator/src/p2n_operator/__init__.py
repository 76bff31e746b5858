"""The P2N operator: kopf handlers reconciling Paper, Plan and Run (group p2n.dev, v1alpha1).

Handlers (``handlers.py``) are thin: they gather observed state through ``kube.py`` (the one
module that talks to the Kubernetes API) and apply decisions made by the pure modules
``reconcile``, ``policy``, ``outcome``, ``podspec`` and ``networkpolicy``.
"""
