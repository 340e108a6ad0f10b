"""Trains the two tiny iris models the proxy's integration test and benchmark
serve with MLServer, and writes their MLServer model settings.

usage: train.py OUTDIR
  OUTDIR/logreg/iris   LogisticRegression (model A, the primary)
  OUTDIR/tree/iris     DecisionTree of depth 1 (model B, the shadow: it can
                       only tell two of the three species apart, so the two
                       models disagree on a known share of inputs)
  OUTDIR/wide/iris     LogisticRegression on 10 synthetic features, for the
                       benchmark's realistic 10-feature payload
Both are served under the model name "iris" with integer class labels. The
iris data ships inside scikit-learn: nothing is downloaded.
"""

import json
import os
import sys

import joblib
from sklearn.datasets import load_iris, make_classification
from sklearn.linear_model import LogisticRegression
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


def main() -> None:
    outdir = sys.argv[1]
    x, y = load_iris(return_X_y=True)
    write_model(outdir, "logreg", LogisticRegression(max_iter=500).fit(x, y))
    write_model(outdir, "tree", DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y))
    wx, wy = make_classification(n_samples=500, n_features=10, n_informative=6, n_classes=3, random_state=0)
    write_model(outdir, "wide", LogisticRegression(max_iter=500).fit(wx, wy))


if __name__ == "__main__":
    main()
