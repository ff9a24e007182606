#!/usr/bin/python3
"""Workload for test_foundation: every file mutation the contract lists (absolute,
relative and dirfd paths), a shell child, TCP v4/v6 connects, a DNS lookup, a chosen exit.
The test copies this file under a unique name and runs it directly, so its exec is what the
--agent-exe selector matches. Argument: a JSON object with the parameters."""
import ctypes
import json
import os
import socket
import subprocess
import sys

p = json.loads(sys.argv[1])
W = p["dir"]
os.makedirs(W, exist_ok=True)

# absolute paths
with open(f"{W}/a.txt", "w") as f:          # create + write(5)
    f.write("hello")
with open(f"{W}/a.txt", "w") as f:          # truncate + write(3)
    f.write("abc")
os.truncate(f"{W}/a.txt", 1)                 # truncate (by path)
os.rename(f"{W}/a.txt", f"{W}/b.txt")        # rename in place
with open(f"{W}/c.txt", "w"):                # create, no write
    pass
os.rename(f"{W}/b.txt", f"{W}/c.txt")        # rename over an existing file
os.mkdir(f"{W}/sub")                         # mkdir
os.rename(f"{W}/c.txt", f"{W}/sub/c.txt")    # rename across directories
os.chmod(f"{W}/sub/c.txt", 0o600)            # chmod
os.chown(f"{W}/sub/c.txt", os.getuid(), os.getgid())  # chown
os.link(f"{W}/sub/c.txt", f"{W}/hard.txt")   # link
os.symlink("sub/c.txt", f"{W}/sym.txt")      # symlink (relative target, as given)
os.unlink(f"{W}/hard.txt")                   # unlink
try:
    os.unlink(f"{W}/does-not-exist")         # unlink that fails with ENOENT
except FileNotFoundError:
    pass

# relative paths
os.chdir(W)
with open("rel.txt", "w") as f:              # create + write(2), relative
    f.write("hi")
os.mkdir("rdir")
os.rmdir("rdir")
os.rename("rel.txt", "./sub/../rel2.txt")    # relative with dot segments

# dirfd paths
dfd = os.open(f"{W}/sub", os.O_RDONLY | os.O_DIRECTORY)
fd = os.open("d.txt", os.O_CREAT | os.O_WRONLY, 0o640, dir_fd=dfd)
os.write(fd, b"12345678")
# a write that fails (EFAULT: the buffer address is unmapped) moves no bytes and is no write
libc = ctypes.CDLL(None, use_errno=True)
assert libc.write(fd, ctypes.c_void_p(8), 4) == -1 and ctypes.get_errno() == 14
os.close(fd)
os.unlink("d.txt", dir_fd=dfd)
os.mkdir("dd", dir_fd=dfd)
os.rmdir("dd", dir_fd=dfd)
os.close(dfd)

# names of odd lengths on both of the kernel walk's copies: 13 bytes (8-byte pieces, the
# first a partial one), and 41 and 200 bytes (past the pieces' 32 and the dentry's inline
# 40: one helper call each)
long_dir = os.path.join(W, "L" * 200, "M" * 41)
os.makedirs(long_dir)
with open(os.path.join(long_dir, "n" * 13), "w") as f:
    f.write("x")
# the longest path the walk keeps (4,095 bytes: its first component lands within the
# copy's 8-byte reach of the buffer's front) and one byte more (cut, and flagged)
dfd, deep = os.open(W, os.O_RDONLY | os.O_DIRECTORY), W
while 4095 - len(deep) - 1 > 200:
    name = "d" * min(250, 4095 - len(deep) - 1 - 100)
    os.mkdir(name, dir_fd=dfd)
    nfd = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=dfd)
    os.close(dfd)
    dfd, deep = nfd, deep + "/" + name
for name in ("f" * (4095 - len(deep) - 1), "g" * (4096 - len(deep) - 1)):
    fd = os.open(name, os.O_CREAT | os.O_WRONLY, 0o600, dir_fd=dfd)
    os.write(fd, b"y")
    os.close(fd)
os.close(dfd)

# a shell child that writes a file and exits 3
subprocess.run(["/bin/sh", "-c", f"echo shell > {W}/sh.txt; exit 3"])

# a child that exits with a file it wrote still open: its writes are reported at its exit
left_open = os.path.join(W, "left-open.txt")
subprocess.run([sys.executable, "-c", "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY | "
                "os.O_CREAT, 0o600); os.write(fd, b'abc'); os.write(fd, b'defg'); os._exit(0)",
                left_open], check=True)

# network: TCP over IPv4 and IPv6 to local listeners, and to a closed port
for fam, host, port in ((socket.AF_INET, "127.0.0.1", p["port4"]),
                        (socket.AF_INET6, "::1", p["port6"]),
                        (socket.AF_INET, "127.0.0.1", p["closed"])):
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.connect((host, port))
    except OSError:
        pass
    s.close()

# unix sockets: a path-named one and an abstract one, each served by ourselves
for addr in (f"{W}/agent.sock", "\0rein-" + os.path.basename(W)):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(addr)
    srv.listen(1)
    cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cli.connect(addr)
    cli.close()
    srv.close()

# DNS the way glibc does it: a connected UDP socket to port 53
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((p["dns"], 53))
s.send(bytes.fromhex(p["query"]))
try:
    s.recv(512)
except OSError:
    pass
s.close()

sys.stdout.flush()
os._exit(p["exit"])
