#!/usr/bin/env python3
"""Benchmark: queue mode against a real nats-server (started here on a free port with a
store of its own), measured in the same run as the pushes it is compared with.

- The hook's cost: a real `git push` of one commit to a repository with 10 services, in
  queue mode, against the same push to a repository with no hook at all, and against
  inline delivery to receivers that answer at once and that wait 200 ms. Target: queue
  mode within 10 ms of no hook, whatever the receivers do.
- Worker throughput: deliveries per second for 1 and 4 workers taking what one push of
  many tags (a github-format service: one delivery per tag) queued, into a receiver that
  answers at once and into one that waits 200 ms. Targets: 4 workers >= 3x one worker
  into slow receivers; >= 500 deliveries/s in total into a fast one.

bench/bench.py prints these rows in its table; run alone:

    python3 bench/queue_mode.py [--binary target/release/pushbroker] [--runs 9] [--smoke]
"""

import argparse
import http.server
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time


def receiver(delay):
    """A threading HTTP receiver on loopback that waits `delay` s; (server, url, count())."""
    hits = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if delay:
                time.sleep(delay)
            with lock:
                hits.append(time.perf_counter())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        request_queue_size = 256

        def handle_error(self, request, client_address):
            pass  # a worker stopped mid-connection: not the benchmark's business

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def count():
        with lock:
            return len(hits)

    def span():
        with lock:
            return hits[-1] - hits[0] if len(hits) > 1 else float("nan")

    count.span = span
    return server, f"http://127.0.0.1:{server.server_port}/push", count


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nats(top):
    port = free_port()
    store = os.path.join(top, "nats")
    binary = next((p for p in ("/usr/sbin/nats-server", "/usr/bin/nats-server") if os.path.exists(p)),
                  "nats-server")
    child = subprocess.Popen([binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return child, port
        except OSError:
            time.sleep(0.02)
    child.kill()
    raise RuntimeError("nats-server did not start")


class World:
    """A temporary home for repositories, a site config, and the environment."""

    def __init__(self, binary, nats_port):
        self.binary = binary
        self.top = tempfile.mkdtemp(prefix="pushbroker-qbench-")
        self.site = os.path.join(self.top, "site.toml")
        self.queue = (f'[queue]\nurl = "nats://127.0.0.1:{nats_port}"\n'
                      'retry_delay = "200ms"\nack_wait = "30s"\n')
        self.env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
                        GIT_AUTHOR_NAME="B", GIT_AUTHOR_EMAIL="b@example.com",
                        GIT_COMMITTER_NAME="B", GIT_COMMITTER_EMAIL="b@example.com",
                        USER="bench", PUSHBROKER_SITE=self.site)
        self.count = 0

    def write_site(self, queue):
        with open(self.site, "w") as f:
            f.write('[network]\nallow = ["127.0.0.0/8"]   # the loopback receivers\n'
                    '[limits]\nper_host = 16\n')
            if queue:
                f.write(self.queue)

    def run(self, *args, cwd, input=None):
        return subprocess.run(list(args), cwd=cwd, env=self.env, check=True,
                              capture_output=True, text=True, input=input)

    def repo(self, config):
        """A bare server (with the hook unless `config` is None) and a work clone."""
        self.count += 1
        server = os.path.join(self.top, f"srv{self.count}.git")
        work = os.path.join(self.top, f"work{self.count}")
        self.run("git", "init", "--quiet", "--bare", "--initial-branch=main", server, cwd=self.top)
        if config is not None:
            self.run(self.binary, "install", server, cwd=self.top)
            with open(os.path.join(server, "pushbroker.toml"), "w") as f:
                f.write(config)
        self.run("git", "init", "--quiet", "--initial-branch=main", work, cwd=self.top)
        self.run("git", "commit", "--quiet", "--allow-empty", "-m", "base", cwd=work)
        self.run("git", "push", "--quiet", server, "main", cwd=work)
        return server, work

    def push_time(self, server, work, expect):
        """One commit pushed: seconds; the push's remote lines must show `expect` n times."""
        self.run("git", "commit", "--quiet", "--allow-empty", "-m", "one more", cwd=work)
        started = time.perf_counter()
        done = self.run("git", "push", "--quiet", server, "main", cwd=work)
        took = time.perf_counter() - started
        if expect:
            word, times = expect
            assert done.stderr.count(word) == times, done.stderr
        return took

    def worker(self, concurrency):
        """A worker, once it is taking deliveries."""
        child = subprocess.Popen([self.binary, "worker", "--concurrency", str(concurrency),
                                  "--state-dir", os.path.join(self.top, "worker")],
                                 env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
        assert "taking deliveries" in child.stderr.readline()
        threading.Thread(target=child.stderr.read, daemon=True).start()
        return child


def services(url, count):
    return "".join(f'[[service]]\nbroker = "post"\nname = "s{n}"\nurl = "{url}"\nformat = "json"\n\n'
                   for n in range(count))


def hook_times(world, runs):
    """Medians (s) of a 1-commit push: no hook, queue mode, inline fast, inline 200 ms."""
    fast, fast_url, _ = receiver(0)
    slow, slow_url, _ = receiver(0.2)
    plain = world.repo(None)
    queued = world.repo(services(fast_url, 10))
    inline_fast = world.repo(services(fast_url, 10))
    inline_slow = world.repo(services(slow_url, 10))
    cases = [("none", plain, False, None), ("queue", queued, True, ("queued (stream", 10)),
             ("fast", inline_fast, False, ("delivered (HTTP 200)", 10)),
             ("slow", inline_slow, False, ("delivered (HTTP 200)", 10))]
    times = {name: [] for name, *_ in cases}
    # One warm-up each (the queue's streams are created by the first publish), then the
    # configurations take turns run by run.
    for run in range(runs + 1):
        for name, (server, work), queue, expect in cases:
            world.write_site(queue)
            took = world.push_time(server, work, expect)
            if run:
                times[name].append(took)
    # What the queued pushes published is drained, so the worker rows start empty.
    world.write_site(True)
    drain = world.worker(16)
    time.sleep(2)
    drain.send_signal(signal.SIGTERM)
    drain.wait()
    fast.shutdown()
    slow.shutdown()
    return {name: statistics.median(values) for name, values in times.items()}


def throughput(world, workers, delay, events):
    """Seconds `workers` workers (running already) take from the first to the last of
    `events` deliveries that one push queued, scaled to `events` deliveries."""
    server_, url, count = receiver(delay)
    world.write_site(True)
    config = f'[[service]]\nbroker = "post"\nname = "gh"\nurl = "{url}"\nformat = "github"\n'
    server, work = world.repo(config)
    for n in range(events):
        world.run("git", "tag", f"t{n:05}", cwd=work)
    children = [world.worker(16) for _ in range(workers)]
    done = world.run("git", "push", "--quiet", server, "--tags", cwd=work)
    assert done.stderr.count("queued (stream") == events, done.stderr[-2000:]
    deadline = time.perf_counter() + 300
    while count() < events and time.perf_counter() < deadline:
        time.sleep(0.005)
    # The first delivery is the start: the push's own time is not the workers'.
    took = count.span() * events / max(events - 1, 1) + (delay or 0)
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        child.wait()
    server_.shutdown()
    assert count() >= events, f"{count()} of {events} delivered"
    return took


def queue_rows(binary, runs, smoke):
    """(name, ours s, theirs s, target ratio, note) rows for bench.py's table."""
    top = tempfile.mkdtemp(prefix="pushbroker-nats-")
    nats, port = start_nats(top)
    world = World(binary, port)
    try:
        hook = hook_times(world, runs)
        base = hook["none"]
        rows = []
        for name, label in (("queue", "queue mode"), ("fast", "inline, fast rcv"),
                            ("slow", "inline, 200 ms rcv")):
            added = (hook[name] - base) * 1000
            target = (base + 0.010) / base if name == "queue" else float("inf")
            rows.append((f"Q1 push, 10 services, {label}", hook[name], base, target,
                         f"vs no hook: +{added:.1f} ms" + (" (target <= 10 ms)" if name == "queue" else "")))
        slow_events = 16 if smoke else 320
        fast_events = 20 if smoke else 2000
        one_slow = throughput(world, 1, 0.2, slow_events)
        four_slow = throughput(world, 4, 0.2, slow_events)
        rows.append((f"Q2 4 workers vs 1, {slow_events} x 200 ms rcv", four_slow, one_slow,
                     1 / 3, f"{slow_events / one_slow:.0f}/s vs {slow_events / four_slow:.0f}/s "
                            "(target >= 3x)"))
        one_fast = throughput(world, 1, 0, fast_events)
        four_fast = throughput(world, 4, 0, fast_events)
        rows.append((f"Q3 1 worker, {fast_events} deliveries, fast rcv", one_fast, fast_events / 500,
                     float("inf"), f"{fast_events / one_fast:.0f}/s"))
        rows.append((f"Q3 4 workers, {fast_events} deliveries, fast rcv", four_fast,
                     fast_events / 500, 1.0, f"{fast_events / four_fast:.0f}/s (target >= 500/s)"))
        return rows
    finally:
        nats.kill()
        nats.wait()
        shutil.rmtree(world.top, ignore_errors=True)
        shutil.rmtree(top, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--smoke", action="store_true")
    options = parser.parse_args()
    for name, ours, theirs, target, note in queue_rows(os.path.abspath(options.binary),
                                                        1 if options.smoke else options.runs,
                                                        options.smoke):
        print(f"{name:<56} {ours * 1000:>9.1f}ms {theirs * 1000:>9.1f}ms {ours / theirs:>6.2f}x "
              f"<={target:>5.2f}x  {note}")


if __name__ == "__main__":
    main()
