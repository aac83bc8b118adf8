"""``python -m tag_bench`` (used by ``accelerate launch ... -m tag_bench run``)."""

from tag_bench._cli.main import entry

entry()
