"""Trains a small scikit-learn iris classifier, logs it to an MLflow tracking
server as a real training pipeline would, and registers it as a new version
of a registered model. The MLflow tests (e2e/mlflow.test.ts) use it through
hack/localcluster/mlflow-server.ts register().

usage: register.py --name MODEL [--kind good|bad] [--alias ALIAS]
                   [--git-commit SHA] [--experiment NAME]
  environment: MLFLOW_TRACKING_URI, and MLFLOW_TRACKING_USERNAME and
  MLFLOW_TRACKING_PASSWORD for a server with basic auth.

  --kind good  LogisticRegression (accuracy about 0.97 on iris)
  --kind bad   DecisionTree of depth 1: it can tell only two of the three
               species apart (accuracy 0.667), a candidate that fails an
               accuracy gate; MLServer's sklearn runtime still loads it.

What the run gets, which `kubectl modelops import mlflow` turns into a
ModelVersion (operator/cli/import-mlflow.ts):
  - the model, sklearn flavor, with a column signature inferred from the
    training frame (sepal_length.. petal_width: double -> species: long);
  - metrics accuracy and log_loss, params;
  - a dataset input "iris" (with MLflow's digest);
  - the tag mlflow.source.git.commit;
  - the artifact modelops-reference.json: the reference distributions in the
    shape `npm run drift:reference` (hack/drift/reference-lib.ts) computes,
    {sampleSize, features: [...], predictions: [...]}, by the same rules
    (10 quantile buckets with NumPy's linear quantiles, edges and shares
    rounded to 6 significant digits, the rounding error folded into the
    largest share; the predicted species as a categorical output).
Prints one JSON line: {name, version, runId, experimentId, modelUri}.
"""

import argparse
import json
import subprocess
import sys
from collections import Counter

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.tree import DecisionTreeClassifier

# The artifact `kubectl modelops import mlflow` reads spec.reference from
# (REFERENCE_ARTIFACT in operator/cli/import-mlflow.ts).
REFERENCE_ARTIFACT = "modelops-reference.json"
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
DIGITS = 6


def round_to(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def normalised(counts: list[int]) -> list[float]:
    total = sum(counts)
    shares = [round_to(c / total) for c in counts]
    error = 1 - sum(shares)
    largest = shares.index(max(shares))
    shares[largest] = round_to(shares[largest] + error)
    return shares


def numeric_reference(name: str, values: np.ndarray, buckets: int = 10) -> dict:
    values = np.sort(values.astype(float))
    quantiles = [float(np.quantile(values, i / buckets)) for i in range(buckets + 1)]
    edges = sorted({round_to(q) for q in quantiles})
    if len(edges) == 1:
        return {"name": name, "type": "numeric", "edges": [edges[0] - 0.5, edges[0] + 0.5], "fractions": [1]}
    counts = [0] * (len(edges) - 1)
    last = len(edges) - 2
    for v in values:
        # Bucket i holds (edges[i], edges[i+1]]; the outer buckets take the rest.
        bucket = next((i for i in range(last) if v <= edges[i + 1]), last)
        counts[bucket] += 1
    return {"name": name, "type": "numeric", "edges": edges, "fractions": normalised(counts)}


def categorical_reference(name: str, values) -> dict:
    counts = sorted(Counter(str(v) for v in values).items(), key=lambda kv: (-kv[1], kv[0]))
    shares = normalised([c for _, c in counts])
    return {"name": name, "type": "categorical", "categories": {k: shares[i] for i, (k, _) in enumerate(counts)}}


def reference(x: pd.DataFrame, predictions: pd.Series) -> dict:
    return {
        "sampleSize": len(x),
        "features": [numeric_reference(c, x[c].to_numpy()) for c in x.columns],
        "predictions": [categorical_reference(predictions.name, predictions.to_numpy())],
    }


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
    except Exception:
        return "0" * 40


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True, help="registered model name")
    parser.add_argument("--kind", choices=["good", "bad"], default="good")
    parser.add_argument("--alias", default="")
    parser.add_argument("--git-commit", default="")
    parser.add_argument("--experiment", default="modelops-e2e")
    args = parser.parse_args()

    iris = load_iris()
    x = pd.DataFrame(iris.data, columns=FEATURES)
    y = pd.Series(iris.target, name="species")
    if args.kind == "good":
        params = {"model": "LogisticRegression", "max_iter": 500}
        model = LogisticRegression(max_iter=500).fit(x, y)
    else:
        params = {"model": "DecisionTreeClassifier", "max_depth": 1}
        model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(x, y)
    predictions = pd.Series(model.predict(x), name="species")

    mlflow.set_experiment(args.experiment)
    with mlflow.start_run() as run:
        mlflow.set_tag("mlflow.source.git.commit", args.git_commit or git_commit())
        mlflow.log_params(params)
        mlflow.log_metrics(
            {
                "accuracy": float(accuracy_score(y, predictions)),
                "log_loss": float(log_loss(y, model.predict_proba(x))),
            }
        )
        dataset = mlflow.data.from_pandas(pd.concat([x, y], axis=1), name="iris", targets="species")
        mlflow.log_input(dataset, context="training")
        mlflow.log_dict(reference(x, predictions), REFERENCE_ARTIFACT)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, predictions),
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            registered_model_name=args.name,
        )
    version = str(info.registered_model_version)
    if args.alias:
        MlflowClient().set_registered_model_alias(args.name, args.alias, version)
    print(
        json.dumps(
            {
                "name": args.name,
                "version": version,
                "runId": run.info.run_id,
                "experimentId": run.info.experiment_id,
                "modelUri": f"models:/{args.name}/{version}",
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
