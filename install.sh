#!/usr/bin/env bash
# pushbroker set-up for Debian.
#
#   ./install.sh            build pushbroker and install it to $PREFIX/bin (PREFIX defaults
#                           to /usr/local), with only what it needs to build and run: a C
#                           compiler and make for libgit2, git. Nothing for the tests.
#   ./install.sh --deps     the packages the build and the test suite need (Mercurial,
#                           Python's aiosmtpd, msmtp, openssl, Node.js and the npm packages
#                           of tests/node, nats-server, Buildbot in tests/.venv, …); no build
#   ./install.sh --demo     --deps, install, then push two commits to a demo repository and
#                           show the email written and the payload delivered
#   ./install.sh --list-packages [--deps]
#                           print what plain install (or --deps) installs when missing, and exit
#
# Needs a Rust toolchain (rustup, Rust >= 1.89) and, for packages, root or sudo. When another
# apt or dpkg holds the package lock, waits for it up to APT_LOCK_WAIT seconds (default 600),
# trying again every APT_LOCK_POLL seconds (default 5).
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=${PREFIX:-/usr/local}
APT_LOCK_WAIT=${APT_LOCK_WAIT:-600}
APT_LOCK_POLL=${APT_LOCK_POLL:-5}
# The Buildbot whose www change hooks the consumer tests run (tests/consumers.rs).
BUILDBOT_VERSION=4.3.0
mode=${1:-install}
case "$mode" in
  install | --install) mode=install ;;
  --deps | --demo) ;;
  --list-packages)
    case "${2:-}" in
      "") list=install ;;
      --deps) list=deps ;;
      *) echo "install.sh: --list-packages takes nothing or --deps, not $2" >&2; exit 2 ;;
    esac ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "install.sh: unknown option $mode (try --help)" >&2; exit 2 ;;
esac

# Colour only for a terminal: a redirected log gets plain text.
if [ -t 1 ]; then
  say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
else
  say() { printf '==> %s\n' "$*"; }
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Runs apt-get, waiting while another apt or dpkg (unattended-upgrades, an admin) holds
# its lock: up to APT_LOCK_WAIT seconds in all, then fails saying so.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) told=no output status
  while :; do
    set +e
    output=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get \
      -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" 2>&1)
    status=$?
    set -e
    if [ "$status" -eq 0 ]; then return 0; fi
    if ! grep -qiE 'could not get lock|unable to acquire the dpkg frontend lock|unable to lock' <<<"$output"; then
      printf '%s\n' "$output" >&2
      return "$status"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "install.sh: another apt or dpkg still holds the package lock after ${APT_LOCK_WAIT}s" \
        "(APT_LOCK_WAIT); let it finish and run me again" >&2
      return 1
    fi
    if [ "$told" = no ]; then
      say "another apt or dpkg holds the package lock: waiting for it (up to ${APT_LOCK_WAIT}s, APT_LOCK_WAIT)"
      told=yes
    fi
    sleep "$APT_LOCK_POLL"
  done
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    apt_get update -qq
    apt_updated=yes
  fi
  apt_get install -y -qq "$@"
}

# Whether the command is there; with a first argument "all", never (to list everything).
have() { [ -z "$1" ] && command -v "$2" >/dev/null; }

# The Debian packages missing for plain install: building (a C compiler and make for
# libgit2) and running (git; Mercurial repositories bring their own hg).
install_packages() {
  local missing=() all=${1:-}
  have "$all" git || missing+=(git)
  have "$all" cc || missing+=(gcc libc6-dev)
  have "$all" make || missing+=(make)
  printf '%s\n' "${missing[@]}"
}

# What the test suite and the benchmark need on top (--deps).
test_packages() {
  local missing=() all=${1:-}
  have "$all" python3 || missing+=(python3)
  { [ -z "$all" ] && python3 -c 'import venv, ensurepip' 2>/dev/null; } || missing+=(python3-venv)
  have "$all" hg || missing+=(mercurial)
  { [ -z "$all" ] && [ -x /usr/bin/time ]; } || missing+=(time)
  have "$all" curl || missing+=(curl)
  have "$all" msmtp || missing+=(msmtp)
  have "$all" openssl || missing+=(openssl)
  have "$all" node || missing+=(nodejs)
  have "$all" npm || missing+=(npm)
  # Queue mode's tests start their own JetStream server (Debian's nats-server 2.9).
  { [ -z "$all" ] && { [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null; }; } || missing+=(nats-server)
  printf '%s\n' "${missing[@]}"
}

# Everything a mode installs when it is missing (what is already here included).
list_packages() {
  local apt
  apt=$(install_packages all)
  if [ "$1" = deps ]; then apt=$(printf '%s\n%s\n' "$apt" "$(test_packages all)"); fi
  echo "apt: $(echo $apt)"
  if [ "$1" = deps ]; then
    echo "pip: aiosmtpd"
    echo "venv tests/.venv: buildbot==$BUILDBOT_VERSION"
    echo "npm tests/node: $(python3 -c 'import json; print(" ".join(sorted(json.load(open("tests/node/package.json"))["dependencies"])))')"
  fi
  echo "build: cargo build --release --locked -> $PREFIX/bin/pushbroker"
}

need_cargo() {
  if ! command -v cargo >/dev/null; then
    echo "install.sh: no Rust toolchain: install one with rustup (Rust >= 1.89), then run me again" >&2
    exit 1
  fi
}

install_runtime() {
  local missing
  mapfile -t missing < <(install_packages | sed '/^$/d')
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  need_cargo
}

install_deps() {
  local missing
  mapfile -t missing < <({ install_packages; test_packages; } | sed '/^$/d')
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
  # The tests' SMTP server: aiosmtpd, for the python3 on PATH.
  if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
    say "installing aiosmtpd (the SMTP server the tests run)"
    python3 -m pip install --quiet aiosmtpd 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages aiosmtpd 2>/dev/null \
      || apt_install python3-aiosmtpd
    python3 -c 'import aiosmtpd' || { echo "install.sh: could not install aiosmtpd" >&2; exit 1; }
  fi
  # Buildbot's www change hooks, fed our deliveries by the consumer tests; in a venv of
  # its own so its dependencies never meet the system's.
  if ! tests/.venv/bin/python -c "import buildbot, sys; sys.exit(buildbot.version != '$BUILDBOT_VERSION')" 2>/dev/null; then
    say "installing Buildbot $BUILDBOT_VERSION into tests/.venv (the consumer tests run its hooks)"
    python3 -m venv tests/.venv
    tests/.venv/bin/pip install --quiet --disable-pip-version-check "buildbot==$BUILDBOT_VERSION"
  fi
  # GitHub's own libraries and Microsoft's Adaptive Cards SDK, to check the deliveries.
  if [ -f tests/node/package-lock.json ] \
    && ! (cd tests/node && npm ls --silent >/dev/null 2>&1); then
    say "installing tests/node's npm packages (@octokit/webhooks, adaptivecards, …)"
    (cd tests/node && npm ci --silent --no-audit --no-fund)
  fi
  need_cargo
}

install_binary() {
  say "building pushbroker (cargo build --release: a few minutes the first time)"
  cargo build --release --locked
  say "installing $PREFIX/bin/pushbroker"
  if [ -w "$PREFIX/bin" ] || { [ ! -e "$PREFIX/bin" ] && [ -w "$PREFIX" ]; }; then
    install -D -m 755 target/release/pushbroker "$PREFIX/bin/pushbroker"
  else
    as_root install -D -m 755 target/release/pushbroker "$PREFIX/bin/pushbroker"
  fi
}

demo() {
  local bin="$PREFIX/bin/pushbroker"
  local dir
  dir=$(mktemp -d /tmp/pushbroker-demo.XXXXXX)
  export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
  export GIT_AUTHOR_NAME="Alice Example" GIT_AUTHOR_EMAIL=alice@example.com
  export GIT_COMMITTER_NAME="Alice Example" GIT_COMMITTER_EMAIL=alice@example.com
  export USER=${USER:-alice} PUSHBROKER_SITE="$dir/site.toml"
  # The demo's receiver listens on loopback, which the default network policy denies.
  printf '%s\n' 'canon_url = "https://code.example.com"' '[network]' 'allow = ["127.0.0.1/32"]' \
    > "$PUSHBROKER_SITE"

  say "a receiver for the POST service, on loopback"
  python3 - "$dir" <<'PY' &
import http.server, sys, pathlib
out = pathlib.Path(sys.argv[1])
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        (out / "received.json").write_bytes(body)
        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
(out / "port").write_text(str(server.server_port))
server.serve_forever()
PY
  receiver_pid=$!
  trap 'kill "$receiver_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done

  say "a server repository with the hook: $dir/srv/demo/widgets.git"
  git init --quiet --bare --initial-branch=main "$dir/srv/demo/widgets.git"
  # The demo's own config first: install then keeps it (no starter config to replace).
  cat > "$dir/srv/demo/widgets.git/pushbroker.toml" <<TOML
[[service]]
broker = "email"
name = "dev-list"
to = "Dev List <dev@example.com>"   # no [email] transport in the site config: .eml files

[[service]]
broker = "post"
name = "ci"
url = "http://127.0.0.1:$(cat "$dir/port")/push"
format = "json"
TOML
  "$bin" install "$dir/srv/demo/widgets.git"
  "$bin" check "$dir/srv/demo/widgets.git"

  say "two commits, pushed"
  git init --quiet --initial-branch=main "$dir/work"
  cd "$dir/work"
  echo "fn main() {}" > main.rs && git add main.rs && git commit --quiet -m "Add the frobnicator"
  echo "// tuned" >> main.rs && git commit --quiet -am "Tune the frobnicator" -m "It was too slow."
  git push "$dir/srv/demo/widgets.git" main

  say "the email written: $(ls "$dir"/srv/demo/widgets.git/pushbroker/outbox/*.eml)"
  python3 - "$dir"/srv/demo/widgets.git/pushbroker/outbox/*.eml <<'PY'
import email, email.policy, sys
message = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
for name, value in message.items():
    if name.lower() not in ("content-type", "content-transfer-encoding", "mime-version"):
        print(f"{name}: {value}")
print()
print(message.get_content(), end="")
PY
  say "the payload the POST service delivered"
  python3 -m json.tool "$dir/received.json"
  kill "$receiver_pid" 2>/dev/null || true
  say "done: everything is in $dir"
}

case "$mode" in
  --list-packages) list_packages "$list" ;;
  --deps) install_deps ;;
  install) install_runtime; install_binary ;;
  --demo) install_deps; install_binary; demo ;;
esac
