#!/usr/bin/env python3
"""Capture and replay on the real kernel: the sensor runs with --capture while a tracked
agent writes a file, connects, execs, sends a prompt holding a GitHub token (a
detect.secret_in_prompt detection), and an LLM client calls the mock with a fake key.
`rein replay` of the capture must print the live lines, in order, byte for byte (the
detect.* line too: replay runs the detection engine, its secret scans answered by the
capture, which holds neither key); the key must be absent from every decompressed capture
entry (and the replayed llm.call carries the live key fingerprint, since the lines are
equal). With --policy denying the file the agent wrote, the port it connected to and the
program it ran (also by the name it was exec'd by, /bin/true, when the file is /usr/bin/true),
replay reports what the kernel would have done (policy.action "replay":
true, "would": "killed" / "prevented"), and touches nothing: the agent, still running, is
left alone."""
import json
import os
import shutil
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import replaycheck  # noqa: E402

rh.require_bpf()
rein = rh.rein_bin()
tag = uuid.uuid4().hex[:8]
SECRET = f"sk-ant-api03-rein{tag}SECRETVALUE0123456789abcdef"
base = rh.workdir("rein-replay-")
agent_name = f"replay_agent_{tag}"
agent = os.path.join(base, agent_name)
shutil.copy("/usr/bin/python3", agent)
written = os.path.join(base, "notes", "out.txt")
os.mkdir(os.path.dirname(written))
listener = rh.Listener()
mock = lh.MockServer()
TOKEN = "ghp_" + uuid.uuid4().hex + "7Qz9"  # a GitHub token's shape: the scanner finds it
# credentials in argv that only their place marks (no key shape): process.args hides them,
# and so must the capture's exec record
ARGV_SECRETS = [f"opq{tag}Flag", f"opq{tag}User", f"opq{tag}Url"]
ARGV = ["/bin/true", "--auth-token", ARGV_SECRETS[0], "-u", f"alice:{ARGV_SECRETS[1]}",
        f"postgres://app:{ARGV_SECRETS[2]}@db/app"]
WORK = f"""
import http.client, json, os, socket, ssl, subprocess, sys
with open({written!r}, "w") as f:
    f.write("hello from the agent\\n")
s = socket.create_connection(("127.0.0.1", {listener.port}))
s.close()
subprocess.run(json.loads(os.environ["TRUE_ARGV"]), check=True)  # not in this code: the agent's argv
conn = http.client.HTTPSConnection("127.0.0.1", {mock.port}, timeout=60,
                                   context=ssl.create_default_context(cafile={mock.ca!r}))
body = {{"model": "gpt-4o", "messages": [{{"role": "user", "content": "deploy with {TOKEN}"}}]}}
conn.request("POST", "/v1/chat/completions", json.dumps(body),
             {{"content-type": "application/json", "authorization": "Bearer sk-test-replay"}})
conn.getresponse().read()
print("done", flush=True)
sys.stdin.read()   # stays alive until the test ends: replay must not touch it
"""
cap = os.path.join(base, "capture")
worker = None

try:
    with rh.Sensor(["--no-default-agents", "--agent-exe", agent_name, "--agent-script", "py_client.py",
                    "--capture", cap]) as s:
        state = os.path.join(s.dir, "state")
        worker = subprocess.Popen([agent, "-c", WORK], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, env={**os.environ, "TRUE_ARGV": json.dumps(ARGV)})
        rh.check(worker.stdout.readline().strip() == "done", "the agent's work")
        pid, out, err = mock.client(["--base-url", mock.https, "--api-key", SECRET, "--path", "/v1/messages",
                                     "--model", "claude-haiku-4-5"])
        s.wait_for(lambda e: e["type"] == "llm.call" and e["process"]["pid"] == pid, "the client's llm.call")
        s.wait_for(lambda e: e["type"] == "file.mutation" and e.get("path") == written, "the agent's file write")
        s.wait_for(lambda e: e["type"] == "process.exit" and (e["process"]["exe"] or "").endswith("/true"),
                   "/bin/true's exit")
        s.wait_for(lambda e: e["type"] == "detect.secret_in_prompt", "the token's detection")
        live_events = s.stop()
        live_lines = open(s.out).read().splitlines()

    call = [e for e in live_events if e["type"] == "llm.call" and e["process"]["pid"] == pid][0]
    rh.check(call.get("api_key_fingerprint"), f"live llm.call has a key fingerprint: {call}")

    # replay reads the capture key from the state dir and nothing else there: the detection
    # engine's baselines (written live at shutdown) stay as the live sensor left them
    def state_files():
        return {f: open(os.path.join(state, f), "rb").read() for f in sorted(os.listdir(state))
                if f.startswith("detect")}
    state_before = state_files()
    rh.check("detect-baselines.json" in state_before, f"live saved baselines: {sorted(state_before)}")

    # 1. the key is in no decompressed entry (nor in the files as written)
    dump = os.path.join(base, "entries.bin")
    replay_out = os.path.join(base, "replay.jsonl")
    r = subprocess.run([rein, "replay", cap, "--state-dir", state, "--output", replay_out,
                        "--dump-entries", dump], capture_output=True, text=True, timeout=300)
    rh.check(r.returncode == 0, f"rein replay: {r.returncode} {r.stderr}")
    entries = open(dump, "rb").read()
    rh.check(len(entries) > 1000, f"the capture holds entries ({len(entries)} bytes)")
    tail = SECRET[len("sk-ant-api03-"):].encode()
    true_exec = [e for e in live_events if e["type"] == "process.exec" and e["process"]["exe"] == "/usr/bin/true"]
    rh.check(true_exec and true_exec[0]["process"]["args"] == [
        "/bin/true", "--auth-token", "[redacted]", "-u", "alice:[redacted]", "postgres://app:[redacted]@db/app"],
        f"live process.args of /bin/true: {true_exec[:1]}")
    for needle in (SECRET.encode(), tail, tail[-16:], TOKEN.encode(), TOKEN[4:].encode(),
                   *(v.encode() for v in ARGV_SECRETS)):
        rh.check(needle not in entries, f"key material {needle[:6]!r}... absent from the capture entries")
    for root, _, files in os.walk(cap):
        for fn in files:
            rh.check(SECRET.encode() not in open(os.path.join(root, fn), "rb").read(), f"key absent from {fn}")
    rh.check(b"REDACTED" in entries, "the key's placeholder is in the capture")

    # 2. replay prints the live lines, in order
    replay_lines = open(replay_out).read().splitlines()

    replaycheck.check_equal(live_lines, replay_lines, "replay")
    det = [json.loads(l) for l in replay_lines if '"type":"detect.secret_in_prompt"' in l]
    rh.check(len(det) == 1 and det[0]["evidence"]["findings"][0]["type"] == "github_token",
             f"the replayed detection: {det}")
    rcall = [e for e in map(json.loads, replay_lines) if e["type"] == "llm.call" and e["process"]["pid"] == pid][0]
    rh.check(rcall["api_key_fingerprint"] == call["api_key_fingerprint"], "same key fingerprint")

    # 3. filters: --agent keeps only that agent's lines; --from after the end keeps none
    ra = subprocess.run([rein, "replay", cap, "--state-dir", state, "--agent", agent_name],
                        capture_output=True, text=True, timeout=300)
    rh.check(ra.returncode == 0, f"rein replay --agent: {ra.stderr}")
    agent_lines = [json.loads(l) for l in ra.stdout.splitlines()]
    rh.check(agent_lines and all((e.get("agent") or {}).get("name") == agent_name for e in agent_lines),
             f"--agent {agent_name}: only its lines ({len(agent_lines)})")
    rf = subprocess.run([rein, "replay", cap, "--state-dir", state, "--from", "2200-01-01T00:00:00Z"],
                        capture_output=True, text=True, timeout=300)
    rh.check(rf.returncode == 0 and rf.stdout == "", f"--from in the future: nothing ({rf.stdout[:200]})")

    # 4. --policy: what a policy denying the written path would have done; nothing acted on
    policy = os.path.join(base, "policy.yaml")
    with open(policy, "w") as f:
        f.write(f"""apiVersion: rein/v1
rules:
  - name: no-notes
    action: deny
    file:
      paths: ["{os.path.dirname(written)}/**"]
  - name: no-listener
    action: deny
    network:
      cidrs: ["127.0.0.1/32"]
      ports: [{listener.port}]
  - name: no-true
    action: deny
    exec:
      paths: ["true"]
""")
    rp = subprocess.run([rein, "replay", cap, "--state-dir", state, "--policy", policy],
                        capture_output=True, text=True, timeout=300)
    rh.check(rp.returncode == 0, f"rein replay --policy: {rp.stderr}")
    acts = [json.loads(l) for l in rp.stdout.splitlines() if '"type":"policy.action"' in l]
    mine = [a for a in acts if a["rule"] == "no-notes" and a["matched"].startswith(os.path.dirname(written))]
    rh.check(mine, f"a policy.action for the denied path ({[a['rule'] for a in acts]})")
    # the kernel's hooks decide these two, as they would have live: the write kills, the
    # connect is refused (the kernel model over the same rule evaluation as the BPF programs)
    rh.check(all(a["would"] == "killed" and a["process"]["pid"] == worker.pid for a in mine),
             f"the write: the kernel would have killed the agent: {mine}")
    net = [a for a in acts if a["rule"] == "no-listener"]
    rh.check(len(net) == 1 and net[0]["matched"] == f"127.0.0.1:{listener.port}" and
             net[0]["would"] == "prevented" and net[0]["process"]["pid"] == worker.pid,
             f"a policy.action for the denied connect: {net}")
    ex = [a for a in acts if a["rule"] == "no-true"]
    rh.check(len(ex) == 1 and ex[0]["kind"] == "exec" and ex[0]["would"] == "killed" and
             ex[0]["matched"].endswith("/true"), f"a policy.action for the denied exec: {ex}")
    rh.check(all(a["detail"] == "kernel" for a in mine + net + ex), "decided by the kernel model")
    # a rule on the name the agent exec'd by (/bin/true, a path through the /bin symlink),
    # not on the file the kernel ran (/usr/bin/true): the exec record carries that name
    by_name = os.path.join(base, "policy-name.yaml")
    with open(by_name, "w") as f:
        f.write("apiVersion: rein/v1\nrules:\n  - name: no-bin-true\n    action: deny\n"
                "    exec:\n      paths: [/bin/true]\n")
    rn = subprocess.run([rein, "replay", cap, "--state-dir", state, "--policy", by_name],
                        capture_output=True, text=True, timeout=300)
    rh.check(rn.returncode == 0, f"rein replay --policy {by_name}: {rn.stderr}")
    named = [json.loads(l) for l in rn.stdout.splitlines() if '"type":"policy.action"' in l]
    rh.check(len(named) == 1 and named[0]["rule"] == "no-bin-true" and named[0]["would"] == "killed"
             and named[0]["detail"] == "kernel", f"a policy.action for the exec by the name /bin/true: {named}")
    rh.check(all(a.get("replay") is True and "would" in a for a in acts),
             "every replayed policy.action is marked replay/would")
    rh.check(not any(e["type"] == "policy.action" for e in live_events), "live had no policy")
    rh.check(open(written).read() == "hello from the agent\n", "the file is as the agent left it")
    rh.check(worker.poll() is None, "the agent replay would have killed still runs")
    rh.check(state_files() == state_before, "replay left the live state dir's baselines alone")
    print(f"ok: {len(live_lines)} lines replayed identically; {len(mine)} would-be denials")
finally:
    if worker:
        worker.kill()
        worker.wait()
    mock.stop()
    listener.close()
