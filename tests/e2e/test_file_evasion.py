#!/usr/bin/env python3
"""File rules against an agent that tries to get around them (issue 8 item 1): with
`deny DIR/prot/**`, mutations through a symlinked directory, "..", "//", /proc/self/root, a
bind mount in a private mount namespace, a chroot, io_uring, sendfile / copy_file_range /
fallocate / mmap into a protected file, setxattr, an open by file handle, and a write through
a hard link (out of DIR/prot, or to a file an exact-path rule names, also seen through a bind
mount) must each end with the writer killed and a policy.action event; the same operations
outside DIR/prot (benign twins) must not be killed, and io_uring of an agent under no file
rule is only reported."""
import os
import shutil
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(__file__))
import reinharness as rh  # noqa: E402

rh.require_bpf()
tag = uuid.uuid4().hex[:8]
D = os.path.realpath(rh.workdir("rein-evade-"))
py_agent = os.path.join(D, f"evpy_{tag}")
c_agent = os.path.join(D, f"evc_{tag}")
other = os.path.join(D, f"otc_{tag}")
shutil.copy("/usr/bin/python3", py_agent)
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "file_evasion_helper.c")
cc = subprocess.run(["cc", "-O1", "-static", "-o", c_agent, src], capture_output=True, text=True)
rh.check(cc.returncode == 0, f"building the helper: {cc.stderr}")
shutil.copy(c_agent, other)

os.mkdir(f"{D}/work")
for x in ("prot", "free"):
    os.mkdir(f"{D}/{x}")
    os.mkdir(f"{D}/view_{x}")
    os.symlink(f"{D}/{x}", f"{D}/work/link_{x}")
    os.symlink(f"../{x}/f_final", f"{D}/work/key_{x}")
    for name in ("f_chmod", "f_final", "f_trunc", "f_unlink", "f_dotdot", "f_slash", "f_xattr", "f_xattr_link",
                 "f_bind", "f_handle"):
        open(f"{D}/{x}/{name}", "w").close()
    for name in ("src_rename", "src_link", "src_proc"):
        open(f"{D}/work/{name}_{x}", "w").close()
    with open(f"{D}/{x}/target", "wb") as f:
        f.write(b"t" * 8192)

open(f"{D}/work/src_long", "w").close()
# Other names of protected files, as a killed linker leaves them (`ln` is judged when it
# returns, so the link stays): a hard link out of a DIR/** rule's directory, and of a file an
# exact-path rule names; the "free" twins link to files no rule names.
os.mkdir(f"{D}/exact")
os.mkdir(f"{D}/view_exact")
for x, exact_name in (("prot", "key"), ("free", "other")):
    open(f"{D}/{x}/f_hardlinked", "w").close()
    os.link(f"{D}/{x}/f_hardlinked", f"{D}/work/hard_{x}")
    open(f"{D}/exact/{exact_name}", "w").close()
    os.link(f"{D}/exact/{exact_name}", f"{D}/work/exact_hard_{x}")
policy_path = os.path.join(D, "policy.yaml")
with open(policy_path, "w") as f:
    f.write(f"""apiVersion: rein/v1
agents:
  - name: evasion
    exe: [evpy_{tag}, evc_{tag}]
  - name: other
    exe: [otc_{tag}]
autodiscover: false
rules:
  - name: protect
    agents: [evasion]
    action: deny
    file:
      paths: ["{D}/prot/**"]
  - name: protect-exact
    agents: [evasion]
    action: deny
    file:
      paths: ["{D}/exact/key"]
""")

WAIT = "\nimport sys\nprint('done', flush=True)\nsys.stdin.read()\nprint('survived')\n"


def py(code):
    return [py_agent, "-c", "import os, mmap\n" + code + WAIT]


def with_fd3(code, x):
    """The agent gets the protected file as fd 3 from an untracked shell (inherited, as an
    agent would from a parent it does not control), then moves data into it."""
    return ["sh", "-c", f'exec "$0" -c "$1" 3<>{D}/{x}/target', py_agent,
            "import os, mmap\n" + code + WAIT]


def in_mount_ns(argv, x):
    """A private mount namespace (unshare -m) where DIR/view_X is a bind mount of DIR/X; it
    goes away with the process."""
    return ["unshare", "-m", "sh", "-c",
            f'mount --bind {D}/{x} {D}/view_{x} && exec "$@"', "sh", *argv]


def by_handle(path):
    """Empties path through a file handle (name_to_handle_at, open_by_handle_at with O_TRUNC:
    root), not by its name, and writes nothing: no later write could give it away."""
    return ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "class FH(ctypes.Structure):\n"
            "    _fields_ = [('n', ctypes.c_uint), ('t', ctypes.c_int), ('h', ctypes.c_ubyte * 128)]\n"
            "fh, mid = FH(128, 0), ctypes.c_int()\n"
            f"assert libc.name_to_handle_at(-100, {path.encode()!r}, ctypes.byref(fh), ctypes.byref(mid), 0) == 0\n"
            f"m = os.open({os.path.dirname(path)!r}, os.O_RDONLY)\n"
            "fd = libc.open_by_handle_at(m, ctypes.byref(fh), os.O_WRONLY | os.O_TRUNC)\n"
            "assert fd >= 0, ctypes.get_errno()\n")


def cases(x):
    src_fd = f"s = os.open('{D}/work/src_data_{x}', os.O_RDONLY)\n"
    return {
        "rename_symlink": py(f"os.rename('work/src_rename_{x}', 'work/link_{x}/authorized_keys')"),
        "chmod_symlink": py(f"os.chmod('work/link_{x}/f_chmod', 0o600)"),
        "chmod_final_symlink": py(f"os.chmod('work/key_{x}', 0o600)"),  # key_X -> X/f_final
        "mknod_symlink": py(f"os.mkfifo('work/link_{x}/fifo')"),
        "truncate_symlink": py(f"os.truncate('work/link_{x}/f_trunc', 0)"),
        "unlink_symlink": py(f"os.unlink('work/link_{x}/f_unlink')"),
        "link_symlink": py(f"os.link('work/src_link_{x}', 'work/link_{x}/hard')"),
        "mkdir_symlink": py(f"os.mkdir('work/link_{x}/newdir')"),
        "proc_self_root": py(f"os.rename('{D}/work/src_proc_{x}', '/proc/self/root{D}/{x}/viaproc')"),
        "double_slash": py(f"os.chmod('/{D}//{x}//f_slash', 0o600)"),
        "dotdot": py(f"os.chmod('work/../{x}/f_dotdot', 0o600)"),
        "setxattr": py(f"os.setxattr('{D}/{x}/f_xattr', 'user.rein', b'1')"),
        "setxattr_symlink": py(f"os.setxattr('work/link_{x}/f_xattr_link', 'user.rein', b'1')"),
        "bind_open": in_mount_ns(py(f"open('{D}/view_{x}/bound_new', 'w').write('x')"), x),
        "bind_chmod": in_mount_ns(py(f"os.chmod('{D}/view_{x}/f_bind', 0o600)"), x),
        "chroot": [c_agent, "chroot", f"{D}/{x}", "chrooted_new"],
        "hardlink_write": py(f"open('work/hard_{x}', 'a').write('x')"),
        "open_by_handle": py(by_handle(f"{D}/{x}/f_handle")),
        "exact_hardlink": py(f"open('work/exact_hard_{x}', 'a').write('x')"),
        "exact_chmod_link": py(f"os.chmod('work/exact_hard_{x}', 0o600)"),  # by name: user space
        "exact_bind": in_mount_ns(py(f"open('{D}/view_exact/{'key' if x == 'prot' else 'other'}', 'a').write('x')"),
                                  "exact"),
        "openat2_unfaulted": [c_agent, "openat2", f"{D}/{x}/openat2_new", f"{D}/work/how_{x}.bin"],
        "sendfile": with_fd3(src_fd + "os.sendfile(3, s, 0, 1)", x),
        "copy_file_range": with_fd3(src_fd + "os.copy_file_range(s, 3, 1)", x),
        "fallocate": with_fd3("os.posix_fallocate(3, 0, 16384)", x),
        "inherited_write": with_fd3("os.write(3, b'w')", x),
        "mmap": with_fd3("m = mmap.mmap(3, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)", x),
    }


with rh.Sensor(["--no-default-agents", "--policy", policy_path]) as s:
    for x in ("prot", "free"):  # the source files of sendfile/copy_file_range need content
        with open(f"{D}/work/src_data_{x}", "w") as f:
            f.write("data")
    procs = {}
    for x in ("prot", "free"):
        for name, argv in cases(x).items():
            procs[(name, x)] = subprocess.Popen(argv, cwd=D, stdin=subprocess.PIPE,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                text=True)
    procs[("uring", "prot")] = subprocess.Popen([c_agent, "uring", f"{D}/prot/uring_new"], cwd=D,
                                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True)
    # a name padded past the sensor's path bound (4095 bytes with the directory's walk): no
    # name-based rule can judge it, so the agent's file rule applies (fails closed)
    long_name = "./" * 2030 + "long_new"
    procs[("long_name", "prot")] = subprocess.Popen(py(
        f"d = os.open('{D}/prot', os.O_PATH)\nos.rename('{D}/work/src_long', {long_name!r}, dst_dir_fd=d)"),
        cwd=D, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs[("uring_other", "free")] = subprocess.Popen([other, "uring", f"{D}/free/uring_other"],
                                                      cwd=D, stdin=subprocess.PIPE,
                                                      stdout=subprocess.PIPE,
                                                      stderr=subprocess.PIPE, text=True)
    # every writer has made its change (or died in it) ...
    first = {k: p.stdout.readline().strip() for k, p in procs.items()}
    # ... and the sensor has handled all of it: user-space decisions are made
    s.fence()
    results = {}
    for k, p in procs.items():
        try:
            out, err = p.communicate(input="", timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results[k] = (p.returncode, first[k] + "\n" + out, err.strip(), p.pid)
    events = s.stop()

acts = [e for e in events if e.get("type") == "policy.action"]
muts = [e for e in events if e.get("type") == "file.mutation"]
mechs = [e for e in events if e.get("type") == "file.mechanism"]
failures = []
for (name, x), (rc, out, err, pid) in sorted(results.items()):
    mine = [a for a in acts if a["process"]["pid"] == pid]
    if x == "prot":
        killed = rc == -9 and "survived" not in out
        rule = "protect-exact" if name.startswith("exact_") else "protect"
        acted = [a for a in mine if a["rule"] == rule and a["outcome"] == "killed"]
        if not killed or not acted:
            failures.append(f"{name}: rc={rc} out={out!r} err={err[:200]!r} actions={[(a['rule'], a['outcome'], a['detail']) for a in mine]}")
    else:
        if rc != 0 or "survived" not in out or mine:
            failures.append(f"benign {name}: rc={rc} out={out!r} err={err[:200]!r} actions={[(a['rule'], a['outcome']) for a in mine]}")

# what the events say about the resolved cases
pid_of = {k: v[3] for k, v in results.items()}
ren = [m for m in muts if m["process"]["pid"] == pid_of[("rename_symlink", "prot")] and m["op"] == "rename"]
if not ren or ren[0].get("new_path") != f"{D}/prot/authorized_keys" or "new_path_as_written" not in ren[0]:
    failures.append(f"rename event: {ren}")
bind = [m for m in muts if m["process"]["pid"] == pid_of[("bind_chmod", "prot")]]
if not bind:
    failures.append("no event for the chmod through the bind mount")
# the kernel matched an inode (the rule's directory, or the exact rule's file), not the path
for name in ("bind_open", "chroot", "hardlink_write", "exact_hardlink", "exact_bind"):
    d = [a["detail"] for a in acts if a["process"]["pid"] == pid_of[(name, "prot")]]
    if not any("matched by inode" in x for x in d):
        failures.append(f"{name}: no inode match in {d}")
# emptied through a handle: judged as an open when it returns, by the file it opened
oh = [a for a in acts if a["process"]["pid"] == pid_of[("open_by_handle", "prot")]]
if not oh or oh[0].get("matched") != f"{D}/prot/f_handle":
    failures.append(f"open_by_handle: policy.action {oh}")
if os.path.exists(f"{D}/prot/uring_new"):
    failures.append("io_uring created the protected file")
um = [m for m in mechs if m["process"]["pid"] == pid_of[("uring", "prot")]]
if not um or um[0]["enforcement"] != "killed" or "file rule" not in um[0]["reason"]:
    failures.append(f"io_uring under a file rule: {um}")
uo = [m for m in mechs if m["process"]["pid"] == pid_of[("uring_other", "free")]]
if not uo or uo[0]["enforcement"] is not None or not os.path.exists(f"{D}/free/uring_other"):
    failures.append(f"io_uring without a file rule: {uo}")
for name in ("sendfile", "copy_file_range", "fallocate", "mmap"):
    w = [m for m in muts if m["process"]["pid"] == pid_of[(name, "prot")] and m["op"] == "write"]
    if not w or w[0]["path"] != f"{D}/prot/target":
        failures.append(f"{name}: no write event for {D}/prot/target: {w}")
# a descriptor the agent did not open while tracked: taken in at its first write
iw = [a for a in acts if a["process"]["pid"] == pid_of[("inherited_write", "prot")]]
if not iw or iw[0].get("matched") != f"{D}/prot/target":
    failures.append(f"inherited_write: policy.action {iw}")
xa = [m for m in muts if m["process"]["pid"] == pid_of[("setxattr", "free")] and m["op"] == "xattr"]
if not xa:
    failures.append("benign setxattr not reported as op xattr")

if failures:
    rh.fail("\n  " + "\n  ".join(failures))
print(f"PASS: {len(results)} writers, {len(acts)} policy actions")
