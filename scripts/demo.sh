#!/bin/sh
# Sets everything up on a fresh Debian 12 machine (as root) and runs a demo mesh: wiresyncd
# on its embedded SQLite database (./demo/wiresync.db), and three hosts in network
# namespaces, each with a wireguard-go interface and wiresync-agent. h1 and h2 share a LAN
# (192.168.10.0/24, routed to the server without NAT); h3 sits behind a NAT router on
# another LAN. The agents configure every tunnel by themselves; the script pings through
# each of them and says the mesh is up only when every ping answered. Ctrl-C stops
# everything and removes the namespaces.
#
#   sh scripts/demo.sh [--check] [--builddir DIR] [--dir DIR] [--without-agent HOST]
#
#   --check          set up, check every ping, tear down; exit 0 only when all answered
#   --builddir DIR   use the programs built in DIR (no packages installed, no build)
#   --dir DIR        keep the CA, database, logs and agent state in DIR (./demo; with
#                    --check a temporary directory, removed afterwards)
#   --without-agent HOST   start no agent on HOST (h1, h2 or h3): its pings must fail
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
check=false B= D= skip_agent=
while [ $# -gt 0 ]; do
	case $1 in
	--check) check=true ;;
	--builddir) B=$(cd "$2" && pwd); shift ;;
	--dir) D=$2; shift ;;
	--without-agent) skip_agent=$2; shift ;;
	*) echo "usage: sh scripts/demo.sh [--check] [--builddir DIR] [--dir DIR]" \
		"[--without-agent HOST]" >&2; exit 2 ;;
	esac
	shift
done
cd "$top"
if [ -z "$B" ]; then
	sh scripts/deps.sh --test
	if [ -f config.status ]; then
		# configured in the source tree (./configure): configure refuses a second,
		# out-of-tree build of it, so the demo uses that one
		B=$top
	else
		[ -x configure ] || autoreconf -fi
		B=$top/build-demo
		mkdir -p "$B"
		(cd "$B" && { [ -f Makefile ] || ../configure >/dev/null; })
	fi
	make -C "$B" -j"$(nproc)" >/dev/null
fi
for p in wiresyncd wiresync-agent; do
	[ -x "$B/$p" ] || { echo "demo: $B/$p is not built" >&2; exit 1; }
done
tmp_d=false
if [ -z "$D" ]; then
	if $check; then D=$(mktemp -d /tmp/wiresync-demo.XXXXXX); tmp_d=true
	else D=$top/demo; fi
fi
mkdir -p "$D"
D=$(cd "$D" && pwd)
CA="$top/certs/wiresync-ca -d $D/ca"
NS="wsd-$$"
NSS="wan lan2 h1 h2 h3"
pids=""

cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	# wireguard-go daemonizes: end whatever still runs inside the namespaces
	for n in $NSS; do
		ip netns pids "$NS-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	sleep 0.3
	for n in $NSS; do ip netns del "$NS-$n" 2>/dev/null || true; done
	if $tmp_d; then
		rm -rf "$D"
		echo "demo stopped; namespaces and $D removed"
	else
		echo "demo stopped; namespaces removed (state kept in $D)"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { n=$1; shift; ip netns exec "$NS-$n" "$@"; }
link() { # NAME-A NS-A NAME-B NS-B
	ip link add "$1" type veth peer name "$3"
	ip link set "$1" netns "$NS-$2"
	ip link set "$3" netns "$NS-$4"
	ip -n "$NS-$2" link set "$1" up
	ip -n "$NS-$4" link set "$3" up
}

umask 077
for n in $NSS; do ip netns add "$NS-$n"; ip -n "$NS-$n" link set lo up; done
# the internet: wiresyncd at 198.51.100.1, the second LAN's router at 198.51.100.2
ip -n "$NS-wan" link add br0 type bridge
ip -n "$NS-wan" addr add 198.51.100.1/24 dev br0
ip -n "$NS-wan" link set br0 up
link w-l2 lan2 l2-w wan
ip -n "$NS-wan" link set l2-w master br0
ip -n "$NS-lan2" addr add 198.51.100.2/24 dev w-l2
# LAN 1 (h1, h2) is routed by the wan namespace itself, without NAT: the server sees them
# at their private addresses. LAN 2 (h3) is behind a NAT router.
ip -n "$NS-wan" link add br1 type bridge
ip -n "$NS-wan" addr add 192.168.10.1/24 dev br1
ip -n "$NS-wan" link set br1 up
ip -n "$NS-lan2" link add br2 type bridge
ip -n "$NS-lan2" addr add 192.168.20.1/24 dev br2
ip -n "$NS-lan2" link set br2 up
ns lan2 sysctl -qw net.ipv4.ip_forward=1
ns lan2 nft -f - <<EOT
table ip nat {
	chain post {
		type nat hook postrouting priority 100;
		oifname "w-l2" masquerade
	}
}
EOT
ns wan sysctl -qw net.ipv4.ip_forward=1
ip -n "$NS-lan2" route add default via 198.51.100.1
i=1
for h in h1 h2 h3; do
	if [ $h = h3 ]; then lanns=lan2 br=br2 net=192.168.20 gw=192.168.20.1
	else lanns=wan br=br1 net=192.168.10 gw=192.168.10.1; fi
	link "e-$h" $h "p-$h" $lanns
	ip -n "$NS-$lanns" link set "p-$h" master $br
	ip -n "$NS-$h" addr add "$net.1$i/24" dev "e-$h"
	ip -n "$NS-$h" route add default via $gw
	i=$((i + 1))
done

if [ ! -f "$D/ca/ca.crt" ]; then
	$CA init demo >/dev/null
	$CA server server --ip 198.51.100.1 >/dev/null
fi
ns wan "$B/wiresyncd" --listen=198.51.100.1:7443 --certificate="$D/ca/server.crt" \
	--private-key="$D/ca/server.key" --ca="$D/ca/ca.crt" --crl="$D/ca/ca.crl" \
	--database="$D/wiresync.db" 2>"$D/wiresyncd.log" &
pids="$pids $!"
i=1
for h in h1 h2 h3; do
	ifname="wgdemo$i"
	if [ ! -f "$D/$h.key" ]; then
		wg genkey >"$D/$h.key"
		$CA agent $h --key "$(wg pubkey <"$D/$h.key")" --ip "10.77.0.$i" >/dev/null
	fi
	ns $h wireguard-go "$ifname" >/dev/null 2>&1
	while [ ! -S "/var/run/wireguard/$ifname.sock" ]; do sleep 0.1; done
	ns $h wg set "$ifname" private-key "$D/$h.key" listen-port "5182$i"
	ip -n "$NS-$h" addr add "10.77.0.$i/24" dev "$ifname"
	ip -n "$NS-$h" link set "$ifname" up
	if [ "$h" != "$skip_agent" ]; then
		ns $h "$B/wiresync-agent" --server=198.51.100.1:7443 --certificate="$D/ca/$h.crt" \
			--private-key="$D/ca/$h.key" --ca="$D/ca/ca.crt" --interface="$ifname" \
			--state-dir="$D/state-$h" 2>"$D/agent-$h.log" &
		pids="$pids $!"
	fi
	i=$((i + 1))
done

# every tunnel, both ways round the NAT: FROM TO WHAT
PAIRS="h1 2 h2_(same_LAN) h1 3 h3_(behind_NAT) h2 3 h3_(behind_NAT) h3 1 h1_(from_behind_NAT)"
all_answer() {
	set -- $PAIRS
	while [ $# -gt 0 ]; do
		ns "$1" ping -c1 -W1 "10.77.0.$2" >/dev/null 2>&1 || return 1
		shift 3
	done
}
echo "waiting for the agents to configure the tunnels..."
for t in $(seq 30); do
	all_answer && break
	sleep 1
done
i=1
for h in h1 h2 h3; do
	echo "== $h: the peer table its agent keeps (wiresync-agent --show)"
	ns $h "$B/wiresync-agent" --server=198.51.100.1:7443 --certificate="$D/ca/$h.crt" \
		--private-key="$D/ca/$h.key" --ca="$D/ca/ca.crt" --interface="wgdemo$i" \
		--state-dir="$D/state-$h" --show 2>/dev/null || true
	i=$((i + 1))
done
echo "== pings through the tunnels"
failed=0
set -- $PAIRS
while [ $# -gt 0 ]; do
	what=$(echo "$3" | tr _ ' ')
	if out=$(ns "$1" ping -c2 -W2 "10.77.0.$2" 2>&1); then
		echo "ok: $1 -> $what, 10.77.0.$2: $(echo "$out" | tail -n 1)"
	else
		echo "FAILED: $1 -> $what, 10.77.0.$2: no answer"
		failed=$((failed + 1))
	fi
	shift 3
done
if [ $failed -gt 0 ]; then
	echo
	echo "The mesh is NOT up: $failed of the pings above got no answer."
	echo "Logs: $D/wiresyncd.log, $D/agent-h*.log"
	for f in "$D"/wiresyncd.log "$D"/agent-h*.log; do
		[ -f "$f" ] || continue
		echo "--- $f (last lines)"
		tail -n 5 "$f"
	done
	$check && exit 1
else
	echo
	echo "The mesh is up: every ping answered."
	$check && exit 0
fi
cat <<EOT
Logs: $D/wiresyncd.log, $D/agent-h*.log. Try:
  ip netns exec $NS-h1 wg show wgdemo1   # peers the agent configured
  $CA list                                 # certificates
Enrol another host with:
  $CA agent HOST --key "\$(wg pubkey < HOST.key)" --ip 10.77.0.N
Ctrl-C stops the demo.
EOT
wait
