"""`rein top` in a real terminal for the e2e tests: a private tmux server (nothing else's
sessions are touched) with one session, its screen, and the agent rows rein top shows."""
import os
import subprocess
import time
import uuid

import reinharness as rh


class Terminal:
    def __init__(self, prefix, timeout=30):
        self.tag = uuid.uuid4().hex[:8]
        self.sock = f"{prefix}-{self.tag}"
        self.session = f"{prefix}-{self.tag}"
        self.timeout = timeout   # default wait for a screen

    def tmux(self, *args, check=True):
        r = subprocess.run(["tmux", "-L", self.sock] + list(args), capture_output=True,
                           text=True, timeout=30)
        if check and r.returncode != 0:
            rh.fail(f"tmux {' '.join(args)}: {r.stderr}")
        return r

    def start(self, command):
        self.tmux("new-session", "-d", "-s", self.session, "-x", "160", "-y", "40", command)

    def keys(self, *keys):
        self.tmux("send-keys", "-t", self.session, *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_screen(self, pred, what, timeout=None):
        deadline = time.time() + (self.timeout if timeout is None else timeout)
        last = ""
        while time.time() < deadline:
            last = self.screen()
            if pred(last):
                return last
            time.sleep(0.1)
        rh.fail(f"rein top never showed {what}; last screen:\n{last}")

    def wait_agent(self, name, pid, shown):
        """Waits for agent `name` of root `pid` shown with cost `shown`: the screen."""
        return self.wait_screen(lambda t: shown in (agent_row(t, name, pid) or ""),
                                f"{name} with cost {shown}")

    def quit(self, what="rein top did not exit on q"):
        """`q`, then the session must end (rein top exited) within 10 s."""
        self.keys("q")
        deadline = time.time() + 10
        while time.time() < deadline and self.alive():
            time.sleep(0.1)
        rh.check(not self.alive(), what)

    def alive(self):
        return self.tmux("has-session", "-t", self.session, check=False).returncode == 0

    def kill_server(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True, timeout=30)


def require_tmux():
    if not os.path.exists("/usr/bin/tmux"):
        rh.fail("tmux is required for this test (Debian package tmux)")


def agent_row(text, name, pid):
    """The line of `text` showing agent `name` of root `pid`, or None."""
    return next((ln for ln in text.splitlines() if name in ln and f" {pid} " in ln), None)
