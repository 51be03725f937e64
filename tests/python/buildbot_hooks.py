"""Feeds pushbroker's recorded deliveries to Buildbot's own www change hooks.

Usage: buildbot_hooks.py DELIVERIES.json

DELIVERIES.json is a list of {"dialect": "github"|"gitlab"|"bitbucket", "options": {...},
"headers": {...}, "body": "..."}. Each is handed to the dialect's handler in-process with
a fake request, as Buildbot's own unit tests do (buildbot/test/unit/www/test_hooks_*.py),
and the changes Buildbot made of it are printed as one JSON list, a result per delivery:
{"ok": true, "scm": ..., "changes": [...]} or {"ok": false, "error": "..."}.
"""

import io
import json
import sys
import urllib.parse

from twisted.internet import defer

from buildbot.www.hooks.bitbucket import BitBucketHandler
from buildbot.www.hooks.github import GitHubHandler
from buildbot.www.hooks.gitlab import GitLabHandler

HANDLERS = {"github": GitHubHandler, "gitlab": GitLabHandler, "bitbucket": BitBucketHandler}


class FakeRequest:
    """What the hook handlers read of twisted.web's Request."""

    def __init__(self, headers, body):
        self.headers = {name.lower().encode(): value.encode() for name, value in headers.items()}
        self.content = io.BytesIO(body.encode())
        self.method = b"POST"
        self.uri = b"/change_hook/x"
        self.args = {}
        if self.headers.get(b"content-type") == b"application/x-www-form-urlencoded":
            for name, value in urllib.parse.parse_qsl(body, keep_blank_values=True):
                self.args.setdefault(name.encode(), []).append(value.encode())

    def getHeader(self, name):
        if isinstance(name, str):
            name = name.encode()
        return self.headers.get(name.lower())


def run(delivery):
    handler = HANDLERS[delivery["dialect"]](None, delivery.get("options") or {})
    request = FakeRequest(delivery["headers"], delivery["body"])
    outcome = {}
    d = defer.maybeDeferred(handler.getChanges, request)
    d.addCallbacks(lambda result: outcome.update(result=result),
                   lambda failure: outcome.update(error=failure))
    if "error" in outcome:
        error = outcome["error"].value
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    if "result" not in outcome:
        return {"ok": False, "error": "the handler did not finish synchronously"}
    changes, scm = outcome["result"]
    listed = []
    for change in changes:
        change = dict(change)
        when = change.pop("when_timestamp", None)
        change["when"] = int(when.timestamp()) if when is not None else None
        listed.append(change)
    return {"ok": True, "scm": scm, "changes": listed}


def main():
    with open(sys.argv[1], encoding="utf-8") as file:
        deliveries = json.load(file)
    json.dump([run(delivery) for delivery in deliveries], sys.stdout, default=str)


if __name__ == "__main__":
    main()
