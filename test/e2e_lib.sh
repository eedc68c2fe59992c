# test/e2e_lib.sh - the helpers of test/e2e.test (sourced by it, never run alone): TAP lines,
# processes and their cleanup, per-host names and addresses, WireGuard fields, polling, logs.
# They use e2e.test's variables (T, P, PIDS, MADE_NS, HOSTS, ...) when called.
# shellcheck shell=sh
ok()   { pass=$((pass + 1)); echo "ok - $*"; }
nok()  { fail=$((fail + 1)); echo "not ok - $*"; }
note() { echo "# $*"; }
show() { sed 's/^/#   /' "$@"; }
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ] && exit 0
    exit 1
}

alive() {
    [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]
}
untrack() {
    _l=
    for _p in $PIDS; do [ "$_p" = "$1" ] || _l="$_l $_p"; done
    PIDS=$_l
}
# stop PID SIGNAL SECONDS: signal a child, reap it; its status in RC (empty: had to SIGKILL).
stop() {
    RC=
    kill -"$2" "$1" 2>/dev/null
    _i=0
    while alive "$1" && [ $_i -lt $(($3 * 10)) ]; do
        sleep 0.1
        _i=$((_i + 1))
    done
    if alive "$1"; then
        kill -KILL "$1" 2>/dev/null
        wait "$1" 2>/dev/null
    else
        wait "$1"
        RC=$?
    fi
    untrack "$1"
}
cleanup() {
    trap - EXIT
    for _p in $PIDS; do kill -TERM "$_p" 2>/dev/null; done
    for _p in $PIDS; do stop "$_p" TERM 3; done
    for _n in $MADE_NS; do ip netns del "$P-$_n" 2>/dev/null; done
    for _h in $HOSTS; do
        # the sockets of our wireguard-go processes, if they did not remove them
        [ -n "$T" ] && [ -f "$T/wg-$_h.started" ] && rm -f "$UAPI/$(ifname "$_h").sock"
    done
    if [ -n "$T" ] && [ -d "$T" ]; then
        if [ -n "${WS_KEEP_TMP:-}" ]; then echo "# kept $T"; else rm -rf "$T"; fi
    fi
}

ns()     { _n=$1; shift; ip netns exec "$P-$_n" "$@"; }
ifname() { case $1 in a1) echo wga1 ;; a2) echo wga2 ;; b1) echo wgb1 ;; esac; }
tunip()  { case $1 in a1) echo 10.9.0.1 ;; a2) echo 10.9.0.2 ;; b1) echo 10.9.0.3 ;; esac; }
tunip6() { case $1 in a1) echo fd00:9::1 ;; a2) echo fd00:9::2 ;; esac; }   # b1: none
PORT_B1=51823                   # b1 moves to 51833 in the restart step
port()   { case $1 in a1) echo 51821 ;; a2) echo 51822 ;; b1) echo "$PORT_B1" ;; esac; }
pub()    { cat "$T/$1.pub"; }
now()    { cut -d' ' -f1 /proc/uptime; }
since()  { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# wgfield HOST FIELD PEER: the FIELD (endpoints, persistent-keepalive, allowed-ips) that
# HOST's interface shows for PEER (a host name or a base64 key).
wgfield() {
    case $3 in a1|a2|b1) _k=$(pub "$3") ;; *) _k=$3 ;; esac
    ns "$1" wg show "$(ifname "$1")" "$2" 2>/dev/null |
        awk -v k="$_k" '$1 == k { $1 = ""; sub(/^ /, ""); print }'
}
# endpoint_is HOST PEER PATTERN: HOST's endpoint of PEER matches the shell PATTERN.
endpoint_is() {
    _e=$(wgfield "$1" endpoints "$2")
    case $_e in $3) return 0 ;; esac
    return 1
}
# endpoint_eq HOST PEER STRING: exactly (IPv6 endpoints have brackets, no pattern for them)
endpoint_eq()  { [ "$(wgfield "$1" endpoints "$2")" = "$3" ]; }
keepalive_is() { [ "$(wgfield "$1" persistent-keepalive "$2")" = "$3" ]; }
pings()        { ns "$1" ping -c 1 -W 1 -q "$(tunip "$2")" >/dev/null 2>&1; }
pings6()       { ns "$1" ping -6 -c 1 -W 1 -q "$(tunip6 "$2")" >/dev/null 2>&1; }
# lines FILE: how many lines it has now; after FILE N: its lines past the first N
lines()        { wc -l <"$1" | tr -d ' '; }
after()        { tail -n +"$(($2 + 1))" "$1"; }
# logged_after HOST N REGEX: HOST's agent logged a line matching REGEX past its line N
logged_after() { after "$T/agent-$1.log" "$2" | grep -q -- "$3"; }
# poll SECONDS COMMAND...: run COMMAND until it succeeds or SECONDS have passed.
poll() {
    _end=$(awk -v a="$(now)" -v s="$1" 'BEGIN { print a + s }')
    shift
    while :; do
        "$@" && return 0
        awk -v a="$(now)" -v e="$_end" 'BEGIN { exit !(a >= e) }' && return 1
        sleep 0.2
    done
}
# mark TEXT: a timestamped line in every daemon log (they are opened for appending), so
# the logs show what the test was doing when.
mark() {
    for _f in "$T"/agent-*.log "$T"/server.log; do
        [ -f "$_f" ] && echo "### e2e +$(since "$T0") s: $*" >>"$_f"
    done
}
# hold SECONDS COMMAND...: COMMAND succeeds on every try for SECONDS (fails at once if not).
hold() {
    _end=$(awk -v a="$(now)" -v s="$1" 'BEGIN { print a + s }')
    shift
    while :; do
        "$@" || return 1
        awk -v a="$(now)" -v e="$_end" 'BEGIN { exit !(a >= e) }' && return 0
        sleep 0.2
    done
}
# diag: what every host's interface looks like, and the tail of each agent's log.
diag() {
    for _h in $HOSTS; do
        note "$_h: wg show $(ifname "$_h")"
        ns "$_h" wg show "$(ifname "$_h")" 2>&1 | show
    done
    for _h in $HOSTS; do
        note "$_h: agent log (last 40 lines)"
        tail -n 40 "$T/agent-$_h.log" | show
    done
}

# ---------------------------------------------------------------- topology, PKI, WireGuard, daemons
# veth NS1 IF1 NS2 IF2
veth() {
    ip -n "$P-$1" link add name "$2" type veth peer name "$4" netns "$P-$3" &&
    ip -n "$P-$1" link set "$2" up && ip -n "$P-$3" link set "$4" up
}
# router NAME WANADDR LANPREFIX BRIDGEMAC
router() {
    veth inet "$1" "$1" wan0 &&
    ip -n "$P-inet" link set "$1" master wan &&
    ip -n "$P-$1" addr add "$2/24" dev wan0 &&
    ip -n "$P-$1" link add name lan address "$4" type bridge &&
    ip -n "$P-$1" addr add "$3.1/24" dev lan &&
    ip -n "$P-$1" link set lan up &&
    ns "$1" sysctl -qw net.ipv4.ip_forward=1 &&
    ns "$1" nft -f - <<EOT
table ip router {
    chain forward {
        type filter hook forward priority 0; policy accept;
        iifname "wan0" ct state established,related accept
        iifname "wan0" drop
    }
    chain input {
        type filter hook input priority 0; policy accept;
        iifname "wan0" ct state established,related accept
        iifname "wan0" drop
    }
    chain postrouting {
        type nat hook postrouting priority 100;
        oifname "wan0" ip saddr $3.0/24 masquerade
    }
}
EOT
}
# host NAME ROUTER ADDR GATEWAY: the router end of the cable is named after the host
host() {
    veth "$1" eth0 "$2" "$1" &&
    ip -n "$P-$2" link set "$1" master lan &&
    ip -n "$P-$1" addr add "$3/24" dev eth0 &&
    ip -n "$P-$1" route add default via "$4"
}
topology() {
    for _n in $ALLNS; do
        ip netns add "$P-$_n" || return 1
        MADE_NS="$MADE_NS $_n"
        ip -n "$P-$_n" link set lo up || return 1
    done
    ip -n "$P-inet" link add name wan type bridge &&
    ip -n "$P-inet" link set wan up &&
    veth inet srv srv eth0 &&
    ip -n "$P-inet" link set srv master wan &&
    ip -n "$P-srv" addr add 203.0.113.10/24 dev eth0 &&
    router ra 203.0.113.2 192.168.1 02:00:5e:00:0a:01 &&
    router rb 203.0.113.3 192.168.2 02:00:5e:00:0b:01 &&
    host a1 ra 192.168.1.11 192.168.1.1 &&
    host a2 ra 192.168.1.12 192.168.1.1 &&
    host b1 rb 192.168.2.11 192.168.2.1
}
ca() { sh "$CA_SCRIPT" -d "$T/ca" "$@" >>"$T/ca.log" 2>&1; }
pki() {
    ca init e2e && ca server srv --ip 203.0.113.10 || return 1
    for _h in $HOSTS; do
        _v6=$(tunip6 "$_h")
        wg genkey >"$T/$_h.key" && wg pubkey <"$T/$_h.key" >"$T/$_h.pub" &&
        ca agent "$_h" --key "$(pub "$_h")" --ip "$(tunip "$_h")" \
            ${_v6:+--ip "$_v6"} || return 1
    done
}
# wgup HOST: wireguard-go in the foreground (so its pid is ours), then key, port, address.
wgup() {
    _if=$(ifname "$1")
    rm -f "$UAPI/$_if.sock"     # stale, from a killed run (a live one made us skip)
    # not through ns(): a function run in the background is a subshell, and $! its pid
    ip netns exec "$P-$1" wireguard-go -f "$_if" >"$T/wireguard-go-$1.log" 2>&1 </dev/null &
    PIDS="$PIDS $!"
    : >"$T/wg-$1.started"
    poll 5 test -S "$UAPI/$_if.sock" || return 1
    poll 5 ns "$1" wg set "$_if" private-key "$T/$1.key" listen-port "$(port "$1")" || return 1
    ip -n "$P-$1" addr add "$(tunip "$1")/24" dev "$_if" || return 1
    if [ -n "$(tunip6 "$1")" ]; then
        ip -n "$P-$1" addr add "$(tunip6 "$1")/64" dev "$_if" nodad || return 1
    fi
    ip -n "$P-$1" link set "$_if" up
}
# start_server: wiresyncd in srv, always on the same database and address; SRV_PID its pid
# (SRV_CRL: its --crl option).
start_server() {
    ip netns exec "$P-srv" "$SERVER" --listen=203.0.113.10:7443 --certificate="$T/ca/srv.crt" \
        --private-key="$T/ca/srv.key" --ca="$T/ca/ca.crt" --database="$T/wiresync.db" -d $SRV_CRL \
        >>"$T/server.log" 2>&1 </dev/null &
    SRV_PID=$!
    PIDS="$PIDS $SRV_PID"
}
# start_agent HOST: its agent (the log is appended to); AGENT_PID_HOST its pid.
start_agent() {
    ip netns exec "$P-$1" "$AGENT" --server=203.0.113.10:7443 --certificate="$T/ca/$1.crt" \
        --private-key="$T/ca/$1.key" --ca="$T/ca/ca.crt" --interface="$(ifname "$1")" \
        --state-dir="$T/state-$1" --keepalive-s=25 --handshake-timeout-s=5 \
        --debounce-ms=200 -d >>"$T/agent-$1.log" 2>&1 </dev/null &
    eval "AGENT_PID_$1=\$!"
    PIDS="$PIDS $!"
}
