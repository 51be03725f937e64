#!/usr/bin/env python3
"""Benchmark: what the pushbroker hook adds to `hg push`, against what Mercurial's own
notify extension adds to the same push, measured in the same run.

Data sets (deterministic: `hg debugbuilddag` with fixed dates):
  P1  one changeset touching 3 files, pushed onto a server that has the 200 before it
  P2  1,000 changesets pushed into an empty server
Every configuration pushes the same changesets into a fresh copy of the same server:
no hook (the baseline), notify (test mode: the email is formatted and printed, not
sent), and pushbroker with an email service (file transport) and a json POST to a
local receiver. The repositories live in /dev/shm when it exists (see hg_rows).
bench/bench.py prints these figures in its table; run alone:

    python3 bench/hg_notify.py [--binary target/release/pushbroker] [--runs 5] [--smoke]
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


def build(top, name, base, new, env):
    """A work repository with `base + new` changesets and a server holding the first
    `base`; P1's last changeset touches 3 files."""
    work = os.path.join(top, f"{name}-work")
    hg("init", work, cwd=top, env=env)
    if new == 1:
        hg("debugbuilddag", "--new-file", f"+{base}", cwd=work, env=env)
        hg("update", "--quiet", "tip", cwd=work, env=env)
        for path in ("nf1", "nf2", "p1-added.txt"):
            with open(os.path.join(work, path), "a") as f:
                f.write("the pushed change\n")
        hg("add", "p1-added.txt", cwd=work, env=env)
        hg("commit", "-m", "the pushed change", "-d", "1795770000 0", cwd=work, env=env)
    else:
        hg("debugbuilddag", "--new-file", f"+{base + new}", cwd=work, env=env)
    server = os.path.join(top, f"{name}-server")
    hg("init", server, cwd=top, env=env)
    if base:
        hg("push", "--quiet", "-r", str(base - 1), server, cwd=work, env=env)
    return work, server


def hg_rows(binary, runs, smoke=False):
    """[(label, pushbroker added s, notify added s, hg push alone s)] for P1 and P2."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Each P2 push writes about 3,000 files: on a disk, writeback of earlier runs lands
    # on later ones at random (±100 ms here). Memory-backed storage leaves the hooks' own
    # costs to compare.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    top = tempfile.mkdtemp(prefix="pushbroker-hgbench-", dir=shm)
    env = dict(os.environ, HGRCPATH="", HGPLAIN="1", HGUSER="Bench <bench@example.com>",
               PUSHBROKER_SITE=os.path.join(top, "site.toml"), USER="bench")
    with open(env["PUSHBROKER_SITE"], "w") as f:
        f.write('[network]\nallow = ["127.0.0.0/8"]  # the receiver is on loopback\n')

    def configure(repo, kind):
        if kind == "notify":
            with open(os.path.join(repo, ".hg", "hgrc"), "a") as f:
                f.write("[extensions]\nnotify =\n[hooks]\nchangegroup.notify = python:hgext.notify.hook\n"
                        "[notify]\ntest = True\nsources = push serve\n[reposubs]\n** = dev@example.com\n"
                        "[email]\nfrom = hg@example.com\n")
        if kind == "pushbroker":
            subprocess.run([binary, "install", repo], check=True, capture_output=True, env=env)
            with open(os.path.join(repo, ".hg", "pushbroker.toml"), "w") as f:
                f.write('[[service]]\nbroker = "email"\nto = "dev@example.com"\n\n'
                        f'[[service]]\nbroker = "post"\nurl = "http://127.0.0.1:{server.server_port}/"\n'
                        'format = "json"\n')

    rows = []
    cases = [("P1", 10 if smoke else 200, 1), ("P2", 0, 20 if smoke else 1000)]
    for name, base, new in cases:
        work, empty = build(top, name, base, new, env)

        def push(kind, run):
            target = os.path.join(top, f"srv-{name}-{kind}-{run}")
            shutil.copytree(empty, target)
            configure(target, kind)
            started = time.perf_counter()
            done = subprocess.run(["hg", "push", target], cwd=work, env=env, capture_output=True)
            took = time.perf_counter() - started
            assert done.returncode == 0, done.stderr
            out = done.stdout.decode() + done.stderr.decode()
            assert f"added {new} changeset" in out, out
            if kind == "pushbroker":
                assert out.count("delivered") == 2, out
            shutil.rmtree(target)
            return took

        # The configurations take turns, run by run: each push writes ~1,000 files, and
        # the machine's state drifts over a series; interleaving spreads that evenly.
        kinds = ("none", "notify", "pushbroker")
        times = {kind: [] for kind in kinds}
        # P1's added costs are a few ms against a ±5 ms spread: three times the runs.
        for run in range(runs * 3 if new == 1 and not smoke else runs):
            for kind in kinds:
                times[kind].append(push(kind, run))
        alone, notify, ours = (statistics.median(times[kind]) for kind in kinds)
        notify, ours = notify - alone, ours - alone
        label = (f"hg P1 1 changeset on {base}" if new == 1 else f"hg P2 {new} changesets") + \
            ", added to hg push"
        rows.append((label, ours, notify, alone))
    server.shutdown()
    shutil.rmtree(top)
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="tiny data sets, one run each")
    options = parser.parse_args()
    runs = 1 if options.smoke else options.runs
    print(f"hg push, medians of {runs} runs; added = configuration - no hook")
    print(f"{'case':<44} {'no hook':>9}  {'notify +':>9}  {'pushbroker +':>12}  {'ratio':>6}")
    for label, ours, notify, alone in hg_rows(os.path.abspath(options.binary), runs, options.smoke):
        ratio = ours / notify if notify > 0 else float("nan")
        print(f"{label:<44} {alone * 1000:>7.0f}ms  {notify * 1000:>7.0f}ms  {ours * 1000:>10.0f}ms  "
              f"{ratio:>5.2f}x")


if __name__ == "__main__":
    main()
