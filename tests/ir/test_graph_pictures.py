"""docs/graphs/ holds a picture of every example flow (docs/graph.md): its `.dot` source must match what
`flowengine graph` draws today, so a changed example or compiler cannot leave a stale picture behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowengine import formats
from flowengine.ir.graph import render

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "docs" / "graphs"


def examples() -> list[tuple[Path, Path]]:
    pairs = []
    for folder, pictures in ((ROOT / "flows", GRAPHS), (ROOT / "flows" / "builtin", GRAPHS / "builtin")):
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.name.endswith((".test.yaml", ".scenario.yaml")):
                pairs.append((path, pictures / (path.name.rsplit(".", 1)[0] + ".dot")))
    return pairs


@pytest.mark.parametrize("flow_path, picture", examples(), ids=lambda p: p.name)
def test_picture_of_the_example_is_current(flow_path, picture):
    assert picture.exists() and picture.with_suffix(".svg").exists(), f"no picture of {flow_path.name}"
    drawn = render(formats.load(str(flow_path)), "dot")
    assert picture.read_text(encoding="utf-8") == drawn, (
        f"{picture.relative_to(ROOT)} is stale: redraw the pictures (docs/graph.md)")
