"""Reward throughput: TAG rewards through the TRL adapter, against parsing alone, in one run.

N synthetic completions of every supported format (``tag_bench.testing.corpus.mixed_corpus``) are
grouped as GRPO groups them: G consecutive completions (same box frame) answer one sample, with one
gold label and one AU reference whose regions sit near the boxes the group cites (so IoUs are real).
Measured in CPU time of this process, best of R passes (the three interleaved):

1. parse only: ``parse_response`` on every completion (the baseline);
2. format + answer: ``trl_reward_funcs(weights={"format": 1, "answer": 1})`` called the way
   ``GRPOTrainer`` calls them (every function on the same batch of B completions, with the dataset
   columns); target: at most 1.25x the time of parsing alone (1.), measured in the same run;
3. format + answer + AU grounding (mean IoU) + hallucination penalty, the same way; target >= 5,000/s.

Before timing, every reward the adapter returns is checked against the reference path: ``breakdown``
of ``score_completion`` of the same completion (the full scored record, the format checks reading the
text), all four weights on.

    .venv/bin/python bench/reward_bench.py [--n 24000] [--group 8] [--batch 64] [--repeat 3]
                                           [--write-readme] [--smoke]

``--write-readme``: the figures into README.md's ``<!-- generated:reward-bench -->`` block.

``--smoke``: 800 completions, one pass (seconds; ``make bench-smoke``).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from typing import Any

from readme_block import write_block

from tag_bench.parsing import parse_response
from tag_bench.rewards import breakdown, score_completion, trl_reward_funcs
from tag_bench.schema import CANONICAL_EMOTIONS, AUReference, AUState
from tag_bench.testing.corpus import SyntheticResponse, mixed_corpus

CLASSES = list(CANONICAL_EMOTIONS)
OTHER_AUS = ("AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU9", "AU12", "AU15", "AU17", "AU20", "AU25", "AU26")
Batch = tuple[list[list[dict[str, str]]], dict[str, list[Any]]]


def group_reference(group: list[SyntheticResponse], sample_id: str, rng: random.Random) -> AUReference:
    """A region near the first box cited for each AU of the group (shifted by up to 20% of its size),
    random regions for the other AUs; about 60% of the AUs active."""
    w, h = group[0].image_size
    aus: dict[str, AUState] = {}
    for r in group:
        for au, (x1, y1, x2, y2) in r.evidence:
            if au not in aus:
                dx, dy = rng.uniform(-0.2, 0.2) * (x2 - x1), rng.uniform(-0.2, 0.2) * (y2 - y1)
                aus[au] = AUState(box=[x1 + dx, y1 + dy, x2 + dx, y2 + dy])
    for au in OTHER_AUS:
        if au not in aus:
            x, y = rng.uniform(0, 0.7 * w), rng.uniform(0, 0.7 * h)
            aus[au] = AUState(box=[x, y, x + 0.2 * w, y + 0.2 * h])
    for state in aus.values():
        state.score = rng.random()
        state.active = state.score >= 0.4
    return AUReference(reference_id="synthetic@1", detector="synthetic", version="1", status="ok",
                       threshold=0.4, sample_id=sample_id, aus=aus)  # fmt: skip


def grpo_batches(
    corpus: list[SyntheticResponse], group: int, batch: int, seed: int = 0
) -> tuple[dict[str, list[Batch]], dict[str, AUReference]]:
    """TRL-shaped batches per box frame (chat-message completions + dataset columns), and references."""
    rng = random.Random(seed)
    by_frame: dict[str, list[SyntheticResponse]] = {}
    for r in corpus:
        by_frame.setdefault(r.frame, []).append(r)
    out: dict[str, list[Batch]] = {}
    refs: dict[str, AUReference] = {}
    for frame, rs in sorted(by_frame.items()):
        rows: list[tuple[SyntheticResponse, str, str]] = []
        for start in range(0, len(rs), group):
            members = rs[start : start + group]
            sid = f"{frame}/{start // group}"
            refs[sid] = group_reference(members, sid, rng)
            labels = [r.label for r in members if r.label]
            gold = rng.choice(labels) if labels and rng.random() < 0.7 else rng.choice(CLASSES)
            rows += [(r, sid, gold) for r in members]
        out[frame] = []
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            columns = {
                "sample_id": [sid for _, sid, _ in chunk],
                "label": [gold for _, _, gold in chunk],
                "image_size": [list(r.image_size) for r, _, _ in chunk],
                "input_size": [list(r.input_size) if r.input_size else None for r, _, _ in chunk],
                "classes": [CLASSES] * len(chunk),
            }
            out[frame].append(([[{"role": "assistant", "content": r.text}] for r, _, _ in chunk], columns))
    return out, refs


ALL = {"format": 1.0, "answer": 1.0, "grounding": 1.0, "hallucination": 1.0}


def check_rewards(data: dict[str, list[Batch]], refs: dict[str, AUReference]) -> int:
    """Assert that every reward the TRL adapter returns equals the reference path's for that completion."""
    checked = 0
    for frame, frame_batches in data.items():
        funcs = trl_reward_funcs(refs, frame=frame, weights=ALL)
        for completions, columns in frame_batches:
            got = {
                fn.name: fn(prompts=None, completions=completions, completion_ids=None, **columns)
                for fn in funcs
            }
            for i, completion in enumerate(completions):
                text, ref = completion[0]["content"], refs[columns["sample_id"][i]]
                scored = score_completion(text, columns["label"][i], ref, frame, columns["image_size"][i],
                                          input_size=columns["input_size"][i], classes=CLASSES)  # fmt: skip
                want = breakdown(text, scored, reference=ref, classes=CLASSES, weights=ALL)
                for name, values in got.items():
                    assert values[i] == getattr(want, name), (
                        frame,
                        columns["sample_id"][i],
                        name,
                        values[i],
                        want,
                    )
                checked += 1
    return checked


def best_of(repeat: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=24_000)
    ap.add_argument("--group", type=int, default=8, help="completions per sample (GRPO num_generations)")
    ap.add_argument("--batch", type=int, default=64, help="completions per reward call")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--write-readme", action="store_true", help="write the figures into README.md")
    ap.add_argument("--smoke", action="store_true", help="small sizes that run in seconds (make bench-smoke)")
    args = ap.parse_args()
    if args.smoke:
        ap.set_defaults(n=800, repeat=1)
        args = ap.parse_args()
    if args.write_readme and args.smoke:
        ap.error("--write-readme needs the full-size run (no --smoke)")

    corpus = mixed_corpus(args.n, seed=0)
    n = len(corpus)
    data, refs = grpo_batches(corpus, args.group, args.batch)
    checked = check_rewards(data, refs)

    def rewards(weights: dict[str, float]) -> None:
        for frame, frame_batches in data.items():  # the frame belongs to the prompt: one set per frame
            funcs = trl_reward_funcs(refs, frame=frame, weights=weights)
            for completions, columns in frame_batches:
                for fn in funcs:
                    fn(prompts=None, completions=completions, completion_ids=None, **columns)

    def parse_only() -> None:
        for r in corpus:
            parse_response(r.text, r.frame, r.image_size, r.input_size, r.finish_reason, CLASSES)

    # Passes interleaved (parse, format + answer, all four), best of each: drift on a noisy machine
    # then weighs on every figure alike.
    passes: dict[str, Callable[[], object]] = {
        "parse": parse_only,
        "format+answer": lambda: rewards({"format": 1.0, "answer": 1.0}),
        "all": lambda: rewards(ALL),
    }
    times: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(args.repeat):
        for name, fn in passes.items():
            times[name].append(best_of(1, fn))
    t_parse, t_fa, t_all = (min(times[name]) for name in passes)

    def us(t: float) -> str:
        return f"{t / n * 1e6:.1f} us"

    print(f"{n} completions, {len(data)} box frames, groups of {args.group}, reward calls of {args.batch}; "
          f"CPU time, best of {args.repeat}")  # fmt: skip
    print(f"  the 4 rewards of all {checked} completions equal the reference path's (checked before timing)")
    print(f"  parse only                   {n / t_parse:9,.0f} /s             (baseline)")
    print(f"  format + answer              {n / t_fa:9,.0f} /s  {t_fa / t_parse:5.2f}x parse  "
          f"target <= 1.25x parse: {'met' if t_fa <= 1.25 * t_parse else 'NOT met'}")  # fmt: skip
    print(f"    per completion {us(t_fa)}: parse {us(t_parse)}, the rest {us(t_fa - t_parse)} (the sample's "
          "status, format checks from the parse, the adapter; no scored record is built)")  # fmt: skip
    print(f"  + grounding + hallucination  {n / t_all:9,.0f} /s  {t_all / t_parse:5.2f}x parse  "
          f"target >= 5,000/s: {'met' if n / t_all >= 5_000 else 'NOT met'}")  # fmt: skip
    if args.write_readme:
        load = os.getloadavg()[0]
        write_block("reward-bench", (
            f"- TAG rewards through the TRL adapter (`bench/reward_bench.py --n {n}`, {n:,} completions of every "
            f"format, reward calls of {args.batch}, best of {args.repeat}; load average {load:.1f} on "
            f"{os.cpu_count()} cores): format + answer {n / t_fa:,.0f}/s, {t_fa / t_parse:.2f}× the time of "
            f"parsing alone ({n / t_parse:,.0f}/s; target ≤ 1.25×); with grounding and hallucination "
            f"{n / t_all:,.0f}/s, {t_all / t_parse:.2f}× (target ≥ 5,000/s)."
        ))  # fmt: skip


if __name__ == "__main__":
    main()
