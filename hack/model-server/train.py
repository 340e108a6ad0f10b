"""Trains the two tiny iris models the proxy's integration test and benchmark
serve with MLServer, and writes their MLServer model settings.

usage: train.py OUTDIR
  OUTDIR/logreg/iris   LogisticRegression (model A, the primary)
  OUTDIR/tree/iris     DecisionTree of depth 1 (model B, the shadow: it can
                       only tell two of the three species apart, so the two
                       models disagree on a known share of inputs)
  OUTDIR/wide/iris     LogisticRegression on 10 synthetic features, for the
                       benchmark's realistic 10-feature payload
  OUTDIR/logreg-c/iris LogisticRegression with a stronger penalty (C=0.05): a
                       second good model that agrees with logreg on 145 of
                       the 150 iris rows (a healthy new version to roll to)
  OUTDIR/erring/iris   a model that really fails on a share of realistic
                       inputs (a bad new version to roll back from): the
                       Pipeline StandardScaler -> FunctionTransformer(log1p)
                       -> LogisticRegression, the classifier fitted on the
                       scaled features and the log step put in afterwards
                       without refitting. log1p of a feature more than one
                       standard deviation below its mean is NaN, and
                       predict() then raises "Input X contains NaN", which
                       MLServer answers with HTTP 500. 73 of the 150 iris
                       rows (49%) fail as 1-row requests: all 50 setosa
                       (petal length under 2.0 cm, e.g. [5.1, 3.5, 1.4,
                       0.2]), 16 versicolor, 7 virginica; the other rows get
                       a class label (e.g. [6.4, 3.2, 4.5, 1.5] -> 1). Only
                       scikit-learn and numpy objects are pickled, so
                       MLServer's sklearn runtime loads it with no code of
                       ours.
All are served under the model name "iris" with integer class labels. The
iris data ships inside scikit-learn: nothing is downloaded.
"""

import json
import os
import sys

import joblib
import numpy as np
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.tree import DecisionTreeClassifier


def write_model(outdir: str, kind: str, model) -> None:
    folder = os.path.join(outdir, kind, "iris")
    os.makedirs(folder, exist_ok=True)
    joblib.dump(model, os.path.join(folder, "model.joblib"))
    settings = {
        "name": "iris",
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": kind},
    }
    with open(os.path.join(folder, "model-settings.json"), "w") as f:
        json.dump(settings, f)


def erring_model(x, y) -> Pipeline:
    """Fails (NaN, so predict raises) on rows with any feature more than one
    standard deviation below its mean; see the module docstring."""
    scaler = StandardScaler().fit(x)
    classifier = LogisticRegression(max_iter=500).fit(scaler.transform(x), y)
    # Assembled from fitted steps, never fitted as a whole: the log step is
    # what the classifier was not trained with. validate=False keeps NaN out
    # of the transformer's own checks, so the classifier's predict raises.
    log = FunctionTransformer(np.log1p, validate=False).fit(scaler.transform(x))
    return Pipeline([("scale", scaler), ("log", log), ("classify", classifier)])


def main() -> None:
    outdir = sys.argv[1]
    x, y = load_iris(return_X_y=True)
    write_model(outdir, "logreg", LogisticRegression(max_iter=500).fit(x, y))
    write_model(outdir, "tree", DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y))
    wx, wy = make_classification(n_samples=500, n_features=10, n_informative=6, n_classes=3, random_state=0)
    write_model(outdir, "wide", LogisticRegression(max_iter=500).fit(wx, wy))
    write_model(outdir, "logreg-c", LogisticRegression(C=0.05, max_iter=500).fit(x, y))
    write_model(outdir, "erring", erring_model(x, y))


if __name__ == "__main__":
    main()
