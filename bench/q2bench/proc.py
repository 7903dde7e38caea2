"""nginx instances of the bench and what /proc says about their worker.

Each instance runs with its own prefix (conf, logs, temp paths) and one
worker, so a number read from that worker is the cost of one core.
"""

import os
import signal
import socket
import subprocess
import tempfile
import time

NGINX = os.environ.get("BENCH_NGINX", "/usr/sbin/nginx")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def nginx_env():
    """The environment without NGINX: nginx takes that variable for
    sockets handed over by a binary upgrade, and then does not daemonize."""
    return {k: v for k, v in os.environ.items() if k != "NGINX"}


def free_port():
    """A loopback port nobody listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # the command name may hold spaces: fields start after its ')'
    return int(stat[stat.rindex(")") + 2:].split()[1])


def cpu_seconds(pid):
    """(user, system) CPU seconds the process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def memory_kib(pid):
    """(Rss, Pss) of the process in KiB, from smaps_rollup."""
    rss = pss = None
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    if rss is None or pss is None:
        raise RuntimeError("no Rss/Pss in /proc/%d/smaps_rollup" % pid)
    return rss, pss


class Nginx:
    """One nginx: its prefix directory, config text, master and worker."""

    def __init__(self, name, prefix, conf):
        self.name = name
        self.prefix = prefix
        self.conf = conf
        self.master = None

    def start(self):
        for d in ("conf", "logs", "tmp"):
            os.makedirs(os.path.join(self.prefix, d), exist_ok=True)
        path = os.path.join(self.prefix, "conf", "nginx.conf")
        with open(path, "w") as f:
            f.write(self.conf)
        pidfile = os.path.join(self.prefix, "logs", "nginx.pid")
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        # a file, not a pipe: the daemon may keep what it inherited open,
        # and reading a pipe to its end would wait for nginx to exit
        with tempfile.TemporaryFile("w+") as err:
            run = subprocess.run([NGINX, "-p", self.prefix + "/", "-c", path],
                                 env=nginx_env(), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err)
            err.seek(0)
            if run.returncode != 0:
                raise RuntimeError("%s nginx did not start: %s"
                                   % (self.name, err.read().strip()))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.master = int(f.read())
                if self.worker():
                    return
            except (OSError, ValueError, RuntimeError):
                pass
            time.sleep(0.05)
        raise RuntimeError("%s nginx: no worker after 10 s (see %s/logs)"
                           % (self.name, self.prefix))

    def worker(self):
        """The pid of the one worker process."""
        workers = [int(p) for p in os.listdir("/proc")
                   if p.isdigit() and _ppid(int(p)) == self.master]
        if len(workers) != 1:
            raise RuntimeError("%s nginx: %d workers, expected 1"
                               % (self.name, len(workers)))
        return workers[0]

    def stop(self):
        if self.master is None:
            return
        master, self.master = self.master, None
        try:
            os.kill(master, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not os.path.exists("/proc/%d" % master):
                return
            time.sleep(0.05)
        os.kill(master, signal.SIGKILL)

    def errors(self):
        """[error], [crit], [alert] and [emerg] lines of its error log."""
        path = os.path.join(self.prefix, "logs", "error.log")
        try:
            with open(path, errors="replace") as f:
                return [l.rstrip() for l in f
                        if any(x in l for x in ("[error]", "[crit]",
                                                "[alert]", "[emerg]"))]
        except OSError:
            return []
