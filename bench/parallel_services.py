#!/usr/bin/env python3
"""Benchmark: a push to 10 services, each behind a receiver that waits 200 ms, against
a push to one such service, measured in the same run.

The services of a push run in parallel, so the ten-service hook should take about as
long as the one-service hook (target: at most 1.3x). bench/bench.py prints these
figures in its table; run alone:

    python3 bench/parallel_services.py [--binary target/release/pushbroker] [--runs 9]
"""

import argparse
import http.server
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time

DELAY = 0.2


class SlowReceiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(DELAY)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def services_times(binary, runs):
    """(one service s, ten services s): medians of `runs` hook runs each."""
    # The default listen backlog (5) drops some of ten simultaneous connects, and the
    # kernel retries those a second later: measure pushbroker, not that.
    http.server.ThreadingHTTPServer.request_queue_size = 64
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/push"

    top = tempfile.mkdtemp(prefix="pushbroker-bench-")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME="B", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="B", GIT_COMMITTER_EMAIL="b@example.com",
               PUSHBROKER_SITE=os.path.join(top, "site.toml"))
    os.environ.update(env)
    with open(env["PUSHBROKER_SITE"], "w") as f:
        # The ten services share one receiver host: lift the per-host bound (default 4)
        # so that the row measures services in parallel, as ten hosts would be.
        f.write('[limits]\nper_host = 10\n\n[network]\nallow = ["127.0.0.0/8", "::1/128"]\n')
    repo = os.path.join(top, "srv.git")
    work = os.path.join(top, "work")
    git("init", "--quiet", "--bare", "--initial-branch=main", repo, cwd=top)
    git("init", "--quiet", "--initial-branch=main", work, cwd=top)
    with open(os.path.join(work, "a.txt"), "w") as f:
        f.write("a\n")
    git("add", "a.txt", cwd=work)
    git("commit", "--quiet", "-m", "one", cwd=work)
    git("push", "--quiet", repo, "main", cwd=work)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, check=True,
                          capture_output=True, text=True).stdout.strip()
    hook_input = f"{'0' * 40} {head} refs/heads/main\n"

    def measure(services):
        config = "".join(
            f'[[service]]\nbroker = "post"\nname = "s{n}"\nurl = "{url}"\nformat = "json"\n\n'
            for n in range(services))
        with open(os.path.join(repo, "pushbroker.toml"), "w") as f:
            f.write(config)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            done = subprocess.run([binary, "hook"], input=hook_input, text=True,
                                  env=dict(env, GIT_DIR=repo), capture_output=True)
            times.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stderr
            assert done.stderr.count("delivered (HTTP 200)") == services, done.stderr
        return statistics.median(times)

    one = measure(1)
    ten = measure(10)
    server.shutdown()
    shutil.rmtree(top)
    return one, ten


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    one, ten = services_times(os.path.abspath(options.binary), options.runs)
    print(f"receiver delay {DELAY * 1000:.0f} ms, {options.runs} runs each, medians:")
    print(f"  1 service    {one * 1000:7.1f} ms")
    print(f"  10 services  {ten * 1000:7.1f} ms")
    print(f"  ratio        {ten / one:7.2f}x   (target <= 1.30x)")


if __name__ == "__main__":
    main()
