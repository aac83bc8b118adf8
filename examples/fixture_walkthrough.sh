#!/usr/bin/env bash
# The README walkthrough on synthetic copies of RAF-DB, FERPlus and AffectNet: baseline runs, every
# leaderboard (main, grounding, transfer, LaTeX) and the CI gate. Offline; about a minute on 2 cores.
#
#   examples/fixture_walkthrough.sh [OUT]     (default OUT: walkthrough; N=2000 samples per dataset)
set -euo pipefail
OUT=${1:-walkthrough}
N=${N:-2000}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUT" && cd "$OUT"

echo "## data: synthetic copies in the official layouts (random labels: numbers here say nothing about a model)"
python -m tag_bench.testing.fixtures data --n "$N"

echo "## runs: three baselines on the four standard test splits, scored against the default AU reference"
for model in facs-rules random majority; do
  tag-bench run --model "$model" --tasks rafdb_basic_test,ferplus_test,affectnet7_val,affectnet8_val \
    --data-root data --out-dir "runs/$model" --no-progress > "runs-$model.log" 2>&1
done
cat runs-facs-rules.log | head -11  # the summary of one run

echo "## main table"
tag-bench leaderboard runs --spec main
tag-bench leaderboard runs --spec main --format latex -o main.tex

echo "## grounding table (all four datasets: --spec grounding; here a spec file for RAF-DB alone)"
cat > grounding-rafdb.yaml <<'YAML'
name: grounding-rafdb
title: AU grounding on RAF-DB
references: all
columns:
  - {title: RAF-DB, tasks: [rafdb_basic_test],
     metrics: [accuracy, au_box_iou, pointing_accuracy, hallucinated_au_rate, evidence_consistency, grounded_accuracy]}
YAML
tag-bench leaderboard runs --spec grounding-rafdb.yaml

echo "## transfer table: simulated checkpoints tuned on each dataset, scored with --train-source"
python "$HERE/simulated_transfer.py" data predictions >/dev/null
for source in rafdb ferplus affectnet; do
  for task in rafdb_basic_test_common7 ferplus_test_common7 affectnet_val_common7; do
    tag-bench score --task "$task" --data-root data --predictions "predictions/$source/$task.jsonl" \
      --frame pixel --au-reference none --train-source "$source" --name "ft-$source" \
      --out "transfer/ft-$source/$task" --n-resamples 1000 --no-progress >/dev/null 2>&1
  done
done
tag-bench leaderboard transfer --spec transfer

echo "## figures and the HTML report"
tag-bench plot runs/facs-rules runs/random --kind confusion --kind au-grounding -o figures --format png
tag-bench report runs transfer -o report.html

echo "## CI gate: random (NEW) against facs-rules (BASE) on RAF-DB"
status=0
tag-bench compare runs/facs-rules/rafdb_basic_test runs/random/rafdb_basic_test \
  --metrics accuracy,macro_f1,au_box_iou,hallucinated_au_rate --max-drop accuracy=0.02 \
  --markdown gate.md --junit gate.xml || status=$?
echo "compare exit status: $status"
