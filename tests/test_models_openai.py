"""The ``openai`` adapter against a real loopback chat server that misbehaves on purpose."""

from __future__ import annotations

import email.utils
import json
import logging
import time

import httpx
import pytest
from PIL import Image

from tag_bench.models.base import AdapterContext, FatalAdapterError, GenerationRequest, get_model
from tag_bench.models.openai_api import _retry_after, public_url
from tag_bench.schema import CANONICAL_EMOTIONS
from tag_bench.testing.chat_server import ChatServer, Fault, expected_label, image_sizes, tag_reply

KEY = "sk-tagbench-DISTINCTIVE-7f3a9c1e5b"


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


def _adapter(srv, **args):
    base = {
        "model": "tiny-chat",
        "base_url": srv.base_url,
        "api_key_env": "TAG_BENCH_TEST_KEY",
        "backoff": 0.01,
    }
    return get_model("openai", {**base, **args}, AdapterContext(seed=0))


def _requests(n, marker="", **gen):
    labels = [CANONICAL_EMOTIONS[i % len(CANONICAL_EMOTIONS)] for i in range(n)]
    return [
        GenerationRequest(
            sample_id=f"s{i}",
            image=Image.new("RGB", (60 + i, 50), (i * 10 % 255, 80, 120)),
            prompt=f"sample-{i}{marker} expect: {label}",
            gen_kwargs={"max_new_tokens": 200, **gen},
        )
        for i, label in enumerate(labels)
    ], labels


def test_every_fault_is_retried_and_nothing_is_lost(server):
    server.latency = 0.01
    server.add_fault(Fault.error(429, retry_after=0.05), times=2)
    server.add_fault(Fault.error(500), times=2)
    server.add_fault(Fault.error(503), times=1)
    server.add_fault(Fault.slow(3.0), times=1)  # beyond the 0.5 s client timeout
    server.add_fault(Fault.drop(), times=1)
    server.add_fault(Fault.truncate(), times=1)
    server.add_fault(Fault.malformed(), times=1)
    adapter = _adapter(server, timeout=0.5, max_retries=10, concurrency=4)
    reqs, labels = _requests(12)
    outs = adapter.generate(reqs)
    assert [o.error for o in outs] == [None] * 12
    for req, out, label in zip(reqs, outs, labels, strict=True):  # each output belongs to its own request
        assert out.text.endswith(f"<answer> {label} </answer>")
        assert out.finish_reason == "stop" and out.input_size == req.image.size
        assert out.output_tokens > 10 and out.input_tokens == 3
    stats = adapter.stats()
    assert stats["retries"] == 9 and stats.get("failures", 0) == 0
    kinds = {k: v for k, v in stats.items() if k.startswith("retry_")}
    assert kinds == {
        "retry_429": 2,
        "retry_5xx": 3,
        "retry_timeout": 1,
        "retry_connection": 2,
        "retry_malformed": 1,
    }
    assert len([r for r in server.requests if r.body is not None]) == 12 + 9
    adapter.close()


def test_retry_after_is_honoured(server):
    server.add_fault(Fault.error(429, retry_after=0.3), times=1)
    adapter = _adapter(server)  # own backoff 0.01 s: only Retry-After explains a longer wait
    out = adapter.generate(_requests(1)[0])[0]
    assert out.error is None
    first, second = server.requests
    assert second.received_at - first.received_at >= 0.28


def test_retry_after_forms():
    assert _retry_after(httpx.Headers({"retry-after": "2"})) == 2.0
    assert _retry_after(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < _retry_after(httpx.Headers({"retry-after": future})) <= 30
    assert _retry_after(httpx.Headers({})) is None


def test_permanent_failures_stay_with_their_request(server):
    server.add_fault(Fault.error(400, message="image too small"), match="sample-1 ", times=None)
    server.add_fault(Fault.error(500, message="model crashed"), match="sample-3 ", times=None)
    adapter = _adapter(server, max_retries=2)
    reqs, labels = _requests(5)
    outs = adapter.generate(reqs)
    assert outs[1].text is None and outs[1].error == "HTTP 400: image too small"
    assert outs[3].text is None and outs[3].error == "gave up after 3 attempts; last: HTTP 500: model crashed"
    for i in (0, 2, 4):
        assert outs[i].error is None and f"<answer> {labels[i]} </answer>" in outs[i].text
    assert len(server.requests_matching("sample-1 ")) == 1  # a 400 is not retried
    assert len(server.requests_matching("sample-3 ")) == 3
    assert adapter.stats()["failures"] == 2


def test_unreachable_server_is_an_error_per_request():
    with ChatServer() as srv:
        url = srv.base_url
    adapter = get_model("openai", {"model": "m", "base_url": url, "max_retries": 1, "backoff": 0.01})
    outs = adapter.generate(_requests(2)[0])
    assert all(
        o.text is None and o.error.startswith("gave up after 2 attempts; last: connection failed")
        for o in outs
    )


@pytest.mark.parametrize("concurrency", [1, 3])
def test_concurrency_bound(server, concurrency):
    server.latency = 0.15
    adapter = _adapter(server, concurrency=concurrency)
    outs = adapter.generate(_requests(9)[0])
    assert all(o.error is None for o in outs)
    assert server.max_in_flight == concurrency


def test_key_reaches_the_server_and_nowhere_else(server, monkeypatch, caplog, capsys):
    monkeypatch.setenv("TAG_BENCH_TEST_KEY", KEY)
    caplog.set_level(logging.DEBUG)  # everything: ours, httpx's, httpcore's
    # A server that echoes the key back in its error message (proxies do).
    server.add_fault(Fault.error(400, message=f"bad request for key {KEY}"), match="sample-0 ", times=None)
    server.add_fault(Fault.error(503, message=f"overloaded for {KEY}"), match="sample-1 ", times=None)
    server.add_fault(Fault.drop(), match="sample-2 ", times=1)
    adapter = _adapter(server, max_retries=1, timeout=2)
    reqs, _ = _requests(4)
    outs = adapter.generate(reqs)
    assert outs[0].error == "HTTP 400: bad request for key <redacted>"
    assert outs[1].error == "gave up after 2 attempts; last: HTTP 503: overloaded for <redacted>"
    assert outs[2].error is None and outs[3].error is None
    assert {r.headers.get("Authorization") for r in server.requests} == {f"Bearer {KEY}"}

    describe = adapter.describe()
    assert describe["sends_credentials"] is True and describe["api_key_env"] == "TAG_BENCH_TEST_KEY"
    seen = [json.dumps(describe), adapter.fingerprint(), repr(adapter), str(adapter), repr(outs), caplog.text]
    seen += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    captured = capsys.readouterr()
    seen += [captured.out, captured.err]
    assert any("retrying" in s for s in seen)  # the retries were logged...
    assert not [s for s in seen if KEY in s]  # ...and the key is nowhere
    adapter.close()


def test_rejected_credentials_are_fatal_and_the_key_is_not_quoted(server, monkeypatch):
    monkeypatch.setenv("TAG_BENCH_TEST_KEY", KEY)
    server.add_fault(Fault.error(401, message=f"invalid api key {KEY}"), times=None)
    adapter = _adapter(server, concurrency=3)
    with pytest.raises(
        FatalAdapterError, match=r"refused the credentials \(HTTP 401: invalid api key <redacted>\)"
    ) as e:
        adapter.generate(_requests(12)[0])
    assert KEY not in str(e.value)
    assert len(server.requests) <= 3  # the other requests are never sent
    adapter.close()


def test_an_echoed_key_is_cut_out_of_the_reply_text(monkeypatch):
    monkeypatch.setenv("TAG_BENCH_TEST_KEY", KEY)
    with ChatServer(reply=lambda body: f"<answer>happiness</answer> (your key is {KEY})") as srv:
        out = _adapter(srv).generate(_requests(1)[0])[0]
    assert out.text is not None and KEY not in out.text and "<redacted>" in out.text


def test_no_key_no_authorization_header(server, monkeypatch):
    monkeypatch.delenv("TAG_BENCH_TEST_KEY", raising=False)
    adapter = _adapter(server)
    assert adapter.generate(_requests(1)[0])[0].error is None
    assert "Authorization" not in server.requests[0].headers
    assert adapter.describe()["sends_credentials"] is False


def test_key_value_in_place_of_its_name_is_not_echoed():
    with pytest.raises(ValueError) as err:
        get_model("openai", {"model": "m", "api_key_env": KEY.replace("-", "/")})
    assert KEY.replace("-", "/") not in str(err.value) and "NAME of an environment variable" in str(err.value)
    with pytest.raises(
        ValueError, match="unknown argument 'api_key' \\(did you mean 'api_key_env'\\?\\)"
    ) as err:
        get_model("openai", {"model": "m", "api_key": KEY})
    assert KEY not in str(err.value)


def test_request_body_and_generation_settings(server):
    adapter = _adapter(server, image_format="jpeg", detail="low", length_field="max_completion_tokens")
    img = Image.new("RGB", (80, 64), (200, 150, 120))
    reqs = [
        GenerationRequest(
            "greedy", img, "greedy expect: fear", system="Answer as a FACS coder.", gen_kwargs={}
        ),
        GenerationRequest(
            "hot",
            img,
            "hot expect: fear",
            gen_kwargs={"temperature": 0.8, "top_p": 0.9, "seed": 11, "max_new_tokens": 5, "stop": ["zzz"]},
        ),
    ]
    greedy, hot = adapter.generate(reqs)
    bodies = {r.body["messages"][-1]["content"][1]["text"].split()[0]: r.body for r in server.requests}
    g = bodies["greedy"]
    assert g["model"] == "tiny-chat" and g["temperature"] == 0.0 and g["max_completion_tokens"] == 512
    assert g["messages"][0] == {"role": "system", "content": "Answer as a FACS coder."}
    image_part = g["messages"][1]["content"][0]
    assert image_part["type"] == "image_url" and image_part["image_url"]["detail"] == "low"
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert image_sizes(g) == [(80, 64)]
    assert "seed" not in g and "top_p" not in g
    h = bodies["hot"]
    sent = {k: h[k] for k in ("temperature", "top_p", "seed", "stop", "max_completion_tokens")}
    assert sent == {"temperature": 0.8, "top_p": 0.9, "seed": 11, "stop": ["zzz"], "max_completion_tokens": 5}
    assert greedy.finish_reason == "stop" and greedy.text.endswith("<answer> fear </answer>")
    assert hot.finish_reason == "length" and hot.output_tokens == 5 and hot.input_size == (80, 64)


def test_bad_requests_never_reach_the_server(server):
    adapter = _adapter(server)
    good = GenerationRequest("ok", Image.new("RGB", (32, 32)), "expect: anger")
    outs = adapter.generate(
        [
            GenerationRequest("kw", good.image, "x", gen_kwargs={"logprobs": True}),
            GenerationRequest("img", None, "x"),  # type: ignore[arg-type]
            good,
        ]
    )
    assert "logprobs" in outs[0].error and "not a PIL image" in outs[1].error
    assert outs[2].error is None and len(server.requests) == 1


def test_frame_fingerprint_describe(server):
    a = _adapter(server)
    assert a.frame == "pixel" and a.describe()["frame_source"] == "default"
    assert _adapter(server).fingerprint() == a.fingerprint()
    assert _adapter(server, concurrency=8, timeout=5).fingerprint() == a.fingerprint()  # no effect on outputs
    assert _adapter(server, model="other").fingerprint() != a.fingerprint()
    assert _adapter(server, image_format="jpeg").fingerprint() != a.fingerprint()
    over = get_model(
        "openai", {"model": "m", "base_url": server.base_url}, AdapterContext(box_frame="pixel-resized")
    )
    assert (
        over.frame == "pixel-resized"
        and "input_size is the size of the image sent" in over.describe()["warnings"][0]
    )
    with pytest.raises(ValueError, match="base_url"):
        get_model("openai", {"model": "m", "base_url": "ftp://example.org"})


def test_public_url():
    assert public_url("https://user:pw@host.example/v1?api-key=abc&x=1") == (
        "https://<redacted>@host.example/v1?api-key=%3Credacted%3E&x=1"
    )
    assert public_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"


# --------------------------------------------------------------------------------------------------
# The server itself


def test_server_basics(server):
    models = httpx.get(server.base_url + "/models").json()
    assert models["data"][0]["id"] == "tiny-chat"
    bad = httpx.post(server.base_url + "/chat/completions", content=b"not json")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]["message"]


def test_tag_reply_is_deterministic_and_inside_the_image():
    import re

    body = {"messages": [{"role": "user", "content": [{"type": "text", "text": "expect: surprise"}]}]}
    assert tag_reply(body) == tag_reply(body)
    assert "<answer> surprise </answer>" in tag_reply(body)
    assert expected_label("no label here") == expected_label("no label here") in CANONICAL_EMOTIONS
    for box in re.findall(r"<bbox>\[([\d,]+)\]</bbox>", tag_reply(body)):
        x1, y1, x2, y2 = map(int, box.split(","))
        assert 0 <= x1 < x2 <= 512 and 0 <= y1 < y2 <= 512
