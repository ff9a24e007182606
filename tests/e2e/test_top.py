#!/usr/bin/env python3
"""`rein top` on a live sensor: the real sensor writes --output while a real Python client
talks to the mock LLM server; `rein top --file` runs inside tmux (a real terminal) and must
show the agent py_client.py with a cost equal, to the shown precision, to the sum over that
agent's llm.call events; `s` re-sorts, Enter drills into the agent (its calls' model shows),
Esc goes back, `q` ends it. `rein top --once` prints the same figures without escapes, and an
unreadable file is a clear error."""
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402

rh.require_bpf()
if not os.path.exists("/usr/bin/tmux"):
    rh.fail("tmux is required for this test (Debian package tmux)")
tag = uuid.uuid4().hex[:8]
sock = f"rein-top-{tag}"          # a private tmux server: nothing else's sessions are touched
session = f"rein-top-{tag}"
rein = rh.rein_bin()


def tmux(*args, check=True):
    r = subprocess.run(["tmux", "-L", sock] + list(args), capture_output=True, text=True,
                       timeout=30)
    if check and r.returncode != 0:
        rh.fail(f"tmux {' '.join(args)}: {r.stderr}")
    return r


def screen():
    return tmux("capture-pane", "-p", "-t", session).stdout


def wait_screen(pred, what, timeout=30):
    deadline = time.time() + timeout
    last = ""
    while time.time() < deadline:
        last = screen()
        if pred(last):
            return last
        time.sleep(0.1)
    rh.fail(f"rein top never showed {what}; last screen:\n{last}")


def agent_costs(events):
    """Sum of cost_usd per py_client.py agent id, in file order (what rein top adds up)."""
    sums = {}
    for e in rh.of_type(events, "llm.call"):
        a = e.get("agent") or {}
        if a.get("name") != "py_client.py":
            continue
        sums[a["id"]] = sums.get(a["id"], 0.0) + (e.get("cost_usd") or 0.0)
    return sums


mock = lh.MockServer()
https = ["--base-url", mock.https]
try:
    with rh.Sensor(["--no-default-agents", "--agent-script", "py_client.py"]) as s:
        # started before the workload: rein top must pick up lines as they are appended
        tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40",
             f"{rein} top --file {s.out} --interval 0.5")
        wait_screen(lambda t: "rein top" in t and "AGENT" in t, "its header")
        pid, out, err = mock.client(https + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                             "--count", "3", "--keep-alive", "y"])
        rh.check("error" not in err.lower(), f"client: {err}")
        s.fence()
        events = s.events()
        sums = agent_costs(events)
        rh.check(len(sums) == 1, f"one py_client.py agent expected, got {sums}")
        (agent_id, cost), = sums.items()
        calls = [e for e in rh.of_type(events, "llm.call") if (e.get("agent") or {}).get("id") == agent_id]
        rh.check(len(calls) == 3, f"3 llm.call events expected, got {len(calls)}")
        rh.check(cost > 0, f"priced calls expected, cost {cost}")
        shown = f"${cost:.6f}"

        def agent_row(t):
            return next((ln for ln in t.splitlines() if "py_client.py" in ln), None)

        t = wait_screen(lambda t: agent_row(t) is not None and shown in agent_row(t),
                        f"py_client.py with cost {shown}")
        row = agent_row(t)
        rh.check(f" {len(calls)} " in row, f"3 calls expected on the row: {row!r}")

        tmux("send-keys", "-t", session, "s")
        wait_screen(lambda t: "sort: $/min" in t, "the sort changed to $/min")
        tmux("send-keys", "-t", session, "Enter")
        model = calls[0].get("response_model") or calls[0].get("request_model")
        rh.check(model and model.startswith("gpt-4o"), f"unexpected model {model}")
        t = wait_screen(lambda t: "LAST LLM CALLS (3)" in t and model in t,
                        f"the drill-down with model {model}")
        rh.check(shown in t, f"drill-down lacks the cost {shown}:\n{t}")
        tmux("send-keys", "-t", session, "Escape")
        wait_screen(lambda t: "LAST LLM CALLS" not in t and agent_row(t) is not None,
                    "the agent list again after Esc")
        tmux("send-keys", "-t", session, "q")
        deadline = time.time() + 10
        while time.time() < deadline and tmux("has-session", "-t", session, check=False).returncode == 0:
            time.sleep(0.1)
        rh.check(tmux("has-session", "-t", session, check=False).returncode != 0,
                 "rein top did not exit on q")

        once = subprocess.run([rein, "top", "--once", "--file", s.out], capture_output=True,
                              text=True, timeout=30)
        rh.check(once.returncode == 0, f"--once exit {once.returncode}: {once.stderr}")
        rh.check("\x1b" not in once.stdout, "--once printed escape sequences")
        row = agent_row(once.stdout)
        rh.check(row is not None and shown in row, f"--once lacks {shown}:\n{once.stdout}")
        rh.check("skipped: 0" in once.stdout, f"the sensor's lines should all parse:\n{once.stdout}")
        s.stop()

    # Rotation, on a file this test writes: rename + create (logrotate), then copytruncate.
    d = rh.workdir("rein-top-")
    path = os.path.join(d, "events.jsonl")

    def line(name, cost):
        return ('{"type":"llm.call","time":"2026-11-30T04:00:00Z","agent":{"id":"%s-1","name":"%s",'
                '"root_pid":1},"status":200,"response_model":"m","usage":{"input_tokens":1,'
                '"output_tokens":1},"cost_usd":%s}\n' % (name, name, cost))

    with open(path, "w") as f:
        f.write("x" * (2 << 20) + "\n")    # over 1 MiB: skipped and counted, not buffered
        f.write(line("before_rotation", 1.5))
    stty_after = os.path.join(d, "stty.txt")   # the terminal's modes once rein top has quit
    tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40",
         f"sh -c '{rein} top --file {path} --interval 0.2; echo rc=$? > {stty_after}.rc; "
         f"stty -a > {stty_after}'")
    wait_screen(lambda t: "before_rotation" in t and "$1.500000" in t and "skipped: 1 " in t,
                "the first file's agent after a skipped over-long line")
    with open(path, "a") as f:
        f.write(line("late_line", 0.25))   # appended just before the rename: not lost
    os.rename(path, path + ".1")
    with open(path, "w") as f:
        f.write(line("after_rename", 2.0))
    wait_screen(lambda t: "late_line" in t and "after_rename" in t and "$2.000000" in t,
                "agents from the old file's tail and the new file")
    with open(path, "w") as f:      # truncated in place, then a new line
        f.write(line("after_truncate", 3.0))
    wait_screen(lambda t: "after_truncate" in t and "$3.000000" in t, "the agent after a truncation")
    tmux("send-keys", "-t", session, "q")
    deadline = time.time() + 10
    while time.time() < deadline and tmux("has-session", "-t", session, check=False).returncode == 0:
        time.sleep(0.1)
    rh.check(tmux("has-session", "-t", session, check=False).returncode != 0,
             "rein top did not exit on q (rotation part)")
    rh.check(open(stty_after + ".rc").read().strip() == "rc=0", "rein top exit code after q")
    modes = open(stty_after).read().split()
    rh.check("icanon" in modes and "echo" in modes, f"terminal not restored: {modes}")

    missing = subprocess.run([rein, "top", "--once", "--file", f"/nonexistent/{tag}.jsonl"],
                             capture_output=True, text=True, timeout=30)
    rh.check(missing.returncode == 1 and "cannot read" in missing.stderr,
             f"unreadable file: exit {missing.returncode}, {missing.stderr!r}")
finally:
    subprocess.run(["tmux", "-L", sock, "kill-server"], capture_output=True, timeout=30)
    mock.stop()
print("ok")
