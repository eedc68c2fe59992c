#!/bin/sh
# Sets everything up on a fresh Debian 12 machine (as root) and runs a demo mesh: wiresyncd
# on its embedded SQLite database (./demo/wiresync.db), and three hosts in network
# namespaces, each with a wireguard-go interface and wiresync-agent. Two share a LAN; the
# third sits behind a NAT router on another LAN. The agents configure every tunnel by
# themselves. Ctrl-C stops everything and removes the namespaces.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh --test
[ -x configure ] || autoreconf -fi
mkdir -p build-demo
cd build-demo
[ -f Makefile ] || ../configure >/dev/null
make -j"$(nproc)" >/dev/null
cd "$top"
B=$top/build-demo
D=$top/demo
CA="$top/certs/wiresync-ca -d $D/ca"
NS="wsd-$$"
pids=""

cleanup() {
	trap - EXIT INT TERM
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	sleep 0.5
	# wireguard-go daemonizes: end whatever still runs inside the namespaces
	for n in wan lan1 lan2 h1 h2 h3; do
		ip netns pids "$NS-$n" 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	sleep 0.3
	for n in wan lan1 lan2 h1 h2 h3; do ip netns del "$NS-$n" 2>/dev/null || true; done
	echo "demo stopped; namespaces removed (state kept in $D)"
}
trap cleanup EXIT INT TERM

ns() { n=$1; shift; ip netns exec "$NS-$n" "$@"; }
link() { # NAME-A NS-A NAME-B NS-B
	ip link add "$1" type veth peer name "$3"
	ip link set "$1" netns "$NS-$2"
	ip link set "$3" netns "$NS-$4"
	ip -n "$NS-$2" link set "$1" up
	ip -n "$NS-$4" link set "$3" up
}

umask 077
mkdir -p "$D"
for n in wan lan1 lan2 h1 h2 h3; do ip netns add "$NS-$n"; ip -n "$NS-$n" link set lo up; done
# the internet: wiresyncd at 198.51.100.1, the second LAN's router at 198.51.100.2
ip -n "$NS-wan" link add br0 type bridge
ip -n "$NS-wan" addr add 198.51.100.1/24 dev br0
ip -n "$NS-wan" link set br0 up
link w-l2 lan2 l2-w wan
ip -n "$NS-wan" link set l2-w master br0
ip -n "$NS-lan2" addr add 198.51.100.2/24 dev w-l2
# LAN 1 (h1, h2) is routed by the wan namespace itself; LAN 2 (h3) is behind a NAT
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
	ns $h "$B/wiresync-agent" --server=198.51.100.1:7443 --certificate="$D/ca/$h.crt" \
		--private-key="$D/ca/$h.key" --ca="$D/ca/ca.crt" --interface="$ifname" \
		--state-dir="$D/state-$h" 2>"$D/agent-$h.log" &
	pids="$pids $!"
	i=$((i + 1))
done

echo "waiting for the agents to configure the tunnels..."
for t in $(seq 30); do
	ns h1 ping -c1 -W1 10.77.0.3 >/dev/null 2>&1 && ns h1 ping -c1 -W1 10.77.0.2 >/dev/null 2>&1 && break
	sleep 1
done
i=1
for h in h1 h2 h3; do
	echo "== $h: the peer table its agent keeps (wiresync-agent --show)"
	ns $h "$B/wiresync-agent" --server=198.51.100.1:7443 --certificate="$D/ca/$h.crt" \
		--private-key="$D/ca/$h.key" --ca="$D/ca/ca.crt" --interface="wgdemo$i" \
		--state-dir="$D/state-$h" --show 2>/dev/null
	i=$((i + 1))
done
echo "== h1 pings h2 (same LAN) and h3 (behind NAT) through the tunnels"
ns h1 ping -c2 10.77.0.2 | tail -1
ns h1 ping -c2 10.77.0.3 | tail -1
cat <<EOT

The mesh is up. Logs: $D/wiresyncd.log, $D/agent-h*.log. Try:
  ip netns exec $NS-h1 wg show wgdemo1   # peers the agent configured
  $CA list                                 # certificates
Enrol another host with:
  $CA agent HOST --key "\$(wg pubkey < HOST.key)" --ip 10.77.0.N
Ctrl-C stops the demo.
EOT
wait
