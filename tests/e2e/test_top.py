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

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import tophelpers as th  # noqa: E402

rh.require_bpf()
th.require_tmux()
term = th.Terminal("rein-top")
tag = term.tag
rein = rh.rein_bin()
wait_screen = term.wait_screen


def agent_costs(events, pid):
    """Sum of cost_usd per py_client.py agent id of root `pid`, in file order (what rein top
    adds up). By pid: another py_client.py running on this host is another agent."""
    sums = {}
    for e in rh.of_type(events, "llm.call"):
        a = e.get("agent") or {}
        if a.get("name") != "py_client.py" or a.get("root_pid") != pid:
            continue
        sums[a["id"]] = sums.get(a["id"], 0.0) + (e.get("cost_usd") or 0.0)
    return sums


mock = lh.MockServer()
https = ["--base-url", mock.https]
try:
    with rh.Sensor(["--no-default-agents", "--agent-script", "py_client.py"]) as s:
        # started before the workload: rein top must pick up lines as they are appended
        term.start(f"{rein} top --file {s.out} --interval 0.5")
        wait_screen(lambda t: "rein top" in t and "AGENT" in t, "its header")
        pid, out, err = mock.client(https + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                             "--count", "3", "--keep-alive", "y"])
        rh.check("error" not in err.lower(), f"client: {err}")
        s.fence()
        events = s.events()
        sums = agent_costs(events, pid)
        rh.check(len(sums) == 1, f"one py_client.py agent expected, got {sums}")
        (agent_id, cost), = sums.items()
        calls = [e for e in rh.of_type(events, "llm.call") if (e.get("agent") or {}).get("id") == agent_id]
        rh.check(len(calls) == 3, f"3 llm.call events expected, got {len(calls)}")
        rh.check(cost > 0, f"priced calls expected, cost {cost}")
        shown = f"${cost:.6f}"

        def agent_row(t):
            return th.agent_row(t, "py_client.py", pid)

        t = term.wait_agent("py_client.py", pid, shown)
        row = agent_row(t)
        rh.check(f" {len(calls)} " in row, f"3 calls expected on the row: {row!r}")

        term.keys("s")
        wait_screen(lambda t: "sort: $/min" in t, "the sort changed to $/min")
        term.keys("Enter")
        model = calls[0].get("response_model") or calls[0].get("request_model")
        rh.check(model and model.startswith("gpt-4o"), f"unexpected model {model}")
        t = wait_screen(lambda t: "LAST LLM CALLS (3)" in t and model in t,
                        f"the drill-down with model {model}")
        rh.check(shown in t, f"drill-down lacks the cost {shown}:\n{t}")
        term.keys("Escape")
        wait_screen(lambda t: "LAST LLM CALLS" not in t and agent_row(t) is not None,
                    "the agent list again after Esc")
        term.quit()

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
    term.start(f"sh -c '{rein} top --file {path} --interval 0.2; echo rc=$? > {stty_after}.rc; "
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
    term.quit("rein top did not exit on q (rotation part)")
    rh.check(open(stty_after + ".rc").read().strip() == "rc=0", "rein top exit code after q")
    modes = open(stty_after).read().split()
    rh.check("icanon" in modes and "echo" in modes, f"terminal not restored: {modes}")

    missing = subprocess.run([rein, "top", "--once", "--file", f"/nonexistent/{tag}.jsonl"],
                             capture_output=True, text=True, timeout=30)
    rh.check(missing.returncode == 1 and "cannot read" in missing.stderr,
             f"unreadable file: exit {missing.returncode}, {missing.stderr!r}")
finally:
    term.kill_server()
    mock.stop()
print("ok")
