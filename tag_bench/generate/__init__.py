"""The generate stage: model calls appended to a run directory (resumable, cached, data-parallel)."""
