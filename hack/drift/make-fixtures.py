#!/usr/bin/env python3
"""Writes operator/drift/fixtures/*.json: drift measures computed with SciPy
and NumPy, which operator/drift/stats.test.ts compares the TypeScript
implementation against. The fixtures are committed; rerun this only when the
cases change:

    python3 hack/drift/make-fixtures.py
    node_modules/.bin/biome format --write operator/drift/fixtures

It installs pinned NumPy and SciPy into a virtualenv cached outside the
repository (~/.cache/modelops-operator/venv-scipy-..., or $MODELOPS_CACHE)
and re-runs itself there.
"""
import json
import os
import subprocess
import sys

NUMPY = "2.1.3"
SCIPY = "1.14.1"
SMOOTHING = 1e-4  # must equal SMOOTHING in operator/drift/stats.ts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "operator", "drift", "fixtures")


def ensure_venv():
    cache = os.environ.get("MODELOPS_CACHE", os.path.expanduser("~/.cache/modelops-operator"))
    venv = os.path.join(cache, f"venv-scipy-{SCIPY}-numpy-{NUMPY}")
    python = os.path.join(venv, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(venv):
        return
    probe = [python, "-c", f"import numpy, scipy; assert numpy.__version__ == '{NUMPY}' and scipy.__version__ == '{SCIPY}'"]
    if not os.path.exists(python) or subprocess.call(probe, stderr=subprocess.DEVNULL) != 0:
        subprocess.check_call([sys.executable, "-m", "venv", "--clear", venv])
        subprocess.check_call([python, "-m", "pip", "install", "-q", f"numpy=={NUMPY}", f"scipy=={SCIPY}"])
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


ensure_venv()

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402
from scipy.spatial import distance  # noqa: E402
from scipy.special import rel_entr  # noqa: E402


def smoothed(p):
    return (p + SMOOTHING) / (1 + SMOOTHING * len(p))


def shares(counts):
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else counts


def psi(ref, live):
    e, a = smoothed(shares(ref)), smoothed(shares(live))
    # PSI is the symmetrised Kullback–Leibler divergence.
    return float(np.sum(rel_entr(a, e)) + np.sum(rel_entr(e, a)))


def ks(ref, live, ref_counts):
    n = int(np.sum(live))
    positions = np.arange(len(live), dtype=float)
    live_sample = np.repeat(positions, np.asarray(live, dtype=int))
    if ref_counts is not None:
        ref_sample = np.repeat(positions, np.asarray(ref_counts, dtype=int))
        result = stats.ks_2samp(live_sample, ref_sample, method="asymp")
        return {"statistic": float(result.statistic), "pValue": float(result.pvalue)}
    d = float(np.max(np.abs(np.cumsum(shares(ref)) - np.cumsum(shares(live)))))
    return {"statistic": d, "pValue": float(stats.kstwo.sf(d, n))}


def wasserstein(edges, ref, live):
    edges = np.asarray(edges, dtype=float)
    mids = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    p, q = shares(ref), shares(live)
    mean = np.sum(p * mids)
    spread = np.sqrt(np.sum(p * ((mids - mean) ** 2 + widths**2 / 12)))
    return float(stats.wasserstein_distance(mids, mids, q, p) / spread)


def chisquare(ref, live):
    ref, live = np.asarray(ref, dtype=float), np.asarray(live, dtype=float)
    keep = (ref > 0) | (live > 0)
    observed, expected = live[keep], shares(ref[keep])
    if np.any(expected == 0):
        expected = smoothed(expected)
    if observed.sum() <= 0 or len(observed) < 2:
        return {"statistic": 0.0, "pValue": 1.0}
    result = stats.chisquare(observed, expected * observed.sum())
    return {"statistic": float(result.statistic), "pValue": float(result.pvalue)}


def numeric_case(name, edges, ref_counts, live, two_sample=True):
    ref_counts = np.asarray(ref_counts, dtype=int)
    ref = (ref_counts / ref_counts.sum()).tolist()
    case = {"name": name, "edges": [float(e) for e in edges], "reference": ref, "live": [int(x) for x in live]}
    if two_sample:
        case["referenceSampleSize"] = int(ref_counts.sum())
    case["expected"] = {
        "psi": psi(ref, live),
        "jensenShannon": float(distance.jensenshannon(shares(ref), shares(live))) if np.sum(live) > 0 else None,
        "ks": ks(ref, live, ref_counts if two_sample else None),
        "wasserstein": wasserstein(edges, ref, live),
        "chiSquare": chisquare(ref, live),
    }
    return case


def histogram(rng, edges, sampler, size):
    values = sampler(rng, size)
    inner = np.asarray(edges[1:-1])
    # Bucket i holds (edges[i], edges[i+1]]; the outer buckets take out-of-range values.
    index = np.searchsorted(inner, values, side="left")
    return np.bincount(index, minlength=len(edges) - 1)


def numeric_cases(rng):
    normal = lambda mu, sd: (lambda r, n: r.normal(mu, sd, n))  # noqa: E731
    edges10 = np.linspace(-3, 3, 11)
    edges50 = np.linspace(-4, 4, 51)
    ref10 = histogram(rng, edges10, normal(0, 1), 5000)
    ref50 = histogram(rng, edges50, normal(0, 1), 20000)
    cases = [
        numeric_case("identical-shares", edges10, ref10, ref10),
        numeric_case("same-distribution-sampled", edges10, ref10, histogram(rng, edges10, normal(0, 1), 2000)),
        numeric_case("small-shift", edges10, ref10, histogram(rng, edges10, normal(0.2, 1), 2000)),
        numeric_case("large-shift", edges10, ref10, histogram(rng, edges10, normal(1.5, 1), 2000)),
        numeric_case("wider", edges10, ref10, histogram(rng, edges10, normal(0, 2), 3000)),
        numeric_case("one-sample-reference", edges10, ref10, histogram(rng, edges10, normal(0.3, 1), 300), False),
        numeric_case("tiny-sample-1", edges10, ref10, histogram(rng, edges10, normal(0, 1), 1)),
        numeric_case("tiny-sample-3", edges10, ref10, histogram(rng, edges10, normal(0, 1), 3), False),
        numeric_case("tiny-sample-10-shifted", edges10, ref10, histogram(rng, edges10, normal(2, 1), 10)),
        numeric_case("tiny-sample-25", edges10, ref10, histogram(rng, edges10, normal(0.5, 1), 25), False),
        numeric_case("empty-live-buckets", edges10, ref10, [0, 0, 0, 40, 60, 0, 0, 0, 0, 0]),
        numeric_case("empty-reference-buckets", edges10, [0, 0, 10, 30, 40, 20, 0, 0, 0, 0], [5, 5, 10, 30, 30, 10, 5, 5, 0, 0]),
        numeric_case("one-bucket-reference", edges10, [0, 0, 0, 0, 100, 0, 0, 0, 0, 0], [0, 0, 0, 10, 80, 10, 0, 0, 0, 0]),
        numeric_case("one-bucket-both", edges10, [0, 0, 0, 0, 100, 0, 0, 0, 0, 0], [0, 0, 0, 0, 55, 0, 0, 0, 0, 0]),
        numeric_case("disjoint", edges10, [50, 50, 0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 30, 70]),
        numeric_case("two-buckets", [0.0, 0.5, 1.0], [700, 300], [550, 450]),
        numeric_case("single-bucket", [0.0, 1.0], [100], [42]),
        numeric_case("uneven-edges", [-100, -1, 0, 0.5, 2, 1000], [50, 200, 300, 350, 100], [80, 250, 250, 300, 120]),
        numeric_case("fifty-buckets-same", edges50, ref50, histogram(rng, edges50, normal(0, 1), 10000)),
        numeric_case("fifty-buckets-shift", edges50, ref50, histogram(rng, edges50, normal(0.1, 1.1), 10000)),
        numeric_case("large-sample", edges10, ref10, histogram(rng, edges10, normal(0.02, 1), 200000), False),
        numeric_case("medium-one-sample", edges50, ref50, histogram(rng, edges50, normal(0.05, 1), 800), False),
    ]
    return cases


def categorical_case(name, ref, live):
    ref = np.asarray(ref, dtype=float)
    ref = (ref / ref.sum()).tolist()
    return {
        "name": name,
        "reference": ref,
        "live": [float(x) for x in live],
        "expected": {
            "psi": psi(ref, live),
            "jensenShannon": float(distance.jensenshannon(shares(ref), shares(live))),
            "chiSquare": chisquare(ref, live),
        },
    }


def categorical_cases():
    return [
        categorical_case("identical", [0.5, 0.3, 0.2], [500, 300, 200]),
        categorical_case("close", [0.5, 0.3, 0.2], [480, 320, 200]),
        categorical_case("shifted", [0.5, 0.3, 0.2], [300, 300, 400]),
        categorical_case("new-category-other", [0.6, 0.4, 0.0], [50, 40, 10]),
        categorical_case("missing-category", [0.6, 0.3, 0.1], [60, 40, 0]),
        categorical_case("both-empty-category", [0.7, 0.0, 0.3], [65, 0, 35]),
        categorical_case("binary-tiny", [0.9, 0.1], [2, 1]),
        categorical_case("one-category", [1.0, 0.0], [9, 1]),
        categorical_case("fractional-counts", [0.25, 0.25, 0.5], [10.4, 12.7, 30.1]),
        categorical_case("many-categories", list(range(1, 21)), list(range(20, 0, -1))),
    ]


def correction_cases():
    cases = []
    for p in ([0.01, 0.04, 0.03, 0.2, 0.5], [0.001], [0.9, 0.9, 0.9], [0.0, 1.0, 0.049, 0.012, 0.3, 0.02]):
        p = np.asarray(p)
        cases.append({
            "pValues": p.tolist(),
            "bonferroni": np.minimum(1, p * len(p)).tolist(),
            "benjaminiHochberg": stats.false_discovery_control(p, method="bh").tolist(),
        })
    return cases


def main():
    rng = np.random.default_rng(20261122)
    os.makedirs(OUT, exist_ok=True)
    meta = {"generator": "hack/drift/make-fixtures.py", "numpy": np.__version__, "scipy": __import__("scipy").__version__}
    files = {
        "numeric.json": numeric_cases(rng),
        "categorical.json": categorical_cases(),
        "corrections.json": correction_cases(),
    }
    for name, cases in files.items():
        with open(os.path.join(OUT, name), "w") as f:
            json.dump({**meta, "cases": cases}, f, indent=1)
            f.write("\n")
        print(f"wrote {len(cases)} cases to operator/drift/fixtures/{name}")


main()
