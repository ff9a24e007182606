"""The LLM workload (test_llm checks its llm.call events against the mock's ledger;
test_replay_llm replays a capture of it): real clients (Python over the system
OpenSSL, node, curl, gnutls-cli, plain HTTP Ollama) calling the mock server, including one
started before the sensor. Importing it starts nothing; LlmWorkload() starts the mock."""
import json
import os
import shutil
import subprocess
import time
import uuid

import llmharness as lh
import reinharness as rh


class LlmWorkload:
    def __init__(self):
        self.tag = uuid.uuid4().hex[:8]
        self.secret = f"sk-proj-rein{self.tag}SECRETVALUE0123456789"
        self.mock = lh.MockServer()  # TLS answers after a 100 ms round trip (llmharness)
        self.ollama_name = f"ollama_agent_{self.tag}"
        self.ollama_exe = os.path.join(self.mock.dir, self.ollama_name)
        shutil.copy(lh.PY, self.ollama_exe)
        self.selectors = ["--no-default-agents", "--agent-exe", self.ollama_name,
                          "--agent-script", "py_client.py",
                          # gnutls_request.sh is bash; the process that does the TLS is gnutls-cli
                          "--agent-exe", "curl", "--agent-exe", "gnutls-cli", "--agent-exe", "node"]
        self.early = None

    def start_early(self):
        """Before the sensor: a client with ssl already loaded whose first request comes after
        the sensor is up; the sensor must adopt it (--agent-script matches running processes)."""
        mock, key, https = self.mock, ["--api-key", self.secret], ["--base-url", self.mock.https]
        self.early = mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                                "--count", "2", "--wait-before", "6"], wait=False)
        deadline = time.time() + 30   # it has loaded libssl: the sensor must find it mapped
        while time.time() < deadline and "libssl" not in open(f"/proc/{self.early.pid}/maps").read():
            time.sleep(0.02)
        rh.check("libssl" in open(f"/proc/{self.early.pid}/maps").read(),
                 "the early client never loaded libssl: adoption would be tested on nothing")

    def run(self, s):
        """Every client to its end under the sensor s (the early one too), then fences it."""
        mock, key, https = self.mock, ["--api-key", self.secret], ["--base-url", self.mock.https]
        SECRET = self.secret
        runs = []
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                               "--count", "3", "--stream", "y", "--include-usage", "y",
                                               "--gzip", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/messages", "--model", "claude-haiku-4-5",
                                               "--count", "50", "--keep-alive", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o-mini",
                                               "--size", str(1 << 20)]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions", "--model", "gpt-4o",
                                               "--stream", "y", "--include-usage", "y", "--cut", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions",
                                               "--model", "mock-error-429"]))
        runs.append(mock.client(https + key + ["--path", "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
                                               "--model", "gemini-2.5-flash", "--stream", "y"]))
        runs.append(mock.client(https + key + ["--path", "/v1/chat/completions",
                                               "--model", f"unknown-model-{self.tag}"]))
        runs.append(mock.client(https + key + ["--path", "/v1/responses", "--model", "gpt-4.1",
                                               "--stream", "y", "--count", "2"]))
        # node's https module, OpenSSL linked into node
        node = subprocess.run(["node", os.path.join(lh.MOCK, "clients", "node_client.js")] + https +
                              ["--cacert", mock.ca, "--path", "/v1/messages", "--model", "claude-haiku-4-5",
                               "--stream", "y", "--count", "5", "--keep-alive", "y"] + key,
                              capture_output=True, text=True, timeout=120)
        rh.check(node.returncode == 0, f"node client: {node.stderr}")
        # curl: a streamed chat and a gzip'd Gemini SSE stream on one connection
        curl = subprocess.run(
            ["curl", "-sS", "--cacert", mock.ca, f"{mock.https}/v1/chat/completions",
             "-H", "content-type: application/json", "-H", f"authorization: Bearer {SECRET}",
             "-d", '{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},'
                   '"messages":[{"role":"user","content":"hi"}]}', "-N", "-o", "/dev/null",
             "--next", "--cacert", mock.ca, "--compressed", "-H", "x-mock-gzip: 1",
             "-H", f"x-goog-api-key: {SECRET}",
             f"{mock.https}/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
             "-d", '{"contents":[]}', "-o", "/dev/null"],
            capture_output=True, text=True, timeout=60)
        rh.check(curl.returncode == 0, f"curl: {curl.stderr}")
        # GnuTLS
        g = subprocess.run([os.path.join(lh.MOCK, "clients", "gnutls_request.sh")] + https +
                           ["--cacert", mock.ca, "--path", "/v1/chat/completions"],
                           capture_output=True, text=True, timeout=60)
        rh.check(g.returncode == 0, f"gnutls client: {g.stderr} {g.stdout}")
        # plain HTTP, Ollama native NDJSON stream, from a selected process
        runs.append(mock.client(["--base-url", mock.http, "--path", "/api/chat", "--model", "llama3.2",
                                 "--stream", "y"], exe=self.ollama_exe))
        out, err = self.early.communicate(timeout=60)
        runs.append((self.early.pid, out, err))
        for pid, out, err in runs:
            rh.check(json.loads(out.strip().splitlines()[-1])["requests"] > 0, f"client {pid}: {err}")
        s.fence()

    def close(self):
        self.mock.stop()
