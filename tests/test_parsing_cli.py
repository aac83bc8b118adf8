"""``tag-bench parse``: through click's CliRunner, once through a real subprocess; light imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tag_bench._cli.main import main
from tag_bench._cli.parse import parse_cmd

TRACE = """\
Global analysis: Broad smile.
Verification loop:
Inspect mouth → lip corners pulled up (AU12) → <bbox>[28,56,84,112]</bbox>
Inspect forehead → smooth → <bbox>[10,0,100,20]</bbox>
Final conclusion: AU12 indicates happiness.
<answer>happiness</answer>"""


def test_parse_prints_the_documented_json() -> None:
    args = ["--frame", "pixel-resized", "--image-size", "100x100", "--input-size", "112x112"]
    result = CliRunner().invoke(parse_cmd, args, input=TRACE)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert list(out)[:4] == ["label", "status", "aus", "evidence"]
    assert (out["label"], out["status"], out["aus"]) == ("happiness", "ok", ["AU12"])
    assert [list(e)[:2] for e in out["evidence"]] == [["au", "box"], ["au", "box"]]
    assert out["evidence"][0]["au"] == "AU12"
    assert out["evidence"][0]["box"] == pytest.approx([25.0, 50.0, 75.0, 100.0])
    assert out["evidence"][1]["au"] is None
    assert out["evidence"][1]["box"] == pytest.approx([10 * 100 / 112, 0.0, 100 * 100 / 112, 20 * 100 / 112])


def test_parse_through_the_main_group_with_classes_and_finish_reason() -> None:
    runner = CliRunner()
    args = ["parse", "--frame", "norm1000", "--image-size", "640x480", "--classes", "happiness,sadness"]
    out = json.loads(runner.invoke(main, args, input="<answer>anger</answer>").output)
    assert (out["label"], out["status"]) == (None, "invalid_label")
    args = ["parse", "--frame", "norm1000", "--image-size", "640x480", "--finish-reason", "length"]
    out = json.loads(runner.invoke(main, args, input="<think>The lips are").output)
    assert out["status"] == "truncated"


def test_non_finite_numbers_stay_valid_json() -> None:
    result = CliRunner().invoke(
        parse_cmd, ["--frame", "pixel", "--image-size", "10x10"], input="AU4 [nan, 1, 2, 3]"
    )
    out = json.loads(result.output)
    assert out["evidence"] == [
        {"au": "AU4", "box": None, "box_status": "non_finite", "raw_box": None, "step": 0}
    ]
    assert "NaN" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frame", "furlongs", "--image-size", "10x10"], "Invalid value for '--frame'"),
        (["--frame", "pixel", "--image-size", "10"], "Invalid value for '--image-size'"),
        (["--frame", "pixel", "--image-size", "0x10"], "Invalid value for '--image-size'"),
        (["--frame", "pixel", "--image-size", "axb"], "Invalid value for '--image-size'"),
        (
            ["--frame", "pixel", "--image-size", "10x10", "--input-size", "-3x4"],
            "Invalid value for '--input-size'",
        ),
        (["--frame", "pixel", "--image-size", "10x10", "--classes", "happy,blue"], "unknown class name"),
        (["--frame", "pixel", "--image-size", "10x10", "--classes", "anger,anger"], "duplicate class"),
        (["--frame", "pixel"], "Missing option '--image-size'"),
    ],
)
def test_bad_flags_give_a_clean_click_error(args: list[str], message: str) -> None:
    result = CliRunner().invoke(parse_cmd, args, input="x")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


def test_real_subprocess() -> None:
    cmd = [sys.executable, "-m", "tag_bench", "parse", "--frame", "pixel", "--image-size", "512x512"]
    done = subprocess.run(cmd, input=TRACE.encode(), capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["label"] == "happiness" and out["aus"] == ["AU12"]
    assert out["evidence"][0]["box"] == [28.0, 56.0, 84.0, 112.0]
    bad = subprocess.run([*cmd[:-1], "12by12"], input=b"x", capture_output=True, timeout=120, check=False)
    assert bad.returncode == 2 and b"Traceback" not in bad.stderr and b"--image-size" in bad.stderr


def test_parsing_and_prompts_do_not_import_heavy_packages() -> None:
    code = (
        "import sys, tag_bench.parsing, tag_bench._cli.parse, tag_bench.prompts\n"
        "tag_bench.parsing.parse_response('<answer>sad</answer> AU4 [1,2,3,4]', 'pixel', (10, 10))\n"
        "heavy = ('torch', 'transformers', 'vllm', 'lmms_eval', 'feat', 'mediapipe', 'cv2')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == ""
