"""Throughput with wrk: POSTs of one body on keep-alive connections, and
the CPU time the measured nginx worker spent on them."""

import os
import re
import subprocess

from . import proc

# wrk's Lua: the body from a file, and a summary line the runner parses
# instead of wrk's human output
SCRIPT = r"""
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["anthropic-version"] = "2023-06-01"

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "bench: requests=%d duration_us=%d bytes=%d status=%d "
        .. "connect=%d read=%d write=%d timeout=%d\n",
        summary.requests, summary.duration, summary.bytes, e.status,
        e.connect, e.read, e.write, e.timeout))
end
"""


class Wrk:
    def __init__(self, workdir):
        self.script = os.path.join(workdir, "post.lua")
        with open(self.script, "w") as f:
            f.write(SCRIPT)

    def run(self, url, body_file, connections, seconds, worker):
        """One run: requests per second, and the worker's CPU seconds
        (user, system) per request."""
        cpu0 = proc.cpu_seconds(worker)
        out = subprocess.run(
            ["wrk", "-t1", "-c%d" % connections, "-d%ds" % seconds,
             "-s", self.script, url],
            env=dict(os.environ, BENCH_BODY=body_file),
            capture_output=True, text=True, timeout=seconds + 60)
        cpu = [b - a for a, b in zip(cpu0, proc.cpu_seconds(worker))]
        m = re.search(r"^bench: (.*)$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            raise RuntimeError("wrk %s failed: %s%s"
                               % (url, out.stdout, out.stderr))
        s = {k: int(v) for k, v in
             (kv.split("=") for kv in m.group(1).split())}
        failed = s["status"] + s["connect"] + s["read"] + s["write"] \
            + s["timeout"]
        if s["requests"] == 0 or failed:
            raise RuntimeError("wrk %s: %d requests, %d failed (%s)"
                               % (url, s["requests"], failed, m.group(1)))
        return {"requests": s["requests"],
                "seconds": s["duration_us"] / 1e6,
                "rps": s["requests"] / (s["duration_us"] / 1e6),
                "user": cpu[0] / s["requests"],
                "sys": cpu[1] / s["requests"]}


def interleaved(wrk, runs, rounds, connections, seconds, worker):
    """runs: {side: (url, body_file)}.  Rounds alternate the order of the
    sides (ABBA...) so that drift of the machine falls on both alike.
    Returns {side: {rps, user, sys}} over all rounds, CPU per request."""
    sides = list(runs)
    total = {side: [0, 0.0, 0.0, 0.0] for side in sides}
    for r in range(rounds):
        for side in (sides if r % 2 == 0 else sides[::-1]):
            url, body = runs[side]
            res = wrk.run(url, body, connections, seconds, worker)
            t = total[side]
            t[0] += res["requests"]
            t[1] += res["seconds"]
            t[2] += res["user"] * res["requests"]
            t[3] += res["sys"] * res["requests"]
    return {side: {"rps": t[0] / t[1], "user": t[2] / t[0],
                   "sys": t[3] / t[0]}
            for side, t in total.items()}
