"""Wire-format builders for the mock LLM server.

Each builder turns one parsed request (a Ctx) into a Plan: status, headers and
the list of body pieces the server writes one by one. A piece is one SSE event,
one NDJSON line or one JSON-array element, so a stream reaches the client as
separate writes (separate TLS records), the way real providers send it.

The Plan also says which piece carries the final usage (so x-mock-cut can stop
right before it) and the token numbers exactly as they appear on the wire.
"""

import json
import re
import time
from dataclasses import dataclass, field

ERROR_MODEL = re.compile(r"^mock-error-([1-5][0-9][0-9])$")

# Snapshot names the mock answers with for a few aliases, so tests can check
# that the sensor prices on the response model rather than the request model.
SNAPSHOTS = {
    "gpt-4o": "gpt-4o-2024-08-06",
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "gpt-4.1": "gpt-4.1-2025-04-14",
}
AZURE_BASE_MODEL = "gpt-4o-2024-08-06"


@dataclass
class Numbers:
    """Raw draws; every provider maps them onto its own fields."""
    big_in: int      # input incl. cache (OpenAI/Gemini/Ollama), or Anthropic non-cached input
    cached: int      # subset of big_in (OpenAI, DeepSeek, Gemini)
    out: int         # output tokens as the provider counts them
    reasoning: int   # subset of out (OpenAI); Gemini thoughts are separate
    cache_write: int  # Anthropic cache_creation_input_tokens
    cache_read: int   # Anthropic cache_read_input_tokens
    thoughts: int     # Gemini thoughtsTokenCount (not inside candidates)
    variant: int      # picks between equally valid wire shapes


@dataclass
class Ctx:
    seq: int
    request_id: str
    provider: str         # openai, azure, deepseek, groq, mistral, anthropic, gemini, ollama
    api: str              # chat_completions, responses, messages, generate_content, ollama_chat, ollama_generate, models
    model: str
    body: dict
    stream: bool
    include_usage: bool
    gemini_sse: bool
    nums: Numbers
    created: int = field(default_factory=lambda: int(time.time()))
    tool_path: str = None  # x-mock-tool-path: the answer also asks to write this file


def tool_input(ctx):
    """The arguments of the tool call x-mock-tool-path asks for (Claude Code's Write)."""
    return {"file_path": ctx.tool_path, "content": "written by the mock's tool call\n"}


@dataclass
class Plan:
    status: int = 200
    headers: list = field(default_factory=list)
    pieces: list = field(default_factory=list)
    stream: bool = False
    usage_index: int = None       # piece holding the final usage, None if never sent
    partial: list = field(default_factory=list)  # (piece index, usage dict sent early)
    usage: dict = None            # ledger numbers (as on the wire) if usage is sent
    response_model: str = None
    events: list = None           # Responses API: the event objects (for WebSocket)


def dumps(obj, indent=None):
    if indent is None:
        return json.dumps(obj, separators=(",", ":"))
    return json.dumps(obj, indent=indent)


def sse(data, event=None, eol="\n"):
    head = f"event: {event}{eol}" if event else ""
    return f"{head}data: {data}{eol}{eol}".encode()


def ledger_usage(inp, out, cache_read=None, cache_write=None, reasoning=None, total=None,
                 input_includes_cache=True, output_includes_reasoning=True):
    return {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "reasoning_tokens": reasoning,
        "total_tokens": total,
        "input_includes_cache": input_includes_cache,
        "output_includes_reasoning": output_includes_reasoning,
    }


# ---------------------------------------------------------------- OpenAI family

def openai_usage(ctx):
    n = ctx.nums
    p, o = n.big_in, n.out
    if ctx.provider == "groq":
        usage = {"queue_time": 0.0104, "prompt_tokens": p, "prompt_time": 0.0231,
                 "completion_tokens": o, "completion_time": 0.412, "total_tokens": p + o,
                 "total_time": 0.435}
        return usage, ledger_usage(p, o, total=p + o)
    if ctx.provider == "mistral":
        usage = {"prompt_tokens": p, "completion_tokens": o, "total_tokens": p + o}
        return usage, ledger_usage(p, o, total=p + o)
    if ctx.provider == "deepseek":
        usage = {"prompt_tokens": p, "completion_tokens": o, "total_tokens": p + o,
                 "prompt_tokens_details": {"cached_tokens": n.cached},
                 "prompt_cache_hit_tokens": n.cached,
                 "prompt_cache_miss_tokens": p - n.cached,
                 "completion_tokens_details": {"reasoning_tokens": n.reasoning}}
        return usage, ledger_usage(p, o, cache_read=n.cached, reasoning=n.reasoning, total=p + o)
    usage = {"prompt_tokens": p, "completion_tokens": o, "total_tokens": p + o,
             "prompt_tokens_details": {"cached_tokens": n.cached, "audio_tokens": 0},
             "completion_tokens_details": {"reasoning_tokens": n.reasoning, "audio_tokens": 0,
                                           "accepted_prediction_tokens": 0,
                                           "rejected_prediction_tokens": 0}}
    return usage, ledger_usage(p, o, cache_read=n.cached, reasoning=n.reasoning, total=p + o)


def openai_response_model(ctx):
    if ctx.provider == "azure":
        return AZURE_BASE_MODEL
    return SNAPSHOTS.get(ctx.model, ctx.model)


def openai_headers(ctx, plan):
    h = plan.headers
    if ctx.provider == "azure":
        h += [("apim-request-id", ctx.request_id), ("x-ms-region", "Mock Region"),
              ("x-request-id", ctx.request_id)]
    elif ctx.provider == "groq":
        h += [("x-request-id", ctx.request_id), ("x-groq-region", "mock-1")]
    else:
        h += [("x-request-id", ctx.request_id), ("openai-processing-ms", "42")]
    h += [("x-ratelimit-limit-requests", "10000"), ("x-ratelimit-remaining-requests", "9999"),
          ("x-ratelimit-limit-tokens", "2000000"), ("x-ratelimit-remaining-tokens", "1999000")]


def build_chat(ctx, deltas):
    plan = Plan(stream=ctx.stream)
    model = openai_response_model(ctx)
    plan.response_model = model
    openai_headers(ctx, plan)
    usage, led = openai_usage(ctx)
    cid = f"chatcmpl-{ctx.request_id}"
    if not ctx.stream:
        body = {"id": cid, "object": "chat.completion", "created": ctx.created, "model": model,
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": "".join(deltas),
                                         "refusal": None, "annotations": []},
                             "logprobs": None, "finish_reason": "stop"}]}
        if ctx.tool_path:
            body["choices"][0]["message"]["tool_calls"] = [
                {"id": f"call_{ctx.request_id}", "type": "function",
                 "function": {"name": "write_file", "arguments": json.dumps(tool_input(ctx))}}]
            body["choices"][0]["finish_reason"] = "tool_calls"
        if ctx.provider == "groq":
            body["x_groq"] = {"id": ctx.request_id}
        body["usage"] = usage
        body["service_tier"] = "default"
        body["system_fingerprint"] = "fp_mock"
        plan.headers.append(("content-type", "application/json"))
        plan.pieces, plan.usage_index = split_at_usage(dumps(body).encode(), b'"usage"')
        plan.usage = led
        return plan

    plan.headers.append(("content-type", "text/event-stream; charset=utf-8"))
    # Which chunk carries usage differs by provider: OpenAI/Azure send an extra
    # chunk with choices [] only when asked; DeepSeek and Mistral put it on the
    # finishing chunk; Groq nests it under x_groq on the finishing chunk.
    extra_usage_chunk = ctx.include_usage and ctx.provider in ("openai", "azure")
    on_final = (ctx.provider == "mistral" or ctx.provider == "groq"
                or (ctx.provider == "deepseek" and ctx.include_usage))
    null_usage = extra_usage_chunk

    def chunk(choices, **extra):
        c = {"id": cid, "object": "chat.completion.chunk", "created": ctx.created,
             "model": model, "system_fingerprint": "fp_mock", "choices": choices}
        if null_usage:
            c["usage"] = None
        c.update(extra)
        return sse(dumps(c))

    pieces = []
    if ctx.provider == "azure":
        pieces.append(sse(dumps({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                                 "prompt_filter_results": [{"prompt_index": 0,
                                                            "content_filter_results": {}}]})))
    pieces.append(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""},
                          "logprobs": None, "finish_reason": None}]))
    for d in deltas:
        pieces.append(chunk([{"index": 0, "delta": {"content": d}, "logprobs": None,
                              "finish_reason": None}]))
    if ctx.tool_path:  # the call's id and name first, then the arguments in two pieces
        js = json.dumps(tool_input(ctx))
        pieces.append(chunk([{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": f"call_{ctx.request_id}", "type": "function",
             "function": {"name": "write_file", "arguments": ""}}]},
            "logprobs": None, "finish_reason": None}]))
        for part in (js[:len(js) // 2], js[len(js) // 2:]):
            pieces.append(chunk([{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": part}}]},
                "logprobs": None, "finish_reason": None}]))
    final = [{"index": 0, "delta": {}, "logprobs": None,
              "finish_reason": "tool_calls" if ctx.tool_path else "stop"}]
    if on_final and ctx.provider == "groq":
        pieces.append(chunk(final, x_groq={"id": ctx.request_id, "usage": usage}))
        plan.usage_index = len(pieces) - 1
    elif on_final:
        pieces.append(chunk(final, usage=usage))
        plan.usage_index = len(pieces) - 1
    else:
        pieces.append(chunk(final))
    if extra_usage_chunk:
        pieces.append(chunk([], usage=usage))
        plan.usage_index = len(pieces) - 1
    pieces.append(b"data: [DONE]\n\n")
    plan.pieces = pieces
    plan.usage = led if plan.usage_index is not None else None
    return plan


def build_responses(ctx, deltas):
    plan = Plan(stream=ctx.stream)
    model = openai_response_model(ctx)
    plan.response_model = model
    openai_headers(ctx, plan)
    n = ctx.nums
    usage = {"input_tokens": n.big_in, "input_tokens_details": {"cached_tokens": n.cached},
             "output_tokens": n.out, "output_tokens_details": {"reasoning_tokens": n.reasoning},
             "total_tokens": n.big_in + n.out}
    led = ledger_usage(n.big_in, n.out, cache_read=n.cached, reasoning=n.reasoning,
                       total=n.big_in + n.out)
    rid, mid = f"resp_{ctx.request_id}", f"msg_{ctx.request_id}"
    text = "".join(deltas)

    def response(status, output, use):
        return {"id": rid, "object": "response", "created_at": ctx.created, "status": status,
                "error": None, "incomplete_details": None, "model": model, "output": output,
                "parallel_tool_calls": True, "service_tier": "default", "store": False,
                "usage": use}

    item = {"type": "message", "id": mid, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}
    if not ctx.stream:
        plan.headers.append(("content-type", "application/json"))
        body = dumps(response("completed", [item], usage)).encode()
        plan.pieces, plan.usage_index = split_at_usage(body, b'"usage":{')
        plan.usage = led
        return plan

    plan.headers.append(("content-type", "text/event-stream; charset=utf-8"))
    events = []

    def ev(name, **payload):
        events.append((name, payload))

    ev("response.created", response=response("in_progress", [], None))
    ev("response.in_progress", response=response("in_progress", [], None))
    ev("response.output_item.added", output_index=0,
       item={"type": "message", "id": mid, "status": "in_progress", "role": "assistant",
             "content": []})
    ev("response.content_part.added", item_id=mid, output_index=0, content_index=0,
       part={"type": "output_text", "text": "", "annotations": []})
    for d in deltas:
        ev("response.output_text.delta", item_id=mid, output_index=0, content_index=0, delta=d)
    ev("response.output_text.done", item_id=mid, output_index=0, content_index=0, text=text)
    ev("response.content_part.done", item_id=mid, output_index=0, content_index=0,
       part={"type": "output_text", "text": text, "annotations": []})
    ev("response.output_item.done", output_index=0, item=item)
    ev("response.completed", response=response("completed", [item], usage))
    plan.events = []
    for seq, (name, payload) in enumerate(events):
        data = {"type": name, "sequence_number": seq}
        data.update(payload)
        plan.events.append(data)
        plan.pieces.append(sse(dumps(data), event=name))
    plan.usage_index = len(plan.pieces) - 1
    plan.usage = led
    return plan


def build_responses_prewarm(ctx):
    """Answer to a Responses `generate: false` request (Codex's WebSocket prewarm):
    created + completed, no output, all-zero usage."""
    plan = Plan(stream=True)
    model = openai_response_model(ctx)
    plan.response_model = model
    rid = f"resp_{ctx.request_id}"
    usage = {"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0},
             "output_tokens": 0, "output_tokens_details": {"reasoning_tokens": 0},
             "total_tokens": 0}

    def response(status, use):
        return {"id": rid, "object": "response", "created_at": ctx.created, "status": status,
                "error": None, "incomplete_details": None, "model": model, "output": [],
                "parallel_tool_calls": True, "service_tier": "default", "store": False,
                "usage": use}
    plan.events = [{"type": "response.created", "sequence_number": 0,
                    "response": response("in_progress", None)},
                   {"type": "response.completed", "sequence_number": 1,
                    "response": response("completed", usage)}]
    plan.pieces = [sse(dumps(e), event=e["type"]) for e in plan.events]
    plan.usage_index = 1
    plan.usage = ledger_usage(0, 0, cache_read=0, reasoning=0, total=0)
    return plan


# ---------------------------------------------------------------- Anthropic

def build_messages(ctx, deltas):
    plan = Plan(stream=ctx.stream)
    plan.response_model = ctx.model
    n = ctx.nums
    plan.headers += [("request-id", ctx.request_id),
                     ("anthropic-ratelimit-requests-limit", "4000"),
                     ("anthropic-ratelimit-requests-remaining", "3999")]
    led = ledger_usage(n.big_in, n.out, cache_read=n.cache_read, cache_write=n.cache_write,
                       input_includes_cache=False)
    usage = {"input_tokens": n.big_in, "cache_creation_input_tokens": n.cache_write,
             "cache_read_input_tokens": n.cache_read,
             "cache_creation": {"ephemeral_5m_input_tokens": n.cache_write,
                                "ephemeral_1h_input_tokens": 0},
             "output_tokens": n.out, "service_tier": "standard"}
    mid = f"msg_{ctx.request_id}"
    message = {"id": mid, "type": "message", "role": "assistant", "model": ctx.model,
               "content": [], "stop_reason": None, "stop_sequence": None}
    if not ctx.stream:
        content = [{"type": "text", "text": "".join(deltas)}]
        if ctx.tool_path:
            content.append({"type": "tool_use", "id": f"toolu_{ctx.request_id}", "name": "Write",
                            "input": tool_input(ctx)})
        message.update(content=content, stop_reason="tool_use" if ctx.tool_path else "end_turn",
                       usage=usage)
        plan.headers.append(("content-type", "application/json"))
        plan.pieces, plan.usage_index = split_at_usage(dumps(message).encode(), b'"usage"')
        plan.usage = led
        return plan

    plan.headers.append(("content-type", "text/event-stream; charset=utf-8"))
    start_usage = {"input_tokens": n.big_in, "cache_creation_input_tokens": n.cache_write,
                   "cache_read_input_tokens": n.cache_read, "output_tokens": 1,
                   "service_tier": "standard"}
    message["usage"] = start_usage
    p = plan.pieces
    p.append(sse(dumps({"type": "message_start", "message": message}), "message_start"))
    plan.partial.append((0, {"input_tokens": n.big_in, "output_tokens": 1,
                             "cache_read_input_tokens": n.cache_read,
                             "cache_creation_input_tokens": n.cache_write}))
    p.append(sse(dumps({"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}}), "content_block_start"))
    p.append(sse(dumps({"type": "ping"}), "ping"))
    for d in deltas:
        p.append(sse(dumps({"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": d}}), "content_block_delta"))
    p.append(sse(dumps({"type": "content_block_stop", "index": 0}), "content_block_stop"))
    if ctx.tool_path:  # a tool_use block: empty input, then the JSON in input_json_delta pieces
        p.append(sse(dumps({"type": "content_block_start", "index": 1,
                            "content_block": {"type": "tool_use", "id": f"toolu_{ctx.request_id}",
                                              "name": "Write", "input": {}}}),
                     "content_block_start"))
        js = json.dumps(tool_input(ctx))
        for part in ("", js[:len(js) // 2], js[len(js) // 2:]):
            p.append(sse(dumps({"type": "content_block_delta", "index": 1,
                                "delta": {"type": "input_json_delta", "partial_json": part}}),
                         "content_block_delta"))
        p.append(sse(dumps({"type": "content_block_stop", "index": 1}), "content_block_stop"))
    # Older API versions put only output_tokens in message_delta; newer ones
    # repeat the input/cache counts. Both are valid, so alternate.
    delta_usage = {"output_tokens": n.out}
    if n.variant & 1:
        delta_usage = {"input_tokens": n.big_in, "cache_creation_input_tokens": n.cache_write,
                       "cache_read_input_tokens": n.cache_read, "output_tokens": n.out}
    p.append(sse(dumps({"type": "message_delta",
                        "delta": {"stop_reason": "tool_use" if ctx.tool_path else "end_turn",
                                  "stop_sequence": None},
                        "usage": delta_usage}), "message_delta"))
    plan.usage_index = len(p) - 1
    p.append(sse(dumps({"type": "message_stop"}), "message_stop"))
    plan.usage = led
    return plan


# ---------------------------------------------------------------- Gemini

def schema_instance(schema, depth=0):
    """A small value that satisfies a JSON schema or a Gemini `Schema` (types may be
    upper case: OBJECT, STRING...). Used to answer structured-output requests, such as
    Gemini CLI's model router, which retries free text several times."""
    if not isinstance(schema, dict) or depth > 8:
        return "mock"
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_instance(schema[key][0], depth + 1)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if str(t).lower() != "null"), "string")
    typ = str(typ or ("object" if "properties" in schema else "string")).lower()
    if typ == "object":
        props = schema.get("properties") or {}
        return {k: schema_instance(v, depth + 1) for k, v in props.items()}
    if typ == "array":
        n = max(1, int(schema.get("minItems", 1) or 1))
        return [schema_instance(schema.get("items") or {}, depth + 1) for _ in range(n)]
    if typ in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        v = 10 if lo is None else int(lo) + 1
        if hi is not None and v > hi:
            v = int(hi)
        return v if typ == "integer" else float(v)
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    return "Mock answer from the Rein mock LLM."


def gemini_json_text(body):
    """The JSON text to answer a Gemini request that asks for JSON output, else None."""
    cfg = body.get("generationConfig") if isinstance(body, dict) else None
    if not isinstance(cfg, dict):
        return None
    schema = cfg.get("responseJsonSchema") or cfg.get("responseSchema") or \
        cfg.get("response_json_schema") or cfg.get("response_schema")
    mime = str(cfg.get("responseMimeType") or cfg.get("response_mime_type") or "")
    if schema is None and mime != "application/json":
        return None
    return dumps(schema_instance(schema or {"type": "object"}))


def build_gemini(ctx, deltas):
    plan = Plan(stream=ctx.stream)
    as_json = gemini_json_text(ctx.body)
    if as_json is not None:
        # Structured output: the concatenated text must parse as JSON.
        half = len(as_json) // 2
        deltas = [as_json[:half], as_json[half:]] if ctx.stream else [as_json]
    plan.response_model = ctx.model
    n = ctx.nums
    total = n.big_in + n.out + n.thoughts
    led = ledger_usage(n.big_in, n.out, cache_read=n.cached, reasoning=n.thoughts, total=total,
                       output_includes_reasoning=False)
    full = {"promptTokenCount": n.big_in, "candidatesTokenCount": n.out, "totalTokenCount": total,
            "cachedContentTokenCount": n.cached, "thoughtsTokenCount": n.thoughts,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n.big_in}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": n.cached}]}
    rid = ctx.request_id
    plan.headers.append(("x-mock-response-id", rid))

    def cand(text, finish):
        c = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            c["finishReason"] = "STOP"
        return c

    if not ctx.stream:
        body = {"candidates": [cand("".join(deltas), True)], "usageMetadata": full,
                "modelVersion": ctx.model, "responseId": rid}
        plan.headers.append(("content-type", "application/json; charset=UTF-8"))
        plan.pieces, plan.usage_index = split_at_usage(dumps(body, 2).encode(), b'"usageMetadata"')
        plan.usage = led
        return plan

    # Every chunk carries usageMetadata; only the last one is final. Earlier
    # chunks carry growing partial candidate counts, so a consumer that sums
    # chunks (instead of taking the last) gets a wrong answer.
    objs = []
    k = len(deltas)
    for i, d in enumerate(deltas):
        last = i == k - 1
        if last:
            meta = full
        else:
            part = max(1, (n.out * (i + 1)) // (k + 1))
            meta = {"promptTokenCount": n.big_in, "candidatesTokenCount": part,
                    "totalTokenCount": n.big_in + part}
            plan.partial.append((i, {"input_tokens": n.big_in, "output_tokens": part}))
        objs.append({"candidates": [cand(d, last)], "usageMetadata": meta,
                     "modelVersion": ctx.model, "responseId": rid})
    if ctx.gemini_sse:
        plan.headers.append(("content-type", "text/event-stream"))
        plan.pieces = [sse(dumps(o), eol="\r\n") for o in objs]
    else:
        # Progressive JSON array, pretty-printed so objects span many lines.
        plan.headers.append(("content-type", "application/json; charset=UTF-8"))
        for i, o in enumerate(objs):
            lead = "[" if i == 0 else "\r\n,\r\n"
            tail = "]" if i == k - 1 else ""
            plan.pieces.append((lead + dumps(o, 2) + tail).encode())
    plan.usage_index = len(plan.pieces) - 1
    plan.usage = led
    return plan


# ---------------------------------------------------------------- Ollama

def build_ollama(ctx, deltas):
    plan = Plan(stream=ctx.stream)
    plan.response_model = ctx.model
    n = ctx.nums
    led = ledger_usage(n.big_in, n.out, total=None)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime(ctx.created))
    chat = ctx.api == "ollama_chat"

    def obj(text, done):
        o = {"model": ctx.model, "created_at": stamp}
        if chat:
            o["message"] = {"role": "assistant", "content": text}
        else:
            o["response"] = text
        o["done"] = done
        if done:
            o.update(done_reason="stop", total_duration=812345678, load_duration=1234567,
                     prompt_eval_count=n.big_in, prompt_eval_duration=23456789,
                     eval_count=n.out, eval_duration=712345678)
        return o

    if not ctx.stream:
        plan.headers.append(("content-type", "application/json; charset=utf-8"))
        body = dumps(obj("".join(deltas), True)).encode()
        plan.pieces, plan.usage_index = split_at_usage(body, b'"prompt_eval_count"')
        plan.usage = led
        return plan
    plan.headers.append(("content-type", "application/x-ndjson"))
    for d in deltas:
        plan.pieces.append((dumps(obj(d, False)) + "\n").encode())
    plan.pieces.append((dumps(obj("", True)) + "\n").encode())
    plan.usage_index = len(plan.pieces) - 1
    plan.usage = led
    return plan


# ---------------------------------------------------------------- errors

def error_plan(provider, status, message, model=None):
    """A provider-shaped error body; never carries usage."""
    plan = Plan(status=status, response_model=model)
    codes = {400: ("invalid_request_error", "INVALID_ARGUMENT"),
             404: ("not_found_error", "NOT_FOUND"),
             405: ("invalid_request_error", "INVALID_ARGUMENT"),
             413: ("request_too_large", "INVALID_ARGUMENT"),
             429: ("rate_limit_error", "RESOURCE_EXHAUSTED"),
             500: ("api_error", "INTERNAL"),
             503: ("overloaded_error", "UNAVAILABLE"),
             529: ("overloaded_error", "UNAVAILABLE")}
    ant_type, g_status = codes.get(status, ("api_error", "UNKNOWN"))
    if provider == "anthropic":
        body = {"type": "error", "error": {"type": ant_type, "message": message}}
    elif provider == "gemini":
        body = {"error": {"code": status, "message": message, "status": g_status}}
        if status == 429:
            body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                         "retryDelay": "7s"}]
    elif provider == "ollama":
        body = {"error": message}
    elif provider == "azure":
        body = {"error": {"code": str(status), "message": message}}
    else:
        code = {429: "rate_limit_exceeded", 404: "unknown_url"}.get(status)
        typ = "requests" if status == 429 else ("server_error" if status >= 500
                                                 else "invalid_request_error")
        body = {"error": {"message": message, "type": typ, "param": None, "code": code}}
    if status in (429, 503, 529):
        plan.headers.append(("retry-after", "7"))
        if provider in ("openai", "azure", "groq", "deepseek", "mistral"):
            plan.headers.append(("retry-after-ms", "7000"))
    plan.headers.append(("content-type", "application/json"))
    plan.pieces = [dumps(body).encode()]
    return plan


def models_plan(ctx):
    plan = Plan()
    plan.headers += [("content-type", "application/json"), ("x-request-id", ctx.request_id)]
    data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "mock"}
            for m in ("gpt-4o", "gpt-4o-mini", "o3")]
    plan.pieces = [dumps({"object": "list", "data": data}).encode()]
    return plan


def split_at_usage(body, marker):
    """Split a non-stream body right before its usage object (for x-mock-cut)."""
    at = body.rfind(marker)
    if at <= 0:
        return [body], 0
    return [body[:at], body[at:]], 1


BUILDERS = {
    "chat_completions": build_chat,
    "responses": build_responses,
    "messages": build_messages,
    "generate_content": build_gemini,
    "ollama_chat": build_ollama,
    "ollama_generate": build_ollama,
}
