"""A real OpenAI-compatible chat-completions server on 127.0.0.1, with programmable faults.

For tests of the ``openai`` adapter (and anything else that speaks the API): a stdlib
``ThreadingHTTPServer`` in a background thread answers ``POST /v1/chat/completions`` (and
``GET /v1/models``). Every request is recorded with its headers and JSON body. A fault plan makes
chosen requests fail the way real servers do::

    with ChatServer() as srv:
        srv.add_fault(Fault.error(429, retry_after=0.05), times=2)          # the next 2 requests
        srv.add_fault(Fault.drop(), match="sample-7", times=1)              # a prompt containing "sample-7"
        srv.add_fault(Fault.error(400, message="bad image"), match="bad", times=None)  # always
        adapter = OpenAIAdapter(model="m", base_url=srv.base_url, ...)

Fault kinds: an HTTP error status (with ``Retry-After``), a slow reply (sleep, then answer), a dropped
connection (closed without a response), a truncated body (closed mid-response) and malformed JSON.

The default reply (:func:`tag_reply`) is deterministic: a TAG-format trace whose label is the one the
prompt names after ``expect:`` (e.g. ``expect: anger``) or, failing that, one picked by a hash of the
prompt; its boxes lie inside the sent image, whose size is read from the data URL.

Judge behaviours (``tag-bench judge`` against this server, ``ChatServer(reply=...)``), all deterministic:
:func:`placed_boxes_judge` prefers the response with more well-placed boxes, :func:`constant_judge`
always answers the same text (``"[[A]]"``: the position-biased judge), :func:`flaky_judge` answers
without a verdict for a fixed share of prompts.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tag_bench._hashing import sha256_hex, stable_hash
from tag_bench.facs import EMFACS_PROTOTYPES, au_sort_key
from tag_bench.schema import CANONICAL_EMOTIONS

ReplyFn = Callable[[dict[str, Any]], str]
_TOKEN_RE = re.compile(r"\S+\s*")


@dataclass(frozen=True)
class Fault:
    """One way a request can go wrong. Build with the class methods."""

    kind: str  # "status", "slow", "drop", "truncate", "malformed"
    status: int = 500
    retry_after: float | str | None = None
    delay: float = 0.0
    message: str = "injected fault"

    @classmethod
    def error(cls, status: int, retry_after: float | str | None = None, message: str = "") -> Fault:
        """Answer with an HTTP error status and an OpenAI-style error body."""
        return cls("status", status=status, retry_after=retry_after, message=message or f"injected {status}")

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """Sleep ``delay`` seconds, then answer normally (if the client is still there)."""
        return cls("slow", delay=delay)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without sending any response."""
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        """Send the headers and half the body, then close the connection."""
        return cls("truncate")

    @classmethod
    def malformed(cls) -> Fault:
        """Answer 200 with a body that is not JSON."""
        return cls("malformed")


@dataclass
class _Rule:
    fault: Fault
    match: str | None  # substring of the request's text (prompt and system), or None for any request
    remaining: int | None  # None = every matching request


@dataclass
class ReceivedRequest:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    text: str  # the request's message text (system and user parts), for matching
    fault: str | None = None  # the fault applied, if any
    received_at: float = field(default_factory=time.monotonic)


class ChatServer:
    """OpenAI-compatible chat server on 127.0.0.1 (a free port unless ``port`` is given)."""

    def __init__(
        self,
        reply: ReplyFn | None = None,
        model: str = "tiny-chat",
        latency: float = 0.0,
        port: int = 0,
    ) -> None:
        self.reply = reply or tag_reply
        self.model = model
        self.latency = latency  # seconds every normal reply takes (to overlap concurrent requests)
        self.requests: list[ReceivedRequest] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", port), _Handler)
        self._httpd.chat = self
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as ``base_url``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> ChatServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="chat-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes slow replies
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----------------------------------------------------------------------------- fault plan

    def add_fault(self, fault: Fault, match: str | None = None, times: int | None = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests (None: all) whose text contains ``match``.

        Rules are tried in the order they were added; the first one that applies wins.
        """
        with self._lock:
            self._rules.append(_Rule(fault, match, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def _take_fault(self, text: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if rule.remaining == 0 or (rule.match is not None and rule.match not in text):
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                return rule.fault
        return None

    # ----------------------------------------------------------------------------- bookkeeping

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _record(self, req: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(req)

    def requests_matching(self, text: str) -> list[ReceivedRequest]:
        """Recorded chat requests whose message text contains ``text``."""
        with self._lock:
            return [r for r in self.requests if r.body is not None and text in r.text]

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; False when it stopped."""
        return not self._stopping.wait(seconds)

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        """The chat-completion object for a request body (the normal, fault-free answer)."""
        text = self.reply(body)
        finish = "stop"
        stop = body.get("stop")
        for s in [stop] if isinstance(stop, str) else stop or []:
            if s and s in text:
                text = text[: text.index(s)]
        tokens = _TOKEN_RE.findall(text)  # a "token" here is a word with its trailing whitespace
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        if isinstance(limit, int) and len(tokens) > limit:
            tokens, finish = tokens[:limit], "length"
            text = "".join(tokens)
        prompt_tokens = len(_TOKEN_RE.findall(message_text(body)))
        completion_tokens = len(tokens)
        return {
            "id": "chatcmpl-" + stable_hash(body, 12),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", self.model),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    chat: ChatServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe behind: expected here, not news.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # silence per-request stderr lines
        pass

    def do_GET(self) -> None:
        chat = self.server.chat
        chat._record(ReceivedRequest("GET", self.path, dict(self.headers.items()), None, ""))
        if self.path.rstrip("/").endswith("/models"):
            self._send_json(200, {"object": "list", "data": [{"id": chat.model, "object": "model"}]})
        else:
            self._send_json(404, _error_body("not found", "invalid_request_error"))

    def do_POST(self) -> None:
        chat = self.server.chat
        chat._enter()
        try:
            self._post(chat)
        finally:
            chat._leave()

    def _post(self, chat: ChatServer) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError:
            chat._record(ReceivedRequest("POST", self.path, dict(self.headers.items()), None, ""))
            self._send_json(400, _error_body("request body is not a JSON object", "invalid_request_error"))
            return
        text = message_text(body)
        fault = chat._take_fault(text)
        chat._record(
            ReceivedRequest(
                "POST", self.path, dict(self.headers.items()), body, text, fault.kind if fault else None
            )
        )
        if not self.path.split("?", 1)[0].rstrip("/").endswith("/chat/completions"):
            self._send_json(404, _error_body(f"no route {self.path}", "invalid_request_error"))
            return
        if fault is not None and fault.kind != "slow":
            self._apply(fault)
            return
        if fault is not None and not chat._sleep(fault.delay):
            return
        if chat.latency and not chat._sleep(chat.latency):
            return
        try:
            completion = chat.completion(body)
        except Exception as e:  # a broken reply function is a server error, as in real life
            self._send_json(500, _error_body(f"reply failed: {e}", "server_error"))
            return
        self._send_json(200, completion)

    def _apply(self, fault: Fault) -> None:
        if fault.kind == "status":
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            kind = "rate_limit_error" if fault.status == 429 else "server_error"
            if 400 <= fault.status < 500 and fault.status != 429:
                kind = "invalid_request_error"
            self._send_json(fault.status, _error_body(fault.message, kind), headers)
        elif fault.kind == "drop":
            self._hang_up()
        elif fault.kind == "truncate":
            payload = json.dumps({"choices": [{"message": {"content": "x" * 200}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._hang_up()
        elif fault.kind == "malformed":
            payload = b'{"choices": [{"message": {"content": "unterminated'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        else:  # pragma: no cover - Fault's constructors cover every kind
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(obj).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client hung up (it timed out): nothing to answer
            self.close_connection = True


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


# --------------------------------------------------------------------------------------------------
# Request inspection and the default reply


def message_text(body: dict[str, Any]) -> str:
    """All text parts of all messages of a chat request, joined by newlines."""
    parts: list[str] = []
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
    return "\n".join(parts)


def image_sizes(body: dict[str, Any]) -> list[tuple[int, int]]:
    """(w, h) of every base64 data-URL image in a chat request."""
    from PIL import Image

    sizes = []
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict) or part.get("type") != "image_url":
                continue
            url = (part.get("image_url") or {}).get("url", "")
            m = re.match(r"data:image/[\w.+-]+;base64,(.*)$", url, re.S)
            if m:
                with Image.open(io.BytesIO(base64.b64decode(m.group(1)))) as im:
                    sizes.append(im.size)
    return sizes


_EXPECT_RE = re.compile(r"expect:\s*([a-z]+)", re.I)

# Where the first cited AU of each emotion sits, as fractions of the image (x1, y1, x2, y2).
_REGION = {
    "AU1": (0.35, 0.20, 0.65, 0.32),
    "AU4": (0.38, 0.22, 0.62, 0.34),
    "AU6": (0.20, 0.40, 0.80, 0.58),
    "AU9": (0.38, 0.35, 0.62, 0.55),
    "AU12": (0.28, 0.60, 0.72, 0.80),
}


def expected_label(text: str) -> str:
    """The label :func:`tag_reply` answers for a prompt: ``expect: <label>`` or a hash pick."""
    m = _EXPECT_RE.search(text)
    if m and m.group(1).lower() in CANONICAL_EMOTIONS:
        return m.group(1).lower()
    digest = int(sha256_hex(text), 16)
    return CANONICAL_EMOTIONS[digest % len(CANONICAL_EMOTIONS)]


def tag_reply(body: dict[str, Any]) -> str:
    """A deterministic TAG-format trace for a chat request (see module docstring)."""
    text = message_text(body)
    label = expected_label(text)
    sizes = image_sizes(body)
    w, h = sizes[0] if sizes else (512, 512)
    aus = sorted(EMFACS_PROTOTYPES[label][0], key=au_sort_key)
    lines = ["Global analysis: The face shows a clear expression.", "Verification loop:"]
    for au in aus[:3]:
        fx1, fy1, fx2, fy2 = _REGION.get(au, (0.25, 0.25, 0.75, 0.75))
        box = [round(fx1 * w), round(fy1 * h), round(fx2 * w), round(fy2 * h)]
        lines.append(f"Inspect region of {au} -> visible change -> <bbox>[{','.join(map(str, box))}]</bbox>")
    cited = " + ".join(aus) if aus else "no active AU"
    lines.append(f"Final conclusion: Combined {cited} indicate a dominant emotion of {label}.")
    lines.append(f"<answer> {label} </answer>")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Judge behaviours

#: Where each AU's box centre must lie to count as well placed, as fractions of the image (x1, y1, x2,
#: y2): brows and eyes in the upper face, nose and mouth in the lower face; always within the face's
#: width. Coarse on purpose: it needs no detector, and random boxes mostly miss it.
UPPER_FACE_AUS = frozenset(
    {"AU1", "AU2", "AU4", "AU5", "AU6", "AU7", "AU41", "AU42", "AU43", "AU44", "AU45", "AU46"}
)
_UPPER_ZONE = (0.2, 0.15, 0.8, 0.6)
_LOWER_ZONE = (0.2, 0.4, 0.8, 0.95)
_JUDGE_BOX_RE = re.compile(r"\[([AB])(\d+):\s*(-?\d+),\s*(-?\d+),\s*(-?\d+),\s*(-?\d+)\]")
_JUDGE_SIZE_RE = re.compile(r"(\d+)×(\d+) image")
_AU_MENTION_RE = re.compile(r"AU\s?0?(\d{1,2})(?!\d)")


def well_placed(au: str | None, box: tuple[float, float, float, float], size: tuple[int, int]) -> bool:
    """Whether ``box`` (pixels of an image of ``size``) has its centre in the zone of ``au``."""
    if au is None:
        return False
    w, h = size
    cx, cy = (box[0] + box[2]) / 2 / w, (box[1] + box[3]) / 2 / h
    zx1, zy1, zx2, zy2 = _UPPER_ZONE if au in UPPER_FACE_AUS else _LOWER_ZONE
    return zx1 <= cx <= zx2 and zy1 <= cy <= zy2


def placed_counts(text: str, size: tuple[int, int]) -> dict[str, int]:
    """Well-placed boxes of Response A and B in a judge prompt written in tag-bench's canonical box syntax
    ``[A1: x1, y1, x2, y2]`` (each box's AU: the last AU mentioned before it on its line)."""
    counts = {"A": 0, "B": 0}
    for m in _JUDGE_BOX_RE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        aus = _AU_MENTION_RE.findall(text, line_start, m.start())
        au = f"AU{int(aus[-1])}" if aus else None
        box = tuple(float(v) for v in m.group(3, 4, 5, 6))
        if well_placed(au, box, size):  # type: ignore[arg-type]
            counts[m.group(1)] += 1
    return counts


def placed_boxes_judge(body: dict[str, Any]) -> str:
    """A judge that prefers the response with more well-placed boxes (:func:`well_placed`), [[C]] when
    both have as many. The image size is the sent image's, else the one the prompt states."""
    text = message_text(body)
    sizes = image_sizes(body)
    stated = _JUDGE_SIZE_RE.search(text)
    size = sizes[0] if sizes else (int(stated.group(1)), int(stated.group(2))) if stated else (512, 512)
    n = placed_counts(text, size)
    verdict = "A" if n["A"] > n["B"] else "B" if n["B"] > n["A"] else "C"
    return (
        f"Response A cites {n['A']} well-placed box(es), Response B {n['B']}. "
        f"My final verdict is [[{verdict}]]."
    )


def constant_judge(reply: str) -> ReplyFn:
    """A judge that always answers ``reply`` (``"[[A]]"``: prefers the first position, whatever it reads)."""

    def answer(body: dict[str, Any]) -> str:
        return reply

    return answer


def flaky_judge(
    base: ReplyFn, every: int, garbage: str = "Both responses have merits; hard to say."
) -> ReplyFn:
    """``base``, except that one prompt in ``every`` (picked by a hash of its text) gets ``garbage``."""

    def answer(body: dict[str, Any]) -> str:
        if int(sha256_hex(message_text(body)), 16) % every == 0:
            return garbage
        return base(body)

    return answer
