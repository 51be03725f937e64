"""pushbroker's Mercurial shim: runs inside hg and hands the pushed changesets to the
pushbroker binary, which does everything else (config, payload, delivery).

Installed by `pushbroker install REPO` (a copy is written to .hg/pushbroker/hook.py) as

    [hooks]
    changegroup.pushbroker = python:/srv/hg/widgets/.hg/pushbroker/hook.py:changegroup_hook
    txnclose.pushbroker = python:/srv/hg/widgets/.hg/pushbroker/hook.py:bookmark_hook
    [pushbroker]
    binary = /usr/local/bin/pushbroker

Running inside hg's own process saves starting hg again (~0.35 s) on every push. The
same gather() serves `pushbroker payload --rev` and `pushbroker test` through the
`hg pushbroker-gather` command this file also defines as an extension.

The protocol with the binary (`pushbroker hook --hg`): the binary reads the configs and
writes one JSON line to stdout, {"max_commits": N, "diff_lines": N|null} or
{"skip": true}; the shim then writes the gathered push as one JSON object to its stdin.
Everything the binary prints to stderr is shown to the pusher.
"""

import json
import os
import subprocess
import urllib.parse

from mercurial import encoding, error, registrar, scmutil
from mercurial.node import hex as _binhex, nullid, nullrev

cmdtable = {}
command = registrar.command(cmdtable)
testedwith = b"6.3"


def hex(node):
    """A node as a hex str."""
    return _binhex(node).decode("ascii")


def _text(data):
    """Mercurial's bytes (local encoding) as str: UTF-8, invalid bytes replaced."""
    if data is None:
        return None
    return encoding.fromlocal(data).decode("utf-8", "replace")


def _files(repo, ctx, filelogs):
    """Each touched file as added / modified / removed against the first parent. Only the
    changesets that will be delivered are classified, and cheaply: the manifest's delta
    tells which touched files still exist, the file's history whether it is new."""
    if len(ctx.parents()) > 1:
        # A merge's files() lists only what the merge itself changed: compare manifests.
        status = ctx.p1().status(ctx)
        kinds = [(f, "added") for f in status.added] + [(f, "modified") for f in status.modified] \
            + [(f, "removed") for f in status.removed]
        return [{"file": _text(path), "type": kind} for path, kind in sorted(kinds)]
    # readfast() is the delta against p1 when that is how the manifest is stored, else
    # the whole manifest: either way it holds every touched file that still exists.
    present = ctx.manifestctx().readfast()
    files = []
    for path in ctx.files():
        node = present.get(path)
        if node is None:
            kind = "removed"
        else:
            filelog = filelogs.get(path)
            if filelog is None:
                filelog = filelogs[path] = repo.file(path)
            kind = "added" if filelog.parents(node) == (nullid, nullid) else "modified"
        files.append({"file": _text(path), "type": kind})
    return files


def _diff(ctx, cap):
    lines, cut = [], 0
    for chunk in ctx.diff():
        for line in chunk.splitlines(True):
            if len(lines) < cap:
                lines.append(line.decode("utf-8", "replace"))
            else:
                cut += 1
    return {"text": "".join(lines), "cut_lines": cut}


def _changeset(repo, ctx, filelogs, diff_lines):
    """One changeset as pushbroker reads it."""
    time, offset = ctx.date()
    entry = {
        "node": hex(ctx.node()),
        "rev": ctx.rev(),
        "parents": [hex(p.node()) for p in ctx.parents() if p.rev() != nullrev],
        "user": _text(ctx.user()),
        "time": int(time),
        "offset": int(offset),
        "branch": _text(ctx.branch()),
        "desc": _text(ctx.description()),
        "files": _files(repo, ctx, filelogs),
        "manifest": hex(ctx.manifestnode()),
    }
    if diff_lines:
        entry["diff"] = _diff(ctx, diff_lines)
    return entry


def gather(repo, revs, max_commits=500, diff_lines=None, bookmark_changes=None, heads=False):
    """The push of `revs` (ascending): every changeset's metadata, file lists and patches
    for the newest `max_commits` (0: all), the named branches' old and new heads, and
    the bookmarks that moved (exact old values when `bookmark_changes` gives them).
    With `heads`, also the changeset each ref now points to when it is not among those
    detailed (a bookmark moved to an older changeset, a capped push): GitHub's
    `head_commit`."""
    revs = sorted(revs)
    keep = revs if max_commits == 0 else revs[-max_commits:] if max_commits else []
    changesets = []
    filelogs = {}
    for rev in keep:
        changesets.append(_changeset(repo, repo[rev], filelogs, diff_lines))
    refs = []
    # The rev-branch cache answers "which branch is rev N on" without parsing changesets.
    branchcache = repo.revbranchcache()

    def branch_of(rev):
        return branchcache.branchinfo(rev)[0]

    newest = {}  # branch -> its newest changeset in the push, in order of first appearance
    for rev in revs:
        newest[branch_of(rev)] = rev
    for branch, last in newest.items():
        # The branch's head before the push: the newest older changeset on it.
        old = revs[0] - 1
        while old >= 0 and branch_of(old) != branch:
            old -= 1
        old_node = hex(repo.changelog.node(old)) if old >= 0 else None
        refs.append({"ref": _text(branch), "name": _text(branch), "kind": "branch", "old": old_node,
                     "new": hex(repo.changelog.node(last)), "created": old_node is None,
                     "deleted": False})
    if bookmark_changes is not None:
        moved = sorted(bookmark_changes.items())
        for name, (old, new) in moved:
            refs.append({"ref": _text(name), "name": _text(name), "kind": "bookmark",
                         "old": hex(old) if old else None, "new": hex(new) if new else None,
                         "created": old is None, "deleted": new is None})
    else:
        for rev in revs:
            for name in repo[rev].bookmarks():
                refs.append({"ref": _text(name), "name": _text(name), "kind": "bookmark",
                             "old": None, "new": hex(repo[rev].node()), "created": False,
                             "deleted": False})
    found = {}
    if heads:
        detailed = set(entry["node"] for entry in changesets)
        for change in refs:
            node = change["new"]
            if node and not change["deleted"] and node not in detailed:
                found.setdefault(change["ref"], _changeset(repo, repo[node.encode("ascii")], filelogs, None))
    return {"total": len(revs), "changesets": changesets, "refs": refs, "heads": found}


def _binary(ui):
    binary = ui.config(b"pushbroker", b"binary")
    if not binary:
        raise error.Abort(b"pushbroker: no [pushbroker] binary in the hgrc: run `pushbroker install` again")
    return os.fsdecode(binary)


def _environment(url):
    """The binary's environment: hg's, plus REMOTE_USER for a push over HTTP, which hg
    reports in the hook's url (`remote:http:<address>:<user>`), not in the environment
    of a WSGI server."""
    env = dict(os.environ)
    parts = (url or b"").split(b":")
    if len(parts) >= 4 and parts[0] == b"remote" and parts[1] in (b"http", b"https") and parts[3]:
        env["REMOTE_USER"] = urllib.parse.unquote(parts[3].decode("utf-8", "replace"))
    return env


def _run(ui, repo, revs, bookmark_changes, args, url=None):
    """Starts the binary, answers its limits line with the gathered push, shows what it
    prints. Never raises: the push is already done."""
    try:
        proc = subprocess.Popen([_binary(ui), "hook", "--hg"] + args, cwd=repo.root,
                                env=_environment(url), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = proc.stdout.readline()
        limits = json.loads(line) if line.strip() else {"skip": True}
        if limits.get("skip"):
            data = b""
        else:
            gathered = gather(repo, revs, limits.get("max_commits", 500),
                              limits.get("diff_lines"), bookmark_changes, limits.get("heads", False))
            data = json.dumps(gathered).encode("utf-8")
        out, err = proc.communicate(data)
        for text in (out, err):
            if text:
                ui.write_err(text)
    except Exception as failure:  # the push must never be harmed
        ui.write_err(b"pushbroker: the hg hook failed: %s\n" % str(failure).encode("utf-8", "replace"))
    return False


def _bookmarks(kwargs):
    changes = kwargs.get("changes") or {}
    return changes.get(b"bookmarks")


def changegroup_hook(ui, repo, node=None, node_last=None, **kwargs):
    """changegroup: the changesets from node to node_last (or tip)."""
    unfiltered = repo.unfiltered()
    try:
        first = unfiltered[node].rev()
        last = unfiltered[node_last].rev() if node_last else len(unfiltered) - 1
    except Exception as failure:  # an unknown HG_NODE: say so, never harm the push
        ui.write_err(b"pushbroker: cannot read the pushed changesets (%s): nothing delivered\n"
                     % str(failure).encode("utf-8", "replace"))
        return False
    args = ["--hg-range", node.decode("ascii"), hex(unfiltered[last].node())]
    return _run(ui, unfiltered, range(first, last + 1), _bookmarks(kwargs), args, kwargs.get("url"))


def bookmark_hook(ui, repo, node=None, txnname=None, **kwargs):
    """txnclose: a push that moved bookmarks and brought no changesets (a push with
    changesets is reported by the changegroup hook, bookmarks included)."""
    bookmarks = _bookmarks(kwargs)
    if node or not bookmarks or txnname not in (b"push", b"serve", b"unbundle", b"push-response"):
        return False
    return _run(ui, repo.unfiltered(), [], bookmarks, [], kwargs.get("url"))


@command(b"pushbroker-gather",
         [(b"", b"max-commits", 500, b"changesets to detail (0: all)"),
          (b"", b"diff-lines", 0, b"patch lines per changeset (0: none)"),
          (b"", b"heads", False, b"also each ref's head changeset when not detailed")],
         b"REVSET", norepo=False)
def gather_command(ui, repo, revset, **opts):
    """print the changesets of REVSET as pushbroker reads them (JSON)"""
    revs = scmutil.revrange(repo, [revset])
    gathered = gather(repo, list(revs), opts.get("max_commits"), opts.get("diff_lines") or None,
                      heads=bool(opts.get("heads")))
    ui.write(json.dumps(gathered).encode("utf-8") + b"\n")
