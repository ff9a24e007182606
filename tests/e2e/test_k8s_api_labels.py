#!/usr/bin/env python3
"""--k8s-api: pod labels from an API server, here a fake one on 127.0.0.1 with its own CA,
reached with a bearer token from a service-account directory. Names still come from the
node's log tree; labels are fetched in the background, so a later process of the pod carries
them. A pod whose API object has another UID (replaced by one of the same name) gets none."""
import http.server
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import k8sfake as kf  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:10]
base = rh.workdir("rein-k8sapi-")
log_root = rh.workdir("rein-k8sapi-log-")
sa = rh.workdir("rein-k8sapi-sa-")

cg_mount = kf.cgroup2_mount()

# The API server's certificate, which is also the CA the sensor trusts.
subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                "-keyout", f"{sa}/server.key", "-out", f"{sa}/ca.crt",
                "-subj", "/CN=rein-e2e-apiserver", "-addext", "subjectAltName=IP:127.0.0.1"],
               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
token = f"e2e-token-{tag}"
with open(f"{sa}/token", "w") as f:
    f.write(token + "\n")

uid_a, id_a = str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex
uid_b, id_b = str(uuid.uuid4()), uuid.uuid4().hex + uuid.uuid4().hex
pods = {  # API path -> the object the fake server returns
    "/api/v1/namespaces/team-a/pods/agent-7f9c": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "agent-7f9c", "namespace": "team-a", "uid": uid_a,
                     "labels": {"app": "coder", "team.example.com/owner": "ml"}}},
    "/api/v1/namespaces/team-b/pods/worker-0": {
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "worker-0", "namespace": "team-b", "uid": str(uuid.uuid4()),
                     "labels": {"app": "impostor"}}},
}
served = []


class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.headers.get("Authorization") != f"Bearer {token}":
            self.send_response(401)
            self.end_headers()
            return
        obj = pods.get(self.path)
        served.append(self.path)
        body = json.dumps(obj if obj else {"kind": "Status", "code": 404}).encode()
        self.send_response(200 if obj else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{sa}/ca.crt", f"{sa}/server.key")
server.socket = ctx.wrap_socket(server.socket, server_side=True)
threading.Thread(target=server.serve_forever, daemon=True).start()

top = f"/rein-e2e-k8sapi-{tag}"
leaves = {
    "a": (f"{top}/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
          f"{uid_a.replace('-', '_')}.slice/cri-containerd-{id_a}.scope"),
    "b": f"{top}/kubepods/besteffort/pod{uid_b}/{id_b}",
}
kf.container_log(log_root, "team-a", "agent-7f9c", uid_a, "agent")
kf.container_log(log_root, "team-b", "worker-0", uid_b, "main")

made, procs = [], []
events = None
os.environ["KUBERNETES_SERVICE_HOST"] = "127.0.0.1"
os.environ["KUBERNETES_SERVICE_PORT"] = str(server.server_address[1])
try:
    kf.make_cgroups(cg_mount, leaves.values(), made)

    with rh.Sensor(["--agent-cgroup", top, "--k8s-log-root", log_root,
                    "--k8s-api", "--k8s-sa-dir", sa]) as s:
        rh.check("pod labels from the API server at 127.0.0.1" in s.stderr(), s.stderr())

        def run_in(key, n):
            path = f"{base}/{key}{n}.txt"
            p = subprocess.Popen(["/bin/sh", "-c", f"echo {n} > {path}"],
                                 preexec_fn=kf.into_cgroup(cg_mount, leaves[key]))
            procs.append(p)
            rh.check(p.wait(30) == 0, f"workload exited {p.returncode}")
            return s.wait_for(lambda e: e.get("type") == "file.mutation" and e.get("path") == path,
                              f"write of {path}")

        # The first event of a pod asks for its labels; a later process shows them once the
        # reply is in (one local round trip). Bounded: 20 s, and wait_for's own timeout.
        labelled = None
        deadline = time.time() + 20
        for n in range(100000):
            if time.time() > deadline:
                break
            e = run_in("a", n)
            run_in("b", n)
            if "labels" in e["process"]["k8s"]:
                labelled = e
                break
        rh.check(labelled, f"no labels on pod a's events; API requests served: {served}")
        # pod b asked too (its request may still be in flight when a's reply is in), and its
        # reply was read and refused (another UID) before its last process runs
        reject = f"team-b/worker-0 is not the pod of UID {uid_b}"
        deadline = time.time() + 20
        while reject not in s.stderr():
            rh.check(time.time() < deadline, f"no refusal of pod b's API object: {s.stderr()}; "
                     f"served {served}")
            time.sleep(0.05)
        rh.check("/api/v1/namespaces/team-b/pods/worker-0" in served, f"served {served}")
        last_b = run_in("b", "last")
        events = s.stop()
finally:
    server.shutdown()
    rh.kill_all(procs)
    kf.remove_cgroups(made)

k = labelled["process"]["k8s"]
rh.check(k == {"namespace": "team-a", "pod": "agent-7f9c", "pod_uid": uid_a, "container": "agent",
               "labels": {"app": "coder", "team.example.com/owner": "ml"}}, f"pod a: {k}")
for e in events:
    kb = e["process"].get("k8s")
    if e["process"].get("cgroup") == leaves["b"]:
        rh.check(kb == {"namespace": "team-b", "pod": "worker-0", "pod_uid": uid_b,
                        "container": "main"}, f"pod b (API object of another UID): {kb}")
rh.check(last_b["process"]["k8s"].get("labels") is None, f"{last_b}")
print(f"PASS: labels after {len([p for p in served if 'team-a' in p])} API request(s)")
