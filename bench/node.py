"""Benchmark: the local cluster's real node (machine/local_cluster/cluster.sh).

  start to Ready     `cluster.sh start` on stopped processes with their state kept (what a
                     second test session meets): the node Ready, then CoreDNS answering
  memory             RSS of the node's processes (kubelet, containerd, kube-proxy, every
                     containerd shim) and of the control plane, read from /proc while the
                     cluster runs with whatever pods it has

Reported, not asserted. Staging `up` from nothing to every pod Ready and a backend rollout are
timed by the real tier itself (tests/real/test_cluster_stacks.py prints both), which has the
stacks; docs/benchmarks.md keeps the last run's figures. A cluster that was running is left
running; one that was stopped is stopped again.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from bench.record import write_results
from machine.local_cluster import cluster

RESULTS = Path(__file__).resolve().parent / "results" / "node.json"
PROCESSES = {  # what a /proc/PID/comm says -> the row it counts in
    "kubelet": "kubelet",
    "containerd": "containerd (node)",
    "kube-proxy": "kube-proxy",
    "containerd-shim": "containerd shims (all pods)",
    "kube-apiserver": "kube-apiserver",
    "kube-controller": "kube-controller-manager",
    "kube-scheduler": "kube-scheduler",
    "etcd": "etcd",
}


def cluster_pids() -> dict[int, str]:
    """pid -> row, for processes whose command line names the cluster's state directory."""
    state = str(cluster.kubeconfig_path().parent) + "/"
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if state not in cmdline:
            continue
        for prefix, row in PROCESSES.items():
            if comm.startswith(prefix):
                found[int(proc.name)] = row
    return found


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def memory() -> dict[str, float]:
    rows: dict[str, float] = {}
    for pid, row in cluster_pids().items():
        try:
            rows[row] = rows.get(row, 0.0) + rss_mib(pid)
        except OSError:
            continue
    return dict(sorted(rows.items()))


def main() -> int:
    was_running = cluster.running()
    if was_running:
        cluster.stop()
    started = time.monotonic()
    cluster.start()
    ready = time.monotonic() - started
    rows = {"start to Ready (s)": round(ready, 1), **{f"{k} RSS (MiB)": round(v, 1) for k, v in memory().items()}}
    if not was_running:
        cluster.stop()
    width = max(len(k) for k in rows)
    print("the local cluster's real node")
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")
    write_results(RESULTS, "node", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
