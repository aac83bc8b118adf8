"""Seeded synthetic dataset fixtures in the exact on-disk formats of datasets.md §8 (F1-F5).

``write_fixtures(root)`` writes every layout and quirk the loaders handle into ``root`` and returns
the folder of each variant. Faces are derived at run time from public-domain images in installed
packages (scikit-image's astronaut, matplotlib's grace_hopper) with small deterministic
augmentations, or drawn procedurally when neither is installed. Labels are arbitrary: fixtures test
formats and plumbing, not accuracy. ``write_scaled_fixtures(root, n)`` writes large copies of the
three official layouts for benchmarks, hard-linking a few encoded images instead of encoding each.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from tag_bench.data._common import AFFECTNET_ORDER, RAFDB_ORDER

# Face boxes measured once on the source images (x1, y1, x2, y2).
_ASTRONAUT_FACE = (150, 30, 300, 195)
_GRACE_FACE = (145, 120, 365, 340)
_YOLO_NAMES = ["Anger", "Contempt", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]


# --------------------------------------------------------------------------------------------------
# Faces


class FaceBank:
    """Deterministic face images: crops of public-domain photos, or procedural drawings."""

    def __init__(self, seed: int = 0, faces: str = "auto"):
        if faces not in ("auto", "procedural", "photos"):
            raise ValueError("faces must be auto, photos or procedural")
        self.seed = seed
        self.bases: list[Image.Image] = [] if faces == "procedural" else _photo_faces()
        if faces == "photos" and not self.bases:
            raise RuntimeError("faces='photos' needs scikit-image or matplotlib installed")
        self.source = "photos" if self.bases else "procedural"

    def _rng(self, key: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(key.encode())])

    def face(self, key: str, size: tuple[int, int], label: str = "neutral", mode: str = "RGB") -> Image.Image:
        """A face image for ``key`` (same key and seed -> same pixels)."""
        rng = self._rng(key)
        if self.bases:
            img = self.bases[int(rng.integers(len(self.bases)))]
        else:
            img = _procedural_face(label, rng)
        angle = float(rng.uniform(-8, 8))
        img = img.rotate(angle, resample=Image.BICUBIC, fillcolor=(128, 128, 128))
        if rng.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img = ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.85, 1.15)))
        img = img.resize(size, Image.BILINEAR)
        return img.convert(mode)

    def encoded(
        self, key: str, size: tuple[int, int], fmt: str = "JPEG", mode: str = "RGB", **save: Any
    ) -> bytes:
        buf = io.BytesIO()
        self.face(key, size, mode=mode).save(buf, format=fmt, **save)
        return buf.getvalue()


def _photo_faces() -> list[Image.Image]:
    from tag_bench.data.demo import package_dir

    out = []
    sk = package_dir("skimage")
    if sk and (sk / "data" / "astronaut.png").is_file():
        with Image.open(sk / "data" / "astronaut.png") as im:
            out.append(im.convert("RGB").crop(_ASTRONAUT_FACE).resize((160, 160), Image.BILINEAR))
    mpl = package_dir("matplotlib")
    if mpl and (mpl / "mpl-data" / "sample_data" / "grace_hopper.jpg").is_file():
        with Image.open(mpl / "mpl-data" / "sample_data" / "grace_hopper.jpg") as im:
            out.append(im.convert("RGB").crop(_GRACE_FACE).resize((160, 160), Image.BILINEAR))
    return out


def _procedural_face(label: str, rng: np.random.Generator) -> Image.Image:
    """An ellipse face with eyes and a mouth whose curvature depends on the class."""
    img = Image.new("RGB", (160, 160), tuple(int(v) for v in rng.integers(60, 200, 3)))
    d = ImageDraw.Draw(img)
    skin = tuple(int(v) for v in rng.integers(150, 235, 3))
    d.ellipse((25, 15, 135, 150), fill=skin, outline=(40, 30, 30))
    for cx in (58, 102):
        d.ellipse((cx - 9, 60, cx + 9, 72), fill=(255, 255, 255), outline=(0, 0, 0))
        d.ellipse((cx - 4, 62, cx + 4, 70), fill=(30, 20, 20))
    curve = {"happiness": 18, "sadness": -14, "surprise": 0, "anger": -6, "disgust": -8, "fear": -4}.get(
        label, 2
    )
    if label == "surprise":
        d.ellipse((68, 100, 92, 130), fill=(90, 20, 20))
    else:
        top = 112 - max(curve, 0)
        d.arc((50, top - abs(curve), 110, top + abs(curve) + 2), 0 if curve >= 0 else 180, 180 if curve >= 0 else 360,
              fill=(90, 20, 20), width=4)  # fmt: skip
    return img


# --------------------------------------------------------------------------------------------------
# Small writers


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def _save(img: Image.Image, path: Path, **kw: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP"}[path.suffix.lower()]
    if fmt == "JPEG":
        kw.setdefault("quality", 90)
    img.save(path, format=fmt, **kw)
    return path


def _link(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


# --------------------------------------------------------------------------------------------------
# F1 RAF-DB

RAF_TRAIN = [(f"train_{i:05d}", (i - 1) % 7 + 1) for i in range(1, 15)]
RAF_TEST = [(f"test_{i:04d}", i) for i in range(1, 8)]


def _raf_official(base: Path, bank: FaceBank, *, missing: Sequence[str] = (), no_suffix: Sequence[str] = (),
                  label_name: str = "list_patition_label.txt", three_fields: bool = False,
                  original: bool = True, annotations: bool = True) -> None:  # fmt: skip
    rows = RAF_TRAIN + RAF_TEST
    if three_fields:
        text = "\n".join(f"{s}.jpg\t{s.split('_')[0]}\t{lab}" for s, lab in rows)
    else:
        text = "\n".join(f"{s}.jpg {lab}" for s, lab in rows)  # no trailing newline, as the real file
    _write(base / "EmoLabel" / label_name, text)
    for i, (stem, lab) in enumerate(rows):
        label = RAFDB_ORDER[lab - 1]
        if stem not in missing:
            name = f"{stem}.jpg" if stem in no_suffix else f"{stem}_aligned.jpg"
            _save(bank.face(f"raf/{stem}", (100, 100), label), base / "Image" / "aligned" / name)
        w, h = (180, 240) if i % 2 == 0 else (320, 256)
        if original:
            _save(bank.face(f"raf/{stem}/orig", (w, h), label), base / "Image" / "original" / f"{stem}.jpg")
        if annotations:
            box = [w * 0.19, h * 0.17, w * 0.83, h * 0.71]
            if stem == "train_00003":
                box = [-6.5, 12.25, w + 20.5, h + 15.25]  # spills beyond the image
            ann = base / "Annotation"
            _write(ann / "boundingbox" / f"{stem}_boundingbox.txt", " ".join(f"{v:.2f}" for v in box) + "\n")
            pts = [
                (w * 0.38, h * 0.4),
                (w * 0.62, h * 0.4),
                (w * 0.5, h * 0.52),
                (w * 0.4, h * 0.62),
                (w * 0.6, h * 0.62),
            ]
            lines = [f"{x:.3f}\t{y:.3f}" for x, y in pts] + [str(i % 3), str((i + 1) % 3), str(i % 5)]
            _write(ann / "manual" / f"{stem}_manu_attri.txt", "\n".join(lines) + "\n")
            auto = [f"{w * (0.3 + 0.01 * k):.3f}\t{h * (0.35 + 0.008 * k):.3f}" for k in range(37)]
            _write(ann / "auto" / f"{stem}_auto_attri.txt", "\n".join(auto) + "\n")


def _write_rafdb(root: Path, bank: FaceBank) -> dict[str, Path]:
    out = {}
    out["raf_basic"] = root / "raf_basic"
    _raf_official(out["raf_basic"] / "basic", bank, no_suffix=["test_0007"])
    out["raf_nobasic"] = root / "raf_nobasic"
    _raf_official(out["raf_nobasic"], bank, missing=["train_00014"], annotations=False)
    out["raf_partition"] = root / "raf_partition"
    _raf_official(out["raf_partition"], bank, label_name="list_partition_label.txt", three_fields=True,
                  original=False, annotations=False)  # fmt: skip
    out["raf_zip"] = root / "raf_zip"
    base = out["raf_zip"] / "basic"
    _write(
        base / "EmoLabel" / "list_patition_label.txt",
        "\n".join(f"{s}.jpg {lab}" for s, lab in RAF_TRAIN + RAF_TEST),
    )
    (base / "Image").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(base / "Image" / "aligned.zip", "w") as z:
        for stem, _ in RAF_TRAIN + RAF_TEST:
            info = zipfile.ZipInfo(
                f"aligned/{stem}_aligned.jpg", date_time=(2018, 6, 12, 0, 0, 0)
            )  # fixed: same bytes
            z.writestr(info, bank.encoded(f"raf/{stem}", (100, 100)))
    out["raf_kaggle"] = root / "raf_kaggle"
    for split, items in (("train", RAF_TRAIN), ("test", RAF_TEST)):
        lines = ["image,label"]
        for stem, lab in items:
            name = f"{stem}_aligned.jpg"
            _save(
                bank.face(f"raf/{stem}", (100, 100), RAFDB_ORDER[lab - 1]),
                out["raf_kaggle"] / "DATASET" / split / str(lab) / name,
            )
            lines.append(f"{name},{lab}")
        _write(out["raf_kaggle"] / f"{split}_labels.csv", "\n".join(lines) + "\n")
    out["raf_manet"] = root / "raf_manet"
    for split, items in (("train", RAF_TRAIN), ("test", RAF_TEST)):
        for stem, lab in items:
            code = AFFECTNET_ORDER.index(RAFDB_ORDER[lab - 1])
            _save(
                bank.face(f"raf/{stem}", (100, 100)),
                out["raf_manet"] / "RAF-DB" / split / str(code) / f"{stem}_aligned.jpg",
            )
    return out


# --------------------------------------------------------------------------------------------------
# F2 FERPlus

#: (Usage, Image name, 10 votes): the §3.3 test vectors plus the fer2013new.csv quirks.
FERPLUS_ROWS: list[tuple[str, str, list[int]]] = [
    ("Training", "fer0000000.png", [4, 0, 0, 1, 3, 2, 0, 0, 0, 0]),
    ("Training", "fer0000001.png", [6, 0, 1, 1, 0, 0, 0, 0, 2, 0]),
    ("Training", "", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),  # empty name: no image (NF)
    ("Training", "fer0000004.png", [5, 5, 0, 0, 0, 0, 0, 0, 0, 0]),  # tie
    ("Training", "fer0000005.png", [0, 0, 0, 0, 2, 1, 0, 7, 0, 0]),  # contempt majority
    ("Training", "fer0000007.png", [0, 8, 0, 0, 0, 0, 0, 0, 1, 0]),  # sums to 9
    ("Training", "fer0000001.png", [0, 0, 0, 0, 9, 0, 0, 0, 1, 0]),  # duplicate name: this later row wins
    ("PublicTest", "fer0000009.png", [3, 3, 3, 1, 0, 0, 0, 0, 0, 0]),
    ("PublicTest", "fer0000010.png", [0, 6, 0, 0, 0, 0, 0, 0, 4, 0]),
    ("PublicTest", "fer0000011.png", [0, 0, 10, 0, 0, 0, 0, 0, 0, 0]),
    ("PublicTest", "", [0, 0, 0, 0, 0, 0, 0, 0, 0, 10]),
    ("PrivateTest", "fer0000013.png", [2, 2, 2, 2, 2, 0, 0, 0, 0, 0]),  # 5 ties
    ("PrivateTest", "fer0000014.png", [4, 0, 0, 0, 0, 0, 0, 0, 4, 2]),
    ("PrivateTest", "fer0000015.png", [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),  # all ones
    ("PrivateTest", "fer0000016.png", [0, 0, 0, 8, 2, 0, 0, 0, 0, 0]),  # label.csv differs (below)
    ("PrivateTest", "fer0000017.png", [0, 0, 0, 0, 0, 0, 0, 0, 7, 3]),  # unknown majority
    ("PrivateTest", "fer0000018.png", [0, 0, 0, 0, 0, 0, 9, 0, 1, 0]),
]
#: label.csv votes that differ from fer2013new.csv (the real files differ for 1,602 images).
FERPLUS_LABEL_CSV_OVERRIDES = {"fer0000016.png": [0, 8, 1, 0, 1, 0, 0, 0, 0, 0]}
_FER_FOLDER = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
_FER_HEADER = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF"


def _fer_pixels(bank: FaceBank, i: int) -> np.ndarray:
    return np.asarray(bank.face(f"fer/{i}", (48, 48), mode="L"), dtype=np.uint8)


def _write_ferplus(root: Path, bank: FaceBank) -> dict[str, Path]:
    out: dict[str, Path] = {}
    pixels = [_fer_pixels(bank, i) for i in range(len(FERPLUS_ROWS))]
    emotions = [(i * 3) % 7 for i in range(len(FERPLUS_ROWS))]
    fer_lines = ["emotion,pixels,Usage"] + [
        f"{emotions[i]},{' '.join(map(str, pixels[i].ravel()))},{usage}"
        for i, (usage, _, _) in enumerate(FERPLUS_ROWS)
    ]
    fer_csv = "\n".join(fer_lines) + "\n"
    icml_csv = "emotion, Usage, pixels\n" + "".join(
        f"{emotions[i]},{usage},{' '.join(map(str, pixels[i].ravel()))}\n"
        for i, (usage, _, _) in enumerate(FERPLUS_ROWS)
    )
    new_csv = (
        _FER_HEADER
        + "\n"
        + "".join(f"{usage},{name},{','.join(map(str, votes))}\n" for usage, name, votes in FERPLUS_ROWS)
    )
    # label.csv per folder: one row per unique name, the later duplicate's votes winning.
    per_folder: dict[str, dict[str, list[int]]] = {f: {} for f in _FER_FOLDER.values()}
    for usage, name, votes in FERPLUS_ROWS:
        if name:
            per_folder[_FER_FOLDER[usage]][name] = FERPLUS_LABEL_CSV_OVERRIDES.get(name, votes)
    label_csvs = {
        folder: "".join(f'{n},"(0, 0, 48, 48)",{",".join(map(str, v))}\n' for n, v in rows.items())
        for folder, rows in per_folder.items()
    }

    def pngs(dest: dict[str, Path]) -> None:
        for i, (usage, name, _) in enumerate(FERPLUS_ROWS):
            if name:  # rows in order: a later duplicate overwrites the earlier PNG, as the generator does
                path = dest[_FER_FOLDER[usage]] / name
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.fromarray(pixels[i], mode="L").save(path, format="PNG", compress_level=0)

    base = root / "ferplus"
    out["ferplus"] = base
    _write(base / "fer2013.csv", fer_csv)
    _write(base / "fer2013new.csv", new_csv)
    pngs({f: base / f for f in _FER_FOLDER.values()})
    for f, text in label_csvs.items():
        _write(base / f / "label.csv", text)

    out["ferplus_csv"] = root / "ferplus_csv"
    _write(out["ferplus_csv"] / "fer2013.csv", fer_csv)
    _write(out["ferplus_csv"] / "fer2013new.csv", new_csv)

    out["ferplus_icml"] = root / "ferplus_icml"
    _write(out["ferplus_icml"] / "icml_face_data.csv", icml_csv)
    _write(out["ferplus_icml"] / "fer2013new.csv", new_csv)

    out["ferplus_repo"] = root / "ferplus_repo"  # a microsoft/FERPlus clone + the Kaggle CSV, no PNGs
    _write(out["ferplus_repo"] / "FERPlus" / "fer2013new.csv", new_csv)
    for f, text in label_csvs.items():
        _write(out["ferplus_repo"] / "FERPlus" / "data" / f / "label.csv", text)
    _write(out["ferplus_repo"] / "fer2013" / "fer2013.csv", fer_csv)

    out["ferplus_esr"] = root / "ferplus_esr"
    pngs({f: out["ferplus_esr"] / "Images" / f for f in _FER_FOLDER.values()})
    for f, text in label_csvs.items():
        _write(out["ferplus_esr"] / "Labels" / f / "label.csv", text)

    out["ferplus_traincsv"] = root / "ferplus_traincsv"  # current Kaggle train.csv: cannot be paired
    train_rows = [i for i, r in enumerate(FERPLUS_ROWS) if r[0] == "Training"]
    _write(out["ferplus_traincsv"] / "train.csv",
           "emotion,pixels\n" + "".join(f"{emotions[i]},{' '.join(map(str, pixels[i].ravel()))}\n" for i in train_rows))  # fmt: skip
    _write(out["ferplus_traincsv"] / "fer2013new.csv", new_csv)

    out["fer2013_msambare"] = root / "fer2013_msambare"
    names = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    for k, cls in enumerate(names):
        for j in range(2):  # Training_10 appears under two classes, as in the real copy
            n = 10 if (k < 2 and j == 0) else 100 + 2 * k + j
            _save(
                bank.face(f"msam/{cls}/{j}", (48, 48), mode="L"),
                out["fer2013_msambare"] / "train" / cls / f"Training_{n}.jpg",
            )
        prefix = "PublicTest" if k % 2 else "PrivateTest"
        _save(
            bank.face(f"msam/test/{cls}", (48, 48), mode="L"),
            out["fer2013_msambare"] / "test" / cls / f"{prefix}_{200 + k}.jpg",
        )
    return out


# --------------------------------------------------------------------------------------------------
# F3-F5 AffectNet


def _hex56(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:56]


def _landmark_text(x: float, y: float, w: float, h: float) -> str:
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    xs = x + w * (0.5 + 0.38 * np.cos(t))
    ys = y + h * (0.55 + 0.4 * np.sin(t))
    return ";".join(f"{v:.2f}" for pair in zip(xs, ys, strict=True) for v in pair)


#: validation.csv rows: (code, ext on disk, ext in the CSV, quirk)
_AFFECT_VAL = [(c, ext, ext.lower(), "") for c in range(8) for ext in (".jpg", ".png")]
_AFFECT_VAL[3] = (1, ".JPG", ".jpg", "")  # listed .jpg, stored .JPG: extensions match case-insensitively
_AFFECT_VAL[5] = (2, ".png", ".png", "missing")  # listed, not on disk
_AFFECT_VAL[6] = (3, ".bmp", ".bmp", "outside")  # face box partly outside the image
_AFFECT_VAL[8] = (4, ".jpg", ".jpg", "no_landmarks")
_AFFECT_VAL[10] = (5, ".jpg", ".jpg", "nan_landmarks")
_AFFECT_VAL += [(8, ".jpg", ".jpg", ""), (9, ".jpg", ".jpg", ""), (10, ".png", ".png", "")]
_AFFECT_TRAIN = [(c, ".jpg", ".jpg", "") for c in range(11)] + [
    (1, ".jpeg", ".jpeg", ""),
    (6, ".png", ".png", ""),
]
AFFECTNET_CSV_HEADER = (
    "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
)


def _affectnet_csv_rows(
    bank: FaceBank, images: Path, split: str, spec: list[tuple[int, str, str, str]]
) -> list[str]:
    rows = []
    for i, (code, disk_ext, csv_ext, quirk) in enumerate(spec):
        folder = str(100 + i % 3)
        stem = _hex56(f"affectnet/{split}/{i}")
        w, h = 160 + 8 * (i % 4), 200 - 6 * (i % 3)
        if quirk != "missing":
            _save(bank.face(f"affectnet/{split}/{i}", (w, h)), images / folder / f"{stem}{disk_ext}")
        fx, fy, fw, fh = 20 + i % 5, 30 + i % 7, w - 50, h - 70
        if quirk == "outside":
            fx, fy, fw, fh = -12, 10, w + 5, h - 20
        lmk = _landmark_text(fx, fy, fw, fh)
        if quirk == "no_landmarks":
            lmk = ""
        elif quirk == "nan_landmarks":
            lmk = ";".join(["nan"] * 136)
        if code >= 9:
            val = aro = "-2"
        else:
            val, aro = f"{0.1 * (i % 9) - 0.4:.6f}", f"{0.05 * (i % 7) - 0.1:.6f}"
        rows.append(f"{folder}/{stem}{csv_ext},{fx},{fy},{fw},{fh},{lmk},{code},{val},{aro}")
    return rows


def _affectnet_csv(base: Path, bank: FaceBank, *, val_header: bool = True, nested: bool = False) -> None:
    images = base / (
        "Manually_Annotated/Manually_Annotated_Images" if nested else "Manually_Annotated_Images"
    )
    lists = base / "Manually_Annotated_file_lists"
    train = _affectnet_csv_rows(bank, images, "train", _AFFECT_TRAIN)
    val = _affectnet_csv_rows(bank, images, "val", _AFFECT_VAL)
    _write(lists / "training.csv", AFFECTNET_CSV_HEADER + "\n" + "\n".join(train) + "\n")
    _write(
        lists / "validation.csv", (AFFECTNET_CSV_HEADER + "\n" if val_header else "") + "\n".join(val) + "\n"
    )


def _npy_split(
    base: Path, bank: FaceBank, codes: list[int], *, extra_image: bool, orphan_annotation: bool
) -> None:
    img_dir, ann_dir = base / "images", base / "annotations"
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    for i, code in enumerate(codes):
        _save(bank.face(f"npy/{base.name}/{i}", (224, 224)), img_dir / f"{i}.jpg")
        string_typed = i % 2 == 0
        np.save(
            ann_dir / f"{i}_exp.npy", np.array(str(code)) if string_typed else np.array(code, dtype=np.int64)
        )
        valence = -2.0 if i == 3 else round(0.1 * (i % 9) - 0.4, 4)
        arousal = round(0.05 * (i % 7) - 0.1, 4)
        for suffix, v in (("val", valence), ("aro", arousal)):
            np.save(ann_dir / f"{i}_{suffix}.npy", np.array(repr(v)) if string_typed else np.array(v))
        t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
        lnd = np.stack([112 + 80 * np.cos(t), 120 + 90 * np.sin(t)], axis=1).reshape(-1)
        np.save(ann_dir / f"{i}_lnd.npy", lnd.astype(np.float64))
    n = len(codes)
    if extra_image:  # an image with no annotation: skipped with a warning
        _save(bank.face(f"npy/{base.name}/extra", (224, 224)), img_dir / f"{n}.jpg")
    if orphan_annotation:  # an annotation whose image is missing: stays, counted as an error later
        np.save(ann_dir / f"{n + 1}_exp.npy", np.array(1.0))


def _write_affectnet(root: Path, bank: FaceBank) -> dict[str, Path]:
    out: dict[str, Path] = {}
    out["affectnet_csv"] = root / "affectnet_csv"
    _affectnet_csv(out["affectnet_csv"], bank)
    out["affectnet_csv_noheader"] = root / "affectnet_csv_noheader"
    _affectnet_csv(out["affectnet_csv_noheader"], bank, val_header=False)
    out["affectnet_csv_nested"] = root / "affectnet_csv_nested"
    _affectnet_csv(out["affectnet_csv_nested"], bank, nested=True)

    out["affectnet_rar"] = root / "affectnet_rar"
    lists = out["affectnet_rar"] / "Manually_Annotated_file_lists"
    _write(lists / "training.csv", AFFECTNET_CSV_HEADER + "\n")
    _write(lists / "validation.csv", AFFECTNET_CSV_HEADER + "\n")
    for part in (1, 2):
        _write(
            out["affectnet_rar"] / f"Manually_Annotated.part{part:02d}.rar", b"Rar!\x1a\x07\x00" + bytes(64)
        )

    out["affectnet_escape"] = root / "affectnet_escape"
    esc = out["affectnet_escape"]
    _save(bank.face("escape", (160, 200)), esc / "Manually_Annotated_Images" / "1" / "ok.jpg")
    lmk = _landmark_text(10, 10, 100, 100)
    _write(esc / "Manually_Annotated_file_lists" / "validation.csv",
           AFFECTNET_CSV_HEADER + "\n" + f"1/ok.jpg,10,10,100,100,{lmk},1,0.5,0.5\n"
           + f"../../outside/secret.jpg,10,10,100,100,{lmk},2,0.1,0.1\n")  # fmt: skip

    out["affectnet_npy"] = root / "affectnet_npy"
    _npy_split(out["affectnet_npy"] / "train_set", bank, [*range(8), 2, 5], extra_image=True,
               orphan_annotation=True)  # fmt: skip
    _npy_split(out["affectnet_npy"] / "val_set", bank, [c for c in range(8) for _ in range(2)], extra_image=True,
               orphan_annotation=False)  # fmt: skip

    out["affectnet_yolo"] = root / "affectnet_yolo"
    y = out["affectnet_yolo"] / "YOLO_format"
    _write(y / "data.yaml", "train: ../train/images\nval: ../valid/images\ntest: ../test/images\n\nnc: 8\n"
           f"names: [{', '.join(_YOLO_NAMES)}]\n")  # fmt: skip
    for split, n in (("train", 8), ("valid", 8), ("test", 4)):
        for i in range(n):
            cls = i % 8
            _save(bank.face(f"yolo/{split}/{i}", (96, 96)), y / split / "images" / f"img_{split}_{i:03d}.jpg")
            _write(y / split / "labels" / f"img_{split}_{i:03d}.txt", f"{cls} 0.5 0.5 0.82 0.9\n")
    _save(bank.face("yolo/train/nolabel", (96, 96)), y / "train" / "images" / "img_train_999.jpg")

    out["affectnet_dan"] = root / "affectnet_dan"
    for split, per in (("train", 1), ("val", 2)):
        for code in range(8):
            for j in range(per):
                _save(
                    bank.face(f"dan/{split}/{code}/{j}", (112, 112)),
                    out["affectnet_dan"] / split / str(code) / f"{code * 10 + j}.jpg",
                )
    return out


# --------------------------------------------------------------------------------------------------
# Entry points


def write_fixtures(root: str | os.PathLike[str], seed: int = 0, faces: str = "auto") -> dict[str, Path]:
    """Write every fixture variant under ``root``; return {variant name: folder}.

    Variants: raf_basic, raf_nobasic, raf_partition, raf_zip, raf_kaggle, raf_manet; ferplus,
    ferplus_csv, ferplus_icml, ferplus_repo, ferplus_esr, ferplus_traincsv, fer2013_msambare;
    affectnet_csv, affectnet_csv_noheader, affectnet_csv_nested, affectnet_rar, affectnet_escape,
    affectnet_npy, affectnet_yolo, affectnet_dan. ``faces``: auto, photos or procedural.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    bank = FaceBank(seed, faces)
    out: dict[str, Path] = {}
    out.update(_write_rafdb(root, bank))
    out.update(_write_ferplus(root, bank))
    out.update(_write_affectnet(root, bank))
    return out


def write_scaled_fixtures(
    root: str | os.PathLike[str], n: int = 20000, seed: int = 0, faces: str = "auto", pool: int = 16
) -> dict[str, Path]:
    """``n`` samples each of RAF-DB (official), FERPlus (official folders) and AffectNet (CSV release).

    Only ``pool`` images per format are encoded; every sample file is a hard link to one of them (a
    copy where links are not supported), so writing 3 x 20,000 samples takes seconds.
    """
    root = Path(root)
    bank = FaceBank(seed, faces)
    rng = np.random.default_rng(seed)
    pool_dir = root / "_pool"
    pool_dir.mkdir(parents=True, exist_ok=True)

    def make_pool(kind: str, size: tuple[int, int], fmt: str, mode: str, **kw: Any) -> list[Path]:
        ext = ".png" if fmt == "PNG" else ".jpg"
        return [
            _write(pool_dir / f"{kind}_{i}{ext}", bank.encoded(f"{kind}/{i}", size, fmt, mode, **kw))
            for i in range(pool)
        ]

    out: dict[str, Path] = {}
    # RAF-DB official
    raf = root / "rafdb" / "basic"
    out["rafdb"] = root / "rafdb"
    n_train = n * 4 // 5
    names = [f"train_{i:05d}" for i in range(1, n_train + 1)] + [
        f"test_{i:04d}" for i in range(1, n - n_train + 1)
    ]
    labels = rng.integers(1, 8, n)
    _write(
        raf / "EmoLabel" / "list_patition_label.txt",
        "\n".join(f"{s}.jpg {lab}" for s, lab in zip(names, labels, strict=True)),
    )
    aligned = raf / "Image" / "aligned"
    aligned.mkdir(parents=True, exist_ok=True)
    jpgs = make_pool("raf", (100, 100), "JPEG", "RGB", quality=90)
    for i, s in enumerate(names):
        _link(jpgs[i % pool], aligned / f"{s}_aligned.jpg")
    # FERPlus official folders
    fer = root / "ferplus"
    out["ferplus"] = fer
    pngs = make_pool("fer", (48, 48), "PNG", "L", compress_level=0)
    votes_pool = [r[2] for r in FERPLUS_ROWS] + [[10 - k, k, 0, 0, 0, 0, 0, 0, 0, 0] for k in range(5)]
    splits = (
        ("FER2013Train", n * 8 // 10),
        ("FER2013Valid", n // 10),
        ("FER2013Test", n - n * 8 // 10 - n // 10),
    )
    k = 0
    for folder, count in splits:
        d = fer / folder
        d.mkdir(parents=True, exist_ok=True)
        lines = []
        for _ in range(count):
            name = f"fer{k:07d}.png"
            _link(pngs[k % pool], d / name)
            v = votes_pool[int(rng.integers(len(votes_pool)))]
            lines.append(f'{name},"(0, 0, 48, 48)",{",".join(map(str, v))}\n')
            k += 1
        _write(d / "label.csv", "".join(lines))
    # AffectNet CSV release
    aff = root / "affectnet"
    out["affectnet"] = aff
    imgs = make_pool("aff", (200, 200), "JPEG", "RGB", quality=85)
    n_val = n // 5
    for split, count, fname in (("train", n - n_val, "training.csv"), ("val", n_val, "validation.csv")):
        lines = [AFFECTNET_CSV_HEADER]
        for i in range(count):
            folder = str(i // 500)
            stem = _hex56(f"{split}/{i}")
            dest = aff / "Manually_Annotated_Images" / folder / f"{stem}.jpg"
            if i % 500 == 0:
                dest.parent.mkdir(parents=True, exist_ok=True)
            _link(imgs[i % pool], dest)
            code = int(rng.integers(0, 11))
            va = "-2,-2" if code >= 9 else f"{rng.uniform(-1, 1):.4f},{rng.uniform(-1, 1):.4f}"
            lines.append(f"{folder}/{stem}.jpg,20,25,150,160,{_landmark_text(20, 25, 150, 160)},{code},{va}")
        _write(aff / "Manually_Annotated_file_lists" / fname, "\n".join(lines) + "\n")
    shutil.rmtree(pool_dir, ignore_errors=True)
    return out
