#!/usr/bin/env python3
"""Checks deploy/ the way a platform team would find its mistakes, without a cluster or root.

- Prometheus: `promtool check rules`, `promtool test rules` (every alert fires, and stays
  quiet where it must), `promtool check config` on the example scrape config.
- Kubernetes (kustomize base): every file parses, the kustomization lists them all (and
  `kubectl kustomize` renders it when kubectl is installed), and the DaemonSet has what the
  sensor needs and nothing more: host PID, exactly the documented capabilities, not
  privileged, read-only root and host mounts (except the state and log directories),
  probes on /healthz, resources, tolerations for every node, a metrics Service.
- systemd: `systemd-analyze verify` when installed, and the hardening keys.
- logrotate: reopen by SIGHUP, no copytruncate.
- Every `rein run` flag used in deploy/ exists in `rein run --help` (REIN_BIN; skipped only
  when no binary was built), and the shipped policy passes `rein policy check`.
- Self-test: broken copies of the files must be reported, so this test can fail.

Exit status 0 when everything holds, 1 with one line per problem otherwise.
"""
import copy
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # tools/setup installs python3-yaml
    print("test_deploy: python3-yaml is missing (run tools/setup)", file=sys.stderr)
    sys.exit(1)

SRC = os.environ.get("REIN_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))

# The capabilities docs/deploy.md justifies, one by one. Adding one is a decision: change
# the docs, the DaemonSet, the systemd unit and this list together.
CAPS = {"BPF", "PERFMON", "NET_ADMIN", "SYS_PTRACE", "DAC_READ_SEARCH", "KILL"}
# Host paths the sensor may write; every other host path must be mounted read-only.
WRITABLE_HOST_PATHS = {"/var/lib/rein", "/var/log/rein"}
READ_ONLY_HOST_PATHS = {"/sys/kernel/btf", "/sys/fs/cgroup"}
METRICS_PORT = 9464
DECODE_MIB_DEFAULT = 256  # `rein run --decode-mib` default: the memory limit must cover it
SYSTEMD_RW = {"/var/lib/rein", "/var/log/rein", "/run/rein"}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, **kw)


def mib(quantity):
    """Kubernetes memory quantity to MiB (the suffixes the manifests use)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?", str(quantity))
    if not m:
        return None
    scale = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024,
             "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}[m.group(2)]
    return float(m.group(1)) * scale


def millicores(quantity):
    q = str(quantity)
    return float(q[:-1]) if q.endswith("m") else float(q) * 1000


class Checker:
    def __init__(self, deploy, rein_bin, quiet=False):
        self.deploy = deploy
        self.rein_bin = rein_bin
        self.quiet = quiet
        self.problems = []
        self.flags_used = []  # (where, flag)

    def fail(self, msg):
        self.problems.append(msg)

    def need(self, cond, msg):
        if not cond:
            self.fail(msg)
        return cond

    def note(self, msg):
        if not self.quiet:
            print(f"test_deploy: {msg}")

    # ---- Prometheus ----
    def prometheus(self):
        d = os.path.join(self.deploy, "prometheus")
        promtool = shutil.which("promtool")
        if not self.need(promtool, "promtool not installed (tools/setup installs prometheus)"):
            return
        rules = os.path.join(d, "rein-alerts.yaml")
        r = run([promtool, "check", "rules", rules])
        self.need(r.returncode == 0, f"promtool check rules: {r.stdout}{r.stderr}")
        r = run([promtool, "test", "rules", "rein-alerts.test.yaml"], cwd=d)
        self.need(r.returncode == 0, f"promtool test rules: {r.stdout}{r.stderr}")
        self.alert_tests_cover_every_alert(d)
        self.prometheus_config(promtool, os.path.join(d, "prometheus-example.yml"))

    def alert_tests_cover_every_alert(self, d):
        with open(os.path.join(d, "rein-alerts.yaml")) as f:
            alerts = {r["alert"] for g in yaml.safe_load(f)["groups"] for r in g["rules"]
                      if "alert" in r}
        with open(os.path.join(d, "rein-alerts.test.yaml")) as f:
            tests = yaml.safe_load(f)["tests"]
        fired, quiet = set(), set()
        for t in tests:
            for a in t.get("alert_rule_test", []):
                (fired if a.get("exp_alerts") else quiet).add(a["alertname"])
        for a in sorted(alerts):
            self.need(a in fired, f"rein-alerts.test.yaml: no case makes {a} fire")
            self.need(a in quiet, f"rein-alerts.test.yaml: no case where {a} must not fire")
        for metric in ("rein_llm_cost_usd_total", "rein_drops_total", "rein_tls_unobserved_total",
                       "rein_policy_actions_total", 'up{job="rein"}'):
            with open(os.path.join(d, "rein-alerts.yaml")) as f:
                self.need(metric in f.read(), f"rein-alerts.yaml: no alert on {metric}")

    def prometheus_config(self, promtool, path):
        r = run([promtool, "check", "config", path])
        if r.returncode == 0:
            return
        out = r.stdout + r.stderr
        if "kubernetes_sd_configs not found" not in out:
            self.fail(f"promtool check config {path}: {out}")
            return
        # Debian builds Prometheus without Kubernetes discovery: check everything else by
        # putting a static target where the discovery block was.
        self.note("this promtool has no Kubernetes discovery: checking the example with a "
                  "static target in its place")
        with open(path) as f:
            conf = yaml.safe_load(f)
        sd_jobs = 0
        for job in conf.get("scrape_configs", []):
            if job.pop("kubernetes_sd_configs", None) is not None:
                sd_jobs += 1
                job["static_configs"] = [{"targets": [f"192.0.2.1:{METRICS_PORT}"]}]
        self.need(sd_jobs > 0, f"{path}: no kubernetes_sd_configs job for the DaemonSet pods")
        conf["rule_files"] = [os.path.join(os.path.dirname(path), p)
                              for p in conf.get("rule_files", [])]
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "prometheus.yml")
            with open(p, "w") as f:
                yaml.safe_dump(conf, f)
            r = run([promtool, "check", "config", p])
            self.need(r.returncode == 0, f"promtool check config {path}: {r.stdout}{r.stderr}")

    # ---- Kubernetes ----
    def kubernetes(self):
        base = os.path.join(self.deploy, "kubernetes", "base")
        docs = {}
        for root, _, files in os.walk(os.path.join(self.deploy, "kubernetes")):
            for name in files:
                if not name.endswith((".yaml", ".yml")):
                    continue
                p = os.path.join(root, name)
                try:
                    with open(p) as f:
                        docs[p] = [d for d in yaml.safe_load_all(f) if d is not None]
                except yaml.YAMLError as e:
                    self.fail(f"{p}: {e}")
        kust_path = os.path.join(base, "kustomization.yaml")
        if not self.need(kust_path in docs, f"{kust_path}: missing or unparsable"):
            return
        kust = docs[kust_path][0]
        listed = {os.path.join(base, r) for r in kust.get("resources", [])}
        for p in sorted(set(docs) - {kust_path}):
            if os.path.dirname(p) == base:
                self.need(p in listed, f"{p}: not listed in kustomization.yaml resources")
        for p in sorted(listed):
            self.need(p in docs, f"kustomization.yaml lists {p}, which is missing or unparsable")
        objs = {}
        for p in sorted(listed & set(docs)):
            for d in docs[p]:
                for key in ("apiVersion", "kind", "metadata"):
                    self.need(key in d, f"{p}: object without {key}")
                if "kind" in d and "metadata" in d:
                    objs[(d["kind"], d["metadata"].get("name"))] = d
        ns = kust.get("namespace")
        self.need(("Namespace", ns) in objs, f"kustomization namespace {ns} is not created")
        for (kind, name), d in objs.items():
            if kind != "Namespace":
                self.need(d["metadata"].get("namespace") in (None, ns),
                          f"{kind}/{name}: namespace is not {ns}")
        kubectl = shutil.which("kubectl")
        if kubectl:
            r = run([kubectl, "kustomize", base])
            self.need(r.returncode == 0, f"kubectl kustomize {base}: {r.stderr.strip()}")
        ds = [d for (k, _), d in objs.items() if k == "DaemonSet"]
        if self.need(len(ds) == 1, "kustomize base: expected exactly one DaemonSet"):
            self.daemonset(ds[0], objs)

    def daemonset(self, ds, objs):
        where = "DaemonSet/" + ds["metadata"]["name"]
        spec = ds.get("spec", {})
        upd = spec.get("updateStrategy", {})
        self.need(upd.get("type") == "RollingUpdate" and
                  upd.get("rollingUpdate", {}).get("maxUnavailable") == "10%",
                  f"{where}: updateStrategy must be RollingUpdate, maxUnavailable 10%")
        tmpl = spec.get("template", {})
        pod = tmpl.get("spec", {})
        sel = spec.get("selector", {}).get("matchLabels", {})
        labels = tmpl.get("metadata", {}).get("labels", {})
        self.need(sel and all(labels.get(k) == v for k, v in sel.items()),
                  f"{where}: selector does not match the pod template labels")
        self.need(pod.get("hostPID") is True, f"{where}: hostPID must be true")
        self.need(not pod.get("hostNetwork"), f"{where}: hostNetwork is not needed")
        self.need(not pod.get("hostIPC"), f"{where}: hostIPC is not needed")
        self.need(pod.get("priorityClassName") == "system-node-critical",
                  f"{where}: priorityClassName must be system-node-critical")
        self.need({"operator": "Exists"} in pod.get("tolerations", []),
                  f"{where}: needs a toleration {{operator: Exists}} to run on every node")
        sa = pod.get("serviceAccountName")
        self.need(("ServiceAccount", sa) in objs, f"{where}: service account {sa} not defined")
        ann = tmpl.get("metadata", {}).get("annotations", {})
        self.need(ann.get("prometheus.io/scrape") == "true" and
                  ann.get("prometheus.io/port") == str(METRICS_PORT),
                  f"{where}: pod needs prometheus.io/scrape and prometheus.io/port annotations")
        conts = pod.get("containers", [])
        if not self.need(len(conts) == 1, f"{where}: expected one container"):
            return
        c = conts[0]
        for init in pod.get("initContainers", []):
            self.fail(f"{where}: init container {init.get('name')} is not reviewed by this test")
        self.security_context(where, c.get("securityContext", {}), pod)
        self.mounts(where, c, pod, objs)
        self.args(where, c)
        self.probes_and_ports(where, c)
        self.resources(where, c.get("resources", {}))
        svc = [d for (k, _), d in objs.items() if k == "Service"]
        if self.need(len(svc) == 1, "kustomize base: expected one Service for metrics"):
            s = svc[0]["spec"]
            self.need(s.get("type", "ClusterIP") == "ClusterIP", "Service: must be ClusterIP")
            self.need(any(p.get("name") == "metrics" and p.get("port") == METRICS_PORT
                          for p in s.get("ports", [])), f"Service: needs port {METRICS_PORT} named metrics")
            self.need(s.get("selector") and
                      all(labels.get(k) == v for k, v in s["selector"].items()),
                      "Service: selector does not match the DaemonSet pods")

    def security_context(self, where, sc, pod):
        self.need(sc.get("privileged") is False, f"{where}: privileged must be false (explicitly)")
        self.need(sc.get("allowPrivilegeEscalation") is False,
                  f"{where}: allowPrivilegeEscalation must be false")
        self.need(sc.get("readOnlyRootFilesystem") is True,
                  f"{where}: readOnlyRootFilesystem must be true")
        caps = sc.get("capabilities", {})
        self.need(caps.get("drop") == ["ALL"], f"{where}: capabilities must drop ALL")
        added = caps.get("add", [])
        self.need(len(added) == len(set(added)) and set(added) == CAPS,
                  f"{where}: capabilities.add must be exactly {sorted(CAPS)}, not {added}")
        self.need("securityContext" not in pod or
                  "capabilities" not in pod.get("securityContext", {}),
                  f"{where}: capabilities belong in the container securityContext")

    def mounts(self, where, c, pod, objs):
        vols = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = c.get("volumeMounts", [])
        by_host = {}
        for m in mounts:
            v = vols.get(m.get("name"))
            if not self.need(v is not None, f"{where}: mount {m.get('name')} has no volume"):
                continue
            if "hostPath" in v:
                hp = v["hostPath"]["path"].rstrip("/") or "/"
                by_host[hp] = m
                if hp in WRITABLE_HOST_PATHS:
                    self.need(not m.get("readOnly"), f"{where}: {hp} must be writable")
                else:
                    self.need(m.get("readOnly") is True,
                              f"{where}: host path {hp} must be mounted readOnly")
                self.need(hp not in ("/", "/proc", "/sys", "/dev", "/var/run", "/run"),
                          f"{where}: host path {hp} is far wider than the sensor needs")
            if "configMap" in v:
                self.need(m.get("readOnly") is True, f"{where}: {m['mountPath']} must be readOnly")
                self.need(("ConfigMap", v["configMap"]["name"]) in objs,
                          f"{where}: ConfigMap {v['configMap']['name']} is not defined")
        for hp in sorted(READ_ONLY_HOST_PATHS | WRITABLE_HOST_PATHS):
            self.need(hp in by_host, f"{where}: host path {hp} is not mounted")
        for hp in sorted(READ_ONLY_HOST_PATHS):
            if hp in by_host:
                self.need(by_host[hp]["mountPath"] == hp,
                          f"{where}: {hp} must be mounted at the same path (the sensor reads it there)")
        self.mount_paths = {m["mountPath"].rstrip("/"): (vols.get(m["name"]), m) for m in mounts}

    def mounted(self, path):
        """The (volume, mount) holding path, deepest mount first."""
        best = None
        for mp, vm in getattr(self, "mount_paths", {}).items():
            if (path == mp or path.startswith(mp + "/")) and (best is None or len(mp) > len(best[0])):
                best = (mp, vm)
        return best[1] if best else (None, None)

    def args(self, where, c):
        args = c.get("args", [])
        self.need(args[:1] == ["run"], f"{where}: args must start with `run`")
        opts = {}
        for i, a in enumerate(args):
            if a.startswith("--"):
                name, eq, val = a.partition("=")
                self.flags_used.append((where, name))
                opts[name] = val if eq else (args[i + 1] if i + 1 < len(args) else "")
        want = {"--output": "/var/log/rein/events.jsonl", "--state-dir": "/var/lib/rein",
                "--policy": "/etc/rein/policy.yaml", "--metrics-addr": f"0.0.0.0:{METRICS_PORT}"}
        for k, v in want.items():
            self.need(opts.get(k) == v, f"{where}: needs `{k} {v}`, has {opts.get(k)!r}")
        for k in ("--output", "--state-dir"):
            v, m = self.mounted(opts.get(k, ""))
            self.need(v is not None and not m.get("readOnly"),
                      f"{where}: {k} {opts.get(k)} is not on a writable volume")
        v, m = self.mounted(opts.get("--policy", ""))
        self.need(v is not None and "configMap" in v, f"{where}: --policy is not on the policy ConfigMap")
        self.need(self.mounted("/run/rein")[0] is not None,
                  f"{where}: the control socket directory /run/rein needs a writable volume "
                  "(the root filesystem is read-only)")

    def probes_and_ports(self, where, c):
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        self.need(ports.get("metrics") == METRICS_PORT, f"{where}: container port {METRICS_PORT} named metrics")
        for probe in ("livenessProbe", "readinessProbe"):
            g = c.get(probe, {}).get("httpGet", {})
            self.need(g.get("path") == "/healthz" and g.get("port") in ("metrics", METRICS_PORT),
                      f"{where}: {probe} must be httpGet /healthz on the metrics port")

    def resources(self, where, res):
        req, lim = res.get("requests", {}), res.get("limits", {})
        for k in ("cpu", "memory"):
            if not (self.need(k in req, f"{where}: resources.requests.{k} missing") and
                    self.need(k in lim, f"{where}: resources.limits.{k} missing")):
                return
        mreq, mlim = mib(req["memory"]), mib(lim["memory"])
        # docs/operations.md: about 50 MiB RSS idle; the limit must hold the decode budget.
        self.need(mreq is not None and mreq >= 50, f"{where}: memory request below the measured ~50 MiB RSS")
        self.need(mlim is not None and mlim >= 256 + DECODE_MIB_DEFAULT,
                  f"{where}: memory limit below 256 MiB + the {DECODE_MIB_DEFAULT} MiB decode budget")
        self.need(millicores(req["cpu"]) <= millicores(lim["cpu"]), f"{where}: cpu request above limit")

    # ---- systemd, logrotate ----
    def systemd(self):
        path = os.path.join(self.deploy, "systemd", "rein.service")
        keys = {}
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith(("#", ";", "[")) and "=" in line:
                    k, _, v = line.partition("=")
                    keys.setdefault(k.strip(), []).append(v.strip())
        one = lambda k: (keys.get(k) or [""])[-1]
        caps = set(one("CapabilityBoundingSet").split())
        self.need(caps == {"CAP_" + c for c in CAPS},
                  f"{path}: CapabilityBoundingSet must be exactly the DaemonSet's capabilities, not {sorted(caps)}")
        for k, v in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "read-only",
                     "LimitMEMLOCK": "infinity", "Restart": "on-failure"}.items():
            self.need(one(k) == v, f"{path}: {k}={v} expected, found {one(k)!r}")
        # Sandboxing that changes what the sensor's paths point at breaks policy file rules
        # (resolved in its own mount namespace) or hides processes.
        for k, bad in {"PrivateTmp": "yes", "ProtectProc": "invisible", "ProcSubset": "pid",
                       "PrivateNetwork": "yes", "PrivateUsers": "yes"}.items():
            self.need(one(k) != bad, f"{path}: {k}={bad} blinds the sensor (see the unit's comment)")
        self.need(set(one("ReadWritePaths").split()) == SYSTEMD_RW,
                  f"{path}: ReadWritePaths must be exactly {sorted(SYSTEMD_RW)}")
        self.need(set(one("RestrictAddressFamilies").split()) ==
                  {"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK"},
                  f"{path}: RestrictAddressFamilies must be AF_UNIX AF_INET AF_INET6 AF_NETLINK")
        for k in ("StateDirectory", "LogsDirectory", "RuntimeDirectory"):
            self.need(one(k) == "rein", f"{path}: {k}=rein expected")
        self.need(re.search(r"kill -HUP \$MAINPID", one("ExecReload")) is not None,
                  f"{path}: ExecReload must send SIGHUP to $MAINPID")
        exec_start = one("ExecStart").split()
        if self.need(exec_start[:2] == ["/usr/local/bin/rein", "run"],
                     f"{path}: ExecStart must be /usr/local/bin/rein run ..."):
            for a in exec_start[2:]:
                if a.startswith("--"):
                    self.flags_used.append((path, a.partition("=")[0]))
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.note("systemd-analyze not installed: checked the unit's keys only")
            return
        # verify wants the executable to exist: point it at the built binary (or true).
        exe = self.rein_bin if self.rein_bin and os.access(self.rein_bin, os.X_OK) else shutil.which("true")
        with tempfile.TemporaryDirectory() as tmp:
            unit = os.path.join(tmp, "rein.service")
            with open(path) as f:
                text = f.read().replace("/usr/local/bin/rein", exe)
            with open(unit, "w") as f:
                f.write(text)
            r = run([analyze, "verify", unit], env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"))
            out = "\n".join(l for l in (r.stdout + r.stderr).splitlines() if "rein.service" in l)
            self.need(r.returncode == 0 and not out,
                      f"systemd-analyze verify {path}: {out or r.stderr.strip()}")

    def logrotate(self):
        path = os.path.join(self.deploy, "logrotate", "rein")
        with open(path) as f:
            text = re.sub(r"#.*", "", f.read())
        self.need("/var/log/rein/events.jsonl" in text, f"{path}: does not rotate /var/log/rein/events.jsonl")
        self.need("copytruncate" not in text, f"{path}: copytruncate can lose lines; rein reopens on SIGHUP")
        post = re.search(r"postrotate(.*?)endscript", text, re.S)
        self.need(post is not None and "HUP" in post.group(1), f"{path}: postrotate must send SIGHUP")
        self.need(re.search(r"create\s+0600", text) is not None, f"{path}: rotated file must be created 0600")

    # ---- Dockerfile ----
    def dockerfile(self):
        path = os.path.join(self.deploy, "Dockerfile")
        with open(path) as f:
            text = f.read()
        froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
        self.need(len(froms) == 2 and froms[0] == "debian:12" and froms[1] == "debian:12-slim",
                  f"{path}: expected a debian:12 build stage and a debian:12-slim runtime stage, found {froms}")
        self.need("tools/setup" in text and "tools/build" in text,
                  f"{path}: the build stage must use tools/setup and tools/build")
        # The binary finds its price table at <bin>/../share/rein/prices.json.
        self.need(re.search(r"COPY .*/usr/local/bin/rein\s*$", text, re.M) and
                  re.search(r"COPY .*prices\.json /usr/local/share/rein/prices\.json", text),
                  f"{path}: rein must go to /usr/local/bin and prices.json to /usr/local/share/rein")
        cmd = re.search(r"^CMD\s+(\[.*?\])\s*$", text, re.M | re.S)
        if cmd:
            for a in re.findall(r'"(--[a-z-]+)"', cmd.group(1)):
                self.flags_used.append((path, a))

    def no_urls(self):
        for root, _, files in os.walk(self.deploy):
            for name in files:
                p = os.path.join(root, name)
                with open(p, errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        if re.search(r"\b(https?|ftp)://", line):
                            self.fail(f"{p}:{n}: names a host URL; deploy/ must not point at a "
                                      "package host or registry")

    # ---- the binary ----
    def binary(self):
        if not (self.rein_bin and os.access(self.rein_bin, os.X_OK)):
            self.note(f"no rein binary ({self.rein_bin or 'REIN_BIN unset'}): flag and policy checks skipped")
            return
        r = run([self.rein_bin, "run", "--help"])
        help_flags = set(re.findall(r"(--[a-z][a-z0-9-]*)", r.stdout))
        self.need(r.returncode == 0 and help_flags, f"rein run --help failed: {r.stderr}")
        for where, flag in self.flags_used:
            self.need(flag in help_flags, f"{where}: `rein run {flag}` is not an option of this rein")
        cm = os.path.join(self.deploy, "kubernetes", "base", "configmap-policy.yaml")
        with open(cm) as f:
            policy = yaml.safe_load(f)["data"]["policy.yaml"]
        with tempfile.TemporaryDirectory() as tmp:
            p = os.path.join(tmp, "policy.yaml")
            with open(p, "w") as f:
                f.write(policy)
            r = run([self.rein_bin, "policy", "check", p])
            self.need(r.returncode == 0, f"{cm}: rein policy check: {r.stdout}{r.stderr}")
        # The image installs the Debian packages that own the linked libraries: each must
        # resolve to one on a Debian build host, as in the Dockerfile's build stage.
        if shutil.which("dpkg") and shutil.which("ldd") and not self.quiet:
            libs = re.findall(r"=> (/\S+)", run(["ldd", self.rein_bin]).stdout)
            r = run(["dpkg", "-S"] + libs + ["/usr" + l for l in libs])  # one slow database read
            owned = set(re.findall(r"^\S+: (/\S+)$", r.stdout, re.M))
            for lib in libs:
                self.need(lib in owned or "/usr" + lib in owned,
                          f"Dockerfile: no Debian package owns {lib}")

    def all(self):
        self.prometheus()
        self.kubernetes()
        self.systemd()
        self.logrotate()
        self.dockerfile()
        self.no_urls()
        self.binary()
        return self.problems


def mutate_yaml(path, fn, all_docs=False):
    with open(path) as f:
        docs = list(yaml.safe_load_all(f))
    fn(docs if all_docs else docs[0])
    with open(path, "w") as f:
        yaml.safe_dump_all(docs, f)


def self_test(deploy, rein_bin):
    """Each breakage must be reported: the checks above can fail."""
    def ds(fn):
        return lambda d: mutate_yaml(os.path.join(d, "kubernetes", "base", "daemonset.yaml"), fn)

    def container(fn):
        return ds(lambda o: fn(o["spec"]["template"]["spec"]["containers"][0]))

    def sub(rel, old, new):
        def f(d):
            p = os.path.join(d, rel)
            with open(p) as fh:
                t = fh.read()
            assert old in t, (rel, old)
            with open(p, "w") as fh:
                fh.write(t.replace(old, new, 1))
        return f

    def unmount_ro(c):
        for m in c["volumeMounts"]:
            if m["mountPath"] == "/sys/fs/cgroup":
                del m["readOnly"]

    # name: (the check that must report it, how to break deploy/)
    breakages = {
        "extra capability": ("kubernetes", container(
            lambda c: c["securityContext"]["capabilities"]["add"].append("SYS_ADMIN"))),
        "privileged": ("kubernetes", container(lambda c: c["securityContext"].update(privileged=True))),
        "writable cgroup mount": ("kubernetes", container(unmount_ro)),
        "no hostPID": ("kubernetes", ds(lambda o: o["spec"]["template"]["spec"].pop("hostPID"))),
        "probe path": ("kubernetes", container(lambda c: c["livenessProbe"]["httpGet"].update(path="/"))),
        "no limits": ("kubernetes", container(lambda c: c["resources"].pop("limits"))),
        "no tolerations": ("kubernetes", ds(lambda o: o["spec"]["template"]["spec"].pop("tolerations"))),
        "unknown flag": ("binary", container(lambda c: c["args"].append("--no-such-flag"))),
        "broken yaml": ("kubernetes", sub("kubernetes/base/service.yaml", "ports:", "ports: [")),
        "alert never fires": ("prometheus", sub("prometheus/rein-alerts.yaml", "* 3600 > 5", "* 3600 > 50")),
        "bad rule expr": ("prometheus", sub("prometheus/rein-alerts.yaml", "expr: up{job=\"rein\"} == 0",
                                            "expr: up{job=\"rein\"} == = 0")),
        "systemd cap": ("systemd", sub("systemd/rein.service", "CAP_DAC_READ_SEARCH CAP_KILL", "CAP_DAC_READ_SEARCH")),
        "systemd key": ("systemd", sub("systemd/rein.service", "NoNewPrivileges=yes", "NoNewPrivileges=no")),
        "private tmp": ("systemd", sub("systemd/rein.service", "ProtectHome=read-only\n",
                                       "ProtectHome=read-only\nPrivateTmp=yes\n")),
        "copytruncate": ("logrotate", sub("logrotate/rein", "    compress\n", "    compress\n    copytruncate\n")),
        "registry url": ("no_urls", sub("Dockerfile", "FROM debian:12-slim", "FROM debian:12-slim\n# https://example.org/")),
    }
    missed = []
    for name, (section, breakit) in breakages.items():
        if section == "binary" and not (rein_bin and os.access(rein_bin, os.X_OK)):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            d = os.path.join(tmp, "deploy")
            shutil.copytree(deploy, d)
            breakit(d)
            c = Checker(d, rein_bin, quiet=True)
            if section == "binary":  # flags are collected by the manifest checks
                c.kubernetes()
            getattr(c, section)()
            if not c.problems:
                missed.append(name)
    return [f"self-test: a broken deploy/ ({m}) was not reported" for m in missed]


def main():
    deploy = os.path.join(SRC, "deploy")
    rein_bin = os.environ.get("REIN_BIN")
    if not rein_bin:
        guess = os.path.join(SRC, "build", "rein")
        rein_bin = guess if os.access(guess, os.X_OK) else None
    problems = Checker(deploy, rein_bin).all()
    if not problems:
        problems = self_test(deploy, rein_bin)
    for p in problems:
        print(f"FAIL: {p}")
    if problems:
        return 1
    print("test_deploy: deploy/ OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
