"""The ``tag-bench`` command line: one click package, one error mapper (``common.cli_errors``)."""
