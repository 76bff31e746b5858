"""Papers from http(s) and s3 URLs, CSV data sets given by URL, and the notebook's protocol variants,
each executed in the local sandbox and checked against scikit-learn computed in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets, linear_model, metrics, model_selection, tree

from p2n import errors, resources, sandbox, settings, storage
from p2n.pipeline import extract, ingest, materialize, planning
from p2n.storage import s3

pytestmark = pytest.mark.pipeline

PAPERS = Path(__file__).resolve().parents[2] / "examples" / "papers"


def test_paper_over_http(file_server: tuple[Path, str], offline_settings: settings.Settings) -> None:
    root, base = file_server
    (root / "wine.pdf").write_bytes((PAPERS / "wine-knn.pdf").read_bytes())
    (root / "my paper (v2).md").write_bytes((PAPERS / "iris-lda.md").read_bytes())
    store = storage.LocalStorage(offline_settings.artifacts_dir)
    source = resources.PaperSource(url=f"{base}/my%20paper%20(v2).md")
    stored = ingest.ingest(source, settings=offline_settings, store=store, namespace="default", paper="p")
    assert stored.uri is not None
    assert stored.uri.endswith("/papers/default/p/document/my_paper_v2_.md")
    data = ingest.read_location(f"{base}/wine.pdf?token=abc", settings=offline_settings)
    document = ingest.parse(data, filename=ingest.filename_of(f"{base}/wine.pdf?token=abc"))
    assert (document.filename, document.page_count) == ("wine.pdf", 3)
    with pytest.raises(errors.NotFound):
        ingest.read_location(f"{base}/absent.pdf", settings=offline_settings)
    small = offline_settings.model_copy(update={"max_document_bytes": 1024})
    with pytest.raises(errors.PayloadTooLarge):
        ingest.read_location(f"{base}/wine.pdf", settings=small)


def test_paper_source_url_from_s3_is_ingested_and_stored(
    s3_settings: settings.Settings, s3_storage: s3.S3Storage
) -> None:
    uri = s3_storage.put_bytes("uploads/iris-lda.md", (PAPERS / "iris-lda.md").read_bytes(), "text/markdown")
    source = resources.PaperSource(url=uri)
    document = ingest.ingest(
        source, settings=s3_settings, store=s3_storage, namespace="default", paper="iris"
    )
    assert document.title == "Linear Discriminant Analysis on the Iris Flowers"
    assert document.uri is not None
    assert document.uri.startswith("s3://")
    assert "papers/default/iris/document/iris-lda.md" in document.uri
    assert s3_storage.get_bytes(document.uri) == (PAPERS / "iris-lda.md").read_bytes()


def run(plan: planning.ReproductionPlan, out: Path) -> float:
    notebook = out / "notebook.ipynb"
    notebook.write_bytes(materialize.notebook_bytes(plan))
    result = sandbox.run_notebook(
        notebook, out / "run", run_id="t", seed=plan.seed, target_metric=plan.metric
    )
    assert result.outcome == "succeeded", result.error
    assert result.metrics is not None
    return float(result.metrics[plan.metric])


def test_csv_data_set_by_url(
    file_server: tuple[Path, str], offline_settings: settings.Settings, tmp_path: Path
) -> None:
    root, base = file_server
    frame = datasets.load_iris(as_frame=True).frame.rename(columns={"target": "species"})
    frame.to_csv(root / "flowers.csv", index=False)
    paper = resources.PaperSpec(
        source=resources.PaperSource(text="x"),
        datasets=[resources.DatasetRef(name="flowers", url=f"{base}/flowers.csv", target="species")],
    )
    text = b"# Flowers\n\nOn the flowers data, LDA achieved a training accuracy of 98.0% (resubstitution)."
    document = ingest.parse(text, filename="flowers.md")
    (claim,) = extract.extract_claims(document, settings=offline_settings, dataset_names=["flowers"])
    assert claim.dataset == "flowers"
    plan = planning.plan(claim, settings=offline_settings, paper=paper, document_text=document.text)
    assert plan.dataset.source == "csv"
    assert plan.dataset.sha256 is not None
    assert run(plan, tmp_path) == pytest.approx(0.98)


def variant(tmp_path: Path, **fields: object) -> float:
    base: dict[str, object] = {
        "id": "v-1",
        "metric": "accuracy",
        "value": 0.9,
        "unit": "",
        "decimals": 2,
        "higher_is_better": True,
        "dataset": "iris",
        "citation": resources.Citation(page=1, quote=str(fields.pop("quote", "q"))),
    }
    base.update(fields)
    c = resources.Claim(**base)
    return run(planning.build(c, planning.draft_offline(c), provider="offline"), tmp_path)


def test_leave_one_out_regression(tmp_path: Path) -> None:
    observed = variant(
        tmp_path,
        metric="rmse",
        value=55.0,
        higher_is_better=False,
        dataset="diabetes",
        model="ridge (alpha = 0.5)",
        protocol="leave-one-out",
    )
    X, y = datasets.load_diabetes(return_X_y=True)
    predicted = model_selection.cross_val_predict(
        linear_model.Ridge(alpha=0.5), X, y, cv=model_selection.LeaveOneOut()
    )
    assert observed == pytest.approx(metrics.root_mean_squared_error(y, predicted))


def test_repeated_stratified_kfold_with_a_seeded_tree(tmp_path: Path) -> None:
    observed = variant(
        tmp_path,
        dataset="wine",
        model="decision tree (max depth 3)",
        protocol="repeated 5-fold cross-validation (2 repeats)",
    )
    X, y = datasets.load_wine(return_X_y=True)
    cv = model_selection.RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    expected = model_selection.cross_val_score(
        tree.DecisionTreeClassifier(max_depth=3, random_state=0), X, y, cv=cv
    )
    assert observed == pytest.approx(float(np.mean(expected)))
