"""The table make bench prints and writes to build/bench/table.md: the
machine and the date in its head, one row per measure, relay and gateway
side by side."""

import os
import platform
import subprocess
import time


def _first(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


def load1():
    return os.getloadavg()[0]


def machine(nginx, repo):
    cpu = _first("/proc/cpuinfo", "model name")
    mem = _first("/proc/meminfo", "MemTotal")
    mem_gib = int(mem.split()[0]) / 1048576 if mem != "?" else 0
    ver = subprocess.run([nginx, "-v"], capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "-C", repo, "describe", "--always", "--dirty"],
        capture_output=True, text=True).stdout.strip() or "?"
    # the last commit that changed the module itself: what the numbers
    # are of, whatever else changed since
    module = subprocess.run(
        ["git", "-C", repo, "log", "-1", "--format=%h", "--", "src",
         "config", "ngx_http_q2api_module.c"],
        capture_output=True, text=True).stdout.strip() or "?"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": "%s, %d cores, %.1f GiB" % (cpu, os.cpu_count(), mem_gib),
        "os": "%s %s" % (platform.system(), platform.release()),
        "nginx": ver.stderr.strip().split(": ", 1)[-1],
        "commit": commit,
        "module": module,
    }


def render(info, rows, notes):
    """rows: (measure, relay, gateway, comparison); notes: a list below.
    Markdown, so that the README can carry it as it is."""
    head = ["measure", "relay (proxy_pass)", "gateway (q2api)",
            "gateway vs relay"]
    widths = [max(len(str(r[i])) for r in rows + [head])
              for i in range(len(head))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w)
                                 for c, w in zip(cells, widths)) + " |"

    out = ["`make bench`, %s: %s; %s; %s; commit %s (module source %s)"
           % (info["date"], info["cpu"], info["os"], info["nginx"],
              info["commit"], info["module"]),
           "", line(head),
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    out.append("")
    out += ["* " + n for n in notes]
    return "\n".join(out) + "\n"
