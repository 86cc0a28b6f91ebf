#!/usr/bin/env python3
"""Slow clients (slowloris): many connections that send one byte a second
cannot stop normal clients from being served.

hearth runs with -server.http-read-timeout=3s and
-server.http-max-connections-per-ip=64. From other loopback addresses
(127.0.0.2 and up; Linux routes all of 127/8 to lo) this test opens:
  * 5 x 60 connections that send request headers one byte a second,
  * 2 x 50 connections that send a complete header and then the body one
    byte a second (a 100 KB Content-Length),
  * 200 connections from one more address, past its per-address limit.
While they trickle, a normal client on 127.0.0.1 ingests, renders and asks
/ready ten times a second; every answer must be right and quick. Every slow
connection must be shut down once it has taken the read timeout (plus the
reaper's period) without completing a request, the refusals and the cuts
show in /metrics, and hearth's /ready stays 200 throughout.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

READ_TIMEOUT = 3
PER_IP = 64
RUN_S = 9


class Slow:
    """One trickling connection and what happened to it."""

    def __init__(self, port, src, body_phase):
        self.sock = None
        self.opened = None
        self.closed = None      # time.monotonic() when hearth closed it
        self.refused = False
        self.src = src
        self.port = port
        if body_phase:
            self.head = (b"POST /ingest?name=slow.cpu HTTP/1.1\r\nHost: h\r\n"
                         b"Content-Length: 100000\r\n\r\n")
            self.drip = b"main;slow 1\n" * 10000
        else:
            self.head = b"POST /ingest?name=slow.cpu HTTP/1.1\r\nHost: h\r\nX-Slow: "
            self.drip = b"a" * 100000
        self.sent = 0

    def open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.bind((self.src, 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.port))
        s.setblocking(False)
        self.sock = s
        self.opened = time.monotonic()
        self.send(self.head)

    def send(self, data):
        try:
            self.sock.send(data)
            return True
        except BlockingIOError:
            return True
        except OSError:
            return False

    def step(self):
        """One byte more; notices when hearth closed the connection."""
        if self.closed is not None:
            return
        try:
            got = self.sock.recv(4096)
            if got == b"" or got:
                # an answer or end-of-file: either way hearth is done with it
                self.mark_closed()
                return
        except BlockingIOError:
            pass
        except OSError:
            self.mark_closed()
            return
        if not self.send(self.drip[self.sent:self.sent + 1]):
            self.mark_closed()
            return
        self.sent += 1

    def mark_closed(self):
        self.closed = time.monotonic()

    def check_refused(self):
        """Right after opening: closed at once means over the per-address
        limit (hearth accepted and closed it without reading)."""
        try:
            if self.sock.recv(4096) == b"":
                self.refused = True
                self.mark_closed()
        except BlockingIOError:
            pass
        except OSError:
            self.refused = True
            self.mark_closed()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class SlowClientsTest(L.HearthTestCase):

    def test_trickling_connections_do_not_stop_normal_clients(self):
        flags = ["-server.http-read-timeout=%ds" % READ_TIMEOUT,
                 "-server.http-max-connections-per-ip=%d" % PER_IP]
        with L.HearthProcess(flags=flags, name="hearth") as h:
            L.HearthTestCase.hearth = h
            slow = []
            for ip in range(2, 7):
                slow += [Slow(h.port, "127.0.0.%d" % ip, False) for _ in range(60)]
            body = [Slow(h.port, "127.0.0.%d" % ip, True) for ip in (7, 9) for _ in range(50)]
            flood = [Slow(h.port, "127.0.0.8", False) for _ in range(200)]
            everyone = slow + body + flood
            for c in everyone:
                c.open()
            t_open = time.monotonic()
            time.sleep(0.3)
            for c in everyone:
                c.check_refused()

            normal = []          # (what, status, seconds)
            stop = threading.Event()

            def normal_client():
                i = 0
                while not stop.is_set():
                    t0 = time.monotonic()
                    r = h.get("/ready", timeout=10)
                    normal.append(("ready", r.status, time.monotonic() - t0))
                    t0 = time.monotonic()
                    r = h.post("/ingest", {"name": "fast.cpu", "from": str(L.now_s())},
                               b"main;fast 1\n", timeout=10)
                    normal.append(("ingest", r.status, time.monotonic() - t0))
                    if i % 5 == 0:
                        t0 = time.monotonic()
                        r = h.get("/pyroscope/render", [
                            ("query", L.CPU_TYPE + '{service_name="fast"}'),
                            ("from", "now-1h"), ("until", "now")], timeout=10)
                        normal.append(("render", r.status, time.monotonic() - t0))
                    i += 1
                    time.sleep(0.1)
            t = threading.Thread(target=normal_client, daemon=True)
            t.start()
            while time.monotonic() - t_open < RUN_S:
                for c in everyone:
                    c.step()
                time.sleep(1.0)
            stop.set()
            t.join(30)
            for c in everyone:
                c.step()
                c.close()

            # normal clients: always right, always quick
            bad = [(w, s) for w, s, _ in normal if s != 200]
            self.assertEqual(bad, [], "normal requests failed")
            worst = max(d for _, _, d in normal)
            self.assertLess(worst, 2.0, "a normal request took %.2f s" % worst)
            self.assertGreater(len(normal), RUN_S * 10, "too few normal requests: %d" % len(normal))
            self.assertEqual(h.get("/ready").status, 200)

            # trickling connections: cut after the read timeout (+ reaper period)
            for group, name in ((slow, "slow headers"), (body, "slow body")):
                still = [c for c in group if c.closed is None]
                self.assertEqual(len(still), 0, "%d %s connections still open after %d s" % (
                    len(still), name, RUN_S))
                late = [c.closed - c.opened for c in group
                        if c.closed - c.opened > READ_TIMEOUT * 1.25 + 1.5]
                self.assertEqual(late, [], "%s connections lived too long" % name)
                early = [c for c in group if c.closed - c.opened < READ_TIMEOUT - 0.5]
                self.assertEqual(early, [], "%s connections were cut before the read "
                                 "timeout" % name)
            # one address: at most PER_IP at once, the rest closed at once
            refused = sum(1 for c in flood if c.refused)
            self.assertGreaterEqual(refused, len(flood) - PER_IP, "per-address limit")
            cut = h.metric("hearth_http_slow_connections_closed_total")
            self.assertGreaterEqual(cut, len(slow) + len(body))
            self.assertIsNotNone(h.metric("hearth_http_connections"))
            L.HearthTestCase.hearth = None


if __name__ == "__main__":
    L.run_tests()
