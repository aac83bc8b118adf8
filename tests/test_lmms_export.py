"""lmms-eval interop without lmms-eval: export files, the YAML hooks, and importing logged samples.

The logged-sample files here are written in the exact layouts lmms-eval 0.7.3 writes (measured in
specs/lmms-eval.md §10 and by tests/test_lmms_eval_run.py, which runs the real lmms-eval).
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.lmms import hooks
from tag_bench.lmms.export import export_tasks
from tag_bench.lmms.importer import LmmsImportError, import_run, response_text
from tag_bench.lmms.rows import TaskRow
from tag_bench.prompts import render_prompt

TRACE = """Global analysis: The face is relaxed.
Verification loop:
Inspect mouth corners → lip corners pulled up (AU12) → <bbox>[{x1},{y1},{x2},{y2}]</bbox>
Final conclusion: AU12 indicates {label}.
<answer> {label} </answer>"""


class _FunctionLoader(yaml.SafeLoader):
    """Reads ``!function a.b.c`` as the string it names (as lmms-eval's loader sees the tag)."""


_FunctionLoader.add_constructor(
    "!function", lambda loader, node: ("!function", loader.construct_scalar(node))
)


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("lmms-export")
    (exported,) = export_tasks(["demo"], out, gen_kwargs="max_new_tokens=64,stop=</answer>")
    rows = [TaskRow.model_validate_json(line) for line in exported.docs_path.read_text().splitlines()]
    return exported, rows


def test_export_writes_a_prefixed_task_with_tag_bench_hooks(demo_export):
    from tag_bench.tasks import load_task

    exported, rows = demo_export
    assert exported.name == "tag_demo" and exported.yaml_path.name == "tag_demo.yaml"
    spec = yaml.load(exported.yaml_path.read_text(), Loader=_FunctionLoader)
    assert spec["task"] == "tag_demo"
    assert spec["dataset_path"] == "json"
    assert spec["dataset_kwargs"]["data_files"] == {"test": "tag_demo.jsonl"}  # relative: the folder moves
    for fn in ("doc_to_visual", "doc_to_text", "doc_to_messages", "process_results"):
        assert spec[fn] == ("!function", f"tag_bench.lmms.hooks.{fn}")
    assert spec["reasoning_tags"] == "none"
    assert spec["generation_kwargs"] == {"do_sample": False, "max_new_tokens": 64, "temperature": 0.0,
                                         "until": ["</answer>"]}  # fmt: skip
    meta = spec["metadata"]["tag_bench"]
    task = load_task("demo")
    assert meta["task"] == "demo" and meta["frame"] == "pixel" and meta["prompt_id"] == task.prompt
    assert meta["n_samples"] == len(rows) == exported.n_samples == len(task.load(None).samples)
    samples = {s.id: s for s in task.load(None).samples}
    for r in rows:
        s = samples[r.sample_id]
        assert r.image == os.path.abspath(s.image)
        assert r.label == s.label and r.classes == list(task.classes)
        assert r.size == (r.width, r.height) and r.width > 0


def test_no_stop_means_an_empty_until(tmp_path):
    (e,) = export_tasks(["demo"], tmp_path, limit=1)
    spec = yaml.load(e.yaml_path.read_text(), Loader=_FunctionLoader)
    # lmms-eval otherwise stops at its few-shot delimiter "\n\n", which tag-bench run never does
    assert spec["generation_kwargs"]["until"] == []
    assert spec["generation_kwargs"]["max_new_tokens"] == 512


def test_prompt_is_tag_bench_prompt_same_hash(demo_export):
    _, rows = demo_export
    for r in rows:
        rendered = render_prompt(r.prompt_id, r.classes, r.frame, r.size)
        assert hooks.doc_to_text(r.model_dump()) == rendered.user
        messages = hooks.doc_to_messages(r.model_dump())
        assert messages[0] == {"role": "system", "content": [{"type": "text", "text": rendered.system}]}
        image, text = messages[1]["content"]
        assert text == {"type": "text", "text": rendered.user} and image["url"].size == r.size
        assert f"{r.width}×{r.height}" in rendered.user  # the pixel frame states the image size


def test_doc_to_visual_is_the_presented_image(demo_export):
    from tag_bench.images import open_image
    from tag_bench.tasks import load_task

    _, rows = demo_export
    sample = load_task("demo").load(None).samples[0]
    (img,) = hooks.doc_to_visual(rows[0].model_dump())
    assert img.mode == "RGB" and img.tobytes() == open_image(sample).tobytes()


def test_crop_survives_the_row(tmp_path):
    from PIL import Image

    from tag_bench.schema import Sample

    path = tmp_path / "face.png"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(path)
    s = Sample(id="x/1", dataset="x", split="test", image=str(path), crop=[5, 5, 25, 20], label="anger",
               native_label=6)  # fmt: skip
    row = TaskRow.of(s, "x", (20, 15), ["anger", "fear"], "direct", "pixel")
    back = TaskRow.model_validate_json(row.model_dump_json(exclude_none=True))
    (img,) = hooks.doc_to_visual(back.model_dump())
    assert img.size == (20, 15) and back.sample().crop == [5, 5, 25, 20]


def test_process_results_scores_with_the_tag_bench_parser(demo_export):
    _, rows = demo_export
    r = rows[0]
    right = TRACE.format(x1=10, y1=20, x2=60, y2=80, label=r.label)
    got = hooks.process_results(r.model_dump(), [right])
    assert got["tag_accuracy"] == 1.0 and got["tag_status"] == "ok" and got["tag_label"] == r.label
    assert got["tag_sample_id"] == r.sample_id and got["tag_aus"] == ["AU12"]
    assert got["tag_evidence"] == [{"au": "AU12", "box": [10.0, 20.0, 60.0, 80.0], "box_status": "ok"}]
    wrong = next(c for c in r.classes if c != r.label)
    assert hooks.process_results(r.model_dump(), [f"<answer>{wrong}</answer>"])["tag_accuracy"] == 0.0
    failed = hooks.process_results(r.model_dump(), ["I cannot tell."])
    assert failed["tag_accuracy"] == 0.0 and failed["tag_status"] != "ok"  # stays in the denominator
    assert hooks.process_results(r.model_dump(), [[right]])["tag_accuracy"] == 1.0  # [[x]] of lmms-eval < 0.7
    assert hooks.process_results(r.model_dump(), [])["tag_status"] == "no_answer"


@pytest.mark.parametrize("doc", [{}, {"sample_id": "a"}, None, "text", {"sample_id": "a", "width": "wide"}])
def test_process_results_never_raises(doc):
    got = hooks.process_results(doc, ["<answer>anger</answer>"])
    assert got["tag_status"] == "scorer_error" and got["tag_accuracy"] == 0.0 and got["tag_error"]


def test_process_results_is_thread_safe(demo_export):
    _, rows = demo_export
    jobs = [(r.model_dump(), TRACE.format(x1=i, y1=i, x2=i + 30, y2=i + 40, label=c))
            for i, r in enumerate(rows * 20) for c in r.classes]  # fmt: skip
    serial = [hooks.process_results(d, [t]) for d, t in jobs]
    hooks._rendered.cache_clear()  # the threads also race on filling the prompt cache
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda job: hooks.process_results(job[0], [job[1]]), jobs)) == serial


def test_unreadable_images_are_left_out_with_a_reason(tmp_path, dataset_fixtures):
    import shutil

    raf = tmp_path / "raf"
    shutil.copytree(dataset_fixtures["raf_basic"], raf)
    from tag_bench.tasks import load_task

    samples = load_task("rafdb_basic_test").load(raf).samples
    Path(samples[1].image).write_bytes(b"not an image")
    Path(samples[2].image).unlink()
    (e,) = export_tasks(["rafdb_basic_test"], tmp_path / "out", data_root=raf)
    assert e.name == "tag_rafdb_basic_test" and e.n_samples == len(samples) - 2
    assert [s.split(":")[0] for s in e.skipped] == [samples[1].id, samples[2].id]
    assert any("left out" in w for w in e.warnings)


# --------------------------------------------------------------------------------------------------
# Import


def _logged(path: Path, rows: list[TaskRow], texts: list[str], *, nested: bool = False, extras: bool = True,
            results_dir: Path | None = None, docs: Path | None = None) -> Path:  # fmt: skip
    """Write a samples JSONL (and results.json) the way lmms-eval 0.7.3's CLI writes them."""
    path.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (r, t) in enumerate(zip(rows, texts, strict=True)):
        line = {"doc_id": i, "target": r.label, "filtered_resps": [[t]] if nested else t,
                "token_counts": [{"output_tokens": 9}], "doc_hash": "x", "input": "prompt"}  # fmt: skip
        if extras:
            line.update(hooks.process_results(r.model_dump(), [t]))
        lines.append(line)
    samples = path / "20261128_101010_samples_tag_demo.jsonl"
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines))
    config = {"task": "tag_demo", "test_split": "test", "metadata": {"version": 1, "tag_bench": {
        "task": "demo", "frame": "pixel", "data_root": None, "loader_options": {}, "limit": None}}}  # fmt: skip
    if docs is not None:
        config["dataset_kwargs"] = {"data_files": {"test": str(docs)}}
    (path / "20261128_101010_results.json").write_text(json.dumps({
        "configs": {"tag_demo": config}, "lmms_eval_version": "0.7.3", "date": "20261128_101010",
        "config": {"model": "qwen2_5_vl", "model_args": "pretrained=x,api_key=sk-secret"},
        "results": {"tag_demo": {"tag_accuracy,none": 0.5}}}))  # fmt: skip
    return samples


def _texts(rows: list[TaskRow]) -> list[str]:
    out = []
    for i, r in enumerate(rows):
        label = r.label if i % 2 == 0 else next(c for c in r.classes if c != r.label)
        out.append(TRACE.format(x1=100, y1=200, x2=300, y2=260, label=label))
    return out


def _replay_metrics(
    tmp_path: Path, rows: list[TaskRow], texts: list[str], au_reference: str = "none"
) -> dict:
    preds = tmp_path / "replay.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"id": r.sample_id, "response": t}) + "\n" for r, t in zip(rows, texts, strict=True)
        )
    )
    r = CliRunner().invoke(main, ["score", "--task", "demo", "--predictions", str(preds), "--frame", "pixel",
                                  "--au-reference", au_reference, "--out", str(tmp_path / "replay"),
                                  "--n-resamples", "200", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    return json.loads((tmp_path / "replay" / "metrics.json").read_text())


@pytest.mark.parametrize("nested", [False, True])
def test_import_equals_replay_scoring(demo_export, tmp_path, nested):
    _, rows = demo_export
    texts = _texts(rows)
    _logged(tmp_path / "lmms" / "model", rows[:-1], texts[:-1], nested=nested)  # the last one: missing
    r = CliRunner().invoke(main, ["lmms-eval", "import", str(tmp_path / "lmms"), "--out", str(tmp_path / "run"),
                                  "--au-reference", "none", "--n-resamples", "200", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    got = json.loads((tmp_path / "run" / "metrics.json").read_text())
    want = _replay_metrics(tmp_path, rows[:-1], texts[:-1])
    assert got["metrics"] == want["metrics"] and got["status_counts"] == want["status_counts"]
    assert got["status_counts"]["missing"] == 1
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    lmms = manifest["extra"]["lmms_eval"]
    assert (
        lmms["task"] == "tag_demo"
        and lmms["version_logged"] == "0.7.3"
        and lmms["config"]["model"] == "qwen2_5_vl"
    )
    assert manifest["model"]["frame"] == "pixel" and manifest["task"]["name"] == "demo"


def test_import_grounds_boxes_against_the_au_reference(demo_export, tmp_path):
    _, rows = demo_export
    rows = rows[:2]
    texts = _texts(rows)
    _logged(tmp_path / "lmms", rows, texts)
    r = CliRunner().invoke(main, ["lmms-eval", "import", str(tmp_path / "lmms"), "--out", str(tmp_path / "run"),
                                  "--au-reference", "mediapipe-geometric", "--n-resamples", "200"])  # fmt: skip
    assert r.exit_code == 0, r.output
    got = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert got["metrics"]["au_box_iou"]["value"] is not None and got["metrics"]["au_box_iou"]["n"] >= 1
    assert got["metrics"]["box_rate"]["value"] == pytest.approx(2 / got["n"])  # 2 answered, the rest missing
    want = _replay_metrics(tmp_path, rows, texts, au_reference="mediapipe-geometric")
    assert got["metrics"] == want["metrics"]


def test_import_predict_only_maps_doc_ids_through_the_export(demo_export, tmp_path):
    exported, rows = demo_export
    texts = _texts(rows)
    samples = _logged(tmp_path / "lmms", rows, texts, extras=False, docs=exported.docs_path)
    result = import_run(samples, tmp_path / "run", au_reference="none", n_resamples=0, progress=False)
    assert result.n_lines == len(rows)
    assert result.run.report.metrics["accuracy"].value == pytest.approx(
        sum(1 for i in range(len(rows)) if i % 2 == 0) / len(rows)
    )


def test_import_of_a_foreign_task_needs_a_mapping(demo_export, tmp_path):
    _, rows = demo_export
    texts = _texts(rows)
    samples = _logged(tmp_path / "lmms", rows, texts, extras=False)
    samples = samples.rename(samples.with_name("20261128_101010_samples_fer_other.jsonl"))
    (tmp_path / "lmms" / "20261128_101010_results.json").unlink()
    with pytest.raises(LmmsImportError, match="--task"):
        import_run(samples, tmp_path / "run")
    with pytest.raises(LmmsImportError, match="--frame"):
        import_run(samples, tmp_path / "run", task="demo")
    with pytest.raises(LmmsImportError, match="--id-map"):
        import_run(samples, tmp_path / "run", task="demo", frame="pixel")
    id_map = tmp_path / "map.csv"
    id_map.write_text("doc_id,id\n" + "".join(f"{i},{r.sample_id}\n" for i, r in enumerate(rows)))
    result = import_run(samples, tmp_path / "run", task="demo", frame="pixel", id_map=id_map,
                        au_reference="none", n_resamples=0, progress=False)  # fmt: skip
    assert result.run.report.n == len(rows) and result.run.report.status_counts.get("missing", 0) == 0


def test_response_shapes():
    assert response_text({"filtered_resps": "a"}) == ("a", False)
    assert response_text({"filtered_resps": ["a"]}) == ("a", False)
    assert response_text({"filtered_resps": [["a"]]}) == ("a", False)
    assert response_text({"resps": [["<think>x</think>a"]], "filtered_resps": ["a"]}) == (
        "<think>x</think>a",
        False,
    )
    assert response_text({"filtered_resps": [["a", "b"]]}) == ("a", True)
    assert response_text({"filtered_resps": []}) == (None, False)


def test_import_refuses_ambiguous_or_empty_sources(tmp_path, demo_export):
    _, rows = demo_export
    with pytest.raises(LmmsImportError, match="no lmms-eval samples file"):
        import_run(tmp_path, tmp_path / "run")
    _logged(tmp_path / "a", rows, _texts(rows))
    _logged(tmp_path / "b", rows, _texts(rows))
    with pytest.raises(LmmsImportError, match="2 samples files"):
        import_run(tmp_path, tmp_path / "run")


def test_export_command(tmp_path):
    r = CliRunner().invoke(main, ["lmms-eval", "export", "--tasks", "demo", "--out", str(tmp_path), "--frame",
                                  "norm1000", "--limit", "2", "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    (info,) = json.loads(r.output.strip().splitlines()[-1])
    assert info["lmms_task"] == "tag_demo" and info["n_samples"] == 2 and info["skipped"] == []
    rows = [TaskRow.model_validate_json(x) for x in Path(info["docs"]).read_text().splitlines()]
    assert {r.frame for r in rows} == {"norm1000"}
    assert "0 to 1000" in hooks.doc_to_text(rows[0].model_dump())
    bad = CliRunner().invoke(main, ["lmms-eval", "export", "--tasks", "no_such_task", "--out", str(tmp_path)])
    assert bad.exit_code == 1 and "no_such_task" in bad.output and "Traceback" not in bad.output
