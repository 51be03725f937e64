#!/usr/bin/env python3
"""pushbroker's benchmarks: pushbroker against git's and hg's own commands on the same
data, in the same run. Prints one table of medians, ratios and peak memory.

    cargo build --release && python3 bench/bench.py            # the full data sets
    python3 bench/bench.py --smoke                              # tiny sets, one run each (CI)

Data sets, generated with `git fast-import` and fixed dates (deterministic):
  P1  one commit touching 3 files on top of 200
  P3  10,000 commits, each touching 1-5 of ~2,000 files
  P4  10,000 new lightweight tags in one push
  E1  200,000 new lightweight tags in one push, an email service
  E2  one commit with a 50 MB message of short lines, an email service
  E3  one commit adding 100,000 files in 1,000 directories, an email service
Targets (ratios of wall-time medians):
  P3 every commit with its files (--max-commits 0)  <= 1.00x git log --no-renames --name-status, less memory
  P3 with the default cap (500)                     <= 0.35x that git log
  P1 hook --dry-run, two services                   <= 2.00x git log --name-status -1
  P1 hook delivering one POST to loopback           <= 2.00x curl POSTing the same payload
  P4 hook --dry-run, 10,000 tags                     <= 2.00x git for-each-ref refs/tags, every tag reported
  E1 200,000 new tags, an email service              <= 2.00x git for-each-ref refs/tags
  E2 a 50 MB message of short lines, email           <= 2.00x git log -1 on that commit
  E3 1 commit adding 100,000 files, email            <= 2.00x git log --name-status -1
  hg P1, P2: what the hook adds to hg push           <  1.00x what notify adds (bench/hg_notify.py)
  10 services, each behind a 200 ms receiver         <= 1.30x one such service (bench/parallel_services.py)
  Q1 queue mode: a 1-commit push to 10 services       within 10 ms of the same push with no hook (bench/queue_mode.py)
  Q2 4 workers, 200 ms receivers                      >= 3x one worker's deliveries/s
  Q3 4 workers, a receiver that answers at once       >= 500 deliveries/s
"""

import argparse
import http.server
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from hg_notify import hg_rows
from parallel_services import services_times
from queue_mode import queue_rows

ZERO = "0" * 40


class FastReceiver(http.server.BaseHTTPRequestHandler):
    """Answers 200 at once."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def git(*args, cwd, input=None):
    return subprocess.run(["git", *args], cwd=cwd, input=input, check=True, capture_output=True)


def fast_import(repo, commits, files, touched, seed, base_date=1795770000):
    """A history of `commits` commits on main, each touching 1..`touched` of `files`."""
    rng = random.Random(seed)
    out = []
    for n in range(commits):
        count = rng.randint(1, touched)
        paths = sorted({f"dir{k % 40}/file{k}.txt" for k in (rng.randrange(files) for _ in range(count))})
        message = f"change {n}\n\nbody of change {n}\n"
        out.append(f"commit refs/heads/main\nmark :{n + 1}\n"
                   f"author Bench <bench@example.com> {base_date + n} +0100\n"
                   f"committer Bench <bench@example.com> {base_date + n} +0100\n"
                   f"data {len(message.encode())}\n{message}")
        if n:
            out.append(f"from :{n}\n")
        for path in paths:
            content = f"{path} at {n}\n"
            out.append(f"M 100644 inline {path}\ndata {len(content.encode())}\n{content}")
        out.append("\n")
    git("fast-import", "--quiet", cwd=repo, input="".join(out).encode())


def rev(repo, spec):
    return git("rev-parse", spec, cwd=repo).stdout.decode().strip()


def measure(command, runs, cwd, stdin=None, env=None):
    """Median wall time over `runs` runs, and peak RSS (MiB) from one more run under
    /usr/bin/time (a forked Python's own pages would count otherwise)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], cwd=cwd, env=env,
                       input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        peak = int(report.read().strip().splitlines()[-1]) / 1024
    return statistics.median(times), peak


def email_rows(binary, runs, smoke, top, env, sizes=None):
    """E1-E3: an email service on a huge push (many refs, a huge message, a wide commit),
    each against git's own command on the same repository: (name, ours, theirs, note).
    `sizes` (tags, message MB, files) replaces the default ones, for a growth curve."""
    rows = []
    many, megabytes, wide = sizes or ((200, 0.05, 1_000) if smoke else (200_000, 50, 100_000))
    email = '[[service]]\nbroker = "email"\nto = "dev@example.com"\n'

    # E1: many new lightweight tags, one email (the ref-change note).
    e1 = os.path.join(top, "e1.git")
    git("init", "--quiet", "--bare", e1, cwd=top)
    fast_import(e1, 20, 20, 3, seed=5)
    commits = git("rev-list", "main", cwd=e1).stdout.decode().split()
    git("update-ref", "--stdin", cwd=e1,
        input="".join(f"create refs/tags/t{n:06d} {commits[n % len(commits)]}\n" for n in range(many)).encode())
    lines = "".join(f"{ZERO} {commits[n % len(commits)]} refs/tags/t{n:06d}\n" for n in range(many))
    with open(os.path.join(e1, "pushbroker.toml"), "w") as f:
        f.write(email)
    tag_mail = measure([binary, "hook", "--dry-run"], runs, e1, stdin=lines.encode(), env=dict(env, GIT_DIR=e1))
    refs = measure(["git", "for-each-ref", "refs/tags"], runs, e1, env=env)
    rows.append((f"E1 {many} new tags, email, hook --dry-run", tag_mail, refs, "vs git for-each-ref"))

    # E2: one commit whose message is huge and made of short lines.
    e2 = os.path.join(top, "e2.git")
    git("init", "--quiet", "--bare", e2, cwd=top)
    fast_import(e2, 1, 10, 3, seed=6)
    message = "".join(f"line {n:07d} of a long message\n" for n in range(int(megabytes * 1e6 / 31)))
    blob = message.encode()
    git("fast-import", "--quiet", cwd=e2, input=(
        "commit refs/heads/main\nauthor Bench <bench@example.com> 1795770000 +0100\n"
        "committer Bench <bench@example.com> 1795770000 +0100\n"
        f"data {len(blob)}\n").encode() + blob + b"from refs/heads/main^0\nM 100644 inline big.txt\ndata 4\nbig\n\n")
    new, old = rev(e2, "main"), rev(e2, "main~1")
    with open(os.path.join(e2, "pushbroker.toml"), "w") as f:
        f.write(email)
    huge = measure([binary, "hook", "--dry-run"], runs, e2, stdin=f"{old} {new} refs/heads/main\n".encode(),
                   env=dict(env, GIT_DIR=e2))
    log_one = measure(["git", "log", "-1", new], runs, e2, env=env)
    rows.append((f"E2 a {len(blob) / 1e6:.2f} MB message, email, hook --dry-run", huge, log_one, "vs git log -1"))

    # E3: one commit adding many files in many directories.
    e3 = os.path.join(top, "e3.git")
    git("init", "--quiet", "--bare", e3, cwd=top)
    fast_import(e3, 1, 10, 3, seed=7)
    out = ["blob\nmark :1\ndata 5\nwide\n\n",
           "commit refs/heads/main\nauthor Bench <bench@example.com> 1795770000 +0100\n"
           "committer Bench <bench@example.com> 1795770000 +0100\ndata 11\nwide commit\n"
           "from refs/heads/main^0\n"]
    out.extend(f"M 100644 :1 wide{n % (wide // 100)}/file{n}.txt\n" for n in range(wide))
    git("fast-import", "--quiet", cwd=e3, input="".join(out).encode())
    new, old = rev(e3, "main"), rev(e3, "main~1")
    with open(os.path.join(e3, "pushbroker.toml"), "w") as f:
        f.write(email)
    files = measure([binary, "hook", "--dry-run"], runs, e3, stdin=f"{old} {new} refs/heads/main\n".encode(),
                    env=dict(env, GIT_DIR=e3))
    status = measure(["git", "log", "--name-status", "-1", new], runs, e3, env=env)
    rows.append((f"E3 1 commit, {wide} files, email, hook --dry-run", files, status, "vs git log --name-status -1"))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="tiny data sets, one run each")
    options = parser.parse_args()
    binary = os.path.abspath(options.binary)
    size = 200 if options.smoke else 10_000
    runs = 1 if options.smoke else options.runs
    top = tempfile.mkdtemp(prefix="pushbroker-bench-")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", USER="bench",
               PUSHBROKER_SITE=os.path.join(top, "site.toml"))
    os.environ.update(env)
    with open(env["PUSHBROKER_SITE"], "w") as f:
        f.write('canon_url = "https://code.example.com"\n\n'
                '[network]\nallow = ["127.0.0.0/8", "::1/128"]   # the loopback receivers\n')
    rows = []

    def row(name, ours, theirs, target, note="", strict=False):
        """One line; `ours` and `theirs` are (seconds, peak MiB or None)."""
        ratio = ours[0] / theirs[0] if theirs[0] > 0 else float("nan")
        met = ratio < target if strict else ratio <= target
        ok = "-" if options.smoke else "ok" if met else "MISSED"
        memory = " ".join(f"{m:>6.1f}" if m is not None else f"{'-':>6}" for m in (ours[1], theirs[1]))
        rows.append(f"{name:<48} {ours[0] * 1000:>9.1f}ms {theirs[0] * 1000:>9.1f}ms {ratio:>6.2f}x "
                    f"{'<' if strict else '<='}{target:>4.2f}x {ok:<6} {memory}  {note}")

    # P3: a long history, pushed at once.
    p3 = os.path.join(top, "p3.git")
    git("init", "--quiet", "--bare", p3, cwd=top)
    fast_import(p3, size, 2000, 5, seed=3)
    tip = rev(p3, "main")
    root = rev(p3, "main~%d" % (size - 1))
    log = ["git", "log", "--no-renames", "--name-status", f"{root}..{tip}"]
    git_log = measure(log, runs, p3, env=env)
    full = measure([binary, "payload", p3, "--max-commits", "0", root, tip, "refs/heads/main"], runs, top, env=env)
    capped = measure([binary, "payload", p3, root, tip, "refs/heads/main"], runs, top, env=env)
    row(f"P3 {size} commits, all files (--max-commits 0)", full, git_log, 1.00)
    row(f"P3 {size} commits, default cap (500)", capped, git_log, 0.35)

    # P1: one commit on top of 200, through the hook with two services.
    p1 = os.path.join(top, "p1.git")
    git("init", "--quiet", "--bare", p1, cwd=top)
    fast_import(p1, 201, 60, 3, seed=1)
    new, old = rev(p1, "main"), rev(p1, "main~1")
    with open(os.path.join(p1, "pushbroker.toml"), "w") as f:
        f.write('[[service]]\nbroker = "email"\nto = "dev@example.com"\n\n'
                '[[service]]\nbroker = "post"\nurl = "https://ci.example.com/hook"\n')
    hook = measure([binary, "hook", "--dry-run"], max(runs, 21) if not options.smoke else 1, p1,
                   stdin=f"{old} {new} refs/heads/main\n".encode(), env=dict(env, GIT_DIR=p1))
    one = measure(["git", "log", "--name-status", "-1", new], max(runs, 21) if not options.smoke else 1, p1, env=env)
    row("P1 1 commit, hook --dry-run, 2 services", hook, one, 2.00)

    # P1 delivered for real: one json POST to a receiver on loopback that answers at once,
    # so what is measured is the hook itself, the write-ahead journal (one fsynced file)
    # included.
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FastReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    p1_post = os.path.join(top, "p1-post.git")
    shutil.copytree(p1, p1_post)
    with open(os.path.join(p1_post, "pushbroker.toml"), "w") as f:
        f.write(f'[[service]]\nbroker = "post"\nurl = "http://127.0.0.1:{server.server_port}/"\n'
                'format = "json"\n')
    delivered = measure([binary, "hook"], max(runs, 21) if not options.smoke else 1, p1_post,
                        stdin=f"{old} {new} refs/heads/main\n".encode(), env=dict(env, GIT_DIR=p1_post))
    # The baseline: the same POST (the payload the hook sends) made by curl.
    body = os.path.join(top, "p1-body.json")
    with open(body, "wb") as f:
        f.write(subprocess.run([binary, "payload", p1_post, old, new, "refs/heads/main"], cwd=top,
                               env=env, capture_output=True, check=True).stdout)
    curl = measure(["curl", "-sS", "-o", "/dev/null", "-H", "Content-Type: application/json",
                    "--data-binary", f"@{body}", f"http://127.0.0.1:{server.server_port}/"],
                   max(runs, 21) if not options.smoke else 1, top, env=env)
    server.shutdown()
    row("P1 1 commit, hook delivering 1 POST (loopback)", delivered, curl, 2.00,
        "vs curl POSTing that payload; journal fsynced")

    # P4: many new lightweight tags in one push.
    tags = size
    p4 = os.path.join(top, "p4.git")
    git("init", "--quiet", "--bare", p4, cwd=top)
    fast_import(p4, 200, 60, 3, seed=4)
    commits = git("rev-list", "main", cwd=p4).stdout.decode().split()
    lines = "".join(f"{ZERO} {commits[n % len(commits)]} refs/tags/t{n:05d}\n" for n in range(tags))
    git("update-ref", "--stdin", cwd=p4,
        input="".join(f"create refs/tags/t{n:05d} {commits[n % len(commits)]}\n" for n in range(tags)).encode())
    with open(os.path.join(p4, "pushbroker.toml"), "w") as f:
        f.write('[[service]]\nbroker = "post"\nurl = "https://ci.example.com/hook"\nformat = "json"\n')
    tag_hook = measure([binary, "hook", "--dry-run"], runs, p4, stdin=lines.encode(), env=dict(env, GIT_DIR=p4))
    refs = measure(["git", "for-each-ref", "refs/tags"], runs, p4, env=env)
    printed = subprocess.run([binary, "hook", "--dry-run"], cwd=p4, input=lines.encode(), env=dict(env, GIT_DIR=p4),
                             capture_output=True, check=True).stdout.decode()
    payload = json.loads(printed[printed.index("\n{") + 1:])
    reported = len(payload["refs"])
    row(f"P4 {tags} new tags, hook --dry-run", tag_hook, refs, 2.00, f"{reported} of {tags} tags in refs")
    if reported != tags:
        sys.exit(f"P4: only {reported} of {tags} tags were reported")

    # Email: huge inputs through an email service, against git's own command on the same data.
    for name, ours, theirs, note in email_rows(binary, runs, options.smoke, top, env):
        row(name, ours, theirs, 2.00, note)

    # Mercurial: the hook's added cost against the notify extension's, on the same pushes.
    for label, ours, notify, alone in hg_rows(binary, runs, options.smoke):
        row(label, (ours, None), (notify, None), 1.00, f"hg push alone {alone * 1000:.0f}ms", strict=True)

    # Delivery: ten slow services cost about what one does.
    one, ten = services_times(binary, runs if options.smoke else max(runs, 9))
    row("10 services vs 1, each receiver waits 200 ms", (ten, None), (one, None), 1.30)

    # Queue mode, against a real nats-server: the hook's cost and the workers' throughput.
    for name, ours, theirs, target, note in queue_rows(binary, runs if options.smoke else max(runs, 9),
                                                       options.smoke):
        row(name, (ours, None), (theirs, None), target, note)

    cpus = os.cpu_count()
    print(f"medians of {runs} runs on {cpus} cores; mem: peak RSS in MiB. Baselines: P3 git log "
          "--no-renames --name-status;\nP1, E3 git log --name-status -1; P4, E1 git for-each-ref; E2 git log -1; "
          "hg: what notify adds to the same push;\nservices: one service; Q1: the same push to a "
          "repository with no hook; Q2: one worker; Q3: 500 deliveries/s")
    print(f"{'case':<48} {'pushbroker':>11} {'baseline':>11} {'ratio':>7} {'target':>7} {'':<6} "
          f"{'mem':>6} {'base':>6}")
    for line in rows:
        print(line)
    shutil.rmtree(top)
    missed = [line for line in rows if " MISSED " in line]
    if missed and not options.smoke:
        print(f"{len(missed)} targets missed")


if __name__ == "__main__":
    main()
