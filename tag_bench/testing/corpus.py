"""Synthetic model responses in every supported format, with the parse each must give.

Used for round-trip tests (known label, AUs and pixel boxes -> text in a model's own syntax and frame
-> ``parse_response`` must give them back) and for throughput benchmarks on a mixed corpus. The
expected boxes are computed here with plain arithmetic from the numbers written into the text, not
with the parser's own conversion code.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from tag_bench.facs import AU_CATALOGUE, EMOTION_SYNONYMS, prototype_aus
from tag_bench.parsing.parser import parse_response
from tag_bench.schema import CANONICAL_EMOTIONS

FORMATS: tuple[str, ...] = (
    "tag",
    "tag_think",
    "qwen25_json",
    "qwen2_tokens",
    "internvl",
    "gemini",
    "paligemma",
    "cot",
    "direct",
    "markdown",
    "refusal",
    "truncated",
)

_SIZES = ((100, 100), (224, 224), (512, 512), (640, 480), (48, 48))
_REFUSALS = (
    "I'm sorry, but I can't help with identifying emotions or other personal characteristics of people in images.",
    "I am unable to determine the emotional state of a real person from a photograph. If you have other "
    "questions about the image, feel free to ask!",
    "As an AI language model, I don't have the ability to perceive feelings. I can describe the visible "
    "features instead: the mouth and the eyes are clearly visible.",
)

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class SyntheticResponse:
    """One response plus the parse it must give (boxes in presented-image pixels)."""

    fmt: str
    text: str
    frame: str
    image_size: tuple[int, int]
    input_size: tuple[int, int] | None
    finish_reason: str | None
    label: str | None
    status: str
    evidence: tuple[tuple[str, Box], ...]  # (AU, expected pixel box), in order


def _qwen_input_size(w: int, h: int) -> tuple[int, int]:
    """Qwen2.5-VL smart_resize for small images: sides rounded to multiples of 28, at least 4·28·28 px."""
    rw, rh = max(28, round(w / 28) * 28), max(28, round(h / 28) * 28)
    while rw * rh < 4 * 28 * 28:
        rw, rh = rw + 28, rh + 28
    return rw, rh


class _Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def label_and_aus(self) -> tuple[str, list[str]]:
        """A label and 2-4 AUs of its EMFACS prototypes (TAG traces show about three steps)."""
        label = self.rng.choice(CANONICAL_EMOTIONS)
        pool = sorted(prototype_aus(label), key=lambda a: int(a[2:])) or ["AU25", "AU43"]
        k = min(len(pool), self.rng.randint(2, 4))
        return label, sorted(self.rng.sample(pool, k), key=lambda a: int(a[2:]))

    def word(self, label: str) -> str:
        w = self.rng.choice((label, EMOTION_SYNONYMS[label][1], label))
        return w.capitalize() if self.rng.random() < 0.5 else w

    def pixel_box(self, w: int, h: int) -> tuple[int, int, int, int]:
        bw, bh = (
            self.rng.randint(max(2, w // 10), max(3, w // 3)),
            self.rng.randint(max(2, h // 10), max(3, h // 4)),
        )
        x1, y1 = self.rng.randint(0, w - bw), self.rng.randint(0, h - bh)
        return x1, y1, x1 + bw, y1 + bh


def _steps(g: _Gen, aus: list[str], w: int, h: int, write) -> tuple[list[str], list[tuple[str, Box]]]:
    """TAG verification steps; ``write`` maps a pixel box to (box text, expected pixel box)."""
    lines, expected = [], []
    for au in aus:
        info = AU_CATALOGUE[au]
        text, box = write(g.pixel_box(w, h))
        lines.append(
            f"Inspect {info.region} region → {info.name.lower()} is visible ({au}) → <bbox>{text}</bbox>"
        )
        expected.append((au, box))
    return lines, expected


def _writer(frame: str, w: int, h: int, iw: int, ih: int):
    def write(b: tuple[int, int, int, int]) -> tuple[str, Box]:
        x1, y1, x2, y2 = b
        if frame == "pixel":
            return f"[{x1},{y1},{x2},{y2}]", (x1, y1, x2, y2)
        if frame == "pixel-resized":
            v = [round(x1 * iw / w), round(y1 * ih / h), round(x2 * iw / w), round(y2 * ih / h)]
            return f"[{v[0]},{v[1]},{v[2]},{v[3]}]", (
                v[0] * w / iw,
                v[1] * h / ih,
                v[2] * w / iw,
                v[3] * h / ih,
            )
        if frame == "norm1000":
            v = [round(x1 / w * 1000), round(y1 / h * 1000), round(x2 / w * 1000), round(y2 / h * 1000)]
            return f"[{v[0]}, {v[1]}, {v[2]}, {v[3]}]", (
                v[0] * w / 1000,
                v[1] * h / 1000,
                v[2] * w / 1000,
                v[3] * h / 1000,
            )
        if frame == "norm1":
            f = [round(x1 / w, 3), round(y1 / h, 3), round(x2 / w, 3), round(y2 / h, 3)]
            return f"[{f[0]}, {f[1]}, {f[2]}, {f[3]}]", (f[0] * w, f[1] * h, f[2] * w, f[3] * h)
        raise ValueError(frame)

    return write


def make_response(fmt: str, rng: random.Random) -> SyntheticResponse:
    """One synthetic response of format ``fmt`` (see FORMATS)."""
    g = _Gen(rng)
    w, h = rng.choice(_SIZES)
    label, aus = g.label_and_aus()
    word = g.word(label)
    frame, input_size, finish, status = "pixel", None, "stop", "ok"
    expected: list[tuple[str, Box]] = []
    if fmt in ("tag", "tag_think", "truncated"):
        frame = rng.choice(("pixel", "norm1000", "pixel-resized"))
        iw, ih = _qwen_input_size(w, h)
        input_size = (iw, ih) if frame == "pixel-resized" else None
        lines, expected = _steps(g, aus, w, h, _writer(frame, w, h, iw, ih))
        body = [
            "Global analysis: The face shows a clear expression with visible muscle activity.",
            "Verification loop:",
            *lines,
            f"Final conclusion: Combined {' + '.join(aus)} indicate a dominant emotion of {label}.",
        ]
        if fmt == "tag":
            text = "\n".join([*body, f"<answer> {word} </answer>"])
        elif fmt == "tag_think":
            text = "<think>\n" + "\n".join(body) + "\n</think>\n" + f"<answer>{word}</answer>"
        else:
            keep = max(1, len(lines) - 1)
            text = "\n".join(body[: 2 + keep]) + "\nInspect mouth region → the lips are"
            expected, finish, status = expected[:keep], "length", "truncated"
    elif fmt == "qwen25_json":
        frame = "pixel-resized"
        iw, ih = _qwen_input_size(w, h)
        input_size = (iw, ih)
        write = _writer(frame, w, h, iw, ih)
        objs = []
        for au in aus:
            t, box = write(g.pixel_box(w, h))
            objs.append(
                f'  {{"bbox_2d": {t.replace(",", ", ")}, "label": "{au} {AU_CATALOGUE[au].name.lower()}"}}'
            )
            expected.append((au, box))
        text = "```json\n[\n" + ",\n".join(objs) + "\n]\n```\n" + f"<answer>{word}</answer>"
    elif fmt in ("qwen2_tokens", "internvl"):
        frame = "norm1000"
        write = _writer(frame, w, h, w, h)
        parts = []
        for au in aus:
            t, box = write(g.pixel_box(w, h))
            v = t.strip("[]").replace(" ", "").split(",")
            if fmt == "qwen2_tokens":
                parts.append(
                    f"<|object_ref_start|>{au}<|object_ref_end|><|box_start|>({v[0]},{v[1]}),({v[2]},{v[3]})<|box_end|>"
                )
            else:
                parts.append(f"<ref>{au}</ref><box>[[{v[0]}, {v[1]}, {v[2]}, {v[3]}]]</box>")
            expected.append((au, box))
        tail = f"The expression is {word}." if fmt == "qwen2_tokens" else f"Answer: {word}"
        text = "The relevant regions are " + ", ".join(parts) + ".\n" + tail
    elif fmt == "gemini":
        frame = "norm1000-yxyx"
        items = []
        for au in aus:
            x1, y1, x2, y2 = g.pixel_box(w, h)
            v = [round(y1 / h * 1000), round(x1 / w * 1000), round(y2 / h * 1000), round(x2 / w * 1000)]
            items.append({"box_2d": v, "label": f"{au} {AU_CATALOGUE[au].name}"})
            expected.append((au, (v[1] * w / 1000, v[0] * h / 1000, v[3] * w / 1000, v[2] * h / 1000)))
        text = "```json\n" + json.dumps({"emotion": word, "action_units": items}, indent=2) + "\n```"
    elif fmt == "paligemma":
        frame = "loc1024-yxyx"
        parts = []
        for au in aus:
            x1, y1, x2, y2 = g.pixel_box(w, h)
            v = [min(1023, round(c / s * 1024)) for c, s in ((y1, h), (x1, w), (y2, h), (x2, w))]
            parts.append("".join(f"<loc{c:04d}>" for c in v) + f" {au}")
            expected.append((au, (v[1] / 1024 * w, v[0] / 1024 * h, v[3] / 1024 * w, v[2] / 1024 * h)))
        text = " ; ".join(parts) + f"\n{word}"
    elif fmt == "cot":
        frame = "norm1"
        write = _writer(frame, w, h, w, h)
        sentences = ["Let me examine the face carefully."]
        for au in aus:
            t, box = write(g.pixel_box(w, h))
            sentences.append(f"The {AU_CATALOGUE[au].name.lower()} is active ({au}) <bbox>{t}</bbox>.")
            expected.append((au, box))
        other = rng.choice([e for e in CANONICAL_EMOTIONS if e != label])
        sentences.append(f"This is not {other}.")
        text = "<think>\n" + " ".join(sentences) + "\n</think>\n" + f"<answer>{word}</answer>"
    elif fmt == "direct":
        text = rng.choice((f"<answer>{word}</answer>", word, f"**{word}**", f"Final answer: {word}"))
    elif fmt == "markdown":
        rows = []
        for au in aus:
            b = g.pixel_box(w, h)
            info = AU_CATALOGUE[au]
            rows.append(
                f"- **{info.region.capitalize()}:** {info.name.lower()} (**{au}**) at [{b[0]}, {b[1]}, {b[2]}, {b[3]}]"
            )
            expected.append((au, tuple(float(c) for c in b)))  # type: ignore[arg-type]
        text = "## Facial analysis\n\n### Observations\n" + "\n".join(rows) + f"\n\n**Final Answer:** {word}"
    elif fmt == "refusal":
        text, status = rng.choice(_REFUSALS), "refusal"
    else:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return SyntheticResponse(
        fmt=fmt,
        text=text,
        frame=frame,
        image_size=(w, h),
        input_size=input_size,
        finish_reason=finish,
        label=label if status == "ok" else None,
        status=status,
        evidence=tuple(expected),
    )


def mixed_corpus(n: int, seed: int = 0, formats: tuple[str, ...] = FORMATS) -> list[SyntheticResponse]:
    """``n`` responses cycling through ``formats`` (equal shares), reproducible from ``seed``."""
    rng = random.Random(seed)
    return [make_response(formats[i % len(formats)], rng) for i in range(n)]


def measure_throughput(n: int = 24_000, seed: int = 0, repeat: int = 3) -> dict[str, float]:
    """Responses/s of ``parse_response`` on ``mixed_corpus(n, seed)`` and, measured in the same run as
    the baseline, of a naive one-regex ``<answer>(.*?)</answer>`` extractor (what Facial-R1 / UniFER
    rewards do). CPU time of this process, best of ``repeat`` passes."""
    import re
    import time

    corpus = mixed_corpus(n, seed)
    args = [(r.text, r.frame, r.image_size, r.input_size, r.finish_reason) for r in corpus]
    naive = re.compile(r"<answer>(.*?)</answer>", re.S)

    def parser_pass() -> float:
        t0 = time.process_time()
        for a in args:
            parse_response(*a)
        return time.process_time() - t0

    def naive_pass() -> float:
        t0 = time.process_time()
        for a in args:
            m = naive.search(a[0])
            _ = m.group(1).strip().lower() if m else None
        return time.process_time() - t0

    t_parser = min(parser_pass() for _ in range(repeat))
    t_naive = min(naive_pass() for _ in range(repeat))
    expected = sum(parse_response(*a).status == r.status for r, a in zip(corpus, args, strict=True))
    return {
        "responses": n,
        "mean_chars": sum(len(a[0]) for a in args) / n,
        "parser_per_s": n / t_parser,
        "baseline_per_s": n / t_naive,
        "ratio": t_parser / t_naive,
        "status_as_expected": expected / n,
    }
