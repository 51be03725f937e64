#!/usr/bin/env python3
"""A pushbroker custom broker: keeps a changelog of every push.

Appends one line per push, then one line per changeset, to `changelog.txt` in its
working directory (the repository's state directory, $GIT_DIR/pushbroker/):

    2026-11-27T09:00:03Z alice pushed 2 changesets to acme/widgets (main)
      0123456789ab Fix the frobnicator

Options (in the repository's [[service]] table, read from the payload's `service`):
    prefix = "…"     put before each push line (optional)

Exit codes follow the broker contract: 0 done, 75 try again later (the file could not
be written), 2 the payload is not what pushbroker sends (a bug: do not retry).
"""

import json
import os
import sys


def main():
    try:
        payload = json.load(sys.stdin)
        user = payload["user"]
        repository = payload["repository"]
        commits = payload["commits"]
        total = payload["total_commits"]
        refs = payload["refs"]
        options = payload.get("service") or {}
    except (ValueError, KeyError, TypeError) as error:
        print(f"changelog: unexpected payload: {error!r}", file=sys.stderr)
        return 2

    branches = sorted({ref["name"] for ref in refs})
    noun = "changeset" if total == 1 else "changesets"
    lines = [
        f"{options.get('prefix', '')}{payload['pushed_at']} {user} pushed {total} {noun} "
        f"to {repository['owner']}/{repository['name']} ({', '.join(branches)})"
    ]
    for commit in commits:
        first = (commit["message"].splitlines() or [""])[0]
        lines.append(f"  {commit['node']} {first}")
    if payload.get("truncated"):
        lines.append(f"  … and {total - len(commits)} older changesets")

    try:
        with open("changelog.txt", "a", encoding="utf-8", errors="replace") as log:
            log.write("\n".join(lines) + "\n")
    except OSError as error:
        print(f"changelog: cannot write changelog.txt: {error}", file=sys.stderr)
        return 75
    print(f"changelog: {len(lines)} lines for delivery {os.environ.get('PUSHBROKER_DELIVERY', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
