"""The one AU reference grammar (``tag_bench.au.sources.parse_reference_spec``) and the one
``--au-reference`` option every command takes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench.au.base import DEFAULT_DETECTOR, register_detector, split_detector_name
from tag_bench.au.sources import (
    REFERENCE_FORMS,
    ReferenceSpec,
    ReferenceSpecError,
    build_detector,
    parse_reference_spec,
    parse_reference_specs,
    reference_kinds,
    required_reference,
    resolve_reference_source,
)
from tag_bench.errors import TagBenchError
from tag_bench.scoring.run import resolve_reference_spec

DOCS = Path(__file__).resolve().parents[1] / "docs" / "au-reference.md"

# text -> (kind, name, rule, version, path, canonical text)
FORMS = {
    "auto": ("auto", None, None, None, None, "auto"),
    "AUTO": ("auto", None, None, None, None, "auto"),
    "none": ("none", None, None, None, None, "none"),
    "Off": ("none", None, None, None, None, "none"),
    "": ("none", None, None, None, None, "none"),
    "mediapipe-geometric": ("detector", "mediapipe-geometric", None, None, None, "mediapipe-geometric"),
    " mediapipe-geometric ": ("detector", "mediapipe-geometric", None, None, None, "mediapipe-geometric"),
    "mediapipe-geometric-loose@1": ("detector", "mediapipe-geometric", "loose", "1", None, "mediapipe-geometric-loose@1"),
    "mediapipe-blendshapes-tight@1-64184e22": ("detector", "mediapipe-blendshapes", "tight", "1-64184e22", None, "mediapipe-blendshapes-tight@1-64184e22"),
    "pyfeat-v2@2.1.5": ("detector", "pyfeat-v2", None, "2.1.5", None, "pyfeat-v2@2.1.5"),
    "openface-static": ("detector", "openface-static", None, None, None, "openface-static"),
    "openface-static:/models/AU_predictors": ("openface-static", None, None, None, "/models/AU_predictors", "openface-static:/models/AU_predictors"),
    "openface-static-loose:~/of": ("openface-static", None, "loose", None, "~/of", "openface-static-loose:~/of"),
    "openface:out/": ("openface", None, None, None, "out/", "openface:out/"),
    "openface-tight:C:/x.csv": ("openface", None, "tight", None, "C:/x.csv", "openface-tight:C:/x.csv"),
    "pyfeat-csv-loose:Feat.csv": ("pyfeat-csv", None, "loose", None, "Feat.csv", "pyfeat-csv-loose:Feat.csv"),
    "annotations": ("annotations", None, None, None, None, "annotations"),
    "annotations-loose": ("annotations", None, "loose", None, None, "annotations-loose"),
    "refs.jsonl": ("file", None, None, None, "refs.jsonl", "refs.jsonl"),
    "./out/REFS.JSON": ("file", None, None, None, "./out/REFS.JSON", "./out/REFS.JSON"),
}  # fmt: skip


@pytest.mark.parametrize("text", list(FORMS))
def test_every_form_parses_and_its_text_round_trips(text):
    kind, name, rule, version, path, canonical = FORMS[text]
    spec = parse_reference_spec(text)
    assert (spec.kind, spec.name, spec.rule, spec.version, spec.path) == (kind, name, rule, version, path)
    assert spec.text == str(spec) == canonical
    assert spec.region_rule == (rule or "tight")
    assert parse_reference_spec(spec.text) == spec  # canonical text parses back to the same record
    assert parse_reference_spec(spec) is spec
    with pytest.raises(AttributeError):
        spec.kind = "none"  # type: ignore[misc]  # frozen


def test_an_existing_file_is_a_file_whatever_its_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("my-references").write_text("")
    assert parse_reference_spec("my-references") == ReferenceSpec("file", path="my-references")


def test_detector_names_split_in_one_place():
    assert split_detector_name("pyfeat-v2-loose@2.1.5") == ("pyfeat-v2", "loose", "2.1.5")
    for bad in ("my-detector-loose", "my-detector@2"):
        with pytest.raises(TagBenchError, match="region rule or carry a version"):
            register_detector(bad, lambda **kw: None)


def test_saved_ids_come_first_when_a_run_gives_them():
    keys = ["mediapipe-geometric-tight@2", "openface-tight@csv-0a1b", "none"]
    assert parse_reference_spec("mediapipe-geometric-tight@2").kind == "detector"
    saved = parse_reference_spec("mediapipe-geometric-tight@2", saved=keys)
    assert saved == ReferenceSpec("saved", key="mediapipe-geometric-tight@2") and saved.text == saved.key
    assert parse_reference_spec("openface-tight@csv-0a1b", saved=keys).kind == "saved"
    with pytest.raises(ReferenceSpecError) as e:
        parse_reference_spec("openface-tight@csv-0a1c", saved=keys)
    assert "did you mean 'openface-tight@csv-0a1b'" in str(e.value)
    assert "saved reference of this run: mediapipe-geometric-tight@2, openface-tight@csv-0a1b, none" in str(
        e.value
    )


def test_comma_lists():
    specs = parse_reference_specs(" auto, mediapipe-geometric-loose ,,refs.jsonl,")
    assert [s.kind for s in specs] == ["auto", "detector", "file"]
    assert [s.text for s in specs] == ["auto", "mediapipe-geometric-loose", "refs.jsonl"]
    assert parse_reference_specs("") == [] and parse_reference_specs(" , ") == []
    with pytest.raises(ReferenceSpecError, match="'nope'"):
        parse_reference_specs("auto,nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nope", "unknown AU detector or reference 'nope'"),
        ("mediapipe-geometrc", "did you mean 'mediapipe-geometric'"),
        ("mediapipe-geometric-lose", "did you mean 'mediapipe-geometric-loose'"),
        ("opnface:out/", "unknown AU reference 'opnface:out/' (did you mean 'openface:out/'"),
        ("pyfeat-csv-lose:x.csv", "did you mean 'pyfeat-csv-loose:x.csv'"),
        ("mediapipe-geometric@", "the version after '@' is empty"),
        ("openface-loose:", "give the path after ':' (openface[-tight|-loose]:PATH)"),
    ],
)
def test_bad_specs_say_what_would_be_valid(text, expected):
    with pytest.raises(ReferenceSpecError) as e:
        parse_reference_spec(text)
    assert isinstance(e.value, ValueError) and isinstance(e.value, TagBenchError)
    msg = str(e.value)
    assert expected in msg and "\n" not in msg
    if "unknown" in msg:  # every form the grammar has, and the registered detectors
        for form in REFERENCE_FORMS:
            assert (form.syntax in msg) == (form.kind != "saved"), form.syntax
        named = msg.rsplit("(DETECTOR: ", 1)[1]  # other tests may have registered more
        assert all(
            d in named
            for d in ("mediapipe-blendshapes", "mediapipe-geometric", "openface-static", "pyfeat-v2")
        )


def _without_mediapipe(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a, **k: None if name == "mediapipe" else real(name, *a, **k),
    )


def test_auto_is_the_default_detector_when_mediapipe_is_installed(monkeypatch):
    has_mediapipe = importlib.util.find_spec("mediapipe") is not None
    auto = parse_reference_spec("auto").resolved()
    if has_mediapipe:
        assert auto == ReferenceSpec("detector", name=DEFAULT_DETECTOR)
        assert resolve_reference_spec("auto") == DEFAULT_DETECTOR == required_reference("auto").text
    _without_mediapipe(monkeypatch)
    assert parse_reference_spec("auto").resolved().kind == "none"
    assert resolve_reference_spec("auto") is None and resolve_reference_spec("off") is None
    assert resolve_reference_spec(None) is None
    assert resolve_reference_spec("mediapipe-geometric-loose") == "mediapipe-geometric-loose"
    with pytest.raises(
        ReferenceSpecError, match=r"no AU detector is available .*pip install 'tag-bench\[landmarks\]'"
    ):
        required_reference("auto")


def test_where_a_reference_is_needed_none_is_refused():
    for text in ("none", "off"):
        with pytest.raises(ReferenceSpecError, match="an AU reference is needed here, and 'none' gives none"):
            resolve_reference_source(text)
    with pytest.raises(ReferenceSpecError, match=r"'refs\.jsonl' is a file reference, not a detector"):
        build_detector("refs.jsonl")
    with pytest.raises(ReferenceSpecError, match="saved in a run directory"):
        resolve_reference_source(ReferenceSpec("saved", key="x"))
    with pytest.raises(ReferenceSpecError, match="valid forms"):
        resolve_reference_spec("no-such-detector")  # the run / score path checks the grammar too


def test_the_docs_describe_every_form():
    text = DOCS.read_text(encoding="utf-8")
    for form in REFERENCE_FORMS:
        assert f"`{form.syntax}`" in text, form.syntax


# --------------------------------------------------------------------------------------------------
# The option

# command -> the kinds its help lists
COMMANDS = {
    ("run",): reference_kinds(),
    ("demo",): reference_kinds(),
    ("score",): reference_kinds(saved=True),
    ("lmms-eval", "import"): reference_kinds(),
    ("au", "detect"): reference_kinds(none=False, detectors_only=True),
    ("au", "show"): reference_kinds(none=False, detectors_only=True),
    ("au", "agree"): reference_kinds(none=False),
    ("au", "validate"): reference_kinds(none=False),
    ("au", "topk"): reference_kinds(none=False),
}


@pytest.mark.parametrize("command", list(COMMANDS), ids=" ".join)
def test_every_command_lists_the_grammar_in_its_help_and_hides_the_old_names(command):
    r = CliRunner().invoke(main, [*command, "--help"], terminal_width=10_000, max_content_width=10_000)
    assert r.exit_code == 0, r.output
    line = next(line for line in r.output.splitlines() if line.strip().startswith("--au-reference"))
    for form in REFERENCE_FORMS:
        assert (f"{form.syntax} (" in line) == (form.kind in COMMANDS[command]), (form.syntax, line)
    assert "mediapipe-geometric" in line and "docs/au-reference.md" in line
    assert "--detector" not in r.output and "--references" not in r.output
    assert "--reference " not in r.output and "--reference\n" not in r.output


@pytest.mark.parametrize(
    ("args", "old"),
    [
        (["au", "detect", "--image", "x.png"], "--detector"),
        (["au", "show", "x.png", "-o", "y.png"], "--detector"),
        (["au", "agree", "--task", "demo"], "--references"),
        (["au", "topk", "--task", "demo", "-k", "1"], "--reference"),
    ],
)
def test_an_old_name_and_the_new_one_together_is_a_usage_error(args, old):
    r = CliRunner().invoke(main, [*args, old, "x", "--au-reference", "y"])
    assert r.exit_code == 2 and f"give --au-reference or {old}, not both" in r.output


def test_defaults_are_kept():
    def default(*command: str) -> object:
        cmd, ctx = main, None
        for name in command:
            ctx = cmd.make_context(name, ["--help"], resilient_parsing=True, parent=ctx)  # type: ignore[arg-type]
            cmd = cmd.get_command(ctx, name) if hasattr(cmd, "get_command") else cmd  # type: ignore[attr-defined]
        return next(p.default for p in cmd.params if p.name == "au_reference")

    assert default("run") == "auto" and default("lmms-eval", "import") == "auto"
    assert default("score") is None
    assert default("demo") == DEFAULT_DETECTOR
    for sub in ("detect", "show", "validate", "topk"):
        assert default("au", sub) == DEFAULT_DETECTOR
    assert default("au", "agree") is None


def test_agree_needs_a_reference_list_of_real_sources():
    r = CliRunner().invoke(main, ["au", "agree", "--task", "demo"])
    assert r.exit_code == 2 and "Missing option '--au-reference'" in r.output
    r = CliRunner().invoke(
        main, ["au", "agree", "--task", "demo", "--au-reference", "mediapipe-geometric,none"]
    )
    assert r.exit_code == 1 and "'none' gives none" in r.output
    r = CliRunner().invoke(
        main, ["au", "agree", "--task", "demo", "--references", "mediapipe-geometric,nope"]
    )
    assert r.exit_code == 1 and "unknown AU detector or reference 'nope'" in r.output


def test_au_commands_say_when_auto_has_no_detector(monkeypatch, tmp_path):
    _without_mediapipe(monkeypatch)
    r = CliRunner().invoke(
        main, ["au", "detect", "--image", str(tmp_path / "x.png"), "--au-reference", "auto"]
    )
    assert (
        r.exit_code == 1 and "no AU detector is available" in r.output and "tag-bench[landmarks]" in r.output
    )
    r = CliRunner().invoke(main, ["au", "detect", "--image", str(tmp_path / "x.png"), "--detector", "none"])
    assert r.exit_code == 1 and "an AU reference is needed here" in r.output


# --------------------------------------------------------------------------------------------------
# auto on the demo faces (real MediaPipe)


@pytest.fixture
def demo_ready():
    pytest.importorskip("mediapipe")
    pytest.importorskip("skimage")


def test_agree_accepts_auto_under_the_new_and_the_old_name(demo_ready):
    runs = [
        CliRunner().invoke(
            main, ["au", "agree", "--task", "demo", name, "auto,mediapipe-geometric", "--json"]
        )
        for name in ("--au-reference", "--references")
    ]
    for r in runs:
        assert r.exit_code == 0, r.output
    new, old = (json.loads(r.stdout) for r in runs)
    assert new == old
    assert [(x["spec"], x["reference_id"].split("@")[0]) for x in new["references"]] == [
        ("auto", "mediapipe-blendshapes-tight"),
        ("mediapipe-geometric", "mediapipe-geometric-tight"),
    ]
    same = CliRunner().invoke(
        main, ["au", "agree", "--task", "demo", "--au-reference", f"auto,{DEFAULT_DETECTOR}"]
    )
    assert same.exit_code == 2 and f"'auto' is {DEFAULT_DETECTOR}" in same.output


def test_topk_and_rewards_accept_auto(demo_ready, tmp_path):
    from tag_bench.rewards import RewardReferenceError, load_references
    from tag_bench.tasks import load_task

    r = CliRunner().invoke(
        main, ["au", "topk", "--task", "demo", "-k", "1", "--au-reference", "auto", "--limit", "2"]
    )
    assert r.exit_code == 0, r.output
    records = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert len(records) == 2 and all(
        x["reference_id"].startswith("mediapipe-blendshapes-tight@") for x in records
    )
    samples = load_task("demo").load(None).samples[:2]
    cache = tmp_path / "au.sqlite"
    with pytest.raises(RewardReferenceError, match=f"--au-reference {DEFAULT_DETECTOR}` first"):
        load_references("auto", samples, cache=cache)
    refs = load_references("auto", samples, cache=cache, compute_missing=True)
    assert set(refs) == {s.id for s in samples}
    assert all(x.reference_id.startswith("mediapipe-blendshapes-tight@") for x in refs.values())
    with pytest.raises(ReferenceSpecError, match="'none' gives none"):
        load_references("none", samples)


def test_score_checks_every_reference_before_scoring_any(dataset_fixtures, tmp_path):
    from tag_bench.tasks import load_task

    raf = dataset_fixtures["raf_basic"]
    ids = [s.id for s in load_task("rafdb_basic_test").load(raf).samples]
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        "".join(json.dumps({"id": i, "response": "<answer> happiness </answer>"}) + "\n" for i in ids)
    )
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["score", "--task", "rafdb_basic_test", "--data-root", str(raf), "--predictions",
                                  str(preds), "--frame", "pixel", "--au-reference", "none", "--out", str(run),
                                  "--n-resamples", "0"])  # fmt: skip
    assert r.exit_code == 0, r.output
    before = (run / "metrics.json").stat().st_mtime_ns
    r = CliRunner().invoke(main, ["score", str(run), "--au-reference", "bogus,none", "--n-resamples", "0"])
    assert r.exit_code == 1 and "unknown AU detector or reference 'bogus'" in r.output
    assert "or a saved reference of this run: none" in r.output
    assert (run / "metrics.json").stat().st_mtime_ns == before  # nothing was re-scored
    r = CliRunner().invoke(main, ["score", str(run), "--au-reference", "none", "--n-resamples", "0"])
    assert r.exit_code == 0, r.output  # a saved id
