#!/usr/bin/env python3
"""tools/check-layers: the real tree passes; fixture trees with a back-edge, a same-layer
include and an undeclared directory fail, naming file:line, the include and the rule."""
import os
import shutil
import subprocess
import sys
import tempfile

SRC = os.environ.get("REIN_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECKER = os.path.join(SRC, "tools", "check-layers")
FIXTURES = os.path.join(SRC, "tests", "fixtures", "layers")
failures = []


def run(*args):
    p = subprocess.run([sys.executable, CHECKER, *args], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


def expect(cond, what, out=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
        if out:
            print("  output was:\n    " + out.replace("\n", "\n    "))


def main():
    rc, out = run("--root", SRC)
    expect(rc == 0 and "all point down" in out, "the real tree has no back-edge", out)

    rc, out = run("--root", os.path.join(FIXTURES, "backedge"))
    expect(rc == 1, "a back-edge fails with status 1", out)
    expect('userspace/low/widget.h:4: #include "high/service.h": low (layer 1) must not '
           'include high (layer 2, a higher layer): layers only point down' in out,
           "the back-edge is named with file:line, the include and the rule", out)
    expect("allow low high" in out, "the message says how to allow it on purpose", out)
    expect('userspace/peer/peer.cpp:1: #include "low/widget.h": peer (layer 1) must not '
           'include low (layer 1, the same layer)' in out,
           "an include within one layer fails too", out)
    expect("high/service.h:" not in out and "#include <vector>" not in out,
           "downward and system includes are not reported", out)

    rc, out = run("--root", os.path.join(FIXTURES, "undeclared"))
    expect(rc == 1, "an undeclared directory fails with status 1", out)
    expect("userspace/fresh/: directory has no layer; add it to the layer table" in out,
           "a new directory without a layer says to add it to the layer table", out)
    expect('userspace/common/uses_fresh.h:2: #include "fresh/nothing.h": fresh/ has no layer'
           in out, "an include of an undeclared directory is named with file:line", out)

    # An allow line with its reason accepts exactly that edge; one without a reason is a
    # table error (status 2), so a back-edge cannot be waved through silently.
    tmp = tempfile.mkdtemp(prefix="rein-layers-")
    try:
        tree = os.path.join(tmp, "tree")
        shutil.copytree(os.path.join(FIXTURES, "backedge"), tree)
        table = os.path.join(tree, "cmake", "layers.txt")
        with open(table, "a") as f:
            f.write("allow low high  # fixture: kept on purpose\n")
        rc, out = run("--root", tree)
        expect(rc == 1 and "userspace/low/widget.h" not in out and "peer/peer.cpp:1" in out,
               "an allow line accepts only the edge it names", out)
        with open(table, "a") as f:
            f.write("allow peer low\n")
        rc, out = run("--root", tree)
        expect(rc == 2 and "expected 'allow <from> <to>  # why'" in out,
               "an allow line without a reason is rejected", out)
    finally:
        shutil.rmtree(tmp)

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
