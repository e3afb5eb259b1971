"""Record `goldens.json.gz` (run by hand, on the code the redesign must not change).

    .venv/bin/python tests/golden/make_goldens.py [--new-texts]

The spec texts are stored (`spec_texts.json`) and reused, so changes to the hypothesis
strategies do not change which texts are compared; `--new-texts` draws them anew.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _record import record  # noqa: E402

from blockspec.testing.strategies import mutated_texts, near_miss_specs, specs  # noqa: E402

ROOT = HERE.parents[1]


def collect(strategy, n: int) -> list[str]:
    out: list[str] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(x):
        out.append(x if isinstance(x, str) else x.text)

    run()
    seen, uniq = set(), []
    for t in out:
        if t not in seen:
            seen.add(t)
            uniq.append(t)
    return uniq


def new_texts() -> dict[str, str]:
    """The examples and a fixed draw of generated specs, near misses and mutations."""
    texts: dict[str, str] = {}
    for p in sorted((ROOT / "examples").glob("*.bspec")):
        texts[f"examples/{p.name}"] = p.read_text()
    groups = {
        "valid": collect(specs(), 200),
        "valid-dyn": collect(specs(dynamic=True), 60),
        "near-miss": collect(near_miss_specs(), 150),
        "mutated": collect(mutated_texts(), 150),
    }
    for g, items in groups.items():
        for i, t in enumerate(items):
            texts[f"{g}/{i:03d}"] = t
    return texts


def main() -> None:
    """Record the goldens of the stored texts (new texts only with --new-texts)."""
    stored = HERE / "spec_texts.json"
    if stored.exists() and "--new-texts" not in sys.argv:
        texts = json.loads(stored.read_text())
    else:
        texts = new_texts()
        stored.write_text(json.dumps(texts, indent=0, sort_keys=True) + "\n")
    goldens = {name: record(t) for name, t in texts.items()}
    data = (json.dumps(goldens, sort_keys=True, indent=0) + "\n").encode()
    (HERE / "goldens.json.gz").write_bytes(gzip.compress(data, mtime=0))
    n_err = sum("errors" in g for g in goldens.values())
    n_w = sum("weights" in g for g in goldens.values())
    print(f"{len(goldens)} records: {n_err} refused, {n_w} with weight hashes")


if __name__ == "__main__":
    main()
