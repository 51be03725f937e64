"""bench.py's git data sets: built with `git fast-import` and fixed dates (deterministic),
and cached between runs in $PUSHBROKER_BENCH_CACHE (default ~/.cache/pushbroker-bench):
a full-size set is built once per machine; smoke sets are built fresh in the run's
temporary directory. Each builder returns the repository's path and what the rows need.
"""

import os
import random
import shutil
import subprocess

ZERO = "0" * 40
# Bumped when a builder changes, so a stale cache is not measured.
VERSION = 2


def git(*args, cwd, input=None):
    return subprocess.run(["git", *args], cwd=cwd, input=input, check=True, capture_output=True)


def rev(repo, spec):
    return git("rev-parse", spec, cwd=repo).stdout.decode().strip()


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


class Sets:
    """Where data sets are built: a cache directory, or the run's own for smoke runs."""

    def __init__(self, top, smoke):
        self.top = top
        self.cache = None if smoke else os.environ.get(
            "PUSHBROKER_BENCH_CACHE", os.path.expanduser("~/.cache/pushbroker-bench"))

    def repo(self, name, build):
        """The bare repository `name`, made by `build(path)` unless cached."""
        if self.cache is None:
            path = os.path.join(self.top, f"{name}.git")
            git("init", "--quiet", "--bare", path, cwd=self.top)
            build(path)
            return path
        path = os.path.join(self.cache, f"v{VERSION}-{name}.git")
        if not os.path.exists(path):
            os.makedirs(self.cache, exist_ok=True)
            partial = path + ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            git("init", "--quiet", "--bare", partial, cwd=self.cache)
            build(partial)
            os.rename(partial, path)
        return path


def history(sets, name, commits, seed):
    """`commits` commits touching 1-5 of ~2,000 files in 40 directories: (repo, root, tip)."""
    repo = sets.repo(name, lambda path: fast_import(path, commits, 2000, 5, seed=seed))
    return repo, rev(repo, f"main~{commits - 1}"), rev(repo, "main")


def real_shaped(sets, commits, files, dirs, seed=11):
    """A history shaped like a real project's: a first commit of `files` files in `dirs`
    directories nested 1-7 deep, then `commits` commits each changing, adding or
    deleting 1-25 files clustered in a few directories. (repo, root, tip)."""

    def build(path):
        rng = random.Random(seed)
        names = ["src", "lib", "core", "util", "net", "io", "fs", "ui", "test", "docs", "api",
                 "internal", "platform", "drivers", "common"]
        directories = []
        for d in range(dirs):
            depth = rng.randint(1, 7)
            parent = rng.choice(directories) if directories and depth > 1 else ""
            leaf = f"{rng.choice(names)}{d}"
            directories.append(f"{parent}/{leaf}" if parent else leaf)
        live = {}
        for n in range(files):
            live[f"{rng.choice(directories)}/file{n}.{rng.choice(['c', 'h', 'rs', 'txt', 'py'])}"] = n
        date = 1795770000
        out = []
        message = "initial import\n"
        out.append(f"commit refs/heads/main\nmark :1\nauthor Bench <bench@example.com> {date} +0100\n"
                   f"committer Bench <bench@example.com> {date} +0100\ndata {len(message)}\n{message}")
        for p in sorted(live):
            content = f"{p}\n" * 8
            out.append(f"M 100644 inline {p}\ndata {len(content)}\n{content}")
        out.append("\n")
        added = files
        for n in range(1, commits + 1):
            message = f"area: change {n}\n\nWhy change {n} was made.\n"
            out.append(f"commit refs/heads/main\nmark :{n + 1}\n"
                       f"author Dev{n % 17} <dev{n % 17}@example.com> {date + n * 60} +0100\n"
                       f"committer Dev{n % 17} <dev{n % 17}@example.com> {date + n * 60} +0100\n"
                       f"data {len(message)}\n{message}from :{n}\n")
            areas = rng.sample(directories, rng.randint(1, 3))
            in_area = [p for p in live if any(p.startswith(a + "/") for a in areas)] or list(live)
            for p in sorted(set(rng.choice(in_area) for _ in range(rng.randint(1, 25)))):
                if rng.random() < 0.05 and len(live) > files // 2:
                    del live[p]
                    out.append(f"D {p}\n")
                else:
                    live[p] = n
                    content = f"{p} at {n}\n"
                    out.append(f"M 100644 inline {p}\ndata {len(content)}\n{content}")
            if rng.random() < 0.3:
                p = f"{rng.choice(areas)}/new{added}.c"
                added += 1
                live[p] = n
                out.append(f"M 100644 inline {p}\ndata 4\nnew\n")
            out.append("\n")
        git("fast-import", "--quiet", cwd=path, input="".join(out).encode())

    repo = sets.repo(f"real-{commits}-{files}-{dirs}", build)
    return repo, rev(repo, f"main~{commits}"), rev(repo, "main")


def many_tags(sets, tags, packed, annotated):
    """200 commits and `tags` new tags on them, lightweight or annotated, left loose (as
    receive-pack leaves them) or packed: (repo, the hook's stdin)."""

    def build(path):
        fast_import(path, 200, 60, 3, seed=4)
        commits = git("rev-list", "main", cwd=path).stdout.decode().split()
        if annotated:
            out = []
            for n in range(tags):
                message = f"release t{n:06d}\n"
                out.append(f"tag t{n:06d}\nfrom {commits[n % len(commits)]}\n"
                           f"tagger Bench <bench@example.com> {1795770000 + n} +0100\n"
                           f"data {len(message)}\n{message}")
            git("fast-import", "--quiet", cwd=path, input="".join(out).encode())
        else:
            git("update-ref", "--stdin", cwd=path, input="".join(
                f"create refs/tags/t{n:06d} {commits[n % len(commits)]}\n" for n in range(tags)).encode())
        if packed:
            git("pack-refs", "--all", cwd=path)

    kind = f"{'annotated' if annotated else 'light'}-{'packed' if packed else 'loose'}"
    repo = sets.repo(f"tags-{tags}-{kind}", build)
    listed = git("for-each-ref", "--format=%(objectname) %(refname)", "refs/tags", cwd=repo).stdout.decode()
    lines = "".join(f"{ZERO} {line}\n" for line in listed.splitlines())
    loose = sum(len(names) for _, _, names in os.walk(os.path.join(repo, "refs", "tags")))
    if loose != (0 if packed else tags):
        raise SystemExit(f"{repo}: {loose} loose tags, expected {0 if packed else tags}")
    return repo, lines


def wide_commit(sets, wide):
    """One commit adding `wide` files in `wide / 100` directories: (repo, old, new)."""

    def build(path):
        fast_import(path, 1, 10, 3, seed=7)
        out = ["blob\nmark :1\ndata 5\nwide\n\n",
               "commit refs/heads/main\nauthor Bench <bench@example.com> 1795770000 +0100\n"
               "committer Bench <bench@example.com> 1795770000 +0100\ndata 11\nwide commit\n"
               "from refs/heads/main^0\n"]
        out.extend(f"M 100644 :1 wide{n % (wide // 100)}/file{n}.txt\n" for n in range(wide))
        git("fast-import", "--quiet", cwd=path, input="".join(out).encode())

    repo = sets.repo(f"wide-{wide}", build)
    return repo, rev(repo, "main~1"), rev(repo, "main")
