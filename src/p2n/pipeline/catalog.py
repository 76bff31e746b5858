"""What the offline planner can reproduce on a CPU with the runner image's stack, and nothing more.

Bundled scikit-learn data sets, the model families with their scikit-learn estimators per task,
the metrics with how to compute them, and the package set of the runner image. A claim outside
this catalog is refused with a typed error by the planner; it is never quietly swapped for
something that happens to be in here.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Task = Literal["classification", "regression"]
Scalar = str | int | float | bool | None


class BundledDataset(NamedTuple):
    loader: str
    task: Task
    features: tuple[str, ...]


BUNDLED_DATASETS: dict[str, BundledDataset] = {
    "iris": BundledDataset(
        "load_iris",
        "classification",
        ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"),
    ),
    "wine": BundledDataset(
        "load_wine",
        "classification",
        (
            "alcohol",
            "malic_acid",
            "ash",
            "alcalinity_of_ash",
            "magnesium",
            "total_phenols",
            "flavanoids",
            "nonflavanoid_phenols",
            "proanthocyanins",
            "color_intensity",
            "hue",
            "od280/od315_of_diluted_wines",
            "proline",
        ),
    ),
    "digits": BundledDataset("load_digits", "classification", ()),
    "breast_cancer": BundledDataset(
        "load_breast_cancer",
        "classification",
        tuple(
            f"{kind} {part}" if kind != "error" else f"{part} error"
            for kind in ("mean", "error", "worst")
            for part in (
                "radius",
                "texture",
                "perimeter",
                "area",
                "smoothness",
                "compactness",
                "concavity",
                "concave points",
                "symmetry",
                "fractal dimension",
            )
        ),
    ),
    "diabetes": BundledDataset(
        "load_diabetes", "regression", ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
    ),
    "linnerud": BundledDataset("load_linnerud", "regression", ("Chins", "Situps", "Jumps")),
}

# Feature names papers write differently from scikit-learn.
FEATURE_ALIASES: dict[str, dict[str, str]] = {
    "diabetes": {"body mass index": "bmi", "blood pressure": "bp"},
}


class Estimator(NamedTuple):
    module: str
    name: str
    params: tuple[tuple[str, Scalar], ...] = ()
    seeded: bool = False  # takes random_state


ESTIMATORS: dict[str, dict[Task, Estimator]] = {
    "lda": {"classification": Estimator("sklearn.discriminant_analysis", "LinearDiscriminantAnalysis")},
    "qda": {"classification": Estimator("sklearn.discriminant_analysis", "QuadraticDiscriminantAnalysis")},
    "logistic_regression": {
        "classification": Estimator("sklearn.linear_model", "LogisticRegression", (("max_iter", 5000),))
    },
    "linear_regression": {"regression": Estimator("sklearn.linear_model", "LinearRegression")},
    "ridge": {
        "regression": Estimator("sklearn.linear_model", "Ridge"),
        "classification": Estimator("sklearn.linear_model", "RidgeClassifier"),
    },
    "lasso": {"regression": Estimator("sklearn.linear_model", "Lasso", (("max_iter", 10000),))},
    "linear_svm": {
        "classification": Estimator("sklearn.svm", "SVC", (("kernel", "linear"),)),
        "regression": Estimator("sklearn.svm", "SVR", (("kernel", "linear"),)),
    },
    "kernel_svm": {
        "classification": Estimator("sklearn.svm", "SVC", (("kernel", "rbf"),)),
        "regression": Estimator("sklearn.svm", "SVR", (("kernel", "rbf"),)),
    },
    "knn": {
        "classification": Estimator("sklearn.neighbors", "KNeighborsClassifier"),
        "regression": Estimator("sklearn.neighbors", "KNeighborsRegressor"),
    },
    "naive_bayes": {"classification": Estimator("sklearn.naive_bayes", "GaussianNB")},
    "decision_tree": {
        "classification": Estimator("sklearn.tree", "DecisionTreeClassifier", seeded=True),
        "regression": Estimator("sklearn.tree", "DecisionTreeRegressor", seeded=True),
    },
    "random_forest": {
        "classification": Estimator("sklearn.ensemble", "RandomForestClassifier", seeded=True),
        "regression": Estimator("sklearn.ensemble", "RandomForestRegressor", seeded=True),
    },
    "gradient_boosting": {
        "classification": Estimator("sklearn.ensemble", "GradientBoostingClassifier", seeded=True),
        "regression": Estimator("sklearn.ensemble", "GradientBoostingRegressor", seeded=True),
    },
    "mlp": {
        "classification": Estimator(
            "sklearn.neural_network", "MLPClassifier", (("max_iter", 2000),), seeded=True
        ),
        "regression": Estimator("sklearn.neural_network", "MLPRegressor", (("max_iter", 2000),), seeded=True),
    },
}
MODEL_FAMILIES: tuple[str, ...] = tuple(ESTIMATORS)

# Hyper-parameters a paper may state, per family, with the type they are parsed to.
HYPERPARAMETERS: dict[str, dict[str, type]] = {
    "knn": {"n_neighbors": int, "weights": str, "p": int},
    "ridge": {"alpha": float},
    "lasso": {"alpha": float},
    "logistic_regression": {"C": float, "max_iter": int, "penalty": str},
    "linear_svm": {"C": float},
    "kernel_svm": {"C": float, "gamma": str, "kernel": str, "degree": int},
    "decision_tree": {"max_depth": int, "min_samples_leaf": int, "criterion": str},
    "random_forest": {"n_estimators": int, "max_depth": int, "max_features": str},
    "gradient_boosting": {"n_estimators": int, "learning_rate": float, "max_depth": int},
    "mlp": {"hidden_layer_sizes": str, "alpha": float, "max_iter": int},
    "lda": {"solver": str},
    "qda": {"reg_param": float},
    "naive_bayes": {"var_smoothing": float},
    "linear_regression": {"fit_intercept": bool},
}

MetricName = Literal[
    "accuracy",
    "error_rate",
    "balanced_accuracy",
    "f1",
    "auc",
    "precision",
    "recall",
    "log_loss",
    "r2",
    "rmse",
    "mse",
    "mae",
]
CLASSIFICATION_METRICS: frozenset[str] = frozenset(
    {"accuracy", "error_rate", "balanced_accuracy", "f1", "auc", "precision", "recall", "log_loss"}
)
REGRESSION_METRICS: frozenset[str] = frozenset({"r2", "rmse", "mse", "mae"})

ProtocolKind = Literal["resubstitution", "holdout", "kfold", "repeated_kfold", "loo"]

# The runner image's scientific stack (pyproject's `runner` extra): what a notebook may import.
RUNNER_PACKAGES: dict[str, str] = {
    "python": "3.11",
    "numpy": ">=2.0",
    "pandas": ">=2.2",
    "scipy": ">=1.14",
    "scikit-learn": ">=1.6",
    "matplotlib": ">=3.9",
}


def task_of_metric(metric: str) -> Task | None:
    if metric in CLASSIFICATION_METRICS:
        return "classification"
    if metric in REGRESSION_METRICS:
        return "regression"
    return None
