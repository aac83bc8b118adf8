"""The one writer of the README's generated figure blocks (``<!-- generated:NAME -->`` ... its end).

Benchmarks write their figures with ``--write-readme``; the README's figures are never edited by hand.
Run as a script (``--smoke`` included, as ``make bench-smoke`` runs it), it checks that the README
holds every block a benchmark writes, once.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"

#: The blocks, by the benchmark that writes each.
BLOCKS: dict[str, str] = {
    "score-bench": "bench/score_bench.py --write-readme",
    "scale-bench": "bench/scale_bench.py --write-readme",
    "report-bench": "bench/report_bench.py --part leaderboard --write-readme",
    "compare-bench": "bench/report_bench.py --part compare --write-readme",
    "html-report-bench": "bench/html_report_bench.py --write-readme",
    "reward-bench": "bench/reward_bench.py --write-readme",
}


def _pattern(name: str) -> re.Pattern[str]:
    n = re.escape(name)
    return re.compile(rf"(<!-- generated:{n} -->\n)(.*?)(<!-- /generated:{n} -->)", re.S)


def write_block(name: str, body: str, readme: Path = README) -> None:
    """Replace the text between ``<!-- generated:NAME -->`` and ``<!-- /generated:NAME -->`` with ``body``."""
    if name not in BLOCKS:
        raise ValueError(f"unknown README block {name!r}; known: {', '.join(BLOCKS)}")
    text = readme.read_text(encoding="utf-8")
    if not _pattern(name).search(text):
        raise SystemExit(f"{readme.name} has no <!-- generated:{name} --> block")
    body = body if body.endswith("\n") else body + "\n"
    readme.write_text(_pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text), encoding="utf-8")
    print(f"wrote the figures into {readme}'s {name} block")


def main() -> None:
    text = README.read_text(encoding="utf-8")
    bad = [
        f"{name} (written by {writer})"
        for name, writer in BLOCKS.items()
        if len(_pattern(name).findall(text)) != 1
    ]
    if bad:
        sys.exit(f"{README.name} must hold each generated block once; missing or repeated: {'; '.join(bad)}")
    print(f"{README.name} holds each of the {len(BLOCKS)} generated figure blocks once")


if __name__ == "__main__":
    main()
