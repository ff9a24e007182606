#!/usr/bin/env python3
"""Pod identity in the metrics: a real Python LLM client placed in a fake kubepods container
cgroup (with a fake kubelet log tree naming its pod, as in test_k8s_identity.py) talks to the
mock LLM server; `rein run --metrics-addr` must then serve rein_k8s_llm_cost_usd_total,
rein_k8s_llm_calls_total and rein_k8s_llm_tokens_total with that pod's namespace, name and
container as labels, equal to the sums over its llm.call events, whose process.k8s names the
same pod. A client outside any pod adds nothing to those series."""
import os
import re
import socket
import subprocess
import sys
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402
import llmharness as lh  # noqa: E402
import k8sfake as kf  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:10]
log_root = rh.workdir("rein-k8sm-log-")

cg_mount = kf.cgroup2_mount()

pod_uid = str(uuid.uuid4())
ctr_id = uuid.uuid4().hex + uuid.uuid4().hex
top = f"/rein-e2e-k8sm-{tag}"   # our own subtree: nothing a real kubelet made is touched
leaf = (f"{top}/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
        f"{pod_uid.replace('-', '_')}.slice/cri-containerd-{ctr_id}.scope")
ns, pod, ctr = f"team-{tag[:4]}", "agent-7f9c", "agent"
kf.container_log(log_root, ns, pod, pod_uid, ctr, ctr_id)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        return r.read().decode()


def sample(text, name, labels):
    m = re.search("^" + re.escape(name + labels) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


made = []
mock = lh.MockServer()
p = None
try:
    kf.make_cgroups(cg_mount, [leaf], made)
    port = free_port()
    with rh.Sensor(["--no-default-agents", "--agent-script", "py_client.py",
                    "--k8s-log-root", log_root, "--metrics-addr", f"127.0.0.1:{port}"]) as s:
        client = [lh.PY, os.path.join(lh.MOCK, "clients", "py_client.py"), "--cacert", mock.ca,
                  "--base-url", mock.https, "--path", "/v1/chat/completions", "--model", "gpt-4o",
                  "--keep-alive", "y"]
        p = subprocess.Popen(client + ["--count", "2"], preexec_fn=kf.into_cgroup(cg_mount, leaf),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = p.communicate(timeout=60)
        rh.check(p.returncode == 0 and "error" not in err.lower(), f"pod client: {err}")
        outside_pid, _, err = mock.client(["--base-url", mock.https, "--path",
                                           "/v1/chat/completions", "--model", "gpt-4o",
                                           "--count", "1"])
        rh.check("error" not in err.lower(), f"outside client: {err}")

        def by(pid):
            return [e for e in rh.of_type(s.events(), "llm.call")
                    if (e.get("agent") or {}).get("root_pid") == pid]

        s.wait_for(lambda e: e.get("type") == "llm.call"
                   and (e.get("agent") or {}).get("root_pid") == outside_pid, "the outside call")
        s.fence()
        calls = by(p.pid)
        rh.check(len(calls) == 2, f"2 llm.call events from the pod client expected, got {len(calls)}")
        for e in calls:
            k8s = e["process"].get("k8s") or {}
            rh.check(k8s.get("namespace") == ns and k8s.get("pod") == pod
                     and k8s.get("container") == ctr, f"llm.call process.k8s {k8s}")
        cost = sum(e.get("cost_usd") or 0.0 for e in calls)
        tokens_in = sum((e.get("usage") or {}).get("input_tokens") or 0 for e in calls)
        rh.check(cost > 0 and tokens_in > 0, f"priced calls with usage expected: {calls}")

        lbl = f'{{k8s_namespace_name="{ns}",k8s_pod_name="{pod}",k8s_container_name="{ctr}"}}'
        text = scrape(port)
        got_cost = sample(text, "rein_k8s_llm_cost_usd_total", lbl)
        rh.check(got_cost is not None and abs(got_cost - cost) < 1e-9,
                 f"rein_k8s_llm_cost_usd_total{lbl} = {got_cost}, events say {cost}")
        rh.check(sample(text, "rein_k8s_llm_calls_total", lbl) == 2,
                 f"rein_k8s_llm_calls_total{lbl} should be 2:\n{text}")
        tok_lbl = '{gen_ai_token_type="input",' + lbl[1:]
        rh.check(sample(text, "rein_k8s_llm_tokens_total", tok_lbl) == tokens_in,
                 f"rein_k8s_llm_tokens_total{tok_lbl} should be {tokens_in}")
        # the outside call is in rein_llm_calls_total but in no pod series
        pod_calls = sum(float(v) for v in re.findall(r"^rein_k8s_llm_calls_total\{[^}]*\} (\S+)$",
                                                     text, re.M))
        rh.check(pod_calls == 2, f"only the pod's calls count in rein_k8s_llm_calls_total: {pod_calls}")
        all_calls = sum(float(v) for v in re.findall(r"^rein_llm_calls_total\{[^}]*\} (\S+)$",
                                                     text, re.M))
        rh.check(all_calls >= 3, f"rein_llm_calls_total should count all 3 calls: {all_calls}")
        s.stop()
finally:
    if p is not None and p.poll() is None:  # a client still in the cgroup would keep it
        p.kill()
        p.wait()
    mock.stop()
    kf.remove_cgroups(made)
print("ok")
