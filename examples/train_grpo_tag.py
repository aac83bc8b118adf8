"""GRPO on the TAG rewards (format + answer + AU grounding) with TRL, on the offline demo faces.

As written it trains a tiny random Qwen2.5-VL (built offline) for 2 steps on a CPU; for a real run,
set MODEL to a checkpoint folder, use your own task, and raise the step and length settings.
"""

import tempfile

from transformers import AutoProcessor
from trl import GRPOConfig, GRPOTrainer

from tag_bench.rewards import grpo_dataset, trl_reward_funcs
from tag_bench.tasks import load_task
from tag_bench.testing.tiny_models import build_tiny_qwen2_5_vl

MODEL = None  # a checkpoint folder; None builds a tiny random Qwen2.5-VL


def main(output_dir: str, model: str | None = MODEL, max_steps: int = 2) -> GRPOTrainer:
    model = model or str(build_tiny_qwen2_5_vl(f"{output_dir}/tiny-qwen2.5-vl", seed=0))
    processor = AutoProcessor.from_pretrained(model, padding_side="left")
    data = load_task("demo").load(None)
    samples = data.samples[:4]
    frame = "pixel-resized"  # Qwen2.5-VL boxes: pixels of the image as the processor resized it
    dataset = grpo_dataset(samples, data.task.classes, frame=frame, processor=processor)
    reward_funcs = trl_reward_funcs(
        "mediapipe-blendshapes",  # AU reference, looked up once here (AU cache; detector run on a miss)
        samples=samples,
        compute_missing=True,
        frame=frame,
        weights={"format": 1.0, "answer": 1.0, "grounding": 1.0},
        eos_token_ids=[processor.tokenizer.eos_token_id],  # no EOS at the end: truncated completion
    )
    args = GRPOConfig(
        output_dir=output_dir,
        max_steps=max_steps,
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=16,
        logging_steps=1,
        log_completions=True,  # completions/*.parquet: each completion with its rewards
        num_completions_to_print=0,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model, processing_class=processor, reward_funcs=reward_funcs, args=args, train_dataset=dataset
    )
    trainer.train()
    return trainer


if __name__ == "__main__":
    for logged in main(tempfile.mkdtemp(prefix="tag-grpo-")).state.log_history:
        print({k: v for k, v in logged.items() if k.startswith(("step", "reward"))})
