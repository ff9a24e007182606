#!/usr/bin/env python3
"""`rein top --socket`: a live view from the running sensor, without its output file. The
sensor runs without a policy (the control socket is still served, for `subscribe`);
`rein top --socket` runs inside tmux and must show the agent py_client.py with a cost equal,
to the shown precision, to the sum over that agent's llm.call events in the --output file.
A raw subscriber on the same socket gets, after the reply line, exactly the lines the file
got from then on (byte for byte, none lost); a request other than `subscribe` still gets
the one-line reply and a closed connection; `q` ends rein top and the sensor keeps going."""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import tophelpers as th  # noqa: E402

rh.require_bpf()
th.require_tmux()
term = th.Terminal("rein-tops", timeout=20)
wait_screen = term.wait_screen
rein = rh.rein_bin()
d = rh.workdir("rein-top-socket-")
ctl = os.path.join(d, "run", "control.sock")


class Subscriber:
    """A raw `subscribe` client: the reply line, then the stream."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(5)
        self.s.connect(path)
        self.s.sendall(b"subscribe\n")
        self.buf = b""
        self.greeting = json.loads(self.line())

    def line(self, timeout=20):
        deadline = time.time() + timeout
        while b"\n" not in self.buf:
            if time.time() > deadline:
                rh.fail(f"no line from the subscription within {timeout}s")
            chunk = self.s.recv(65536)
            if not chunk:
                rh.fail("the sensor closed the subscription")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode()


mock = lh.MockServer()
try:
    with rh.Sensor(["--no-default-agents", "--agent-script", "py_client.py",
                    "--control-socket", ctl]) as s:
        rh.check(os.path.exists(ctl), f"no control socket at {ctl} without a policy")
        # Anything but `subscribe` keeps the one-request, one-reply behaviour.
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        other.settimeout(5)
        other.connect(ctl)
        other.sendall(b"holds\n")
        reply = other.makefile().read()
        other.close()
        rh.check('"ok":false' in reply and "no policy" in reply, f"holds without a policy: {reply!r}")

        raw = Subscriber(ctl)
        rh.check(raw.greeting.get("ok") is True and raw.greeting.get("subscribed") is True,
                 f"subscribe reply: {raw.greeting}")
        term.start(f"{rein} top --socket {ctl} --interval 0.3")
        wait_screen(lambda t: "rein top" in t and f"sensor {ctl}" in t and "AGENT" in t,
                    "its header naming the socket")
        # the first line after the subscriptions: everything from here on must reach both
        mark = len(s.events())

        pid, out, err = mock.client(["--base-url", mock.https, "--path", "/v1/chat/completions",
                                     "--model", "gpt-4o", "--count", "3", "--keep-alive", "y"])
        rh.check("error" not in err.lower(), f"client: {err}")
        s.fence()
        events = s.events()
        # by the client's pid: another py_client.py on this host is another agent
        calls = [e for e in rh.of_type(events, "llm.call")
                 if (e.get("agent") or {}).get("name") == "py_client.py"
                 and (e.get("agent") or {}).get("root_pid") == pid]
        rh.check(len(calls) == 3, f"3 llm.call events expected, got {len(calls)}")
        cost = sum(e.get("cost_usd") or 0.0 for e in calls)
        rh.check(cost > 0, f"priced calls expected, cost {cost}")
        shown = f"${cost:.6f}"

        def agent_row(t):
            return th.agent_row(t, "py_client.py", pid)

        t = term.wait_agent("py_client.py", pid, shown)
        rh.check(" 3 " in agent_row(t), f"3 calls expected on the row: {agent_row(t)!r}")
        rh.check("dropped" not in t, f"no line may be dropped at this rate:\n{t}")

        # The raw stream equals the file from the subscription on. Lines written between the
        # subscription and `mark` are in the stream but before the file position read: find
        # the stream's first line that is the file's line `mark`.
        with open(s.out) as f:
            file_lines = f.read().split("\n")[:-1]
        got = []
        while len(got) < len(file_lines):
            ln = raw.line()
            got.append(ln)
            if got[-1] == file_lines[-1] and len(got) >= len(file_lines) - mark:
                break
        start = len(file_lines) - len(got)
        rh.check(0 <= start <= mark, f"the stream has {len(got)} lines, the file {len(file_lines)}")
        rh.check(got == file_lines[start:], "the subscription's lines differ from the file's")
        rh.check(not any('"subscription.dropped"' in ln for ln in got), "a raw line was dropped")

        term.quit()
        raw.s.close()
        s.fence()   # the sensor goes on after its subscribers left
        sub = rh.health(s.stop(), "stopped")[-1].get("subscribers")
        rh.check(sub is not None and sub["dropped_lines"] == 0 and sub["stalled_disconnects"] == 0,
                 f"sensor.health subscribers: {sub}")
    rh.check(not os.path.exists(ctl), "the control socket outlived the sensor")
finally:
    term.kill_server()
    mock.stop()
print("ok")
