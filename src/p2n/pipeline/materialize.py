"""Plan -> an nbformat v4 notebook that reproduces the claim with the runner image's stack only.

The notebook follows the papermill convention (a cell tagged ``parameters`` holding ``seed`` and
``run_id``), seeds itself from the run, loads the data, builds the model, evaluates it with the
plan's protocol and reports through a small helper cell: ``metric_update`` events appended to
``P2N_EVENTS_PATH`` and the final value written to ``P2N_METRICS_PATH``. It imports nothing beyond
numpy, pandas, scipy and scikit-learn.

Rendering is a pure function of the plan: cell ids are positional, dictionaries are sorted and no
clock or random value is read, so the same plan always gives byte-identical notebook bytes (and the
same sha256), which is what lets a plan's notebook be cached and audited.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from typing import Any, cast

import nbformat

from p2n import telemetry
from p2n.pipeline import planning

NOTEBOOK_MEDIA_TYPE = "application/x-ipynb+json"

_HELPER_CELL = """\
# P2N helper: report metrics to the runner (events as JSON lines, final values as metrics.json).
import json
import os
import time


def p2n_emit(event, data):
    path = os.environ.get("P2N_EVENTS_PATH")
    if path:
        with open(path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps({"event": event, "data": data}) + "\\n")


def p2n_metric(name, value, split="test", step=0):
    p2n_emit("metric_update", {"metric": name, "split": split, "value": float(value), "step": int(step),
                               "ts": time.time()})


def p2n_write_metrics(values):
    path = os.environ.get("P2N_METRICS_PATH", "metrics.json")
    with open(path, "w", encoding="utf-8") as stream:
        json.dump({k: float(v) for k, v in values.items()}, stream, indent=2, sort_keys=True)
"""

_SEED_CELL = """\
import os
import random

import numpy as np

# The runner passes the run's seed; the parameters cell holds the plan's default.
_env_seed = os.environ.get("P2N_SEED", "")
seed = int(_env_seed) if _env_seed.isdigit() else int(seed)
random.seed(seed)
np.random.seed(seed)
print(f"seed = {seed}")
"""

# scikit-learn scorer per metric: (binary scorer, multiclass scorer, sign to get the metric back).
_SCORERS: dict[str, tuple[str, str, float]] = {
    "accuracy": ("accuracy", "accuracy", 1.0),
    "error_rate": ("accuracy", "accuracy", 1.0),
    "balanced_accuracy": ("balanced_accuracy", "balanced_accuracy", 1.0),
    "f1": ("f1", "f1_macro", 1.0),
    "precision": ("precision", "precision_macro", 1.0),
    "recall": ("recall", "recall_macro", 1.0),
    "auc": ("roc_auc", "roc_auc_ovr", 1.0),
    "log_loss": ("neg_log_loss", "neg_log_loss", -1.0),
    "r2": ("r2", "r2", 1.0),
    "rmse": ("neg_root_mean_squared_error", "neg_root_mean_squared_error", -1.0),
    "mse": ("neg_mean_squared_error", "neg_mean_squared_error", -1.0),
    "mae": ("neg_mean_absolute_error", "neg_mean_absolute_error", -1.0),
}

# Leave-one-out scores pooled predictions (a single-sample fold has no R^2 or F1 of its own).
_LOO_SCORES: dict[str, str] = {
    "accuracy": "skm.accuracy_score(y, predicted)",
    "error_rate": "skm.accuracy_score(y, predicted)",
    "balanced_accuracy": "skm.balanced_accuracy_score(y, predicted)",
    "f1": "skm.f1_score(y, predicted, average=average)",
    "precision": "skm.precision_score(y, predicted, average=average)",
    "recall": "skm.recall_score(y, predicted, average=average)",
    "r2": "skm.r2_score(y, predicted)",
    "rmse": "skm.root_mean_squared_error(y, predicted)",
    "mse": "skm.mean_squared_error(y, predicted)",
    "mae": "skm.mean_absolute_error(y, predicted)",
}


def notebook(plan: planning.ReproductionPlan) -> dict[str, Any]:
    """The notebook as an nbformat v4 JSON document (validated against the nbformat schema)."""
    sources = [
        ("markdown", _intro(plan), {}),
        ("code", _parameters(plan), {"tags": ["parameters"]}),
        ("code", _SEED_CELL, {}),
        ("code", _HELPER_CELL, {}),
        ("code", _data_cell(plan), {}),
        ("code", _model_cell(plan), {}),
        ("code", _evaluation_cell(plan), {}),
    ]
    cells = [_cell(index, kind, source, metadata) for index, (kind, source, metadata) in enumerate(sources)]
    document: dict[str, Any] = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "p2n": {"plan_hash": plan.plan_hash, "env_hash": plan.env_hash, "claim_id": plan.claim.id},
        },
        "cells": cells,
    }
    _validate(document)
    return document


def _cell(index: int, kind: str, source: str, metadata: dict[str, Any]) -> dict[str, Any]:
    # Positional ids keep the bytes stable (nbformat would otherwise draw random ones).
    cell: dict[str, Any] = {
        "id": f"p2n-{index:02d}",
        "cell_type": kind,
        "metadata": metadata,
        "source": source,
    }
    if kind == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


_validate = cast(Callable[[Any], None], nbformat.validate)


@telemetry.traced("p2n.plan.materialize")
def notebook_bytes(plan: planning.ReproductionPlan) -> bytes:
    """The notebook as stored and run: byte-identical for equal plans (nbformat's own JSON layout)."""
    text = json.dumps(notebook(plan), indent=1, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def _py(value: Any) -> str:
    """A Python literal for a plan value (repr is stable for str, int, float, bool, None, tuples)."""
    return repr(value)


def _intro(plan: planning.ReproductionPlan) -> str:
    claim = plan.claim
    notes = "".join(f"\n- {note}" for note in plan.notes)
    return textwrap.dedent(
        f"""\
        # Reproducing claim `{claim.id}`

        > {claim.citation.quote}

        (page {claim.citation.page}) — claimed **{claim.metric} = {claim.value:g}**.

        - data set: {plan.summary().dataset}
        - model: {plan.summary().model}
        - protocol: {plan.protocol.description}
        - plan hash: `{plan.plan_hash}`
        """
    ) + (f"\nPlanner notes:{notes}\n" if notes else "")


def _parameters(plan: planning.ReproductionPlan) -> str:
    return (
        f"seed = {_py(plan.seed)}\n"
        f'run_id = "local"\n'
        f"metric = {_py(plan.metric)}\n"
        f"claimed = {_py(plan.target)}\n"
    )


def _data_cell(plan: planning.ReproductionPlan) -> str:
    dataset = plan.dataset
    if dataset.source == "sklearn":
        lines = [
            "from sklearn import datasets",
            "",
            f"bunch = datasets.{dataset.loader}(as_frame=True)",
            "X = bunch.data",
            "y = bunch.target",
        ]
        if dataset.features:
            lines.append(f"X = X[{_py(list(dataset.features))}]")
    else:
        lines = [
            "import base64",
            "import gzip",
            "import hashlib",
            "import io",
            "",
            "import pandas as pd",
            "",
            f"DATA = {_py(dataset.data_gzip_base64)}",
            "raw = gzip.decompress(base64.b64decode(DATA))",
            f"assert hashlib.sha256(raw).hexdigest() == {_py(dataset.sha256)}, 'data set changed'",
            "frame = pd.read_csv(io.BytesIO(raw)).dropna()",
            f"y = frame.pop({_py(dataset.target)})",
            "X = frame.select_dtypes('number')",
        ]
        if dataset.features:
            lines.append(f"X = X[{_py(list(dataset.features))}]")
    lines.append('print(f"{X.shape[0]} samples, {X.shape[1]} features")')
    return "\n".join(lines) + "\n"


def _model_cell(plan: planning.ReproductionPlan) -> str:
    model = plan.model
    params: dict[str, Any] = dict(model.params)
    if "hidden_layer_sizes" in params:
        params["hidden_layer_sizes"] = tuple(int(p) for p in str(params["hidden_layer_sizes"]).split(","))
    lines = [f"from {model.module} import {model.estimator}"]
    if "standardize" in plan.preprocessing:
        lines += [
            "from sklearn.pipeline import make_pipeline",
            "from sklearn.preprocessing import StandardScaler",
        ]
    lines += ["", f"params = {_py(params)}"]
    if model.seeded:
        lines.append('params["random_state"] = seed')
    if "standardize" in plan.preprocessing:
        lines.append(f"model = make_pipeline(StandardScaler(), {model.estimator}(**params))")
    else:
        lines.append(f"model = {model.estimator}(**params)")
    lines.append("model")
    return "\n".join(lines) + "\n"


def _evaluation_cell(plan: planning.ReproductionPlan) -> str:
    binary, multiclass, sign = _SCORERS[plan.metric]
    protocol = plan.protocol
    head = [
        "import numpy as np",
        "from sklearn import metrics as skm",
        "from sklearn import model_selection as ms",
        "",
        f"scoring = {_py(binary)} if len(np.unique(y)) == 2 else {_py(multiclass)}"
        if plan.dataset.task == "classification"
        else f"scoring = {_py(binary)}",
        "scorer = skm.get_scorer(scoring)",
        "",
    ]
    stratify = "y" if protocol.stratified else "None"
    if protocol.kind == "resubstitution":
        body = ["model.fit(X, y)", "scores = [scorer(model, X, y)]", 'split = "train"']
    elif protocol.kind == "holdout":
        body = [
            "X_train, X_test, y_train, y_test = ms.train_test_split(",
            f"    X, y, test_size={_py(protocol.test_size)}, random_state=seed, stratify={stratify}",
            ")",
            "model.fit(X_train, y_train)",
            "scores = [scorer(model, X_test, y_test)]",
            'split = "test"',
        ]
    elif protocol.kind == "loo":
        sign = 1.0
        body = [
            "# One prediction per left-out sample, scored once over all of them.",
            "predicted = ms.cross_val_predict(model, X, y, cv=ms.LeaveOneOut())",
            'average = "binary" if len(np.unique(y)) == 2 else "macro"',
            f"scores = [{_LOO_SCORES[plan.metric]}]",
            'split = "test"',
        ]
    else:
        splitter = "StratifiedKFold" if protocol.stratified else "KFold"
        if protocol.kind == "repeated_kfold":
            cv = (
                f"ms.Repeated{splitter}(n_splits={protocol.folds}, n_repeats={protocol.repeats}, "
                "random_state=seed)"
            )
        else:
            cv = f"ms.{splitter}(n_splits={protocol.folds}, shuffle=True, random_state=seed)"
        body = [
            f"cv = {cv}",
            "scores = list(ms.cross_val_score(model, X, y, cv=cv, scoring=scorer))",
            'split = "test"',
        ]
    transform = "1.0 - s" if plan.metric == "error_rate" else f"{sign!r} * s"
    tail = [
        "",
        f"scores = [{transform} for s in scores]",
        "for step, value in enumerate(scores):",
        '    p2n_metric(metric, value, split="fold" if len(scores) > 1 else split, step=step)',
        "observed = float(np.mean(scores))",
        "p2n_metric(metric, observed, split=split, step=len(scores))",
        "p2n_write_metrics({metric: observed})",
        'print(f"{metric}: observed {observed:.6f}, claimed {claimed}")',
    ]
    return "\n".join(head + body + tail) + "\n"
