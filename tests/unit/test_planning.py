"""The offline planner: what it reads from a claim, what it refuses, overrides, stable hashes."""

from __future__ import annotations

import base64
import gzip
import hashlib

import pytest
from tests.unit.pipeline_claims import make_claim

from p2n import errors, resources
from p2n.pipeline import planning


def claim(quote: str, **fields: object) -> resources.Claim:
    return make_claim(quote, **{"id": "c-1", **fields})


def plan_of(c: resources.Claim, **kwargs: object) -> planning.ReproductionPlan:
    return planning.build(c, planning.draft_offline(c), provider="offline", **kwargs)


def test_feature_subset_from_the_quote() -> None:
    c = claim("Using only the petal features (petal length and petal width), LDA attains 96.0%.", value=0.96)
    plan = plan_of(c)
    assert plan.dataset.features == ("petal length (cm)", "petal width (cm)")
    assert plan.model.estimator == "LinearDiscriminantAnalysis"
    assert plan.protocol.kind == "resubstitution"


def test_knn_with_and_without_z_scoring() -> None:
    scored = plan_of(
        claim(
            "a k-NN (k = 5) with z-scoring reaches 96.1%",
            dataset="wine",
            model="k-NN",
            protocol="10-fold cross-validation",
        )
    )
    assert scored.preprocessing == ("standardize",)
    assert scored.model.params == {"n_neighbors": 5}
    assert scored.protocol.kind == "kfold"
    assert scored.protocol.folds == 10
    assert scored.protocol.stratified
    raw = plan_of(
        claim(
            "k-NN (k = 5, raw features) 67.5",
            dataset="wine",
            model="k-NN (k = 5, raw features)",
            protocol="10-fold cross-validation",
        )
    )
    assert raw.preprocessing == ()


@pytest.mark.parametrize(
    ("protocol", "kind", "extra"),
    [
        ("resubstitution", "resubstitution", {}),
        ("hold-out, 30% test, stratified", "holdout", {"test_size": 0.3, "stratified": True}),
        ("10-fold cross-validation", "kfold", {"folds": 10}),
        ("repeated 5-fold cross-validation (3 repeats)", "repeated_kfold", {"folds": 5, "repeats": 3}),
        ("leave-one-out cross-validation", "loo", {}),
    ],
)
def test_protocols(protocol: str, kind: str, extra: dict[str, object]) -> None:
    plan = plan_of(claim("q", protocol=protocol))
    assert plan.protocol.kind == kind
    for name, value in extra.items():
        assert getattr(plan.protocol, name) == value


def test_model_families_per_task() -> None:
    ridge = plan_of(
        claim(
            "Ridge (alpha = 0.1) gives R^2 = 0.483",
            metric="r2",
            value=0.483,
            unit="",
            dataset="diabetes",
            model="Ridge (alpha = 0.1)",
            protocol="10-fold cross-validation",
        )
    )
    assert (ridge.model.estimator, ridge.model.params, ridge.dataset.task) == (
        "Ridge",
        {"alpha": 0.1},
        "regression",
    )
    assert ridge.protocol.stratified is False
    forest = plan_of(claim("a random forest of 200 trees", model="random forest"))
    assert forest.model.estimator == "RandomForestClassifier"
    assert forest.model.params == {"n_estimators": 200}
    assert forest.model.seeded


def test_gpu_papers_are_refused_with_a_typed_error() -> None:
    c = claim(
        "ResNet-152 achieves a top-5 error of 4.49%",
        metric="top5_error",
        value=0.0449,
        dataset="imagenet",
        model="ResNet-152",
        protocol=None,
        higher_is_better=False,
    )
    draft = planning.draft_offline(c, document_text="We train on 8 NVIDIA V100 GPUs.")
    with pytest.raises(errors.GpuRequested):
        planning.build(c, draft, provider="offline")
    with pytest.raises(errors.UnsupportedPlan):
        planning.build(c, planning.draft_offline(c), provider="offline")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dataset": "mnist"}, "data set 'mnist'"),
        ({"model": "a transformer"}, "model 'a transformer'"),
        ({"protocol": None}, "states no evaluation protocol"),
        ({"metric": "r2"}, "needs a regression task"),
        ({"metric": "auc", "protocol": "leave-one-out"}, "undefined per leave-one-out"),
    ],
)
def test_unsupported_claims_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(errors.UnsupportedPlan, match=message):
        plan_of(claim("q", **fields))


def test_overrides_are_honoured() -> None:
    spec = resources.PlanSpec(
        paper_ref=resources.ObjectRef(name="p"),
        claim_id="c-1",
        overrides=resources.PlanOverrides(
            model="k-NN", protocol="5-fold cross-validation", folds=3, hyperparameters={"n_neighbors": "7"}
        ),
        timeout_minutes=5,
    )
    plan = plan_of(claim("q"), spec=spec)
    assert plan.model.estimator == "KNeighborsClassifier"
    assert plan.model.params == {"n_neighbors": 7}
    assert plan.protocol.folds == 3
    assert plan.timeout_seconds == 300
    bad = spec.model_copy(update={"overrides": resources.PlanOverrides(hyperparameters={"bogus": 1})})
    with pytest.raises(errors.UnsupportedPlan, match="bogus"):
        plan_of(claim("q"), spec=bad)


def test_hashes_are_stable_and_sensitive() -> None:
    a = plan_of(claim("q"))
    b = plan_of(claim("q"))
    assert a.plan_hash == b.plan_hash
    assert a.plan_hash.startswith("sha256:")
    assert plan_of(claim("q"), seed=1).plan_hash != a.plan_hash
    assert a.env_hash == b.env_hash
    summary = a.summary()
    assert (summary.dataset, summary.metric, summary.target) == ("iris", "accuracy", 0.98)


def test_csv_data_set_is_fetched_checked_and_embedded() -> None:
    csv = b"a,b,label\n1,2,0\n3,4,1\n"
    paper = resources.PaperSpec(
        source=resources.PaperSource(text="x"),
        datasets=[
            resources.DatasetRef(name="toy", url="https://example.test/toy.csv?sig=secret", target="label")
        ],
    )
    plan = plan_of(claim("q", dataset="toy"), paper=paper, fetch=lambda url: csv)
    assert plan.dataset.source == "csv"
    assert plan.dataset.sha256 == hashlib.sha256(csv).hexdigest()
    assert plan.dataset.url == "https://example.test/toy.csv"
    assert gzip.decompress(base64.b64decode(plan.dataset.data_gzip_base64 or "")) == csv
    wrong = paper.model_copy(update={"datasets": [paper.datasets[0].model_copy(update={"target": "nope"})]})
    with pytest.raises(errors.UnsupportedPlan, match="no column 'nope'"):
        plan_of(claim("q", dataset="toy"), paper=wrong, fetch=lambda url: csv)
