from pathlib import Path

from flowengine.ir.reference import render

ROOT = Path(__file__).resolve().parents[2]


def test_committed_op_reference_matches_the_declarations():
    assert (ROOT / "docs" / "ir-ops.md").read_text() == render(), \
        "regenerate: python -m flowengine.ir.reference > docs/ir-ops.md"
