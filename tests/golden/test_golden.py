"""The redesign changes no behaviour: every golden record is reproduced exactly.

`goldens.json.gz` was recorded by `make_goldens.py` on the code before the language table and
the pass pipeline existed: canonical text, IR, summary rows and table, JSON summary,
`state_dict` keys and shapes, weight hashes at seed 0, and the rendered errors of refused
texts, for every example and for a fixed set of generated specs, near misses and mutations.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _record import record  # noqa: E402

TEXTS: dict[str, str] = json.loads((HERE / "spec_texts.json").read_text())
GOLDENS: dict[str, dict] = json.loads(gzip.decompress((HERE / "goldens.json.gz").read_bytes()))


def test_every_text_has_a_golden():
    assert sorted(TEXTS) == sorted(GOLDENS)
    assert sum("weights" in g for g in GOLDENS.values()) > 200
    assert sum("errors" in g for g in GOLDENS.values()) > 200


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_golden(name: str):
    want = GOLDENS[name]
    got = json.loads(json.dumps(record(TEXTS[name])))  # the same JSON normalisation
    for field in sorted(set(want) | set(got)):
        assert got.get(field) == want.get(field), f"{name}: {field} differs"
