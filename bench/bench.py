#!/usr/bin/env python3
"""pushbroker's benchmarks: pushbroker against git's and hg's own commands on the same
data, in the same run. Prints one table: medians of wall time and of CPU (user+sys of
the command and its children), their ratios, and peak memory.

    cargo build --release && python3 bench/bench.py            # the full data sets
    python3 bench/bench.py --only P3,P4 --runs 5                # some rows
    python3 bench/bench.py --smoke                              # tiny sets, one run each (CI)

Data sets (bench/datasets.py: `git fast-import`, fixed dates, cached between runs):
  P1  one commit touching 3 files on top of 200
  P3  10,000 commits, each touching 1-5 of ~2,000 files
  P4  10,000 and 100,000 new tags in one push, left loose as receive-pack leaves them;
      10,000 packed (git pack-refs), lightweight and annotated
  M   a 70,000-commit history pushed to an empty repository
  W   one commit adding 100,000 files in 1,000 directories
  R   a real-shaped history: 600 commits on ~4,000 files in ~300 directories, deep paths
  E1  200,000 new lightweight tags in one push, an email service
  E2  one commit with a 50 MB message of short lines, an email service
Targets (issue 16; the basis says which ratio: wall, cpu or mem):
  P3 --max-commits 0, all file lists        cpu <= 1.00x, wall <= 0.60x, mem <= 1.00x git log --no-renames --name-status
  P3 with the default cap (500)            wall <= 0.35x that git log
  P1 hook --dry-run, two services          wall <= 1.30x git log -1 --name-status
  P1 hook delivering one POST to loopback  wall <= 2.00x curl POSTing the same payload
  P4 hook --dry-run, two services           wall <= 1.50x git for-each-ref, every tag reported
  M  payload --max-commits 0                mem <= 1.00x git log --no-renames --name-status
  W  hook --dry-run, an email service       wall <= 2.00x git log --name-status -1
  R  payload --max-commits 0                cpu <= 1.00x git log --no-renames --name-status
  E1, E2                                    wall <= 2.00x git for-each-ref, git log -1
  hg P1, P2: what the hook adds to hg push  <  1.00x what notify adds (bench/hg_notify.py)
  10 services, each behind a 200 ms receiver         <= 1.30x one such service (bench/parallel_services.py)
  Q1 queue mode: a 1-commit push to 10 services       within 10 ms of the same push with no hook (bench/queue_mode.py)
  Q2 4 workers, 200 ms receivers                      >= 3x one worker's deliveries/s
  Q3 4 workers, a receiver that answers at once       >= 500 deliveries/s
P3, M and R check that every commit's file list equals git log's; P4 that every tag is
reported.
"""

import argparse
import http.server
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from datasets import ZERO, Sets, fast_import, git, history, many_tags, real_shaped, rev, wide_commit
from hg_notify import hg_rows
from parallel_services import services_times
from queue_mode import queue_rows

ROWS = ["P3", "P1", "P4", "M", "W", "R", "E", "hg", "services", "queue"]
TWO_SERVICES = ('[[service]]\nbroker = "email"\nto = "dev@example.com"\n\n'
                '[[service]]\nbroker = "post"\nurl = "https://ci.example.com/hook"\n')
EMAIL = '[[service]]\nbroker = "email"\nto = "dev@example.com"\n'


class FastReceiver(http.server.BaseHTTPRequestHandler):
    """Answers 200 at once."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(command, runs, cwd, stdin=None, env=None):
    """(median wall s, peak RSS MiB, median CPU s) over `runs` runs. CPU is user+sys of
    the waited-for children (getrusage deltas); peak RSS comes from one more run under
    /usr/bin/time (a forked Python's own pages would count otherwise)."""
    times, cpus = [], []
    for _ in range(runs):
        cpu = children_cpu()
        started = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, input=stdin, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        times.append(time.perf_counter() - started)
        cpus.append(children_cpu() - cpu)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()}")
    with tempfile.NamedTemporaryFile("r") as report:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], cwd=cwd, env=env,
                       input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        peak = int(report.read().strip().splitlines()[-1]) / 1024
    return statistics.median(times), peak, statistics.median(cpus)


def check_files(binary, repo, old, tip, env, expect):
    """Every commit's file list in `payload --max-commits 0` equals git log's."""
    out = subprocess.run([binary, "payload", repo, "--max-commits", "0", old, tip, "refs/heads/main"],
                         env=env, capture_output=True, check=True).stdout
    commits = json.loads(out)["commits"]
    spec = tip if old == ZERO else f"{old}..{tip}"
    log = git("log", "--no-renames", "--name-status", "--diff-merges=first-parent", "--format=commit %H", spec,
              cwd=repo).stdout.decode()
    want, current = {}, None
    for line in log.splitlines():
        if line.startswith("commit "):
            current = want.setdefault(line[7:], [])
        elif line:
            status, path = line.split("\t", 1)
            current.append((path, {"A": "added", "D": "removed"}.get(status, "modified")))
    got = {c["raw_node"]: sorted((f["file"], f["type"]) for f in c["files"]) for c in commits}
    if len(commits) != expect or got != {k: sorted(v) for k, v in want.items()}:
        sys.exit(f"{repo}: payload's file lists differ from git log's ({len(commits)} commits, "
                 f"{expect} expected)")


def email_rows(binary, runs, smoke, top, env):
    """E1, E2: an email service on a huge push (many refs, a huge message), each against
    git's own command on the same repository: (name, ours, theirs, note)."""
    rows = []
    many, megabytes = (200, 0.05) if smoke else (200_000, 50)

    # E1: many new lightweight tags, one email (the ref-change note).
    e1 = os.path.join(top, "e1.git")
    git("init", "--quiet", "--bare", e1, cwd=top)
    fast_import(e1, 20, 20, 3, seed=5)
    commits = git("rev-list", "main", cwd=e1).stdout.decode().split()
    git("update-ref", "--stdin", cwd=e1,
        input="".join(f"create refs/tags/t{n:06d} {commits[n % len(commits)]}\n" for n in range(many)).encode())
    lines = "".join(f"{ZERO} {commits[n % len(commits)]} refs/tags/t{n:06d}\n" for n in range(many))
    with open(os.path.join(e1, "pushbroker.toml"), "w") as f:
        f.write(EMAIL)
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
        f.write(EMAIL)
    huge = measure([binary, "hook", "--dry-run"], runs, e2, stdin=f"{old} {new} refs/heads/main\n".encode(),
                   env=dict(env, GIT_DIR=e2))
    log_one = measure(["git", "log", "-1", new], runs, e2, env=env)
    rows.append((f"E2 a {len(blob) / 1e6:.2f} MB message, email, hook --dry-run", huge, log_one, "vs git log -1"))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/pushbroker")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="tiny data sets, one run each")
    parser.add_argument("--only", default=",".join(ROWS), help=f"rows to run, of {','.join(ROWS)}")
    options = parser.parse_args()
    only = set(options.only.split(","))
    if only - set(ROWS):
        parser.error(f"unknown rows {','.join(sorted(only - set(ROWS)))}; rows are {','.join(ROWS)}")
    binary = os.path.abspath(options.binary)
    smoke = options.smoke
    size = 200 if smoke else 10_000
    runs = 1 if smoke else options.runs
    many_runs = 1 if smoke else max(runs, 21)
    top = tempfile.mkdtemp(prefix="pushbroker-bench-")
    sets = Sets(top, smoke)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", USER="bench",
               PUSHBROKER_SITE=os.path.join(top, "site.toml"))
    os.environ.update(env)
    with open(env["PUSHBROKER_SITE"], "w") as f:
        f.write('canon_url = "https://code.example.com"\n\n'
                '[network]\nallow = ["127.0.0.0/8", "::1/128"]   # the loopback receivers\n')
    rows = []

    def row(name, ours, theirs, target, basis="wall", note="", strict=False):
        """One line; `ours` and `theirs` are (wall s, peak MiB or None[, CPU s])."""
        def ratio(a, b):
            return a / b if b and a is not None else float("nan")
        wall = ratio(ours[0], theirs[0])
        cpu = ratio(ours[2], theirs[2]) if len(ours) > 2 else float("nan")
        mem = ratio(ours[1], theirs[1])
        judged = {"wall": wall, "cpu": cpu, "mem": mem}[basis]
        met = judged < target if strict else judged <= target
        ok = "-" if smoke else "ok" if met else "MISSED"

        def ms(value):
            return f"{value * 1000:>8.1f}" if value is not None else f"{'-':>8}"
        cpus = f"{ms(ours[2])} {ms(theirs[2])} {cpu:>5.2f}x" if len(ours) > 2 else f"{'-':>8} {'-':>8} {'-':>6}"
        memory = " ".join(f"{m:>6.1f}" if m is not None else f"{'-':>6}" for m in (ours[1], theirs[1]))
        rows.append(f"{name:<50} {ms(ours[0])} {ms(theirs[0])} {wall:>5.2f}x {cpus} "
                    f"{basis:>4}{'<' if strict else '<='}{target:>4.2f}x {ok:<6} {memory}  {note}")

    def hook(repo, config, stdin, count=runs):
        with open(os.path.join(repo, "pushbroker.toml"), "w") as f:
            f.write(config)
        return measure([binary, "hook", "--dry-run"], count, repo, stdin=stdin.encode(), env=dict(env, GIT_DIR=repo))

    if "P3" in only:
        # P3: a long history, pushed at once.
        p3, root, tip = history(sets, f"p3-{size}", size, seed=3)
        check_files(binary, p3, root, tip, env, size - 1)
        git_log = measure(["git", "log", "--no-renames", "--name-status", f"{root}..{tip}"], runs, p3, env=env)
        full = measure([binary, "payload", p3, "--max-commits", "0", root, tip, "refs/heads/main"], runs, top, env=env)
        capped = measure([binary, "payload", p3, root, tip, "refs/heads/main"], runs, top, env=env)
        label = f"P3 {size} commits, all files (--max-commits 0)"
        row(label, full, git_log, 1.00, "cpu")
        row(label, full, git_log, 0.60, "wall", "on an idle machine")
        row(label, full, git_log, 1.00, "mem")
        row(f"P3 {size} commits, default cap (500)", capped, git_log, 0.35)

    if "P1" in only:
        # P1: one commit on top of 200, through the hook with two services; both commands
        # started the same way (exec'd directly, no shell).
        p1, _, new = history(sets, "p1", 201, seed=1)
        old = rev(p1, "main~1")
        ours = hook(p1, TWO_SERVICES, f"{old} {new} refs/heads/main\n", many_runs)
        one = measure(["git", "log", "-1", "--name-status", new], many_runs, p1, env=env)
        row("P1 1 commit, hook --dry-run, 2 services", ours, one, 1.30, note="vs git log -1 --name-status")

        # P1 delivered for real: one json POST to a receiver on loopback that answers at
        # once, so what is measured is the hook itself, the write-ahead journal (one
        # fsynced file) included.
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FastReceiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        p1_post = os.path.join(top, "p1-post.git")
        shutil.copytree(p1, p1_post)
        with open(os.path.join(p1_post, "pushbroker.toml"), "w") as f:
            f.write(f'[[service]]\nbroker = "post"\nurl = "http://127.0.0.1:{server.server_port}/"\n'
                    'format = "json"\n')
        delivered = measure([binary, "hook"], many_runs, p1_post,
                            stdin=f"{old} {new} refs/heads/main\n".encode(), env=dict(env, GIT_DIR=p1_post))
        # The baseline: the same POST (the payload the hook sends) made by curl.
        body = os.path.join(top, "p1-body.json")
        with open(body, "wb") as f:
            f.write(subprocess.run([binary, "payload", p1_post, old, new, "refs/heads/main"], cwd=top,
                                   env=env, capture_output=True, check=True).stdout)
        curl = measure(["curl", "-sS", "-o", "/dev/null", "-H", "Content-Type: application/json",
                        "--data-binary", f"@{body}", f"http://127.0.0.1:{server.server_port}/"],
                       many_runs, top, env=env)
        server.shutdown()
        row("P1 1 commit, hook delivering 1 POST (loopback)", delivered, curl, 2.00,
            note="vs curl POSTing that payload; journal fsynced")

    if "P4" in only:
        # P4: many new tags in one push, against git for-each-ref on the same repository.
        cases = [(size, False, False), (10 * size, False, False), (size, True, False), (size, True, True)]
        for tags, packed, annotated in cases:
            repo, lines = many_tags(sets, tags, packed, annotated)
            ours = hook(repo, TWO_SERVICES, lines)
            refs = measure(["git", "for-each-ref"], runs, repo, env=env)
            printed = subprocess.run([binary, "hook", "--dry-run"], cwd=repo, input=lines.encode(),
                                     env=dict(env, GIT_DIR=repo), capture_output=True, check=True).stdout.decode()
            reported = printed.count('"ref": "refs/tags/')
            kind = f"{'annotated' if annotated else 'light'} {'packed' if packed else 'loose'}"
            row(f"P4 {tags} new tags, {kind}, hook --dry-run", ours, refs, 1.50,
                note=f"vs git for-each-ref; {reported} reported")
            if reported != tags:
                sys.exit(f"P4: only {reported} of {tags} tags were reported")

    if "M" in only:
        # M: a long history pushed to an empty repository: memory against git log's.
        commits = 700 if smoke else 70_000
        repo, _, tip = history(sets, f"m-{commits}", commits, seed=8)
        check_files(binary, repo, ZERO, tip, env, commits)
        m_runs = 1 if smoke else min(runs, 3)
        git_log = measure(["git", "log", "--no-renames", "--name-status", tip], m_runs, repo, env=env)
        full = measure([binary, "payload", repo, "--max-commits", "0", ZERO, tip, "refs/heads/main"], m_runs,
                       top, env=env)
        row(f"M {commits} commits, all files, peak memory", full, git_log, 1.00, "mem")

    if "W" in only:
        # W: one commit adding many files in many directories, an email service.
        wide = 1_000 if smoke else 100_000
        repo, old, new = wide_commit(sets, wide)
        ours = hook(repo, EMAIL, f"{old} {new} refs/heads/main\n")
        status = measure(["git", "log", "--name-status", "-1", new], runs, repo, env=env)
        row(f"W 1 commit, {wide} files, email, hook --dry-run", ours, status, 2.00,
            note="vs git log --name-status -1")

    if "R" in only:
        # R: a real-shaped history, every file list.
        commits, files, dirs = (60, 400, 30) if smoke else (600, 4_000, 300)
        repo, root, tip = real_shaped(sets, commits, files, dirs)
        check_files(binary, repo, root, tip, env, commits)
        git_log = measure(["git", "log", "--no-renames", "--name-status", f"{root}..{tip}"], runs, repo, env=env)
        full = measure([binary, "payload", repo, "--max-commits", "0", root, tip, "refs/heads/main"], runs,
                       top, env=env)
        row(f"R {commits} commits, {files} files, {dirs} dirs, all files", full, git_log, 1.00, "cpu")

    if "E" in only:
        # Email: huge inputs through an email service, against git's own command.
        for name, ours, theirs, note in email_rows(binary, runs, smoke, top, env):
            row(name, ours, theirs, 2.00, note=note)

    if "hg" in only:
        # Mercurial: the hook's added cost against the notify extension's, on the same pushes.
        for label, ours, notify, alone in hg_rows(binary, runs, smoke):
            row(label, (ours, None), (notify, None), 1.00, note=f"hg push alone {alone * 1000:.0f}ms",
                strict=True)

    if "services" in only:
        # Delivery: ten slow services cost about what one does.
        one, ten = services_times(binary, runs if smoke else max(runs, 9))
        row("10 services vs 1, each receiver waits 200 ms", (ten, None), (one, None), 1.30)

    if "queue" in only:
        # Queue mode, against a real nats-server: the hook's cost and the workers' throughput.
        for name, ours, theirs, target, note in queue_rows(binary, runs if smoke else max(runs, 9), smoke):
            row(name, (ours, None), (theirs, None), target, note=note)

    load = os.getloadavg()
    print(f"medians of {runs} runs on {os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          "at the end; cpu: user+sys; mem: peak RSS in MiB.\nBaselines: P3, M, R git log --no-renames "
          "--name-status; P1, W git log --name-status -1; P4 git for-each-ref; E1 git for-each-ref refs/tags;\n"
          "E2 git log -1; hg: what notify adds to the same push; services: one service; Q1: the same push "
          "to a repository with no hook; Q2: one worker; Q3: 500 deliveries/s")
    print(f"{'case':<50} {'wall':>8} {'base':>8} {'ratio':>6} {'cpu':>8} {'base':>8} {'ratio':>6} "
          f"{'target':>11} {'':<6} {'mem':>6} {'base':>6}")
    for line in rows:
        print(line)
    shutil.rmtree(top)
    missed = [line for line in rows if " MISSED " in line]
    if missed and not smoke:
        print(f"{len(missed)} targets missed")


if __name__ == "__main__":
    main()
