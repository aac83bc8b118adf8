#!/usr/bin/env bash
# One shard of a tag-bench run per Slurm array task: no communication between tasks, no lock file.
#
#   sbatch --array=0-3 examples/scale/slurm_shards.sh        # 4 shards (indices must start at 0)
#   tag-bench status "$OUT"                                    # where the run stands, from any node
#
# A cancelled or failed task is simply submitted again (sbatch --array=2 ...); the run can also be
# finished with another number of shards (sbatch --array=0-1 ...), or by one process without --shard.
# The shard whose task completes the run scores it. OUT must be on a file system every node sees.
#SBATCH --job-name=tag-bench
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --time=04:00:00
#SBATCH --output=logs/tag-bench-%A_%a.out
set -euo pipefail

: "${SLURM_ARRAY_TASK_ID:?submit with sbatch --array=0-(N-1)}"
: "${SLURM_ARRAY_TASK_COUNT:?submit with sbatch --array=0-(N-1)}"
MODEL_ARGS=${MODEL_ARGS-pretrained=Qwen/Qwen2.5-VL-7B-Instruct,dtype=bfloat16}
TASKS=${TASKS:-rafdb_basic_test}
OUT=${OUT:-results/sweep/qwen2.5-vl-7b}
TAG_BENCH=${TAG_BENCH:-tag-bench}  # e.g. "python -m tag_bench"

# shellcheck disable=SC2086  # TAG_BENCH and EXTRA_ARGS are word lists
exec $TAG_BENCH run --model "${MODEL:-hf}" --model-args "$MODEL_ARGS" --tasks "$TASKS" --out "$OUT" \
    --batch-size "${BATCH_SIZE:-8}" --no-progress ${EXTRA_ARGS:-} \
    --shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT"
