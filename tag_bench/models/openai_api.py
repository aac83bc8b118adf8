"""``openai``: any OpenAI-compatible chat-completions endpoint (vLLM/SGLang servers, hosted APIs).

Model args: ``model``, ``base_url`` (default ``https://api.openai.com/v1``), ``api_key_env`` (the name
of the environment variable holding the key, default ``OPENAI_API_KEY``; the key is read only from
there, and when it is unset no ``Authorization`` header is sent, for local servers that need none),
``concurrency`` (requests in flight, default 4), ``timeout`` (seconds per attempt, default 60),
``max_retries`` (default 6), ``image_format`` (png or jpeg), ``detail`` (auto/low/high),
``length_field`` (``max_tokens``, or ``max_completion_tokens`` for APIs that want it), ``backoff`` and
``max_backoff`` (seconds: first retry delay, cap).

Each request is one user message holding the image as a base64 data URL and the prompt (plus an
optional system message). 429s (``Retry-After`` honoured, up to ``max_backoff``), 408, 409 and 5xx
answers (501 excepted), timeouts, dropped connections and unreadable bodies are retried with
exponential backoff and jitter; any other status is that request's error. ``input_size`` is the size
of the image sent: what the server does with it is unknown, so the declared frame is ``pixel`` (the
prompt states the image size) unless ``--box-frame`` says otherwise. ``stats()`` counts attempts,
retries by kind and failures.

The key never appears in ``describe()``, the fingerprint, error texts or log records.
"""

from __future__ import annotations

import base64
import email.utils
import io
import logging
import os
import queue
import random
import re
import threading
import time
from collections import Counter
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import Field, field_validator

from tag_bench._optional import require
from tag_bench.models.args import SECRET_KEYS, redact
from tag_bench.models.base import (
    AdapterArgs,
    AdapterContext,
    FatalAdapterError,
    GenerationOutput,
    GenerationRequest,
    ModelAdapter,
    fingerprint_of,
)
from tag_bench.models.requests import GenSettings, chat_messages, check_request, gen_settings, rgb

log = logging.getLogger(__name__)

#: Statuses worth another try besides 5xx (501 Not Implemented excepted): timeout, conflict, rate limit.
RETRY_STATUSES = frozenset({408, 409, 429})
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE_FORMATS = {"png": ("PNG", "image/png"), "jpeg": ("JPEG", "image/jpeg")}
_JPEG_QUALITY = 95


class _Secret:
    """Holds the API key; prints as ``<redacted>`` wherever it ends up."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__


class _Retry(Exception):
    """An attempt failed in a way worth another try."""

    def __init__(self, kind: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.retry_after = retry_after


class _Fail(Exception):
    """A request failed for good."""


class OpenAIAdapter(ModelAdapter):
    """Any OpenAI-compatible chat-completions endpoint (vLLM/SGLang servers, hosted APIs).

    Bounded concurrency, retries, and an API key kept out of every output.
    """

    name = "openai"
    cacheable = True
    timed = True
    text_only = True  # a request with show_image=False is sent without its image

    class Args(AdapterArgs):
        model: str = Field(min_length=1, description="model name on the server")
        base_url: str = Field("https://api.openai.com/v1", description="http(s) URL of the API root")
        api_key_env: str = Field(
            "OPENAI_API_KEY", description="NAME of the environment variable holding the key (may be unset)"
        )
        concurrency: int = Field(4, ge=1, description="requests in flight")
        timeout: float = Field(60.0, gt=0, description="seconds per attempt")
        max_retries: int = Field(6, ge=0, description="retries per request after the first attempt")
        image_format: Literal["png", "jpeg"] = Field("png", description="encoding of the image sent")
        detail: Literal["auto", "low", "high"] | None = Field(None, description="image detail hint")
        length_field: Literal["max_tokens", "max_completion_tokens"] = Field(
            "max_tokens", description="name of the output length limit in the request body"
        )
        backoff: float = Field(1.0, ge=0, description="seconds before the first retry (doubles each time)")
        max_backoff: float = Field(60.0, ge=0, description="longest wait between retries, in seconds")

        @field_validator("base_url")
        @classmethod
        def _http_url(cls, v: str) -> str:
            if not v.startswith(("http://", "https://")):
                raise ValueError("base_url must be an http:// or https:// URL")
            return v.rstrip("/")

        @field_validator("api_key_env")
        @classmethod
        def _env_name(cls, v: str) -> str:
            if not _ENV_NAME.match(v):
                # Never echo the value: a key pasted here by mistake must not reach the terminal.
                raise ValueError(
                    "api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY)"
                )
            return v

        @field_validator("image_format", mode="before")
        @classmethod
        def _format_alias(cls, v: Any) -> Any:
            v = v.lower() if isinstance(v, str) else v
            return "jpeg" if v == "jpg" else v

    args: Args

    @classmethod
    def describe_frame(cls) -> str:
        return "pixel: the prompt states the size of the image sent; --box-frame overrides"

    def __init__(self, args: Any = None, *, context: AdapterContext | None = None) -> None:
        super().__init__(args, context=context)
        httpx = require("httpx", "api", "The openai model adapter")
        a = self.args
        self.model = a.model
        self.base_url = a.base_url
        self.api_key_env = a.api_key_env
        self.concurrency = a.concurrency
        self.timeout = float(a.timeout)
        self.max_retries = a.max_retries
        self.image_format = a.image_format
        self.detail = a.detail
        self.length_field = a.length_field
        self.backoff = float(a.backoff)
        self.max_backoff = float(a.max_backoff)
        if self.frame == "pixel-resized":
            self.warnings.append(
                "box frame 'pixel-resized' over an API: the server's resize is unknown, so input_size is "
                "the size of the image sent and boxes are read as pixels of it"
            )
        key = os.environ.get(self.api_key_env) or None
        self._key = _Secret(key) if key else None
        headers = {"Content-Type": "application/json"}
        if self._key is not None:
            headers["Authorization"] = f"Bearer {self._key.reveal()}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency),
            headers=headers,
        )
        self._httpx = httpx
        parts = urlsplit(self.base_url)  # a query (?api-version=...) stays after the path
        self._url = urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/chat/completions"))
        self._stop = threading.Event()  # set by Ctrl-C: requests in flight give up at once
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._stats: Counter[str] = Counter()

    def __repr__(self) -> str:
        return f"OpenAIAdapter(model={self.model!r}, base_url={public_url(self.base_url)!r})"

    # ---------------------------------------------------------------------------------- contract

    @property
    def device(self) -> str:
        return "remote (the server's)"

    @property
    def requests_in_flight(self) -> int:
        return self.concurrency

    def fingerprint(self) -> str:
        fmt = f"jpeg{_JPEG_QUALITY}" if self.image_format == "jpeg" else self.image_format
        return fingerprint_of(
            self.name, public_url(self.base_url), self.model, fmt, self.detail, self.length_field
        )

    def describe(self) -> dict[str, Any]:
        info = redact(
            {
                "model": self.model,
                "base_url": public_url(self.base_url),
                "api_key_env": self.api_key_env,
                "sends_credentials": self._key is not None,
                "concurrency": self.concurrency,
                "timeout": self.timeout,
                "max_retries": self.max_retries,
                "image_format": self.image_format,
                "detail": self.detail,
                "length_field": self.length_field,
                "backoff": self.backoff,
                "max_backoff": self.max_backoff,
                "frame": self.frame,
                "frame_source": "override" if self.frame_override else "default",
            }
        )
        if self.warnings:
            info["warnings"] = list(self.warnings)
        return info

    def stats(self) -> dict[str, int]:
        """Counts so far: attempts, retries (total and by kind: ``retry_429`` ...), failures."""
        with self._lock:
            return dict(self._stats)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationOutput]:
        """Up to ``concurrency`` requests in flight, in daemon threads: a Ctrl-C or a fatal answer
        (401/403) stops at once, without waiting for a hung server."""
        if not requests:
            return []
        results: list[GenerationOutput | None] = [None] * len(requests)
        fatal: list[BaseException] = []
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(requests)):
            todo.put(i)

        def worker() -> None:
            while not self._stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    results[i] = self._safe_one(requests[i])
                except FatalAdapterError as e:
                    fatal.append(e)
                    self._stop.set()

        threads = [threading.Thread(target=worker, name="openai", daemon=True) for _ in range(min(self.concurrency, len(requests)))]  # fmt: skip
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)  # short waits: a Ctrl-C reaches this (main) thread promptly
        except BaseException:
            self._stop.set()
            raise
        if fatal:
            raise fatal[0]
        return [
            r if r is not None else GenerationOutput(text=None, error="stopped before it was sent")
            for r in results
        ]

    def close(self) -> None:
        self._client.close()

    # ---------------------------------------------------------------------------------- one request

    def _safe_one(self, req: GenerationRequest) -> GenerationOutput:
        try:
            return self._one(req)
        except FatalAdapterError:
            raise
        except Exception as e:  # never raise for one request; never let the key through either
            self._count("failures")
            return GenerationOutput(text=None, error=self._scrub(f"{type(e).__name__}: {e}"))

    def _one(self, req: GenerationRequest) -> GenerationOutput:
        problem = check_request(req)
        if problem is not None:
            self._count("failures")
            return GenerationOutput(text=None, error=problem)
        try:
            settings = gen_settings(req.gen_kwargs, self.context.seed)
        except ValueError as e:
            self._count("failures")
            return GenerationOutput(text=None, error=str(e))
        body = self.request_body(req, settings)
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            if self._stop.is_set():
                return GenerationOutput(text=None, error="stopped before an answer came back")
            self._count("attempts")
            try:
                out = self._attempt(body, settings)
            except _Retry as r:
                last = r.detail
                if attempt == self.max_retries:
                    break
                delay = self._delay(attempt, r.retry_after)
                self._count("retries", f"retry_{r.kind}")
                log.warning(
                    "%s: attempt %d/%d failed (%s); retrying in %.2fs",
                    req.sample_id,
                    attempt + 1,
                    self.max_retries + 1,
                    self._scrub(r.detail),
                    delay,
                )
                if self._stop.wait(delay):  # a Ctrl-C ends the wait at once
                    return GenerationOutput(text=None, error="stopped while waiting to retry")
                continue
            except _Fail as f:
                self._count("failures")
                return GenerationOutput(text=None, error=self._scrub(str(f)))
            if out.text is not None:
                out.text = self._scrub(out.text)  # a server or proxy may echo the key back
            out.input_size = tuple(req.image.size) if req.show_image else None  # type: ignore[assignment]
            return out
        self._count("failures")
        n = self.max_retries + 1
        return GenerationOutput(text=None, error=self._scrub(f"gave up after {n} attempts; last: {last}"))

    def request_body(self, req: GenerationRequest, settings: GenSettings) -> dict[str, Any]:
        """The JSON body of one chat-completions request."""
        part: dict[str, Any] | None = None
        if req.show_image:
            pil_format, mime = _IMAGE_FORMATS[self.image_format]
            buf = io.BytesIO()
            save_kw = {"quality": _JPEG_QUALITY} if pil_format == "JPEG" else {}
            rgb(req.image).save(buf, format=pil_format, **save_kw)
            image_url: dict[str, Any] = {
                "url": f"data:{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"
            }
            if self.detail:
                image_url["detail"] = self.detail
            part = {"type": "image_url", "image_url": image_url}
        messages = chat_messages(req, part)
        if req.system:  # plain-string system content is the most widely accepted form
            messages[0] = {"role": "system", "content": req.system}
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            self.length_field: settings.max_new_tokens,
        }
        if not settings.do_sample:
            body["temperature"] = 0.0
        elif settings.temperature is not None:  # else: sample at the server's default temperature
            body["temperature"] = settings.temperature
        for key in ("top_p", "top_k", "seed", "repetition_penalty"):
            v = getattr(settings, key)
            if v is not None:
                body[key] = v
        if settings.stop:
            body["stop"] = list(settings.stop)
        return body

    def _attempt(self, body: dict[str, Any], settings: GenSettings) -> GenerationOutput:
        httpx = self._httpx
        try:
            resp = self._client.post(self._url, json=body)
        except httpx.TimeoutException as e:
            raise _Retry("timeout", f"timed out after {self.timeout:g}s ({type(e).__name__})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError) as e:
            raise _Retry("connection", f"connection failed ({type(e).__name__}: {e})") from None
        except httpx.HTTPError as e:
            raise _Fail(f"request failed ({type(e).__name__}: {e})") from None
        if resp.status_code in RETRY_STATUSES or (resp.status_code >= 500 and resp.status_code != 501):
            kind = "429" if resp.status_code == 429 else "5xx" if resp.status_code >= 500 else "4xx"
            raise _Retry(
                kind, f"HTTP {resp.status_code}: {_server_message(resp)}", _retry_after(resp.headers)
            )
        if resp.status_code in (401, 403):
            self._stop.set()
            raise FatalAdapterError(
                self._scrub(
                    f"{public_url(self._url)} refused the credentials (HTTP {resp.status_code}: {_server_message(resp)}); "
                    f"check the key in ${self.api_key_env} and that it may use model {self.model!r}"
                )
            )
        if resp.status_code != 200:
            raise _Fail(f"HTTP {resp.status_code}: {_server_message(resp)}")
        try:
            data = resp.json()
        except ValueError:
            raise _Retry("malformed", f"response is not valid JSON ({len(resp.content)} bytes)") from None
        return _parse_completion(data)

    # ---------------------------------------------------------------------------------- helpers

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_backoff)
        base = min(self.max_backoff, self.backoff * (2**attempt))
        with self._lock:
            jitter = 0.5 + 0.5 * self._rng.random()
        return base * jitter

    def _count(self, *names: str) -> None:
        with self._lock:
            for n in names:
                self._stats[n] += 1

    def _scrub(self, text: str) -> str:
        """Remove the key from a text that may quote it (servers and proxies echo headers)."""
        if self._key is not None:
            text = text.replace(self._key.reveal(), "<redacted>")
        return text


def _parse_completion(data: Any) -> GenerationOutput:
    if not isinstance(data, dict):
        raise _Fail("response is not a JSON object")
    if "error" in data and not data.get("choices"):
        err = data["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        raise _Fail(f"server error: {str(msg)[:300]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _Fail("response has no choices")
    choice = choices[0]
    message = choice.get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # some servers return content parts
        content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if content is None:
        content = message.get("refusal") or ""
    usage = data.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    return GenerationOutput(
        text=str(content),
        finish_reason=choice.get("finish_reason"),
        input_tokens=_int_or_none(usage.get("prompt_tokens")),
        output_tokens=_int_or_none(usage.get("completion_tokens")),
    )


def _int_or_none(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _server_message(resp: Any) -> str:
    try:
        data = resp.json()
        err = data.get("error") if isinstance(data, dict) else None
        msg = err.get("message") if isinstance(err, dict) else err or data
    except ValueError:
        msg = resp.text
    return " ".join(str(msg).split())[:300]


def _retry_after(headers: Any) -> float | None:
    """Seconds a server asked us to wait (``retry-after-ms``, ``Retry-After`` seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def public_url(url: str) -> str:
    """``url`` without user info or secret-looking query values (for manifests and fingerprints)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:  # user info may itself be a key (https://KEY@host)
        netloc = "<redacted>@" + netloc.rsplit("@", 1)[1]
    query = urlencode(
        [
            (k, "<redacted>" if any(s in k.lower() for s in SECRET_KEYS) else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
