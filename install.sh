#!/usr/bin/env bash
# pushbroker set-up for Debian.
#
#   ./install.sh            install what pushbroker and its tests need, build, install
#                           the binary to $PREFIX/bin (PREFIX defaults to /usr/local)
#   ./install.sh --deps     only the packages the build and the tests need
#   ./install.sh --demo     install, then push two commits to a demo repository and show
#                           the email written and the payload delivered
#
# Needs a Rust toolchain (rustup, Rust >= 1.89) and, for packages, root or sudo.
set -euo pipefail
cd "$(dirname "$0")"

PREFIX=${PREFIX:-/usr/local}
mode=${1:-install}
case "$mode" in
  install | --install) mode=install ;;
  --deps | --demo) ;;
  -h | --help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "install.sh: unknown option $mode (try --help)" >&2; exit 2 ;;
esac

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=no
apt_install() {
  if [ "$apt_updated" = no ]; then
    as_root apt-get update -qq
    apt_updated=yes
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

install_deps() {
  local missing=()
  command -v git >/dev/null || missing+=(git)
  command -v cc >/dev/null || missing+=(gcc libc6-dev)
  command -v make >/dev/null || missing+=(make)
  command -v python3 >/dev/null || missing+=(python3)
  command -v hg >/dev/null || missing+=(mercurial)
  [ -x /usr/bin/time ] || missing+=(time)
  command -v curl >/dev/null || missing+=(curl)
  command -v msmtp >/dev/null || missing+=(msmtp)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  # Queue mode's tests start their own JetStream server (Debian's nats-server 2.9).
  [ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null || missing+=(nats-server)
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
  # GitHub's own libraries, to check the GitHub-format deliveries in the tests.
  if [ -f tests/node/package-lock.json ] && [ ! -d tests/node/node_modules/@octokit/webhooks ]; then
    say "installing @octokit/webhooks and its schemas (the GitHub-format tests use them)"
    (cd tests/node && npm ci --silent --no-audit --no-fund)
  fi
  if ! command -v cargo >/dev/null; then
    echo "install.sh: no Rust toolchain: install one with rustup (Rust >= 1.89), then run me again" >&2
    exit 1
  fi
}

install_binary() {
  say "building pushbroker"
  cargo build --release --locked --quiet
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
  "$bin" install "$dir/srv/demo/widgets.git"
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

install_deps
case "$mode" in
  --deps) ;;
  install) install_binary ;;
  --demo) install_binary; demo ;;
esac
