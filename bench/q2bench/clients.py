"""Clients of the bench that wrk cannot be: one checked request, time to
first byte request by request, and many streams held open at once."""

import errno
import select
import socket
import time


def _request(port, path, body, close=True):
    return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            b"Content-Type: application/json\r\n"
            b"anthropic-version: 2023-06-01\r\n"
            b"Content-Length: %d\r\n%s\r\n"
            % (path.encode(), port, len(body),
               b"Connection: close\r\n" if close else b"")) + body


def _dechunk(data):
    out = b""
    while True:
        line, _, data = data.partition(b"\r\n")
        n = int(line.split(b";")[0], 16)
        if n == 0:
            return out
        out += data[:n]
        data = data[n + 2:]


def fetch(port, path, body, timeout=30):
    """(status, headers text, body bytes) of one request."""
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(_request(port, path, body))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    head = head.decode("latin-1")
    status = int(head.split(" ", 2)[1])
    if "\r\ntransfer-encoding: chunked" in head.lower():
        payload = _dechunk(payload)
    return status, head, payload


def ttfb(port, path, body, timeout=30):
    """Seconds from connect to the first byte of the answer; the answer is
    then read to its end so that requests do not overlap."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout) as s:
        s.sendall(_request(port, path, body))
        first = s.recv(65536)
        t1 = time.perf_counter()
        if not first.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("%s answered %r" % (path, first[:80]))
        while s.recv(65536):
            pass
    return t1 - t0


def percentile(samples, p):
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


class _Stream:
    __slots__ = ("sock", "pending", "first", "status", "eof", "bytes")

    def __init__(self, sock, request):
        self.sock = sock
        self.pending = request
        self.first = None
        self.status = None
        self.eof = False
        self.bytes = 0


def hold(port, path, body, n, hold_s, measure, open_timeout=60):
    """Opens n streams, reads them as they come, and calls measure() once
    every stream has its first bytes and hold_s more seconds have passed.

    Returns (measure()'s value, streams in flight at that moment, the mean
    bytes each had read by then, a list of problems: non-200 answers,
    streams that ended or never started)."""
    request = _request(port, path, body)
    ep = select.epoll()
    streams = {}
    problems = []
    try:
        for i in range(n):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            if err not in (0, errno.EINPROGRESS):
                raise RuntimeError("connect: %s" % errno.errorcode[err])
            streams[s.fileno()] = _Stream(s, request)
            ep.register(s.fileno(), select.EPOLLOUT | select.EPOLLIN)
            # a burst larger than the listen queue would be refused
            if i % 200 == 199:
                _pump(ep, streams, 0.05)

        deadline = time.monotonic() + open_timeout
        while any(st.first is None and not st.eof
                  for st in streams.values()):
            if time.monotonic() > deadline:
                break
            _pump(ep, streams, 0.1)

        until = time.monotonic() + hold_s
        while time.monotonic() < until:
            _pump(ep, streams, min(0.1, until - time.monotonic()))

        value = measure()
        flying = [st for st in streams.values()
                  if st.status == 200 and not st.eof]
        read = sum(st.bytes for st in flying) / max(1, len(flying))
        started = sum(1 for st in streams.values() if st.first is not None)
        ended = sum(1 for st in streams.values() if st.eof)
        bad = sorted({st.status for st in streams.values()
                      if st.status not in (None, 200)})
        if started < n:
            problems.append("%d of %d streams had no answer after %d s"
                            % (n - started, n, open_timeout))
        if ended:
            problems.append("%d streams ended before the measure" % ended)
        if bad:
            problems.append("statuses %s" % bad)
        return value, len(flying), read, problems
    finally:
        ep.close()
        for st in streams.values():
            st.sock.close()


def _pump(ep, streams, timeout):
    for fd, ev in ep.poll(max(timeout, 0)):
        st = streams[fd]
        if st.pending and ev & select.EPOLLOUT:
            try:
                sent = st.sock.send(st.pending)
                st.pending = st.pending[sent:]
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                st.eof = True
            if not st.pending or st.eof:
                ep.modify(fd, select.EPOLLIN)
        if ev & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
            try:
                data = st.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                st.eof = True
                ep.unregister(fd)
                continue
            if st.first is None:
                st.first = time.monotonic()
                try:
                    st.status = int(data.split(b" ", 2)[1])
                except (IndexError, ValueError):
                    st.status = -1
            st.bytes += len(data)
