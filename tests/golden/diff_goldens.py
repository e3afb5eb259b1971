"""Show which golden records the current code changes, field by field (run by hand).

    .venv/bin/python tests/golden/diff_goldens.py

A deliberate change of behaviour (a better message, say) is reviewed here, then recorded
with `make_goldens.py`; anything else it lists is a regression.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _record import record  # noqa: E402


def main() -> None:
    texts = json.loads((HERE / "spec_texts.json").read_text())
    goldens = json.loads(gzip.decompress((HERE / "goldens.json.gz").read_bytes()))
    changed = 0
    for name, text in texts.items():
        got = json.loads(json.dumps(record(text)))
        want = goldens[name]
        if got == want:
            continue
        changed += 1
        for field in sorted(set(got) | set(want)):
            if got.get(field) != want.get(field):
                print(f"{name}: {field}\n  was: {str(want.get(field))[:400]}")
                print(f"  now: {str(got.get(field))[:400]}")
    print(f"{changed} of {len(texts)} records differ")


if __name__ == "__main__":
    main()
