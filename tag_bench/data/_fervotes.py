"""FER+ label protocols: from 10 crowd votes to a target, exactly as microsoft/FERPlus ``src/ferplus.py``.

Vote columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF.
``process_votes`` ports ``_process_data`` (outlier removal, then majority / crossentropy /
multi_target); ``ferplus_target`` adds the ``load_folders`` filter (drop when the first maximum of the
10-vector is unknown or NF; truncate to 8 and renormalise) and the simpler ``argmax8`` rule.
Counts are kept as exact fractions so ``>`` and ``<=`` comparisons match the reference code.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

N_VOTES = 10
N_EMOTIONS = 8
UNKNOWN = 8

#: protocol option -> protocol id recorded with every result (datasets.md §3.3)
PROTOCOL_IDS: dict[str, str] = {
    "majority": "ferplus-majority-official",
    "argmax8": "ferplus-argmax8",
    "crossentropy": "ferplus-crossentropy",
    "plurality8-all": "ferplus-plurality8-all",
}
_PROTOCOL_ALIASES = {
    "majority": "majority",
    "ferplus-majority-official": "majority",
    "ferplus-majority": "majority",
    "official": "majority",
    "argmax8": "argmax8",
    "ferplus-argmax8": "argmax8",
    "argmax": "argmax8",
    "crossentropy": "crossentropy",
    "ferplus-crossentropy": "crossentropy",
    "probability": "crossentropy",
    "plurality8-all": "plurality8-all",
    "ferplus-plurality8-all": "plurality8-all",
}


def normalise_protocol(value: str) -> str | None:
    return _PROTOCOL_ALIASES.get(str(value).strip().lower())


def process_votes(votes: Sequence[int | float], mode: str) -> list[Fraction]:
    """``_process_data``: a normalised 10-vector (the 'unknown' one-hot when the sample is rejected)."""
    if len(votes) != N_VOTES:
        raise ValueError(f"FER+ needs {N_VOTES} vote counts, got {len(votes)}")
    raw = [Fraction(v) for v in votes]
    unknown = [Fraction(0)] * N_VOTES
    unknown[-2] = Fraction(1)
    raw = [Fraction(0) if v <= 1 else v for v in raw]  # outlier removal: single votes
    total = sum(raw)
    emotion = [Fraction(0)] * N_VOTES
    if mode == "majority":
        maxval = max(raw)
        if maxval > total / 2:
            emotion[raw.index(maxval)] = maxval
        else:
            emotion = unknown
    elif mode in ("crossentropy", "probability"):
        sum_part = Fraction(0)
        count = 0
        valid = True
        while sum_part < Fraction(3, 4) * total and count < 3 and valid:
            maxval = max(raw)
            for i in range(N_VOTES):
                if raw[i] == maxval:
                    emotion[i] = maxval
                    raw[i] = Fraction(0)
                    sum_part += emotion[i]
                    count += 1
                    if i >= UNKNOWN:  # unknown or NF reached: stop; keep it only when it is the sole pick
                        valid = False
                        if sum(emotion) > maxval:
                            emotion[i] = Fraction(0)
                            count -= 1
                        break
        if sum(emotion) <= total / 2 or count > 3:
            emotion = unknown
    elif mode == "multi_target":
        for i in range(N_VOTES):
            if raw[i] >= Fraction(3, 10) * total:
                emotion[i] = raw[i]
        if sum(emotion) <= total / 2:
            emotion = unknown
    else:
        raise ValueError(f"unknown FER+ mode {mode!r}")
    s = sum(emotion)
    return [e / s for e in emotion]


def ferplus_target(votes: Sequence[int | float], protocol: str) -> tuple[int, list[float]] | None:
    """(class index in FER+ order, 8-class target) or None when the protocol drops the sample.

    ``protocol``: majority, crossentropy, multi_target (as in ``load_folders``), argmax8 (the first
    maximum of the raw 10 votes, dropped when it is unknown or NF; no outlier removal), or plurality8-all
    (the first maximum of the 8 emotion votes, nothing dropped: the protocol of the published GPT-4V FER
    results, arXiv 2312.04293, which score all 3,573 test images).
    """
    if protocol == "plurality8-all":
        if len(votes) != N_VOTES:
            raise ValueError(f"FER+ needs {N_VOTES} vote counts, got {len(votes)}")
        idx = max(range(N_EMOTIONS), key=lambda i: (votes[i], -i))  # first maximum, as np.argmax
        target = [0.0] * N_EMOTIONS
        target[idx] = 1.0
        return idx, target
    if protocol == "argmax8":
        if len(votes) != N_VOTES:
            raise ValueError(f"FER+ needs {N_VOTES} vote counts, got {len(votes)}")
        idx = max(range(N_VOTES), key=lambda i: (votes[i], -i))
        if idx >= UNKNOWN or votes[idx] <= 0:
            return None
        target = [0.0] * N_EMOTIONS
        target[idx] = 1.0
        return idx, target
    emotion = process_votes(votes, protocol)
    idx = max(range(N_VOTES), key=lambda i: (emotion[i], -i))  # first maximum, as np.argmax
    if idx >= UNKNOWN:
        return None
    kept = emotion[:N_EMOTIONS]
    s = sum(kept)
    return idx, [float(e / s) for e in kept]
