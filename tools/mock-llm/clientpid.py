"""Best-effort lookup of the process that owns the client end of a loopback TCP
connection, so the ledger can say which pid made each call (the sensor
attributes calls to pids; the test can compare the two)."""

import os


def _socket_inode(client_port, server_port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f, None)
                for line in f:
                    cols = line.split()
                    if len(cols) < 10 or cols[3] != "01":  # 01 = ESTABLISHED
                        continue
                    local_port = int(cols[1].rsplit(":", 1)[1], 16)
                    remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                    if local_port == client_port and remote_port == server_port:
                        return cols[9]
        except OSError:
            continue
    return None


def find_client_pid(client_port, server_port):
    """Return the lowest pid holding the client socket, or None."""
    inode = _socket_inode(client_port, server_port)
    if not inode or inode == "0":
        return None
    target = f"socket:[{inode}]"
    me = os.getpid()
    try:
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    except OSError:
        return None
    for pid in pids:
        if pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") == target:
                    return pid
            except OSError:
                continue
    return None
