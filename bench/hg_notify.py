#!/usr/bin/env python3
"""Benchmark: what the pushbroker hook adds to `hg push`, against what Mercurial's own
notify extension adds to the same push, measured in the same run.

For 1 and 1,000 changesets, every configuration pushes the same changesets into a
fresh copy of the same server repository: no hook (the baseline), notify (test mode:
the email is formatted and printed, not sent), and pushbroker with an email service
(file transport) and a json POST to a local receiver. Prints medians and added costs.

    python3 bench/hg_notify.py [--binary target/release/pushbroker] [--runs 5]
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


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def hg(*args, cwd, env):
    return subprocess.run(["hg", *args], cwd=cwd, env=env, check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default="1,1000")
    options = parser.parse_args()
    binary = os.path.abspath(options.binary)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    top = tempfile.mkdtemp(prefix="pushbroker-hgbench-")
    env = dict(os.environ, HGRCPATH="", HGPLAIN="1", HGUSER="Bench <bench@example.com>",
               PUSHBROKER_SITE=os.path.join(top, "site.toml"), USER="bench")
    open(env["PUSHBROKER_SITE"], "w").close()

    print(f"hg push, medians of {options.runs} runs (2 cores); added = configuration - no hook")
    print(f"{'changesets':>10}  {'no hook':>9}  {'notify +':>9}  {'pushbroker +':>12}  {'ratio':>6}")
    for size in [int(s) for s in options.sizes.split(",")]:
        work = os.path.join(top, f"work{size}")
        hg("init", work, cwd=top, env=env)
        for n in range(size):
            path = os.path.join(work, f"f{n % 50}.txt")
            with open(path, "a") as f:
                f.write(f"line {n}\n")
            if n < 50:
                hg("add", path, cwd=work, env=env)
            hg("commit", "-m", f"change {n}\n\nbody of change {n}", "-d", f"{1795770000 + n} 0",
               cwd=work, env=env)
        empty = os.path.join(top, f"empty{size}")
        hg("init", empty, cwd=top, env=env)

        def configure(repo, kind):
            with open(os.path.join(repo, ".hg", "hgrc"), "w") as f:
                if kind == "notify":
                    f.write("[extensions]\nnotify =\n[hooks]\nchangegroup.notify = python:hgext.notify.hook\n"
                            "[notify]\ntest = True\nsources = push serve\n[reposubs]\n** = dev@example.com\n"
                            "[email]\nfrom = hg@example.com\n")
            if kind == "pushbroker":
                subprocess.run([binary, "install", repo], check=True, capture_output=True, env=env)
                with open(os.path.join(repo, ".hg", "pushbroker.toml"), "w") as f:
                    f.write('[[service]]\nbroker = "email"\nto = "dev@example.com"\n\n'
                            f'[[service]]\nbroker = "post"\nurl = "http://127.0.0.1:{server.server_port}/"\n'
                            'format = "json"\n')

        def measure(kind):
            times = []
            for run in range(options.runs):
                target = os.path.join(top, f"srv-{kind}-{size}-{run}")
                shutil.copytree(empty, target)
                configure(target, kind)
                started = time.perf_counter()
                done = subprocess.run(["hg", "push", target], cwd=work, env=env, capture_output=True)
                times.append(time.perf_counter() - started)
                assert done.returncode == 0, done.stderr
                if kind == "pushbroker":
                    out = done.stdout.decode() + done.stderr.decode()
                    assert out.count("delivered") == 2, out
                shutil.rmtree(target)
            return statistics.median(times)

        base = measure("none")
        notify = measure("notify") - base
        ours = measure("pushbroker") - base
        print(f"{size:>10}  {base * 1000:>7.0f}ms  {notify * 1000:>7.0f}ms  {ours * 1000:>10.0f}ms  "
              f"{ours / notify if notify > 0 else float('nan'):>5.2f}x")
    server.shutdown()
    shutil.rmtree(top)


if __name__ == "__main__":
    main()
