#!/usr/bin/env python3
"""`rein report` on a real sensor's output: an agent (a python3 copy the policy selects by
name) writes files (one named like HTML markup), makes an LLM call to the mock server
through a child, and tries a connect the policy denies; its argv carries a <script> tag.
The report built from the sensor's events file must name the agent, the call's model and
token counts (equal to the llm.call event's), the files written and the denial; parse as
HTML; fetch nothing (no external script, stylesheet, image or frame: the only script is our
inline one, under a Content-Security-Policy of default-src 'none'); and show the hostile
strings only escaped. Filters (--agent, --from/--to) narrow it; a missing file, a directory
that is not a capture, an empty result and a bad time are clear errors; invalid lines are
skipped and counted. The sensor also ran with --capture: the report of the capture directory
(replayed in-process) has the same summary figures as the report of the events file."""
import html.parser
import json
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import reportagent  # noqa: E402

rh.require_bpf()
rein = rh.rein_bin()
agent = reportagent.Agent("rein-report-", "rptagent")
base, work, policy = agent.base, agent.work, agent.policy
HOSTILE_FILE = "<img src=x onerror=alert(1)>.txt"
HOSTILE_ARG = "<script>alert('argv')</script>"

mock = lh.MockServer()
client = os.path.join(lh.MOCK, "clients", "py_client.py")
script = f"""
import socket, subprocess, sys
open({os.path.join(work, 'notes.txt')!r}, 'w').write('hello')
open({os.path.join(work, HOSTILE_FILE)!r}, 'w').write('x')
subprocess.run([sys.executable, {client!r}, '--cacert', {mock.ca!r}, '--base-url', {mock.https!r},
                '--model', 'gpt-4o', '--path', '/v1/chat/completions'], check=True)
""" + reportagent.DENIED_CONNECT
agent.write_workload(script)
capdir = os.path.join(base, "capture")
state = os.path.join(base, "state")
try:
    with rh.Sensor(["--no-default-agents", "--policy", policy, "--capture", capdir,
                    "--state-dir", state]) as s:
        events = agent.run(s, HOSTILE_ARG)
finally:
    mock.stop()

mine = [e for e in events if (e.get("agent") or {}).get("name") == "rptagent"]
calls = rh.of_type(mine, "llm.call")
rh.check(len(calls) == 1, f"expected one llm.call, got {len(calls)}")
call = calls[0]
agent_id = call["agent"]["id"]
files = {e["path"] for e in rh.of_type(mine, "file.mutation") if e.get("error") is None}
rh.check(os.path.join(work, "notes.txt") in files and os.path.join(work, HOSTILE_FILE) in files,
         f"file events missing: {files}")
denials = [e for e in rh.of_type(mine, "policy.action") if e["outcome"] == "prevented"]
rh.check(denials, "no denial in the stream")


def report(*args, expect=0):
    out = os.path.join(base, f"report-{uuid.uuid4().hex[:6]}.html")
    p = subprocess.run([rein, "report", *args, "-o", out], capture_output=True, text=True,
                       timeout=60)
    rh.check(p.returncode == expect,
             f"rein report {args}: exit {p.returncode}, want {expect}: {p.stderr}")
    if expect:
        rh.check(not os.path.exists(out), "a failed report still wrote a file")
        return p.stderr
    rh.check(oct(os.stat(out).st_mode & 0o777) == "0o600", "report file is not 0600")
    with open(out, encoding="utf-8") as f:
        return f.read()


class Checker(html.parser.HTMLParser):
    """Collects every element and attribute; html.parser raises on nothing, so structure is
    checked by hand: each opened non-void element is closed in order."""
    VOID = {"meta", "br", "hr", "img", "link", "input", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.errors, self.text, self.scripts = [], [], [], [], []
        self.ids = {}
        self._in_b = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        a = dict(attrs)
        if "id" in a:
            self.ids[a["id"]] = ""
            if tag == "b":
                self._in_b = a["id"]
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag == "b":
            self._in_b = None

    def handle_data(self, data):
        self.text.append(data)
        if self.stack and self.stack[-1] == "script":
            self.scripts.append(data)
        if self._in_b:
            self.ids[self._in_b] += data


def parse(page):
    c = Checker()
    c.feed(page)
    c.close()
    rh.check(not c.errors, f"report HTML is malformed: {c.errors[:5]}")
    rh.check(not c.stack, f"unclosed elements: {c.stack}")
    return c


page = report(s.out)
c = parse(page)
text = "".join(c.text)
# no fetch of any kind: no external script/style/image/frame/object, no URL in an attribute
for tag, attrs in c.tags:
    rh.check(tag not in ("link", "img", "iframe", "frame", "object", "embed", "base", "form"),
             f"<{tag}> in the report")
    for k, v in attrs.items():
        rh.check(k not in ("src", "srcset", "action", "background", "poster"), f"{k}= on <{tag}>")
        rh.check(not (k.startswith("on")), f"event handler {k} on <{tag}>")
        if v and k == "href":
            rh.check(v.startswith("#"), f"link out of the page: {v}")
low = page.lower()
rh.check("<script src" not in low and "<link" not in low, "external script or stylesheet")
rh.check("url(" not in low and "@import" not in low, "CSS that could fetch")
rh.check(len([t for t, _ in c.tags if t == "script"]) == 1, "more than our one script")
csp = [a.get("content", "") for t, a in c.tags
       if t == "meta" and a.get("http-equiv", "").lower() == "content-security-policy"]
rh.check(csp and "default-src 'none'" in csp[0], f"no strict CSP: {csp}")
# http(s):// only as escaped text (the argv and the mock's address), never in markup
for scheme in ("http://", "https://"):
    for t, a in c.tags:
        rh.check(not any(scheme in (v or "") for v in a.values()), f"{scheme} in <{t}> attributes")
# hostile strings: present as text, absent as markup
rh.check(HOSTILE_ARG in text, "the argv with <script> is not shown as text")
rh.check(HOSTILE_FILE in text, "the file named like markup is not shown")
rh.check("<script>alert" not in page and "<img src=x" not in page, "hostile markup unescaped")
rh.check("&lt;script&gt;alert(&#39;argv&#39;)&lt;/script&gt;" in page, "argv not escaped as expected")
# content: agent, model, tokens, files, denial
rh.check(agent_id in text, f"agent id {agent_id} missing")
rh.check(call["response_model"] in text, f"model {call['response_model']} missing")
u = call["usage"]
rh.check(c.ids.get("sum-calls") == "1", f"summary calls: {c.ids.get('sum-calls')}")
rh.check(c.ids.get("sum-input-tokens") == str(u["input_tokens"]),
         f"summary input tokens {c.ids.get('sum-input-tokens')} != {u['input_tokens']}")
rh.check(c.ids.get("sum-output-tokens") == str(u["output_tokens"]),
         f"summary output tokens {c.ids.get('sum-output-tokens')} != {u['output_tokens']}")
rh.check(c.ids.get("sum-cost") == f"${call['cost_usd']:.6f}",
         f"summary cost {c.ids.get('sum-cost')} != {call['cost_usd']}")
rh.check(c.ids.get("sum-denials") == str(len(denials)), f"summary denials {c.ids.get('sum-denials')}")
rh.check(c.ids.get("sum-files") == str(len(files)), f"summary files {c.ids.get('sum-files')} != {len(files)}")
for p in files:
    rh.check(p in text, f"file {p} missing from the report")
rh.check("deny-cidr" in text and "127.0.0.2:9" in text, "the denial is missing")
rh.check("py_client.py" in text, "the child process is missing from the tree")

# filters: another agent's name leaves nothing (a clear error); this agent's id keeps all
err = report(s.out, "--agent", "nobody", expect=1)
rh.check("no events" in err and "match the filters" in err, f"empty-result message: {err}")
only = parse(report(s.out, "--agent", agent_id))
rh.check(only.ids.get("sum-calls") == "1", "--agent by id lost the call")
# a window ending before the call drops it; HH:MM bounds work on the stream's day
# --to is exclusive: up to the call's own time leaves the sensor's start and the agent's
# first events, not the call; --from the call's time keeps it
cut = parse(report(s.out, "--to", call["time"]))
rh.check(cut.ids.get("sum-calls") == "0", "--to the call's time still counts it")
rh.check(int(cut.ids.get("sum-events", "0")) > 0, "--to left nothing before the call")
after = parse(report(s.out, "--from", call["time"]))
rh.check(after.ids.get("sum-calls") == "1", "--from the call's time lost it")
hhmm = call["time"][11:16]
win = parse(report(s.out, "--from", hhmm))
rh.check(win.ids.get("sum-calls") == "1", f"--from {hhmm} lost the call")

# errors
err = report(os.path.join(base, "missing.jsonl"), expect=1)
rh.check("cannot read" in err and "missing.jsonl" in err, f"missing file message: {err}")
err = report(work, expect=1)   # a directory that is not a capture
rh.check("replaying the capture" in err, f"non-capture directory message: {err}")
# a capture directory is replayed first: the same figures as the live events file
cap = parse(report(capdir, "--state-dir", state))
for k in ("sum-calls", "sum-input-tokens", "sum-output-tokens", "sum-cost", "sum-files",
          "sum-denials"):
    rh.check(cap.ids.get(k) == c.ids.get(k), f"capture report {k}: {cap.ids.get(k)} != {c.ids.get(k)}")
err = report(s.out, "--from", "yesterday", expect=1)
rh.check("--from" in err and "RFC 3339" in err, f"bad time message: {err}")
mixed = os.path.join(base, "mixed.jsonl")
with open(s.out) as src, open(mixed, "w") as dst:
    dst.write("not json\n{\"type\":\n")
    dst.write(src.read())
p = subprocess.run([rein, "report", mixed, "-o", os.path.join(base, "mixed.html")],
                   capture_output=True, text=True, timeout=60)
rh.check(p.returncode == 0 and "skipped 2 of" in p.stderr, f"bad lines: {p.returncode} {p.stderr}")
rh.check("2 line(s) were not valid events" in open(os.path.join(base, "mixed.html")).read(),
         "the report does not say lines were skipped")
print(f"PASS: report of {len(events)} events, {len(page)} bytes")
