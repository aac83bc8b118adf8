"""One exported sample: a line of a ``tag_<task>.jsonl`` manifest, i.e. one lmms-eval doc.

A row carries everything the hooks need without any other file: where the image is (absolute path,
container row, crop), its presented size (the ``pixel`` prompt states it; boxes are clipped to it),
the gold label, the task's class list, prompt id and box frame. Licence-gated images stay where the
user keeps them; only paths are written.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

from tag_bench.schema import Sample

#: Every exported lmms-eval task name starts with this: lmms-eval's built-in tasks silently shadow
#: included tasks of the same name.
TASK_PREFIX = "tag_"

#: Bump when the row layout changes in a way old exports cannot be read with.
ROW_VERSION = 1


def lmms_task_name(task: str) -> str:
    """The lmms-eval name of a tag-bench task (``rafdb_basic_test`` -> ``tag_rafdb_basic_test``)."""
    return task if task.startswith(TASK_PREFIX) else TASK_PREFIX + task


class TaskRow(BaseModel):
    """An lmms-eval doc for one tag-bench sample."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    sample_id: str
    task: str  # the tag-bench task name
    dataset: str
    split: str
    image: str  # absolute path
    image_index: int | None = None  # row inside a container file (FER2013 CSV)
    crop: list[float] | None = None  # presented = original[crop]
    width: int  # presented size
    height: int
    label: str  # canonical gold label
    native_label: str
    classes: list[str] = Field(min_length=2)  # the task's class list, in order
    prompt_id: str
    frame: str  # the box frame the prompt asks for and the parser reads
    # The exact prompt, when the caller rendered it (the bridge adapter sends the engine's prompt);
    # None: rendered from prompt_id, classes, frame and size, as ``tag-bench run`` renders it.
    prompt: str | None = None
    system: str | None = None
    row_version: int = ROW_VERSION

    @classmethod
    def of(cls, sample: Sample, task: str, size: tuple[int, int], classes: list[str], prompt_id: str,
           frame: str) -> TaskRow:  # fmt: skip
        return cls(
            sample_id=sample.id,
            task=task,
            dataset=sample.dataset,
            split=sample.split,
            image=os.path.abspath(sample.image),
            image_index=sample.image_index,
            crop=list(sample.crop) if sample.crop is not None else None,
            width=size[0],
            height=size[1],
            label=sample.label,
            native_label=str(sample.native_label),
            classes=list(classes),
            prompt_id=prompt_id,
            frame=frame,
        )

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    def sample(self) -> Sample:
        """The tag-bench sample this row presents (for :func:`tag_bench.images.open_image`)."""
        return Sample(
            id=self.sample_id,
            dataset=self.dataset,
            split=self.split,
            image=self.image,
            image_index=self.image_index,
            crop=list(self.crop) if self.crop is not None else None,
            label=self.label,
            native_label=self.native_label,
            width=self.width,
            height=self.height,
        )
