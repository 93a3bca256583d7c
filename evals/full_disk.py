"""``python -m evals.full_disk DIR``: acknowledged writes on a really full disk (issue 18).

DIR is an empty, small file system of its own (e.g. `mount -t tmpfs -o size=20m tmpfs DIR`;
everything in it is deleted between runs). Per run, in a child process: upsert a batch, fill
the disk leaving 0-24 KB, upsert (refused or acknowledged), free the space, upsert 4 more
batches, SIGKILL; then reopen and compare with the acknowledged batches.
"""
import json
import os
import shutil
import subprocess
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
CHILD = r'''
import os, sys, signal, json, numpy as np
from hybrid import Client
from hybrid.errors import HybridError
root, leave = sys.argv[1], int(sys.argv[2])
c = Client(path=root + "/data")
c.create_collection("c", vectors_config={"size": 64, "distance": "Dot"}, optimizers_config={"indexing_threshold": 0})
acked = []
def up(b):
    rng = np.random.default_rng(b)
    try:
        c.upsert("c", {"ids": list(range(b * 250, (b + 1) * 250)), "vectors": rng.normal(size=(250, 64)).tolist(),
                       "payloads": [{"b": b}] * 250})
        acked.append(b)
    except HybridError as exc:
        print("refused", b, type(exc).__name__, exc.message[:120], file=sys.stderr)
up(0)
st = os.statvfs(root); free = st.f_bavail * st.f_frsize
with open(root + "/filler", "wb") as fh:
    try:
        fh.write(b"\0" * max(0, free - leave * 1024))
    except OSError:
        pass
up(1)
os.unlink(root + "/filler")
for b in range(2, 6):
    up(b)
print(json.dumps(acked), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
'''
results = []
for leave in (0, 4, 8, 16, 24, 2, 12, 20):
    for name in os.listdir(ROOT):
        path = os.path.join(ROOT, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
    out = subprocess.run([sys.executable, "-c", CHILD, ROOT, str(leave)], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    acked = json.loads(out.stdout.strip().splitlines()[-1])
    from hybrid import Client
    c = Client(path=ROOT + "/data")
    got = sorted({p.payload["b"] for p in c.scroll("c", limit=10000)[0]})
    count = c.count("c").count
    status = c.get_collection("c").status
    c.close()
    lost, extra = sorted(set(acked) - set(got)), sorted(set(got) - set(acked))
    results.append((leave, acked, got, count, status, lost, extra))
    refused = out.stderr.strip().splitlines()[-1][:150] if out.stderr.strip() else ""
    print(f"leave {leave:2d} KB: acked batches {acked}, reopened {got} ({count} points, {status}); "
          f"lost {lost}, unacknowledged present {extra}; {refused}")
print("acknowledged batches lost:", sum(len(r[5]) for r in results))
