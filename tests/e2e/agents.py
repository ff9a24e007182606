"""Real agent CLIs (installed from npm into a cache outside the repository) driven
against our local mock LLM server, for end-to-end tests.

ensure_agents() installs the pinned versions (or reuses the cache), AgentMock starts
tools/mock-llm/server.py with TLS plus a plain listener, H2Front puts Debian's nghttpx
in front of the plain listener (TLS, ALPN h2 + http/1.1), and run_<cli>() runs one
one-shot prompt with a private HOME under the work directory and returns
(pid of the launched process, returncode, stdout, stderr). Every process started
here runs in its own process group, which is killed on timeout and after exit.
See /work/shared/real-agents.md for what each CLI runs and how it is pointed at a mock.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import reinharness as rh

ROOT = os.environ.get("REIN_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
MOCK_DIR = os.path.join(ROOT, "tools", "mock-llm")
GO_CLIENT_DIR = os.path.join(ROOT, "tests", "e2e", "go_client")
PY = "/usr/bin/python3"
NGHTTPX = "/usr/sbin/nghttpx"

# Pinned versions: bump together with a run of test_agents.py.
CLAUDE_CODE = ("@anthropic-ai/claude-code", "2.1.332")
OPENCODE = ("opencode-ai", "1.18.33")
CODEX = ("@openai/codex", "0.171.0")
GEMINI_CLI = ("@google/gemini-cli", "0.61.0")
QWEN_CODE = ("@qwen-code/qwen-code", "0.24.4")
PACKAGES = (CLAUDE_CODE, OPENCODE, CODEX, GEMINI_CLI, QWEN_CODE)
BINS = {"claude": "claude", "opencode": "opencode", "codex": "codex", "gemini": "gemini",
        "qwen": "qwen"}

CACHE = os.environ.get("REIN_AGENT_CACHE") or "/var/cache/rein-agents"
NPM_TIMEOUT = int(os.environ.get("REIN_AGENT_NPM_TIMEOUT", "900"))
RUN_TIMEOUT = 120
PROMPT = "Say hello"
# obviously fake keys, in each provider's shape
ANTHROPIC_KEY = "sk-ant-test-rein-mock-0000000000"
OPENAI_KEY = "sk-proj-test-rein-mock-0000000000"
GEMINI_KEY = "AIzaTEST-rein-mock-000000000000000"


def required():
    """Missing prerequisites fail (instead of skip) in CI or with REIN_REQUIRE_BPF=1."""
    return os.environ.get("CI") == "true" or os.environ.get("REIN_REQUIRE_BPF") == "1"


def skip_or_fail(why):
    if required():
        rh.fail(why)
    print(f"SKIP: {why}", file=sys.stderr)
    sys.exit(rh.SKIP)


def log(msg):
    print(f"agents: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ install

def _installed_version(pkg):
    try:
        with open(os.path.join(CACHE, "node_modules", pkg, "package.json")) as f:
            return json.load(f).get("version")
    except (OSError, ValueError):
        return None


def _bin_paths():
    return {name: os.path.join(CACHE, "node_modules", ".bin", b) for name, b in BINS.items()}


def _cache_ok():
    if any(_installed_version(p) != v for p, v in PACKAGES):
        return False
    if not all(os.path.exists(p) for p in _bin_paths().values()):
        return False
    # the install scripts have run: the native binaries are in place
    claude = os.path.join(CACHE, "node_modules", CLAUDE_CODE[0], "bin", "claude.exe")
    opencode = os.path.join(CACHE, "node_modules", OPENCODE[0], "bin", "opencode.exe")
    return all(os.path.exists(p) and os.path.getsize(p) > 10 << 20 for p in (claude, opencode))


def _npm(args, cwd, timeout):
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_fetch_timeout="60000",
               npm_config_fetch_retries="1")
    try:
        return subprocess.run(["npm"] + args, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, start_new_session=True)
    except subprocess.TimeoutExpired:
        return None


def ensure_agents():
    """Paths of the five CLIs ({"claude": ..., "opencode": ..., "codex": ..., "gemini": ...,
    "qwen": ...}), installing the pinned versions into CACHE when they are not there."""
    if _cache_ok():
        return _bin_paths()
    if not shutil.which("npm") or not shutil.which("node"):
        skip_or_fail("node/npm not installed")
    os.makedirs(CACHE, exist_ok=True)
    ping = _npm(["ping"], CACHE, 30)
    if ping is None or ping.returncode != 0:
        skip_or_fail("the npm registry is unreachable: cannot install the agent CLIs "
                     f"({(ping.stderr.strip()[-300:] if ping else 'timeout')})")
    pkg_json = os.path.join(CACHE, "package.json")
    if not os.path.exists(pkg_json):
        with open(pkg_json, "w") as f:
            json.dump({"name": "rein-agents", "private": True}, f)
    log(f"installing {' '.join(p + '@' + v for p, v in PACKAGES)} into {CACHE}")
    t0 = time.time()
    r = _npm(["install", "--ignore-scripts", "--no-audit", "--no-fund", "--save-exact"] +
             [f"{p}@{v}" for p, v in PACKAGES], CACHE, NPM_TIMEOUT)
    if r is None:
        skip_or_fail(f"npm install did not finish in {NPM_TIMEOUT}s")
    if r.returncode != 0:
        rh.fail(f"npm install failed ({r.returncode}): {r.stderr[-2000:]}")
    # the two packages whose install scripts hard-link their native executables
    for pkg, script in ((CLAUDE_CODE[0], "install.cjs"), (OPENCODE[0], "postinstall.mjs")):
        d = os.path.join(CACHE, "node_modules", pkg)
        if not os.path.exists(os.path.join(d, script)):
            continue
        s = subprocess.run(["node", script], cwd=d, capture_output=True, text=True, timeout=300)
        if s.returncode != 0:
            rh.fail(f"{pkg}: node {script} failed: {s.stderr[-1000:]}")
    log(f"installed in {time.time() - t0:.0f}s")
    if not _cache_ok():
        rh.fail("agent cache incomplete after install: " +
                ", ".join(f"{p}={_installed_version(p)}" for p, _ in PACKAGES))
    return _bin_paths()


# ------------------------------------------------------------------ processes

def _kill_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run_process(cmd, env, cwd, timeout=RUN_TIMEOUT, stdout_path=None):
    """Run cmd in its own session (stdin /dev/null); kill the whole process group on
    timeout and after it exits (CLIs leave helpers behind). Returns
    (pid, returncode or None on timeout, stdout, stderr)."""
    timeout = min(timeout, RUN_TIMEOUT)
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         errors="replace", start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _kill_group(p.pid)
        out, err = p.communicate()
        rc = None
        err += f"\n[agents: killed after {timeout}s]"
    _kill_group(p.pid)
    return p.pid, rc, out, err


def free_port(host="127.0.0.1"):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(host, port, timeout=10.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


class AgentMock:
    """tools/mock-llm/server.py with TLS and a plain listener, --verbose to its
    stderr file (request lines, headers with masked keys, body starts)."""

    def __init__(self, workdir, max_seconds=600):
        self.dir = os.path.join(workdir, "mock")
        os.makedirs(self.dir, exist_ok=True)
        out = subprocess.run([os.path.join(MOCK_DIR, "make-cert.sh"), os.path.join(self.dir, "certs")],
                             capture_output=True, text=True, check=True, timeout=60).stdout
        env = dict(line.split("=", 1) for line in out.split() if "=" in line)
        self.ca, self.cert, self.key = env["CA_FILE"], env["CERT_FILE"], env["KEY_FILE"]
        self.ledger = os.path.join(self.dir, "ledger.jsonl")
        self.err_path = os.path.join(self.dir, "server.err")
        portfile = os.path.join(self.dir, "port.json")
        self.proc = subprocess.Popen(
            [PY, os.path.join(MOCK_DIR, "server.py"), "--cert", self.cert, "--key", self.key,
             "--also-plain", "--ledger", self.ledger, "--port-file", portfile,
             "--max-seconds", str(max_seconds), "--verbose"],
            stdout=subprocess.DEVNULL, stderr=open(self.err_path, "w"), start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(portfile) and os.path.getsize(portfile)):
            if self.proc.poll() is not None:
                rh.fail(f"mock server exited: {open(self.err_path).read()[-2000:]}")
            time.sleep(0.05)
        info = json.load(open(portfile))
        self.port, self.plain_port = info["port"], info["plain_port"]
        self.https = f"https://127.0.0.1:{self.port}"
        self.http = f"http://127.0.0.1:{self.plain_port}"
        self.h2 = None          # set by H2Front: https URL of the nghttpx front
        self.chacha = None      # the same, accepting only ChaCha20-Poly1305 (codex-chacha)
        self.chacha_h1 = None   # the same, offering only http/1.1 (codex-chacha-http1, -ws)

    def entries(self):
        if not os.path.exists(self.ledger):
            return []
        with open(self.ledger) as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc.pid)
                self.proc.wait()


class H2Front:
    """nghttpx on a free loopback port: TLS with ALPN h2,http/1.1 (the mock's leaf
    certificate), HTTP/1.1 to the mock's plain listener. It adds
    `x-mock-front: 127.0.0.1:PORT` to every forwarded request, from which the mock
    finds the real client pid (the process connected to that port) for its ledger.
    tls13_ciphers: the only TLS 1.3 suites it accepts (TLS 1.2 refused), e.g.
    TLS_CHACHA20_POLY1305_SHA256; its access log then names each request's cipher. Its URL
    goes to mock.<attr>. alpn: the protocols it offers (e.g. "http/1.1": no h2)."""

    def __init__(self, mock, workdir, tls13_ciphers=None, attr="h2", alpn=None):
        if not os.access(NGHTTPX, os.X_OK):
            skip_or_fail(f"{NGHTTPX} missing (Debian package nghttp2-proxy; tools/setup)")
        self.dir = os.path.join(workdir, "nghttpx" if attr == "h2" else f"nghttpx-{attr}")
        os.makedirs(self.dir, exist_ok=True)
        self.pid_file = os.path.join(self.dir, "nghttpx.pid")
        self.proc = None
        for _ in range(3):    # the port could be taken between probe and bind
            self.port = free_port()
            cmd = [NGHTTPX, "--conf=/dev/null", f"--frontend=127.0.0.1,{self.port}",
                   f"--backend=127.0.0.1,{mock.plain_port};;proto=http/1.1",
                   "--workers=1", "--no-ocsp", f"--pid-file={self.pid_file}",
                   f"--errorlog-file={os.path.join(self.dir, 'error.log')}",
                   f"--accesslog-file={os.path.join(self.dir, 'access.log')}",
                   f"--add-request-header=x-mock-front: 127.0.0.1:{self.port}",
                   "--backend-read-timeout=120s", mock.key, mock.cert]
            if tls13_ciphers:
                cmd[1:1] = [f"--tls13-ciphers={tls13_ciphers}", "--tls-min-proto-version=TLSv1.3",
                            "--accesslog-format=$remote_addr \"$request\" $status $ssl_cipher"]
            if alpn:
                cmd[1:1] = [f"--npn-list={alpn}"]
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(self.dir, "stderr"), "w"),
                                         start_new_session=True)
            if wait_port("127.0.0.1", self.port, 10, self.proc):
                break
            self.stop()
        else:
            rh.fail(f"nghttpx did not start: {self.errors()}")
        self.url = f"https://127.0.0.1:{self.port}"
        setattr(mock, attr, self.url)

    def access_log(self):
        try:
            return open(os.path.join(self.dir, "access.log")).read()
        except OSError:
            return ""

    def errors(self):
        try:
            return open(os.path.join(self.dir, "error.log")).read()[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        _kill_group(self.proc.pid)   # the worker process too
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ the CLIs

def _home(workdir, name):
    home = os.path.join(workdir, name, "home")
    cwd = os.path.join(workdir, name, "project")
    for d in (home, cwd, os.path.join(home, ".config"), os.path.join(home, ".cache"),
              os.path.join(home, ".local", "share"), os.path.join(home, ".local", "state")):
        os.makedirs(d, exist_ok=True)
    return home, cwd


def _base_env(home, mock):
    node_dir = os.path.dirname(shutil.which("node") or "/usr/bin/node")
    path = ":".join(dict.fromkeys([node_dir, "/usr/local/bin", "/usr/bin", "/bin"]))
    return {"PATH": path, "HOME": home, "USER": "rein-test", "LANG": "C.UTF-8",
            "TERM": "dumb", "NO_COLOR": "1", "TMPDIR": os.path.join(home, ".cache"),
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_DATA_HOME": os.path.join(home, ".local", "share"),
            "XDG_STATE_HOME": os.path.join(home, ".local", "state"),
            "NODE_EXTRA_CA_CERTS": mock.ca,
            "DO_NOT_TRACK": "1"}


def _bins(paths):
    return paths if paths else ensure_agents()


def run_claude(mock, workdir, prompt=PROMPT, paths=None, timeout=RUN_TIMEOUT):
    """Claude Code: one POST /v1/messages?beta=true SSE stream (HTTP/1.1)."""
    home, cwd = _home(workdir, "claude")
    env = _base_env(home, mock)
    env.update(ANTHROPIC_BASE_URL=mock.https, ANTHROPIC_API_KEY=ANTHROPIC_KEY,
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1", DISABLE_AUTOUPDATER="1",
               DISABLE_TELEMETRY="1", DISABLE_ERROR_REPORTING="1",
               CLAUDE_CONFIG_DIR=os.path.join(home, ".claude"))
    return run_process([_bins(paths)["claude"], "-p", prompt], env, cwd, timeout)


def run_opencode(mock, workdir, prompt=PROMPT, paths=None, timeout=RUN_TIMEOUT):
    """OpenCode: two POST /v1/messages streams (title, then the answer)."""
    home, cwd = _home(workdir, "opencode")
    env = _base_env(home, mock)
    config = {"$schema": "https://opencode.ai/config.json",
              "model": "anthropic/claude-sonnet-4-5",
              "small_model": "anthropic/claude-haiku-4-5",
              "autoupdate": False, "share": "disabled",
              "provider": {"anthropic": {"options": {
                  "baseURL": mock.https + "/v1", "apiKey": ANTHROPIC_KEY,
                  "headers": {"x-rein-test": "opencode"}}}}}
    env.update(OPENCODE_CONFIG_CONTENT=json.dumps(config), OPENCODE_DISABLE_MODELS_FETCH="1",
               OPENCODE_DISABLE_AUTOUPDATE="1", OPENCODE_DISABLE_DEFAULT_PLUGINS="1",
               OPENCODE_DISABLE_SHARE="1", OPENCODE_DISABLE_LSP_DOWNLOAD="1")
    return run_process([_bins(paths)["opencode"], "run", prompt], env, cwd, timeout)


CODEX_TRANSPORTS = ("http1", "h2", "ws")


# aws-lc (inside Codex) reads OPENSSL_ia32cap at start like OpenSSL: "~" clears bits of the
# CPUID words, the part after ":" those of leaf 7 (EBX, then ECX in the high half). This
# clears AVX512F (EBX bit 16), VAES and VPCLMULQDQ (ECX bits 9 and 10): aws-lc then runs
# AES-GCM as on a CPU without AVX-512, through its AES-NI GCM entries and C code.
AWSLC_NO_AVX512 = "~0x0:~0x0000060000010000"


def run_codex(mock, workdir, prompt=PROMPT, transport="http1", paths=None, timeout=RUN_TIMEOUT,
              extra_env=None, base=None, name=None):
    """Codex: one Responses call. http1: custom provider on the mock (Python's TLS
    offers only http/1.1); h2: custom provider on the nghttpx front (rustls picks h2);
    ws: the built-in OpenAI provider with openai_base_url, which opens a WebSocket
    (GET /v1/responses, Upgrade) and sends a `generate: false` prewarm, then the turn.
    extra_env: more variables for the CLI (AWSLC_NO_AVX512 as OPENSSL_ia32cap).
    base: the server's URL instead of the transport's (http1, h2); name: its home's name."""
    if transport not in CODEX_TRANSPORTS:
        raise ValueError(transport)
    home, cwd = _home(workdir, name or f"codex-{transport}")
    codex_home = os.path.join(home, ".codex")
    os.makedirs(codex_home, exist_ok=True)
    env = _base_env(home, mock)
    env.update(CODEX_HOME=codex_home, CODEX_CA_CERTIFICATE=mock.ca, RUST_LOG="warn")
    env.update(extra_env or {})
    common = ['model = "gpt-5.1-codex"', 'approval_policy = "never"',
              'sandbox_mode = "read-only"', "check_for_update_on_startup = false"]
    if transport == "ws":
        env["OPENAI_API_KEY"] = OPENAI_KEY
        lines = common + [f'openai_base_url = "{base or mock.https}/v1"']
    else:
        base = base or (mock.https if transport == "http1" else mock.h2)
        if not base:
            raise RuntimeError("run_codex(transport='h2') needs an H2Front on the mock")
        env["REIN_MOCK_OPENAI_KEY"] = OPENAI_KEY
        lines = common + ['model_provider = "reinmock"', "",
                          "[model_providers.reinmock]", 'name = "Rein mock"',
                          f'base_url = "{base}/v1"', 'wire_api = "responses"',
                          'env_key = "REIN_MOCK_OPENAI_KEY"', "request_max_retries = 0",
                          "stream_max_retries = 0",
                          'http_headers = { "x-rein-test" = "codex" }']
    lines += ["", "[analytics]", "enabled = false", "", "[otel]", 'exporter = "none"',
              "", "[history]", 'persistence = "none"']
    with open(os.path.join(codex_home, "config.toml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return run_process([_bins(paths)["codex"], "exec", "--skip-git-repo-check", prompt],
                       env, cwd, timeout)


def run_gemini(mock, workdir, prompt=PROMPT, paths=None, timeout=RUN_TIMEOUT):
    """Gemini CLI: a router generateContent (JSON with a response schema), then
    streamGenerateContent?alt=sse; the talking process is a child node."""
    home, cwd = _home(workdir, "gemini")
    os.makedirs(os.path.join(home, ".gemini"), exist_ok=True)
    settings = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True,
                            "enableAutoUpdate": False, "enableAutoUpdateNotification": False}}
    with open(os.path.join(home, ".gemini", "settings.json"), "w") as f:
        json.dump(settings, f)
    env = _base_env(home, mock)
    env.update(GOOGLE_GEMINI_BASE_URL=mock.https, GEMINI_API_KEY=GEMINI_KEY,
               GEMINI_CLI_TRUST_WORKSPACE="true")
    return run_process([_bins(paths)["gemini"], "-p", prompt], env, cwd, timeout)


def run_qwen(mock, workdir, prompt=PROMPT, paths=None, timeout=RUN_TIMEOUT):
    """Qwen Code: two POST /v1/chat/completions streams with include_usage; the
    talking process is a grandchild node."""
    home, cwd = _home(workdir, "qwen")
    os.makedirs(os.path.join(home, ".qwen"), exist_ok=True)
    settings = {"security": {"auth": {"selectedType": "openai"}},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
                "general": {"disableAutoUpdate": True, "disableUpdateNag": True}}
    with open(os.path.join(home, ".qwen", "settings.json"), "w") as f:
        json.dump(settings, f)
    env = _base_env(home, mock)
    env.update(OPENAI_BASE_URL=mock.https + "/v1", OPENAI_API_KEY=OPENAI_KEY,
               OPENAI_MODEL="qwen3-coder-plus")
    return run_process([_bins(paths)["qwen"], "-p", prompt], env, cwd, timeout)


# ------------------------------------------------------------------ Go client

class LatencyProxy:
    """A TCP forwarder on loopback that holds every chunk from the server for `delay_ms`:
    a network round trip for clients of a local mock (this kernel has no netem). Rein
    discovers an unselected client from its TLS server name at the ClientHello and hooks it
    before the handshake completes when the round trip is longer than the hook latency, as
    it is to any real API; on bare loopback the handshake wins and the first connection is
    reported as llm.unobserved instead."""

    def __init__(self, target_port, delay_ms=30, max_seconds=600):
        self.target = target_port
        self.delay = delay_ms / 1000.0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.deadline = time.time() + max_seconds
        self._stop = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _pump(self, src, dst, delay):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if delay:
                    time.sleep(delay)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _run(self):
        while not self._stop and time.time() < self.deadline:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                c.close()
                continue
            for s in (c, u):
                s.settimeout(None)
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pump, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, self.delay), daemon=True).start()

    def stop(self):
        self._stop = True
        self.t.join(2)
        self.sock.close()


def go_client_available():
    return os.path.exists(os.path.join(GO_CLIENT_DIR, "main.go")) and shutil.which("go")


def build_go_client(workdir):
    """Build tests/e2e/go_client into workdir; None when it (or go) is not there."""
    if not go_client_available():
        return None
    out = os.path.join(workdir, "go_client")
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod",
               CGO_ENABLED="0", GOCACHE=os.path.join(workdir, "go-cache"),
               GOPATH=os.path.join(workdir, "gopath"), GO111MODULE="auto")
    target = "." if os.path.exists(os.path.join(GO_CLIENT_DIR, "go.mod")) else "main.go"
    r = subprocess.run(["go", "build", "-o", out, target], cwd=GO_CLIENT_DIR, env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        rh.fail(f"go build of {GO_CLIENT_DIR} failed: {r.stderr[-2000:]}")
    return out


def go_client(mock, workdir, url, connect=None, model="gpt-4o", n=1, stream=True, http1=False,
              key=None, timeout=RUN_TIMEOUT, binary=None):
    """Run the Go client (net/http + crypto/tls: h2 unless -http1). Returns
    (pid, rc, stdout, stderr), or None when the client source is not there."""
    exe = binary or build_go_client(workdir)
    if exe is None:
        return None
    cmd = [exe, "-url", url, "-cacert", mock.ca, "-model", model, "-n", str(n),
           f"-stream={'true' if stream else 'false'}"]
    if connect:
        cmd += ["-connect", connect]
    if key:
        cmd += ["-key", key]
    if http1:
        cmd.append("-http1")
    env = {"PATH": "/usr/bin:/bin", "HOME": workdir}
    return run_process(cmd, env, workdir, timeout)


# ------------------------------------------------------------------ ledger helpers

LLM_APIS = ("messages", "responses", "chat_completions", "generate_content")


def is_llm_call(entry):
    """A ledger line that is a model call (not a models list, a 404, or Codex's
    `generate: false` WebSocket prewarm)."""
    return entry.get("api") in LLM_APIS and not entry.get("prewarm")


def process_tree(events):
    """pid -> parent pid from every event's process block and process.fork records."""
    parent = {}
    for e in events:
        p = e.get("process") or {}
        if p.get("pid") is not None and p.get("ppid") is not None:
            parent.setdefault(p["pid"], p["ppid"])
        if e.get("type") == "process.fork" and e.get("parent_pid") is not None:
            parent[p.get("pid")] = e["parent_pid"]
    return parent


def is_descendant(pid, root, parent):
    seen = set()
    while pid is not None and pid not in seen:
        if pid == root:
            return True
        seen.add(pid)
        pid = parent.get(pid)
    return False
