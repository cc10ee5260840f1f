#!/usr/bin/env bash
# Installs the built .deb on this machine (as root), checks what it put in
# place, runs the installed server as the kith user against /var/lib/kith,
# exchanges messages with it, stops it with SIGTERM, then removes and purges
# the package. systemd need not be running: the server is started directly.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root" >&2; exit 1; }
deb=$(ls target/debian/kith_*.deb | head -n 1)
port=17431
log=$(mktemp)
fail() { echo "test-deb: $*" >&2; cat "$log" >&2 || true; exit 1; }

dpkg -i "$deb"

# Files, user, permissions, unit.
test -x /usr/bin/kith || fail "no /usr/bin/kith"
test -f /lib/systemd/system/kith.service || fail "no unit file"
grep -qx /etc/kith/kith.toml /var/lib/dpkg/info/kith.conffiles || fail "kith.toml is not a conffile"
getent passwd kith >/dev/null || fail "no kith user"
[ "$(stat -c '%U:%G %a' /var/lib/kith)" = "kith:kith 750" ] || fail "bad /var/lib/kith: $(stat -c '%U:%G %a' /var/lib/kith)"
[ "$(stat -c '%U:%G %a' /etc/kith/kith.toml)" = "root:kith 640" ] || fail "bad kith.toml permissions"
/usr/bin/kith check-config /etc/kith/kith.toml
exposure=$(systemd-analyze security --offline=yes /lib/systemd/system/kith.service 2>&1 | grep 'Overall exposure level')
echo "$exposure"
echo "$exposure" | grep -Eq ' (OK|SAFE|PERFECT) ' || fail "unit exposure is worse than OK"

# The installed binary, as the kith user, on the packaged configuration.
setpriv --reuid=kith --regid=kith --init-groups \
    /usr/bin/kith serve --config /etc/kith/kith.toml \
    --listen-tls "127.0.0.1:$port" --listen-quic "127.0.0.1:$port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on tls" "$log" && break; sleep 0.1; done
grep -q "listening on tls" "$log" || fail "server did not start"
[ "$(stat -c '%U' /var/lib/kith/sled/db)" = kith ] || fail "database not owned by kith"
fingerprint=$(/usr/bin/kith cert fingerprint --config /etc/kith/kith.toml)

# Onboarding on the packaged configuration (invitations only): a join link
# naming this server and its pin, and a refused registration without one.
link=$(/usr/bin/kith invite create --config /etc/kith/kith.toml --host 127.0.0.1 --note deb-test | grep '^kith://') \
    || fail "no join link"
pin=$(echo "$fingerprint" | sed 's/^SHA256://' | tr -d ':' | tr 'A-F' 'a-f')
# The public-key pin, as Android pins take it, escaped as the link carries it.
spki=$(/usr/bin/kith cert fingerprint --public-key --config /etc/kith/kith.toml | sed -n 2p \
    | sed 's|^sha256/||; s|+|%2B|g; s|/|%2F|g; s|=|%3D|g')
echo "$link" | grep -q "host=127.0.0.1&tls=$port&quic=$port&pin=$pin&spki=$spki&invite=" || fail "bad join link: $link"
# The VAPID key for wake-ups: made by the server, its own, 0600.
[ "$(stat -c '%U %a' /var/lib/kith/vapid.pem)" = "kith 600" ] || fail "the VAPID key is not kith's alone"
/usr/bin/kith push key --config /etc/kith/kith.toml | grep -Eq '^[A-Za-z0-9_-]{87}$' || fail "no VAPID public key"
/usr/bin/kith invite list --config /etc/kith/kith.toml | grep -q deb-test || fail "invitation not listed"

# The load generator registers its users freely: open registration by a
# reload, as an operator would (SIGHUP re-reads the file and the flags).
sed -i 's/^policy = "invite"/policy = "open"/' /etc/kith/kith.toml
kill -HUP "$pid"
for _ in $(seq 50); do grep -q "registration policy changed" "$log" && break; sleep 0.1; done
grep -q "registration policy changed" "$log" || fail "the reload did not change the policy"

# Exchange messages: two sender/receiver pairs for two seconds (paced under
# the default per-connection rate limit), every
# message checked delivered exactly once.
/usr/bin/kith bench dm --server "127.0.0.1:$port" --fingerprint "$fingerprint" \
    --pairs 2 --duration 2 --rate 400 --json >/tmp/kith-deb-bench.json
python3 - <<'PY' || fail "message exchange failed"
import json
r = json.load(open("/tmp/kith-deb-bench.json"))
counts = dict(r["counts"])
print("delivered", counts["delivered (unique)"], "missing", counts["missing"], "duplicates", counts["duplicates"])
assert counts["delivered (unique)"] > 0
assert counts["missing"] == 0 and counts["duplicates"] == 0 and counts["send errors"] == 0
PY
/usr/bin/kith stats --config /etc/kith/kith.toml | grep -E '^messages +[1-9]' || fail "stats show no messages"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
[ "$status" = 0 ] || fail "server exited with $status after SIGTERM"
grep -q "shut down cleanly" "$log" || fail "no clean shutdown"

# An upgrade (here: reinstalling) keeps the operator's edits to the conffile.
echo "# edited by the operator" >> /etc/kith/kith.toml
dpkg -i --force-confdef --force-confold "$deb"
grep -q "edited by the operator" /etc/kith/kith.toml || fail "upgrade replaced the edited conffile"

# Remove keeps the data; purge deletes it and the user.
dpkg -r kith
test ! -e /usr/bin/kith || fail "binary left after remove"
test -d /var/lib/kith/sled || fail "remove deleted the data"
dpkg -P kith
test ! -e /var/lib/kith || fail "purge left /var/lib/kith"
! getent passwd kith >/dev/null || fail "purge left the kith user"
echo "test-deb: ok"
