"""The README walkthrough (examples/fixture_walkthrough.sh) runs end to end on synthetic fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent.parent / "examples" / "fixture_walkthrough.sh"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_fixture_walkthrough(tmp_path):
    env = {
        **os.environ,
        "N": "2000",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    r = subprocess.run(["bash", str(SCRIPT), str(tmp_path / "w")], env=env, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    # three baselines x four test splits, one main table row each
    assert "| Model | RAF-DB<br>Acc. | RAF-DB<br>UAR" in out
    for row in ("| majority |", "| facs-rules † |", "| random |"):
        assert out.count(row) == 2, row  # main table and the RAF-DB grounding table
    for source in ("rafdb", "ferplus", "affectnet"):
        assert f"| ft-{source} ({source}) |" in out
    # the README shows this output: the rows that depend on no AU detector (classification of the
    # seeded baselines, the transfer table) must match it exactly
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    main_table = out.split("## main table", 1)[1].split("## grounding", 1)[0]
    transfer = out.split("## transfer table", 1)[1].split("## figures", 1)[0]
    rows = [
        line
        for line in (main_table + transfer).splitlines()
        if line.startswith(("| majority |", "| random |", "| ft-"))
    ]
    assert len(rows) == 5
    for row in rows:
        assert row in readme, f"README out of date; the walkthrough now prints:\n{row}"
    assert "\\begin{tabular}" in (tmp_path / "w" / "main.tex").read_text()
    assert (tmp_path / "w" / "report.html").stat().st_size > 0
    assert any(p.suffix == ".png" for p in (tmp_path / "w" / "figures").rglob("*"))
    # random cites boxes far from the AUs: the gate fails on grounding, exit status 1
    assert "compare exit status: 1" in out
    assert "regressed" in (tmp_path / "w" / "gate.md").read_text()
    cases = ET.parse(tmp_path / "w" / "gate.xml").getroot().iter("testcase")
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert any("au_box_iou" in (name or "") for name in failed), failed
