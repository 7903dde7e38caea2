#!/usr/bin/env python3
"""make bench: the gateway against a plain proxy_pass relay on one canned
Amazon Q upstream, in one run, side by side.

    python3 bench/bench.py                 # ~3 minutes
    BENCH_QUICK=1 python3 bench/bench.py   # ~1 minute, fewer samples
    BENCH_ONLY=count_tokens,memory python3 bench/bench.py  # those alone

Environment: BENCH_NGINX (default /usr/sbin/nginx), BENCH_MODULE (default
build/ngx_http_q2api_module.so), BENCH_QUICK.  Prints the table and writes
it to build/bench/table.md.  Numbers for people, never a gate: it fails
only when a side did not answer correctly, so that no number is taken from
broken answers.
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # the source tree stays clean

from q2bench import bodies, clients, confs, load, proc, report  # noqa: E402

REPO = os.path.dirname(HERE)
BUILD = os.path.join(REPO, "build")
OUT = os.path.join(BUILD, "bench")
MODULE = os.environ.get("BENCH_MODULE",
                        os.path.join(BUILD, "ngx_http_q2api_module.so"))
QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
# BENCH_ONLY=count_tokens,memory runs those measures alone (the names of
# Bench.run's sections, their first word), to measure one change quickly
ONLY = set(w for w in os.environ.get("BENCH_ONLY", "").split(",") if w)

# How much of each measure: (full, quick)
P = {
    "rounds": (3, 1),           # interleaved wrk rounds per side
    "seconds": (5, 2),          # one wrk run
    "connections": (16, 16),
    "ttfb": (1000, 200),        # requests per side
    "tls": (400, 100),
    "streams": (1000, 200),     # held open for the memory measure
    # seconds the streams run before memory is taken: short, long answer
    "hold": ((12, 8), (3, 3)),
}
P = {k: v[1] if QUICK else v[0] for k, v in P.items()}

# limit_rate of the trickling upstream: the short answer (37 KB) and the
# long one (336 KB) are both mid-stream when memory is measured
SLOW = ("2k", "28k")


def ms(s):
    return "%.2f ms" % (s * 1000)


def added(s):
    return "%+.2f ms" % (s * 1000)


def cpu(res):
    return "%.0f + %.0f us" % (res["user"] * 1e6, res["sys"] * 1e6)


def kib(v):
    return "%.1f KiB" % v


def rate(v):
    return "{:,.0f} req/s".format(v)


class Bench:
    def __init__(self):
        self.rows = []
        self.notes = []
        self.failed = []
        self.canned = {}
        self.up = self.gw = None

    def section(self, name, fn):
        """Runs one measure; its failure is reported, and the others run."""
        if ONLY and name not in ("setup", "check") \
                and name.split()[0] not in ONLY \
                and fn.__name__ not in ONLY:
            return
        t0 = time.monotonic()
        print("bench: %s ..." % name, file=sys.stderr, flush=True)
        try:
            fn()
        except Exception as e:  # any failure becomes a row, not a crash
            self.failed.append(name)
            self.rows.append((name, "failed", "failed", str(e)[:200]))
            print("bench: %s failed: %s" % (name, e), file=sys.stderr)
            for who in (self.gw, self.up):
                if who:
                    for line in who.errors()[-3:]:
                        print("  %s: %s" % (who.name, line), file=sys.stderr)
        print("bench: %s: %.0f s" % (name, time.monotonic() - t0),
              file=sys.stderr, flush=True)

    # --- setup ----------------------------------------------------------

    def setup(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = P["streams"] + 100
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000),
                                                        hard))
        os.makedirs(OUT, exist_ok=True)
        canned = os.path.join(OUT, "canned")
        os.makedirs(canned, exist_ok=True)
        made = subprocess.run(
            ["perl", "-I", os.path.join(REPO, "t/mock/lib"),
             os.path.join(HERE, "canned.pl"), canned],
            check=True, capture_output=True, text=True).stdout
        self.canned = dict(
            (m.group(1), (int(m.group(2)), int(m.group(3))))
            for m in re.finditer(r"(\w+) frames=(\d+) bytes=(\d+)", made))
        with open(os.path.join(canned, "short.es"), "rb") as f:
            self.short = f.read()

        for name, data in (("chat-stream.json", bodies.chat(True)),
                           ("chat.json", bodies.chat(False)),
                           ("claude-code.json", bodies.claude_code())):
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(data)
        self.body = lambda name: os.path.join(OUT, name)

        cert = confs.make_certificate(OUT)
        self.ports = {"upstream": proc.free_port(),
                      "tls": proc.free_port(),
                      "gateway": proc.free_port()}
        up_prefix = os.path.join(OUT, "upstream")
        gw_prefix = os.path.join(OUT, "gateway")
        self.up = proc.Nginx("upstream", up_prefix, confs.upstream(
            up_prefix, canned, self.ports, cert, SLOW))
        os.makedirs(gw_prefix, exist_ok=True)
        confs.accounts(gw_prefix)
        self.gw = proc.Nginx("gateway", gw_prefix, confs.gateway(
            gw_prefix, MODULE, os.path.join(REPO, "conf/q2api_upstream.conf"),
            self.ports, cert))
        self.up.start()
        self.gw.start()
        self.wrk = load.Wrk(OUT)

    def check(self):
        """Every side answers what it should before anything is timed."""
        port = self.ports["gateway"]
        chat_s = bodies.chat(True)
        for relay in ("fast", "fast-keepalive", "buffered"):
            path = "/relay/%s/v1/messages" % relay
            status, _, body = clients.fetch(port, path, chat_s)
            if status != 200 or body != self.short:
                raise RuntimeError("%s did not return the canned answer "
                                   "(status %d, %d bytes)"
                                   % (path, status, len(body)))
        for gw in ("fast", "fast-keepalive", "tls-new", "tls-keepalive"):
            path = "/gw/%s/v1/messages" % gw
            status, head, body = clients.fetch(port, path, chat_s)
            if (status != 200 or b"event: message_stop" not in body
                    or b'"type":"tool_use"' not in body):
                raise RuntimeError("%s: status %d, no complete stream: %r"
                                   % (path, status, body[:300]))
        status, _, body = clients.fetch(port, "/gw/fast/v1/messages",
                                        bodies.chat(False))
        msg = json.loads(body) if status == 200 else {}
        if msg.get("stop_reason") != "tool_use":
            raise RuntimeError("stream false: status %d: %r"
                               % (status, body[:300]))
        status, _, body = clients.fetch(
            port, "/gw/fast/v1/messages/count_tokens", bodies.claude_code())
        if status != 200 or json.loads(body).get("input_tokens", 0) <= 0:
            raise RuntimeError("count_tokens: status %d: %r"
                               % (status, body[:300]))

    # --- the measures ----------------------------------------------------

    def throughput(self):
        base = "http://127.0.0.1:%d" % self.ports["gateway"]
        worker = self.gw.worker()
        for mode, relay, gateway, chat in (
                ("streaming", "/relay/fast/", "/gw/fast/",
                 "chat-stream.json"),
                ("non-streaming", "/relay/buffered/", "/gw/fast/",
                 "chat.json"),
                ("streaming, upstream keepalive", "/relay/fast-keepalive/",
                 "/gw/fast-keepalive/", "chat-stream.json")):
            runs = {"relay": (base + relay + "v1/messages", self.body(chat)),
                    "gateway": (base + gateway + "v1/messages",
                                self.body(chat))}
            for side in runs:  # warm-up: caches, the zone, the store
                self.wrk.run(runs[side][0], runs[side][1],
                             P["connections"], 1, worker)
            res = load.interleaved(self.wrk, runs, P["rounds"],
                                   P["connections"], P["seconds"], worker)
            r, g = res["relay"], res["gateway"]
            self.rows.append(("throughput, %s (c%d)"
                              % (mode, P["connections"]),
                              rate(r["rps"]), rate(g["rps"]),
                              "%.2fx" % (g["rps"] / r["rps"])))
            self.rows.append(("worker CPU per answer, %s (user + sys)"
                              % mode, cpu(r), cpu(g),
                              "%.1fx user, %.1fx all" % (
                                  g["user"] / r["user"],
                                  (g["user"] + g["sys"])
                                  / (r["user"] + r["sys"]))))

    def ttfb(self):
        port = self.ports["gateway"]
        body = bodies.chat(True)
        paths = {"relay": "/relay/fast/v1/messages",
                 "gateway": "/gw/fast/v1/messages"}
        samples = {side: [] for side in paths}
        for i in range(P["ttfb"]):
            for side in (paths if i % 2 == 0 else list(paths)[::-1]):
                samples[side].append(clients.ttfb(port, paths[side], body))
        for p in (50, 99):
            r = clients.percentile(samples["relay"], p)
            g = clients.percentile(samples["gateway"], p)
            self.rows.append(("time to first byte, p%d (c1)" % p,
                              ms(r), ms(g), added(g - r)))

    def tls(self):
        port = self.ports["gateway"]
        body = bodies.chat(True)
        paths = {"new": "/gw/tls-new/v1/messages",
                 "keepalive": "/gw/tls-keepalive/v1/messages"}
        log = os.path.join(self.up.prefix, "logs", "access.log")
        skip = _lines(log)
        samples = {side: [] for side in paths}
        for i in range(P["tls"]):
            for side in (paths if i % 2 == 0 else list(paths)[::-1]):
                samples[side].append(clients.ttfb(port, paths[side], body))
        conns = {"new": set(), "keepalive": set()}
        reqs = {"new": 0, "keepalive": 0}
        with open(log) as f:
            for line in list(f)[skip:]:
                conn, _, uri = line.split()
                side = "keepalive" if "reuse" in uri else "new"
                conns[side].add(conn)
                reqs[side] += 1
        pct = {side: [clients.percentile(samples[side], p) for p in (50, 99)]
               for side in samples}
        what = "TLS upstream: TTFB p50 / p99, "
        self.rows.append((what + "new connection each", "-",
                          "%s / %s" % tuple(map(ms, pct["new"])), ""))
        self.rows.append((what + "keepalive", "-",
                          "%s / %s" % tuple(map(ms, pct["keepalive"])),
                          "%s / %s" % tuple(
                              added(k - n) for k, n in
                              zip(pct["keepalive"], pct["new"]))))
        self.notes.append(
            "TLS upstream: %.1f requests per connection without keepalive, "
            "%.1f with (the upstream's access log)"
            % (reqs["new"] / max(1, len(conns["new"])),
               reqs["keepalive"] / max(1, len(conns["keepalive"]))))

    def count_tokens(self):
        url = "http://127.0.0.1:%d/gw/fast/v1/messages/count_tokens" \
            % self.ports["gateway"]
        body = self.body("claude-code.json")
        worker = self.gw.worker()
        self.wrk.run(url, body, P["connections"], 1, worker)
        res = load.interleaved(self.wrk, {"gateway": (url, body)},
                               P["rounds"], P["connections"], P["seconds"],
                               worker)["gateway"]
        self.rows.append((
            "count_tokens per core, 21.5 KB body", "-",
            rate(1 / (res["user"] + res["sys"])),
            "wall %s, %s" % (rate(res["rps"]), cpu(res))))

    def memory(self):
        for i, answer in enumerate(("short", "long")):
            frames, size = self.canned[answer]
            hold = P["hold"][i]
            per, read = {}, {}
            for side, path in (("relay", "/relay/slow-%s/v1/messages"),
                               ("gateway", "/gw/slow-%s/v1/messages")):
                per[side], read[side] = self._memory_one(
                    side, path % answer, hold)
            self.rows.append((
                "memory per stream, %s answer (%s streams)"
                % (answer, "{:,}".format(P["streams"])),
                "%s (%.0f KB read)" % (kib(per["relay"]),
                                       read["relay"] / 1000),
                "%s (%.0f KB read)" % (kib(per["gateway"]),
                                       read["gateway"] / 1000),
                "%+.1f KiB" % (per["gateway"] - per["relay"])))

    def _memory_one(self, side, path, hold):
        # a fresh worker, warmed up, so that the heap it already had from
        # earlier measures does not hide the streams' memory
        self.gw.stop()
        self.gw.start()
        port = self.ports["gateway"]
        fast = "/relay/fast/v1/messages" if side == "relay" \
            else "/gw/fast/v1/messages"
        for _ in range(20):
            clients.fetch(port, fast, bodies.chat(True))
        worker = self.gw.worker()
        before = proc.memory_kib(worker)[1]
        after, flying, read, problems = clients.hold(
            port, path, bodies.chat(True), P["streams"], hold,
            lambda: proc.memory_kib(worker)[1])
        if problems or flying == 0:
            raise RuntimeError("%s %s: %s" % (side, path,
                                              "; ".join(problems)))
        return (after - before) / flying, read

    def store_stall(self):
        """bench/store-stall, when the store's tool is there, prints
        store_stall_ms_max=NN: the longest pause of a worker with 10,000
        accounts."""
        tool = os.path.join(HERE, "store-stall")
        row = "longest worker stall, 10,000 accounts"
        if not os.access(tool, os.X_OK):
            self.rows.append((row, "-", "n/a", "store-stall not built"))
            return
        env = dict(proc.nginx_env(), BENCH_NGINX=proc.NGINX,
                   BENCH_MODULE=MODULE,
                   BENCH_DIR=os.path.join(OUT, "store-stall"),
                   BENCH_QUICK="1" if QUICK else "0")
        run = subprocess.run([tool], env=env, cwd=REPO, capture_output=True,
                             text=True, timeout=300)
        m = re.search(r"^store_stall_ms_max=([\d.]+)\s*$", run.stdout, re.M)
        if run.returncode != 0 or not m:
            raise RuntimeError("bench/store-stall exited %d: %s"
                               % (run.returncode,
                                  (run.stdout + run.stderr)[-200:]))
        self.rows.append((row, "-", "%s ms" % m.group(1), ""))
        more = re.findall(r"^(?!store_stall_ms_max=)(\w+=\S+)\s*$",
                          run.stdout, re.M)
        if more:
            self.notes.append("bench/store-stall: " + " ".join(more))

    def core(self):
        out = subprocess.run([os.path.join(BUILD, "bench_core")],
                             check=True, capture_output=True, text=True)
        self.notes += ["protocol core alone (bench/bench_core.c, no nginx), "
                       + line for line in out.stdout.splitlines()]

    def method(self):
        """How each row was taken, under the table."""
        short, long_ = self.canned.get("short", (0, 0)), \
            self.canned.get("long", (0, 0))
        return [
            "relay: proxy_pass of the same canned file, unbuffered "
            "(buffered for non-streaming); relay and gateway open a new "
            "upstream connection per request (but in the keepalive row), "
            "one nginx worker",
            "throughput: wrk -t1 -c%d, %d x %d s per side, interleaved; "
            "CPU: the worker's own time per answer"
            % (P["connections"], P["rounds"], P["seconds"]),
            "time to first byte: %d requests each, one at a time, new "
            "connection, streaming, interleaved; TLS: %d each"
            % (P["ttfb"], P["tls"]),
            "memory: worker Pss with the streams open less before, per "
            "stream; short answer %d frames / %d KB at %s/s, %d s in; "
            "long %d frames / %d KB at %s/s, %d s in"
            % (short[0], short[1] // 1000, SLOW[0], P["hold"][0],
               long_[0], long_[1] // 1000, SLOW[1], P["hold"][1]),
            "count_tokens: a Claude Code-like body, requests per second of "
            "worker CPU; wall rate and CPU per request beside it",
        ]

    def run(self):
        load_before = report.load1()
        info = report.machine(proc.NGINX, REPO)
        try:
            self.section("setup", self.setup)
            if self.failed:
                raise SystemExit(1)
            self.section("check", self.check)
            if self.failed:
                raise SystemExit(1)
            self.section("throughput", self.throughput)
            self.section("time to first byte", self.ttfb)
            self.section("TLS time to first byte", self.tls)
            self.section("count_tokens", self.count_tokens)
            self.section("memory per stream", self.memory)
        finally:
            for who in (self.gw, self.up):
                if who:
                    who.stop()
        self.section("store stall", self.store_stall)
        self.section("protocol core", self.core)

        load_after = report.load1()
        self.notes.insert(0, "load average (1 min) %.2f before, %.2f after%s;"
                          " BENCH_QUICK=%d" % (
                              load_before, load_after,
                              # after counts the bench's own processes
                              " (measured while other jobs ran)"
                              if load_before > 0.5 else "",
                              QUICK))
        self.notes[1:1] = self.method()
        table = report.render(info, self.rows, self.notes)
        with open(os.path.join(OUT, "table.md"), "w") as f:
            f.write(table)
        print(table)
        if self.failed:
            print("bench: failed: %s" % ", ".join(self.failed),
                  file=sys.stderr)
            return 1
        return 0


def _lines(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def _terminated(signo, frame):
    # unwind through run()'s "finally", which stops the nginx instances
    raise SystemExit(128 + signo)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGHUP, _terminated)
    sys.exit(Bench().run())
