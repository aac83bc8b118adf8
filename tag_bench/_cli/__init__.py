"""The ``tag-bench`` command line: one click package, one error mapper (``common.cli_errors``).

Start-up: ``main`` imports a sub-command's module only when that command runs (or ``--help`` lists it).
A command module imports the library at its top, except what only one command needs and would make the
module slow to load (``doctor``'s dataset detection): that is imported inside the command, the CLI's own
start-up policy (``tests/test_cli_data.py`` keeps the data commands' module light).
"""
