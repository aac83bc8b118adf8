"""Model arguments: each adapter declares them as a pydantic model; errors read as one line.

``--model-args k=v,...`` arrives typed by :func:`~tag_bench.options.parse_kv`; validation is lax
(``"8"`` is accepted where a number is expected) except that ``true``/``false`` is never a number.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from tag_bench.errors import TagBenchError


class AdapterError(TagBenchError, ValueError):
    """A model adapter cannot be found, loaded or built as asked (shown to the user as one line)."""


class FatalAdapterError(AdapterError):
    """No request can succeed (weights that cannot be loaded, credentials the server rejects): the run
    stops at once instead of recording the same failure for every sample."""


class AdapterArgsError(AdapterError):
    """A missing, unknown or invalid model argument; the message names the adapter and the accepted ones."""


class AdapterArgs(BaseModel):
    """Base of every adapter's ``Args``: unknown arguments are errors, numbers may come as text."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True, frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, v: Any, info: ValidationInfo) -> Any:
        # pydantic's lax mode reads true as 1; for a count or a size that is always a typo
        if isinstance(v, bool) and info.field_name is not None:
            annotation = cls.model_fields[info.field_name].annotation
            if not _admits_bool(annotation):
                raise ValueError(f"expected {type_name(annotation)}, got {str(v).lower()}")
        return v


def _admits_bool(annotation: Any) -> bool:
    if annotation in (bool, Any, object):
        return True
    return any(_admits_bool(a) for a in _union_members(annotation))


def _union_members(annotation: Any) -> tuple[Any, ...]:
    origin = typing.get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        return typing.get_args(annotation)
    return ()


def type_name(annotation: Any) -> str:
    """``int``, ``str | None``, ``'png' | 'jpeg'``, ``dict[str, int]``: for messages and help."""
    origin, params = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:  # PositiveInt and friends: the base type
        return type_name(params[0])
    if origin is typing.Literal:
        return " | ".join(repr(p) for p in params)
    if origin is Union or origin is types.UnionType:
        return " | ".join(type_name(p) for p in params)
    if annotation is type(None):
        return "None"
    if origin is not None and params:
        return f"{getattr(origin, '__name__', origin)}[{', '.join(type_name(p) for p in params)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def accepted_names(args_model: type[AdapterArgs]) -> list[str]:
    """Argument names in declaration order."""
    return list(args_model.model_fields)


def validate_args(adapter: str, args_model: type[AdapterArgs], raw: Mapping[str, Any]) -> AdapterArgs:
    """``args_model`` filled from ``raw``, or AdapterArgsError naming every problem on one line."""
    try:
        return args_model.model_validate(dict(raw))
    except ValidationError as e:
        accepted = accepted_names(args_model)
        problems = [_problem(err, accepted) for err in e.errors()]
        listed = ", ".join(accepted) or "none"
        raise AdapterArgsError(f"adapter {adapter!r}: {'; '.join(problems)}; accepted: {listed}") from None


def _problem(err: Any, accepted: list[str]) -> str:

    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "missing":
        return f"missing required argument {loc!r}"
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(loc, accepted, n=2, cutoff=0.6)
        hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        return f"unknown argument {loc!r}{hint}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "value_error":  # our validators word their own message and decide what to quote
        return f"invalid argument {loc!r}: {msg}" if loc else msg
    shown = "" if is_secret_name(loc.split(".")[0]) else f" (got {err['input']!r})"
    return f"invalid argument {loc!r}: {msg}{shown}"


@dataclass(frozen=True)
class ArgInfo:
    """One declared argument, for ``tag-bench models``."""

    name: str
    type: str
    default: Any
    required: bool
    description: str


def arg_infos(args_model: type[AdapterArgs]) -> list[ArgInfo]:
    """The declared arguments of an ``Args`` model, in declaration order."""
    out = []
    for name, field in args_model.model_fields.items():
        required = field.is_required()
        out.append(
            ArgInfo(
                name=name,
                type=type_name(field.annotation),
                default=None if required else field.get_default(call_default_factory=True),
                required=required,
                description=field.description or "",
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# Secrets in model arguments

SECRET_KEYS = ("api_key", "key", "token", "secret", "password", "authorization", "auth")


def is_secret_name(name: str) -> bool:
    """``api_key``, ``hf_token``, ``client_secret``, ``password`` ... but not ``max_new_tokens``."""
    n = name.lower().replace("-", "_")
    if n.endswith("_env"):  # names an environment variable; the value is not the secret
        return False
    return any(n == s or n.endswith("_" + s) for s in SECRET_KEYS)


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """Copy of ``args`` with secret-looking values replaced, and credentials cut out of URLs."""
    return {
        k: "<redacted>" if is_secret_name(k) else scrub_secrets(v) if isinstance(v, str) else v
        for k, v in args.items()
    }


_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_QUERY_PAIR = re.compile(r"(?P<sep>[?&])(?P<name>[^=&#\s]+)=(?P<value>[^&#\s]*)")
_KV_PAIR = re.compile(r"(?P<lead>^|[,\s])(?P<name>[A-Za-z_][A-Za-z0-9_-]*)=(?P<value>[^,\s]*)")


def scrub_secrets(text: str) -> str:
    """``text`` with URL user info (``https://user:KEY@host``), secret-looking query values
    (``?api-key=KEY``) and secret-looking ``name=value`` pairs (``api_key=KEY``) replaced."""
    text = _URL_USERINFO.sub(r"\g<scheme><redacted>@", text)

    def query(m: re.Match[str]) -> str:
        name = m.group("name")
        secret = any(s in name.lower().replace("-", "_") for s in SECRET_KEYS)
        return f"{m.group('sep')}{name}={'<redacted>' if secret else m.group('value')}"

    def pair(m: re.Match[str]) -> str:
        name = m.group("name")
        return f"{m.group('lead')}{name}={'<redacted>' if is_secret_name(name) else m.group('value')}"

    return _KV_PAIR.sub(pair, _QUERY_PAIR.sub(query, text))
