#!/usr/bin/env python3
"""Soak load for `epicrisis serve` (issue 17, item 7), driven by scripts/bench-soak.sh.

N simulated clinicians, each on an episode of their own, for a fixed time: open the
episode page, read the versions, validate the text while "typing" (every 2 s), save an
edit every ~20 s (with the parent they read, as the page does). Meanwhile a queue of
drafts: one draft request every 15 s on episodes of its own. Records every request's
latency by kind, every non-2xx answer (a 409 from a save that lost a race counts as an
error: each clinician has their own episode, so none should happen), and the server's
RSS every 10 s. Prints a table on stdout. Standard library only.
"""
import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse


def request(conn, method, path, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    t = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    r = conn.getresponse()
    raw = r.read()
    ms = (time.perf_counter() - t) * 1000
    return r.status, raw, ms


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = {}
        self.errors = {}

    def add(self, kind, status, ms):
        with self.lock:
            self.lat.setdefault(kind, []).append(ms)
            if not 200 <= status < 300:
                key = f"{kind} {status}"
                self.errors[key] = self.errors.get(key, 0) + 1


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 1) if xs else None


def clinician(host, port, token, episode, until, stats, seed, grow):
    rnd = random.Random(seed)
    base = None
    conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(kind, method, path, body=None):
        nonlocal conn
        try:
            status, raw, ms = request(conn, method, path, token, body)
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=120)
            stats.add(kind, 599, 0.0)
            return 599, b""
        stats.add(kind, status, ms)
        return status, raw

    time.sleep(rnd.random() * 2)
    while time.time() < until:
        call("page", "GET", f"/episodios/{episode}")
        status, raw = call("versions", "GET", f"/api/v1/episodes/{episode}/versions")
        versions = json.loads(raw)["versions"] if status == 200 else []
        if not versions:
            time.sleep(1)
            continue
        latest = versions[-1]
        status, raw = call("version", "GET", f"/api/v1/versions/{latest['id']}")
        if status != 200:
            continue
        text = json.loads(raw)["text"]
        # Each cycle edits the first draft again, so every save has about the same size
        # and a growing memory or latency is the server's, not more text to check.
        # --grow keeps adding lines to the latest version instead (work grows each save).
        if base is None or grow:
            base = text
        text = base
        # Typing: a live validation every 2 s for about 20 s, then a save.
        for i in range(rnd.randint(6, 10)):
            if time.time() >= until:
                return
            text += f"\nControl en policlínico en {i + 1} semanas."
            call("validate", "POST", f"/api/v1/episodes/{episode}/validate", {"text": text})
            time.sleep(2)
        call("save", "POST", f"/api/v1/episodes/{episode}/versions",
             {"text": text, "parentId": latest["id"]})


def drafts(host, port, token, episodes, until, stats):
    i = 0
    while time.time() < until:
        ep = episodes[i % len(episodes)]
        i += 1
        # A connection per request: the server closes a kept-alive connection that stays
        # idle longer than its header timeout (10 s), as a browser expects.
        conn = http.client.HTTPConnection(host, port, timeout=120)
        try:
            status, _, ms = request(conn, "POST", f"/api/v1/episodes/{ep}/drafts", token, {})
        except (OSError, http.client.HTTPException):
            status, ms = 599, 0.0
        conn.close()
        stats.add("draft request", status, ms)
        time.sleep(15)


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--episodes", required=True, help="the clinicians' episodes, comma-separated")
    ap.add_argument("--draft-episodes", required=True, help="the drafting queue's episodes")
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--grow", action="store_true",
                    help="each save adds lines to the latest version (the text grows all run)")
    a = ap.parse_args()
    u = urllib.parse.urlparse(a.url)
    episodes = a.episodes.split(",")
    until = time.time() + a.seconds
    stats = Stats()
    threads = [threading.Thread(target=clinician,
                                args=(u.hostname, u.port, a.token, ep, until, stats, n, a.grow))
               for n, ep in enumerate(episodes)]
    queue = a.draft_episodes.split(",")
    threads.append(threading.Thread(target=drafts,
                                    args=(u.hostname, u.port, a.token, queue, until, stats)))
    rss = []
    start = time.time()
    for t in threads:
        t.start()
    while time.time() < until:
        rss.append((round(time.time() - start), rss_kib(a.pid)))
        time.sleep(10)
    for t in threads:
        t.join()
    rss.append((round(time.time() - start), rss_kib(a.pid)))
    print(f"{len(episodes)} clinicians, {a.seconds} s, texts {'growing' if a.grow else 'of fixed size'}")
    print(f"{'request':<14} {'n':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for k, v in sorted(stats.lat.items()):
        print(f"{k:<14} {len(v):>7} {pct(v, 0.5):>8} {pct(v, 0.99):>8} {round(max(v), 1):>8}")
    print("errors (non-2xx or no answer):", json.dumps(stats.errors) if stats.errors else "none")
    mib = [(t, round(k / 1024, 1)) for t, k in rss if k]
    if mib:
        per_minute = [f"{v}" for t, v in mib if t % 60 < 10]
        print(f"server RSS MiB, each minute: {' '.join(per_minute)} (max {max(v for _, v in mib)})")

if __name__ == "__main__":
    main()
