#!/usr/bin/env python3
"""Capture and replay on the real kernel: the sensor runs with --capture while a tracked
agent writes a file, connects, execs, and an LLM client calls the mock with a fake key.
`rein replay` of the capture must print the live lines, in order, byte for byte; the key
must be absent from every decompressed capture entry (and the replayed llm.call carries
the live key fingerprint, since the lines are equal). With --policy denying the file the
agent wrote, replay reports what would have happened (policy.action "replay": true,
"would": ...) and touches nothing."""
import json
import os
import shutil
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

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
WORK = f"""
import socket, subprocess
with open({written!r}, "w") as f:
    f.write("hello from the agent\\n")
s = socket.create_connection(("127.0.0.1", {listener.port}))
s.close()
subprocess.run(["/bin/true"], check=True)
"""
mock = lh.MockServer()
cap = os.path.join(base, "capture")

try:
    with rh.Sensor(["--no-default-agents", "--agent-exe", agent_name, "--agent-script", "py_client.py",
                    "--capture", cap]) as s:
        state = os.path.join(s.dir, "state")
        subprocess.run([agent, "-c", WORK], check=True, timeout=60)
        pid, out, err = mock.client(["--base-url", mock.https, "--api-key", SECRET, "--path", "/v1/messages",
                                     "--model", "claude-haiku-4-5"])
        s.wait_for(lambda e: e["type"] == "llm.call", "the llm.call")
        s.wait_for(lambda e: e["type"] == "file.mutation" and e.get("path") == written, "the agent's file write")
        s.wait_for(lambda e: e["type"] == "process.exit" and (e["process"]["exe"] or "").endswith("/true"),
                   "/bin/true's exit")
        live_events = s.stop()
        live_lines = open(s.out).read().splitlines()

    call = [e for e in live_events if e["type"] == "llm.call"][0]
    rh.check(call.get("api_key_fingerprint"), f"live llm.call has a key fingerprint: {call}")

    # 1. the key is in no decompressed entry (nor in the files as written)
    dump = os.path.join(base, "entries.bin")
    replay_out = os.path.join(base, "replay.jsonl")
    r = subprocess.run([rein, "replay", cap, "--state-dir", state, "--output", replay_out,
                        "--dump-entries", dump], capture_output=True, text=True, timeout=300)
    rh.check(r.returncode == 0, f"rein replay: {r.returncode} {r.stderr}")
    entries = open(dump, "rb").read()
    rh.check(len(entries) > 1000, f"the capture holds entries ({len(entries)} bytes)")
    tail = SECRET[len("sk-ant-api03-"):].encode()
    for needle in (SECRET.encode(), tail, tail[-16:]):
        rh.check(needle not in entries, f"key material {needle[:6]!r}... absent from the capture entries")
    for root, _, files in os.walk(cap):
        for fn in files:
            rh.check(SECRET.encode() not in open(os.path.join(root, fn), "rb").read(), f"key absent from {fn}")
    rh.check(b"REDACTED" in entries, "the key's placeholder is in the capture")

    # 2. replay prints the live lines, in order
    replay_lines = open(replay_out).read().splitlines()

    def comparable(line):
        # sensor.health's detection_* counters belong to the detection engine, which replay
        # does not run (docs/capture.md, "What can differ"); everything else must be equal
        if '"type":"sensor.health"' not in line:
            return line
        e = json.loads(line)
        for k in [k for k in e.get("pipeline", {}) if k.startswith("detection_")]:
            del e["pipeline"][k]
        return json.dumps(e, sort_keys=True)
    diffs = [(i, a, b) for i, (a, b) in enumerate(zip(live_lines, replay_lines))
             if comparable(a) != comparable(b)]
    for i, a, b in diffs[:5]:
        print(f"line {i + 1} differs:\n live:   {a[:600]}\n replay: {b[:600]}", file=sys.stderr)
    rh.check(len(live_lines) == len(replay_lines),
             f"replay printed {len(replay_lines)} lines, live {len(live_lines)}")
    rh.check(not diffs, f"{len(diffs)} replayed lines differ from the live ones")
    rcall = [json.loads(l) for l in replay_lines if '"type":"llm.call"' in l][0]
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
""")
    rp = subprocess.run([rein, "replay", cap, "--state-dir", state, "--policy", policy],
                        capture_output=True, text=True, timeout=300)
    rh.check(rp.returncode == 0, f"rein replay --policy: {rp.stderr}")
    acts = [json.loads(l) for l in rp.stdout.splitlines() if '"type":"policy.action"' in l]
    mine = [a for a in acts if a["rule"] == "no-notes" and a["matched"].startswith(os.path.dirname(written))]
    rh.check(mine, f"a policy.action for the denied path ({[a['rule'] for a in acts]})")
    rh.check(all(a.get("replay") is True and "would" in a for a in acts),
             "every replayed policy.action is marked replay/would")
    rh.check(not any(e["type"] == "policy.action" for e in live_events), "live had no policy")
    rh.check(open(written).read() == "hello from the agent\n", "the file is as the agent left it")
    print(f"ok: {len(live_lines)} lines replayed identically; {len(mine)} would-be denials")
finally:
    mock.stop()
    listener.close()
