"""What every command shares: the one error mapper, shared options, small output helpers.

Light at import time (click only).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from tag_bench.au.sources import describe_forms, reference_kinds
from tag_bench.errors import TagBenchError
from tag_bench.options import OptionError, parse_pairs

F = TypeVar("F", bound=Callable[..., Any])
DEBUG_ENV = "TAG_BENCH_DEBUG"


def cli_errors(fn: F) -> F:
    """Turn a failure into a one-line message and exit status 1, never a traceback.

    A :class:`~tag_bench.errors.TagBenchError` (or a ValueError from validation) is the user's to fix
    and its message says how; an OSError names the file; anything else is reported as unexpected,
    with the variable that shows the traceback. Ctrl-C exits with status 130, SIGTERM (:func:`stop_on_sigterm`)
    with 143.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as e:
            what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
            click.echo(f"\n{what}: what was done is saved; run the same command again to resume.", err=True)
            raise SystemExit(128 + signal.SIGTERM if isinstance(e, Terminated) else 130) from None
        except BrokenPipeError:
            # the reader of the output went away (`| head`): stop quietly, as other Unix tools do; the
            # output is pointed at /dev/null so the flush at exit does not fail again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            raise SystemExit(128 + signal.SIGPIPE) from None
        except (TagBenchError, ValueError) as e:
            if os.environ.get(DEBUG_ENV):
                raise
            raise click.ClickException(str(e)) from None
        except OSError as e:
            if os.environ.get(DEBUG_ENV):
                raise
            where = f": {e.filename}" if e.filename else ""
            raise click.ClickException(f"{e.strerror or e}{where}") from None
        except Exception as e:
            if os.environ.get(DEBUG_ENV):
                raise
            raise click.ClickException(
                f"unexpected error ({type(e).__name__}: {e}); set {DEBUG_ENV}=1 to see the traceback"
            ) from None

    return wrapper  # type: ignore[return-value]


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, Slurm's ``scancel`` and time limit): stopped where Ctrl-C would stop, so what was
    done is saved and the run or shard is marked interrupted."""


_MAIN_PID: int | None = None


def stop_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in this process. Forked workers keep the default action:
    they end at once, and their parent reports the interruption."""
    global _MAIN_PID
    _MAIN_PID = os.getpid()
    signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    raise Terminated


def setup_logging() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")


# --------------------------------------------------------------------------------------------------
# Shared options


def data_root_option(required: bool = False, help: str = "Folder holding the dataset(s) (default: $TAG_BENCH_DATA).") -> Callable[[F], F]:  # fmt: skip
    return click.option(
        "--data-root", type=click.Path(file_okay=False), envvar="TAG_BENCH_DATA", required=required, help=help
    )


def tasks_dir_option(fn: F) -> F:
    return click.option(
        "--tasks-dir",
        "tasks_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False),
        help="Extra folder of task YAML files (repeatable).",
    )(fn)


def loader_options(fn: F) -> F:
    """``--class-order`` and ``--option KEY=VALUE``: how the dataset on disk is read."""
    fn = click.option(
        "--option",
        "options",
        multiple=True,
        metavar="KEY=VALUE",
        help="Dataset loader option, e.g. --option protocol=crossentropy (repeatable).",
    )(fn)
    return click.option(
        "--class-order",
        default=None,
        help="Class order of folder-per-class copies: rafdb, affectnet, fer2013, ferplus, alphabetical, "
        "names, or a comma-separated list of emotion names.",
    )(fn)


def loader_overrides(class_order: str | None, options: Sequence[str]) -> dict[str, Any]:
    """The loader options given with ``--option`` and ``--class-order``."""
    try:
        out = parse_pairs(options)
    except OptionError as e:
        raise click.BadParameter(str(e), param_hint="--option") from None
    if class_order:
        out["class_order"] = class_order
    return out


def resamples_callback(allow_zero: bool = True) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback for ``--n-resamples``: 0 (no intervals; where ``allow_zero``), or at least the
    minimum the statistics need (:data:`tag_bench.metrics.stats.MIN_BOOTSTRAP_RESAMPLES`)."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        from tag_bench.metrics.stats import ResamplesError, check_n_resamples

        try:
            return check_n_resamples(value, allow_zero=allow_zero, what="")
        except ResamplesError as e:
            raise click.BadParameter(str(e)) from None

    return check


def n_resamples_option(fn: F) -> F:
    """``--n-resamples`` of the commands that score: 0 for none, else at least 200."""
    return click.option(
        "--n-resamples",
        type=int,
        default=1000,
        show_default=True,
        callback=resamples_callback(),
        help="Bootstrap resamples for confidence intervals (0: none; else at least 200).",
    )(fn)


def scoring_options(fn: F) -> F:
    """``--n-resamples`` and ``--seed``."""
    fn = click.option(
        "--seed", type=int, default=0, show_default=True, help="Seed of sampling and bootstrap."
    )(fn)
    return n_resamples_option(fn)


class _ReferenceOption(click.Option):
    """``--au-reference``: its help lists the grammar's forms, written when the help is shown (so the
    detectors other packages register are named, and no registry is read at import)."""

    def __init__(self, *args: Any, forms: Callable[[], str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._lead, self._forms = self.help or "", forms

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        self.help = f"{self._lead} One of: {self._forms()}. See docs/au-reference.md."
        return super().get_help_record(ctx)


def au_reference_option(
    default: str | None,
    *,
    lead: str,
    none: bool = True,
    saved: bool = False,
    detectors_only: bool = False,
    several: bool = False,
    required: bool = False,
    old_name: str | None = None,
) -> Callable[[F], F]:
    """``--au-reference SPEC`` (passed as ``au_reference``, unparsed), its help generated from the
    reference grammar (``tag_bench.au.sources.REFERENCE_FORMS``): the forms the command accepts
    (``none``, ``saved`` and ``detectors_only`` as in ``reference_kinds``), after ``lead``. ``several``:
    a comma-separated list. ``old_name`` (e.g. ``--detector``) keeps the command's former option name
    working, hidden from the help."""

    def forms() -> str:
        return describe_forms(reference_kinds(none=none, saved=saved, detectors_only=detectors_only))

    def decorate(fn: F) -> F:
        target: Callable[..., Any] = fn
        if old_name is not None or required:
            target = _merge_old_name(fn, old_name, required)
        if old_name is not None:
            target = click.option(old_name, "au_reference_old", default=None, hidden=True)(target)
        return click.option(  # type: ignore[return-value]
            "--au-reference",
            "au_reference",
            cls=_ReferenceOption,
            forms=forms,
            default=default,
            show_default=default is not None,
            metavar="SPEC[,SPEC...]" if several else "SPEC",
            help=f"{lead} Required." if required else lead,  # checked by the wrapper, after old_name
        )(target)

    return decorate


def _merge_old_name(fn: Callable[..., Any], old_name: str | None, required: bool) -> Callable[..., Any]:
    """``fn`` taking ``au_reference`` from ``--au-reference`` or, when only that was given, ``old_name``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        old = kwargs.pop("au_reference_old", None)
        given = click.get_current_context().get_parameter_source("au_reference")
        if old is not None:
            if given is not click.core.ParameterSource.DEFAULT:
                raise click.UsageError(f"give --au-reference or {old_name}, not both")
            kwargs["au_reference"] = old
        elif required and kwargs.get("au_reference") is None:
            raise click.UsageError("Missing option '--au-reference'.")
        return fn(*args, **kwargs)

    return wrapper


def run_status_options(fn: F) -> F:
    """``--allow-incomplete`` and ``--allow-failed``: readers refuse such runs unless asked, then flag them."""
    fn = click.option(
        "--allow-failed",
        is_flag=True,
        help="Show failed runs (every call failed, or more than --max-error-rate did), flagged ✗.",
    )(fn)
    return click.option(
        "--allow-incomplete", is_flag=True, help="Show runs whose generation did not finish (flagged ‡)."
    )(fn)


def published_dir_option(fn: F) -> F:
    """``--published-dir``: more folders of published results (``KEY.yaml`` files and a references.bib)."""
    return click.option(
        "--published-dir",
        "published_dirs",
        multiple=True,
        type=click.Path(exists=True, file_okay=False),
        help="A folder of your own published-results files (KEY.yaml and references.bib), besides the built-in "
        "results/published/ (repeatable).",
    )(fn)


# --------------------------------------------------------------------------------------------------
# Output


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def warn(messages: Sequence[str]) -> None:
    for w in messages:
        click.echo(f"warning: {w}", err=True)
