#!/usr/bin/env python3
"""`rein report` as a responder sees it: the report of a real sensor run, opened in headless
Chromium (Debian `chromium`) with JavaScript off. An agent (a python3 copy the policy selects
by name) makes three LLM calls to the mock server (two OpenAI, one Anthropic, so the totals
are real sums), writes and renames files, writes CLAUDE.md (a config change) and tries a
connect the policy denies. Chromium renders the report from a file:// URL in a network
namespace of its own (so it cannot fetch anything, whatever the page says) with a fresh
profile that blocks JavaScript; a screenshot is kept as a test artifact (checked to be a
1280x2000 PNG with content) and the DOM Chromium built is parsed: each summary figure equals
what this test computes from the events file itself (and the token totals equal the mock's
ledger of what went over the wire). The report's one script, which marks sortable headers,
must not have run; a control load of a one-event report with JavaScript on (run while the
sensor works) shows that the script does run then, so the JavaScript-off check can fail.
Chromium missing: a failure in CI / with REIN_REQUIRE_BPF=1, a skip otherwise."""
import atexit
import calendar
import ctypes
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
import zlib

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import reportagent  # noqa: E402

rh.require_bpf()
CHROMIUM = shutil.which("chromium")
if not CHROMIUM:
    why = "chromium is not installed (tools/setup installs it)"
    if os.environ.get("CI") == "true" or os.environ.get("REIN_REQUIRE_BPF") == "1":
        rh.fail(why)
    print(f"SKIP: {why}", file=sys.stderr)
    sys.exit(rh.SKIP)
rein = rh.rein_bin()
ARTIFACTS = os.environ.get("REIN_TEST_ARTIFACTS") or os.path.join(
    os.path.dirname(os.path.abspath(rein)), "test-artifacts")
CHROMIUM_TIMEOUT = 60

agent = reportagent.Agent("rein-report-browser-", "rbragent")
base, work, policy = agent.base, agent.work, agent.policy

# ------------------------------------------------------------ the browser
# Chromium's helpers (zygote, crash handler) can outlive it in another session: as a child
# subreaper this test inherits them, so it can kill and reap every one.
PR_SET_CHILD_SUBREAPER = 36
libc = ctypes.CDLL(None, use_errno=True)
rh.check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, "prctl(PR_SET_CHILD_SUBREAPER)")
browsers = []


@atexit.register
def reap_children(timeout=10):
    """Kills and reaps every child left (killing one can hand us its own children): at the
    end, and at any exit, so no browser process outlives the test."""
    for p in browsers:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    me, deadline = str(os.getpid()), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
                if ppid == me:
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, IndexError):
                continue
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            return
        time.sleep(0.02)
    print("FAIL: chromium's processes could not be reaped", file=sys.stderr)
    os._exit(1)


def start_chromium(url, js, screenshot=None):
    """Chromium loading url, to print the DOM it built (--dump-dom).
    --blink-settings=scriptEnabled=false would also stop --dump-dom, which reads the DOM
    through a script; so JavaScript is off through the profile's content setting, which
    blocks the page's scripts only."""
    profile = rh.workdir("rein-chromium-")
    if not js:
        os.mkdir(os.path.join(profile, "Default"))
        with open(os.path.join(profile, "Default", "Preferences"), "w") as f:
            json.dump({"profile": {"default_content_setting_values": {"javascript": 2}}}, f)
    # a network namespace with only a down loopback: nothing can be fetched
    cmd = ["unshare", "--net", CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
           "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-extensions", "--disable-crash-reporter", "--disable-breakpad",
           f"--user-data-dir={profile}", "--dump-dom"]
    if screenshot:
        cmd += [f"--screenshot={screenshot}", "--window-size=1280,2000"]
    err_path = os.path.join(base, f"chromium-{uuid.uuid4().hex[:6]}.err")
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd + [url], stdout=subprocess.PIPE, stderr=err,
                                start_new_session=True)
    browsers.append(proc)
    return proc, profile, err_path, time.monotonic() + CHROMIUM_TIMEOUT


def finish_chromium(run):
    proc, profile, err_path, deadline = run
    try:
        out, _ = proc.communicate(timeout=max(1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        rh.fail(f"chromium hung for {CHROMIUM_TIMEOUT}s (killed); stderr in {err_path}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its helpers, if any outlived it
        except ProcessLookupError:
            pass
        proc.wait()
        shutil.rmtree(profile, ignore_errors=True)
    rh.check(proc.returncode == 0 and out.strip(),
             f"chromium exit {proc.returncode}, {len(out)} bytes of DOM; stderr in {err_path}")
    return out.decode("utf-8")


class Dom(html.parser.HTMLParser):
    """Text of each element with an id; the title attributes of sortable tables' headers.
    Chromium serialises the DOM with every non-void element closed, so a stack suffices."""
    VOID = {"meta", "br", "hr", "img", "link", "input", "wbr", "col", "area", "source"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.stack, self.sortable_th, self.titled_th = {}, [], 0, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "th" and any(t == "table" and "sortable" in c for t, _, c in self.stack):
            self.sortable_th += 1
            self.titled_th += "title" in a
        if "id" in a:
            self.ids[a["id"]] = ""
        if tag not in self.VOID:
            self.stack.append((tag, a.get("id"), (a.get("class") or "").split()))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        for _, i, _ in self.stack:
            if i:
                self.ids[i] += data


def parse(dom):
    d = Dom()
    d.feed(dom)
    d.close()
    return d


# The control load (JavaScript on): the script's effect does not depend on the events, so a
# one-event report has the same script and sortable tables.
control_events = os.path.join(base, "control.jsonl")
with open(control_events, "w") as f:
    f.write(json.dumps({"type": "file.mutation", "time": "2026-11-30T08:00:00Z",
                        "agent": {"id": "a", "name": "a"}, "op": "write", "path": "/x"}) + "\n")
control_report = os.path.join(base, "control.html")
p = subprocess.run([rein, "report", control_events, "-o", control_report], capture_output=True,
                   text=True, timeout=60)
rh.check(p.returncode == 0, f"rein report (control): exit {p.returncode}: {p.stderr}")

mock = lh.MockServer()
client = os.path.join(lh.MOCK, "clients", "py_client.py")
script = f"""
import os, socket, subprocess, sys
w = {work!r}
open(os.path.join(w, 'a.txt'), 'w').write('a')
open(os.path.join(w, 'b.txt'), 'w').write('b')
os.rename(os.path.join(w, 'b.txt'), os.path.join(w, 'c.txt'))
open(os.path.join(w, 'CLAUDE.md'), 'w').write('# instructions\\n')
def call(*args):
    subprocess.run([sys.executable, {client!r}, '--cacert', {mock.ca!r}, '--base-url',
                    {mock.https!r}, *args], check=True, stdout=subprocess.DEVNULL)
call('--model', 'gpt-4o', '--path', '/v1/chat/completions', '--count', '2')
call('--path', '/v1/messages')
""" + reportagent.DENIED_CONNECT
agent.write_workload(script)
try:
    with rh.Sensor(["--no-default-agents", "--policy", policy], health_interval=0.5) as s:
        events = agent.run(s)
    ledger = mock.entries()
finally:
    mock.stop()
# Chromium starts only now: its start-up takes both cores, and a sensor starved of CPU
# attaches the agent's TLS hooks after its first calls (they would be missed).
control_run = start_chromium("file://" + control_report, js=True)

# ------------------------------------------------------------ figures from the events file
# Computed here from the events, by the rules docs/report.md states, not by the report's code.


def ns(t):
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z", t or "")
    if not m:
        return None
    secs = calendar.timegm(tuple(int(x) for x in m.groups()[:6]))
    return secs * 10**9 + int(((m.group(7) or "") + "000000000")[:9])


def duration(d):
    if d <= 0:
        return "0 s"
    if d < 60 * 10**9:
        return f"{d / 1e9:.3f} s"
    w = d // 10**9
    if w < 3600:
        return f"{w // 60}m {w % 60:02}s"
    return f"{w // 3600}h {w // 60 % 60:02}m {w % 60:02}s"


want = {k: 0 for k in ("events", "calls", "call-errors", "input-tokens", "output-tokens",
                       "denials", "holds", "config")}
agents, files, hosts, times = set(), set(), set(), []
cache_read = cache_write = reasoning = 0
cost = 0.0
for e in events:
    t = e.get("type")
    if t == "sensor.health":
        if e.get("state") in (None, "", "running"):
            continue
    elif (e.get("agent") or {}).get("id"):
        agents.add(e["agent"]["id"])
    want["events"] += 1
    if ns(e.get("time")) is not None:
        times.append(ns(e["time"]))
    if t == "llm.call":
        want["calls"] += 1
        if (e.get("status") or 0) >= 400 or isinstance(e.get("error"), dict):
            want["call-errors"] += 1
        u = e.get("usage") or {}
        want["input-tokens"] += u.get("input_tokens") or 0
        want["output-tokens"] += u.get("output_tokens") or 0
        cache_read += u.get("cache_read_input_tokens") or 0
        cache_write += u.get("cache_creation_input_tokens") or 0
        reasoning += u.get("reasoning_tokens") or 0
        if isinstance(e.get("cost_usd"), (int, float)):
            cost += e["cost_usd"]
        p = e.get("peer") or {}
        hosts.add(f"{p['address']}:{p['port']}" if p.get("address") and p.get("port")
                  else e.get("host"))
    elif t == "file.mutation" and not e.get("error"):
        files.update(p for p in (e.get("path"), e.get("new_path")) if p)
    elif t == "net.connect" and e.get("family") != "unix":
        hosts.add(f"{e['address']}:{e['port']}" if e.get("port") else e["address"])
    elif t == "policy.action":
        want["denials"] += e.get("outcome") in ("prevented", "killed", "denied")
        want["holds"] += e.get("outcome") == "paused"
    elif t == "config.mutation":
        want["config"] += 1
hosts.discard(None)
hosts.discard("")
want.update({"agents": len(agents), "files": len(files), "hosts": len(hosts),
             "cost": f"${cost:.6f}", "duration": duration(max(times) - min(times))})
want = {f"sum-{k}": str(v) for k, v in want.items()}
want_tokens = (f"{want['sum-input-tokens']} input, {want['sum-output-tokens']} output, "
               f"{cache_read} cache read, {cache_write} cache write, {reasoning} reasoning")

# the workload makes the figures real sums, not a row of ones
rh.check(int(want["sum-calls"]) == 3, f"expected 3 llm.call events, got {want['sum-calls']}")
rh.check(int(want["sum-files"]) >= 4, f"expected a.txt, b.txt, c.txt, CLAUDE.md: {sorted(files)}")
rh.check(int(want["sum-hosts"]) >= 2, f"expected the mock and the denied address: {hosts}")
rh.check(int(want["sum-denials"]) >= 1 and int(want["sum-config"]) >= 1,
         f"expected a denial and a config change: {want}")
rh.check(cost > 0, "the calls carry no cost")
# and the events agree with what the mock put on the wire
ledger_in = sum(x.get("input_tokens") or 0 for x in ledger)
ledger_out = sum(x.get("output_tokens") or 0 for x in ledger)
rh.check(len(ledger) == 3 and want["sum-input-tokens"] == str(ledger_in)
         and want["sum-output-tokens"] == str(ledger_out),
         f"events' tokens {want['sum-input-tokens']}/{want['sum-output-tokens']} != mock's "
         f"{ledger_in}/{ledger_out} over {len(ledger)} responses")

report = os.path.join(base, "report.html")
p = subprocess.run([rein, "report", s.out, "-o", report], capture_output=True, text=True,
                   timeout=60)
rh.check(p.returncode == 0, f"rein report: exit {p.returncode}: {p.stderr}")

started = time.monotonic()
os.makedirs(ARTIFACTS, exist_ok=True)
shot = os.path.join(ARTIFACTS, "report.png")
if os.path.exists(shot):
    os.remove(shot)
url = "file://" + report
dom = parse(finish_chromium(start_chromium(url, js=False, screenshot=shot)))
shutil.copy(report, os.path.join(ARTIFACTS, "report.html"))
print(f"screenshot: {shot}")

with open(shot, "rb") as f:
    png = f.read()
rh.check(png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "the screenshot is not a PNG")
w, h = struct.unpack(">II", png[16:24])
rh.check((w, h) == (1280, 2000), f"screenshot is {w}x{h}, want 1280x2000")
# a blank page compresses to a few KiB; the rendered report (text, tables, cards) does not
rh.check(len(png) > 30000, f"the screenshot looks blank ({len(png)} bytes)")
idat, pos = b"", 8
while pos < len(png):
    n, kind = struct.unpack(">I4s", png[pos:pos + 8])
    if kind == b"IDAT":
        idat += png[pos + 8:pos + 8 + n]
    pos += 12 + n
rh.check(len(zlib.decompress(idat)) >= h * (1 + w * 3), "the screenshot's pixel data is short")

# JavaScript was off: the report's script (which titles sortable headers) did not run
rh.check(dom.sortable_th > 0, "no sortable table in the rendered report")
rh.check(dom.titled_th == 0, f"{dom.titled_th} headers titled: the script ran with JS off")
# the summary Chromium shows equals the events
got = {k: dom.ids.get(k) for k in want}
rh.check(got == want, "summary in the browser != the events: " +
         ", ".join(f"{k} {got[k]!r} != {want[k]!r}" for k in want if got[k] != want[k]))
rh.check(want_tokens in dom.ids.get("summary", ""),
         f"summary's token line is not '{want_tokens}'")
# control: with JavaScript on, the report's script runs (so the check above can fail)
on = parse(finish_chromium(control_run))
rh.check(on.titled_th == on.sortable_th > 0,
         f"with JS on {on.titled_th} of {on.sortable_th} headers titled: the script did not run")
print(f"PASS: report of {len(events)} events in Chromium with JS off, summary {want}; "
      f"browser {time.monotonic() - started:.1f} s")
