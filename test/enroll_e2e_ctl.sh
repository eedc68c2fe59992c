#!/bin/sh
# test/enroll_e2e_ctl.sh - a join decided by wiresyncctl against a real wiresyncd (issue 13):
# hosts ask on enroll_listen with python3-grpcio (test/enroll_host.py: a CSR, a WireGuard
# key, the CA certificate and nothing else), the operator answers with wiresyncctl pending,
# approve (signing with wiresync-ca in ca_dir) and deny. Exit 0 pass, 1 fail, 77 skip (no
# grpcio, or a wiresyncd without enroll_listen). By hand, after enroll-server is merged:
#     srcdir=/path/to/src builddir=/path/to/build sh test/enroll_e2e_ctl.sh
#
#   1. h1 joins: WAITING with an id and a code; pending (table and --json) shows it; the
#      same CSR again resumes the same request
#   2. approve ID --group laptops: "approved ID h1 ADDR" with ADDR from the pool; h1's next
#      Join is APPROVED with the certificate (CN, O, its key URI, ADDR, the group) that
#      chains to the CA, and the CA whose SHA-256 `wiresyncctl status` prints
#   3. h2 denied with a reason: its Join says DENIED and the reason
#   4. h3 approved with --ip; h4 asking for the same --ip is refused (exit 5), nothing signed
#   5. approve of an unknown id exits 3; a failing wiresync-ca exits 1 and approves nothing;
#      a NAME.crt in ca_dir that is another's stops approve; one that is the request's (the
#      Approve was lost) is sent again, not signed twice

srcdir=${srcdir:-.}
builddir=${builddir:-.}
case $srcdir in /*) ;; *) srcdir=$(cd "$srcdir" && pwd) ;; esac
case $builddir in /*) ;; *) builddir=$(cd "$builddir" && pwd) ;; esac
export srcdir builddir

. "$srcdir/test/lib.sh"

if ! ws_python_has_grpc; then
    echo "skip: $WS_PYTHON cannot import grpc (apt-get install python3-grpcio python3-protobuf)"
    exit 77
fi
PROTOC=${PROTOC:-protoc}
for _t in "$PROTOC" openssl sha256sum; do
    if ! command -v "$_t" >/dev/null 2>&1; then
        echo "skip: $_t not found (apt-get install protobuf-compiler openssl coreutils)"
        exit 77
    fi
done

pass=0
fail=0
ok()   { pass=$((pass + 1)); echo "ok - $*"; }
nok()  { fail=$((fail + 1)); echo "not ok - $*"; }
show() { sed 's/^/#   /' "$@"; }
finish() {
    echo "$pass passed, $fail failed"
    [ $fail -eq 0 ] && exit 0
    exit 1
}

ws_tmpdir
umask 077
PKI=$WS_TMP/pki
if ws_make_pki "$PKI"; then ok "test PKI"; else nok "test PKI"; finish; fi
A=$PKI/a
H=$WS_TMP/hosts
mkdir -p "$H" "$WS_TMP/py"
"$PROTOC" --proto_path="$srcdir/proto" --python_out="$WS_TMP/py" enroll.proto ||
    { nok "protoc enroll.proto"; finish; }

PORT=$(ws_free_port)
EPORT=$(ws_free_port)
# a pool apart from the PKI's hosts (10.9.0.2-5): the CA refuses addresses it bound already
cat >"$WS_TMP/server.conf" <<EOF
[server]
listen = 127.0.0.1:$PORT
enroll_listen = 127.0.0.1:$EPORT
certificate = $A/server.crt
private_key = $A/server.key
ca = $A/ca.crt
database = $WS_TMP/ws.db
pool = neta 10.9.1.0/24
EOF
if ! "$builddir/wiresyncd" -n -c "$WS_TMP/server.conf" >"$WS_TMP/n.out" 2>&1; then
    if grep -Eq "enroll_listen|pool" "$WS_TMP/n.out"; then
        echo "skip: this wiresyncd has no enroll_listen or pool yet:"
        show "$WS_TMP/n.out"
        exit 77
    fi
    nok "wiresyncd -n accepts the configuration"; show "$WS_TMP/n.out"; finish
fi
if ws_start_server -c "$WS_TMP/server.conf"; then ok "server started"; else nok "server started"; finish; fi

cat >"$WS_TMP/ctl.conf" <<EOF
[ctl]
server = 127.0.0.1:$PORT
certificate = $A/op.crt
private_key = $A/op.key
ca = $A/ca.crt
ca_dir = $A
ca_command = $srcdir/certs/wiresync-ca
EOF
CTL=$builddir/wiresyncctl
# ctl DESC WANT_RC PATTERN ARGS...: exit status and an extended regex over stdout+stderr
ctl() {
    _desc=$1 _want=$2 _pat=$3
    shift 3
    "$CTL" -c "$WS_TMP/ctl.conf" "$@" >"$WS_TMP/ctl.out" 2>&1
    _rc=$?
    if [ "$_rc" -eq "$_want" ] && grep -Eq -- "$_pat" "$WS_TMP/ctl.out"; then
        ok "$_desc"
    else
        nok "$_desc (exit $_rc, want $_want; output below)"
        show "$WS_TMP/ctl.out"
    fi
}

# host NAME: a TLS key (P-256, 0600), a DER CSR with CN=NAME, a WireGuard key
host() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$H/$1.key" 2>/dev/null &&
    openssl req -new -key "$H/$1.key" -subj "/CN=$1" -outform DER -out "$H/$1.csr" 2>/dev/null &&
    openssl rand -base64 32 >"$H/$1.pub"
}
# join NAME: one Join; the reply's JSON line in $H/NAME.json
join() {
    WS_PY=$WS_TMP/py "$WS_PYTHON" "$srcdir/test/enroll_host.py" "127.0.0.1:$EPORT" \
        "$A/ca.crt" "$H/$1.csr" "$(cat "$H/$1.pub")" "$H/$1" >"$H/$1.json" 2>&1
}
# field NAME KEY: a field of the last reply of NAME
field() {
    "$WS_PYTHON" -c 'import json, sys; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' \
        "$H/$1.json" "$2" 2>/dev/null
}

for _n in h1 h2 h3 h4 h5; do host "$_n" || { nok "host $_n's keys"; finish; }; done

# --------------------------------------------------------------------------- 1. ask
_i=0
while ! join h1 && [ $_i -lt 50 ]; do sleep 0.1; _i=$((_i + 1)); done
ID1=$(field h1 id)
CODE1=$(field h1 code)
if [ "$(field h1 state)" = JOIN_WAITING ] && [ -n "$ID1" ] && [ "$ID1" -gt 0 ] 2>/dev/null &&
    printf '%s\n' "$CODE1" | grep -Eq '^[A-Z2-7]{4}-[A-Z2-7]{4}$'; then
    ok "h1 joins: WAITING, id $ID1, code $CODE1"
else
    nok "h1 joins: WAITING with an id and a code"; show "$H/h1.json"; finish
fi
K1=$(cat "$H/h1.pub")
ctl "pending: h1's row (id, name, key, code, source, age, waiting)" 0 \
    "^$ID1 +h1 +$(printf '%s' "$K1" | sed 's/[+/]/./g') +$CODE1 +127\.0\.0\.1[^ ]* +[0-9]+[smhd] +waiting" pending
"$CTL" -c "$WS_TMP/ctl.conf" pending --json >"$WS_TMP/pending.json" 2>&1
if "$WS_PYTHON" -c '
import json, sys
j = [r for r in json.load(open(sys.argv[1])) if r["id"] == int(sys.argv[2])]
sys.exit(0 if len(j) == 1 and j[0]["name"] == "h1" and j[0]["public_key"] == sys.argv[3] and
         j[0]["code"] == sys.argv[4] and j[0]["state"] == "waiting" else 1)' \
    "$WS_TMP/pending.json" "$ID1" "$K1" "$CODE1"; then
    ok "pending --json: h1's request"
else
    nok "pending --json: h1's request"; show "$WS_TMP/pending.json"
fi
join h1
if [ "$(field h1 id)" = "$ID1" ] && [ "$(field h1 state)" = JOIN_WAITING ]; then
    ok "the same CSR again resumes request $ID1"
else
    nok "the same CSR again resumes request $ID1"; show "$H/h1.json"
fi

# --------------------------------------------------------------------------- 2. approve
ctl "approve $ID1 --group laptops" 0 "^approved $ID1 h1 10\.9\.1\.[0-9]+" approve "$ID1" --group laptops
ADDR1=$(sed -n "s/^approved $ID1 h1 //p" "$WS_TMP/ctl.out" | cut -d, -f1 | cut -d/ -f1)
join h1
if [ "$(field h1 state)" = JOIN_APPROVED ] && [ -s "$H/h1.crt.der" ]; then
    ok "h1's next Join: APPROVED with a certificate"
else
    nok "h1's next Join: APPROVED with a certificate"; show "$H/h1.json"
fi
openssl x509 -inform DER -in "$H/h1.crt.der" -out "$H/h1.crt" 2>/dev/null
_t=$(openssl x509 -in "$H/h1.crt" -noout -subject -ext subjectAltName 2>/dev/null)
if printf '%s\n' "$_t" | grep -q "subject=CN = h1, O = neta" &&
    printf '%s\n' "$_t" | grep -qF "URI:urn:wiresync:key:$K1" &&
    printf '%s\n' "$_t" | grep -qF "URI:urn:wiresync:group:laptops" &&
    printf '%s\n' "$_t" | grep -qF "IP Address:$ADDR1"; then
    ok "h1's certificate: CN=h1, O=neta, its key, group laptops, $ADDR1"
else
    nok "h1's certificate: CN, key URI, group, address"; printf '%s\n' "$_t" | show
fi
if openssl verify -CAfile "$A/ca.crt" "$H/h1.crt" >"$WS_TMP/v.out" 2>&1 &&
    [ "$(openssl x509 -in "$H/h1.crt" -noout -pubkey)" = "$(openssl pkey -in "$H/h1.key" -pubout)" ]; then
    ok "h1's certificate chains to the CA and holds the CSR's key"
else
    nok "h1's certificate chains to the CA and holds the CSR's key"; show "$WS_TMP/v.out"
fi
ctl "status prints ca-sha256" 0 "^ca-sha256: [0-9a-f]{64}$" status
if [ "$(sed -n 's/^ca-sha256: //p' "$WS_TMP/ctl.out")" = "$(sha256sum <"$H/h1.ca.der" | cut -d' ' -f1)" ]; then
    ok "the CA h1 received is the one whose SHA-256 wiresyncctl status prints"
else
    nok "the CA h1 received is the one whose SHA-256 wiresyncctl status prints"
fi

# --------------------------------------------------------------------------- 3. deny
join h2
ID2=$(field h2 id)
ctl "deny $ID2 --reason" 0 "^denied $ID2 h2" deny "$ID2" --reason "not one of ours"
join h2
if [ "$(field h2 state)" = JOIN_DENIED ] && grep -q "not one of ours" "$H/h2.json" &&
    [ ! -e "$H/h2.crt.der" ]; then
    ok "h2's next Join: DENIED with the reason, no certificate"
else
    nok "h2's next Join: DENIED with the reason"; show "$H/h2.json"
fi

# --------------------------------------------------------------------------- 4. --ip
join h3
ID3=$(field h3 id)
ctl "approve $ID3 --ip 10.9.1.50" 0 "^approved $ID3 h3 10\.9\.1\.50" approve "$ID3" --ip 10.9.1.50
join h4
ID4=$(field h4 id)
before=$(sha256sum <"$A/index.txt")
ctl "approve $ID4 --ip 10.9.1.50 (h3's): refused by the server, exit 5" 5 "PrepareApproval: " \
    approve "$ID4" --ip 10.9.1.50
if [ "$(sha256sum <"$A/index.txt")" = "$before" ] && [ ! -e "$A/h4.crt" ]; then
    ok "nothing signed for h4"
else
    nok "nothing signed for h4"
fi

# --------------------------------------------------------------------------- 5. failures
ctl "approve of an unknown id: exit 3" 3 "NOT_FOUND" approve 999999
join h5
ID5=$(field h5 id)
ctl "approve with a wiresync-ca that fails: exit 1, nothing approved" 1 "nothing approved" \
    --ca_command=/bin/false approve "$ID5"
join h5
if [ "$(field h5 state)" = JOIN_WAITING ]; then
    ok "h5 still waits"
else
    nok "h5 still waits"; show "$H/h5.json"
fi
# a NAME.crt that is not the request's is never sent nor overwritten
cp "$A/alice.crt" "$A/h5.crt"
ctl "approve with another host's h5.crt in ca_dir: exit 1, nothing signed" 1 \
    "h5\.crt exists and is not request $ID5's certificate" approve "$ID5"
rm -f "$A/h5.crt"
# signed, but the Approve lost: the same approve sends that certificate, signs nothing more
"$CTL" -c "$WS_TMP/ctl.conf" pending --json >"$WS_TMP/pending.json" 2>&1
R5=$("$WS_PYTHON" -c '
import json, sys
print([r for r in json.load(open(sys.argv[1])) if r["id"] == int(sys.argv[2])][0]["reserved_ips"][0].split("/")[0])' \
    "$WS_TMP/pending.json" "$ID5" 2>/dev/null)
if [ -n "$R5" ] && sh "$srcdir/certs/wiresync-ca" -d "$A" agent h5 --csr "$H/h5.csr" \
    --key "$(cat "$H/h5.pub")" --ip "$R5" >"$WS_TMP/sign.out" 2>&1; then
    ok "pending --json gives h5's reserved address $R5; signed by hand"
else
    nok "pending --json gives h5's reserved address; signed by hand"; show "$WS_TMP/pending.json" "$WS_TMP/sign.out"
fi
before=$(sha256sum <"$A/index.txt")
ctl "approve $ID5 with its certificate already signed: sent, not signed again" 0 \
    "h5\.crt is request $ID5's certificate already" approve "$ID5"
if grep -q "^approved $ID5 h5 $R5" "$WS_TMP/ctl.out" && [ "$(sha256sum <"$A/index.txt")" = "$before" ]; then
    ok "approved $ID5 h5 $R5, the CA's index unchanged"
else
    nok "approved $ID5 h5 $R5, the CA's index unchanged"; show "$WS_TMP/ctl.out"
fi
openssl x509 -in "$A/h5.crt" -outform DER -out "$WS_TMP/h5.want.der" 2>/dev/null
join h5
if [ "$(field h5 state)" = JOIN_APPROVED ] && cmp -s "$H/h5.crt.der" "$WS_TMP/h5.want.der"; then
    ok "h5's next Join: APPROVED with the certificate signed by hand"
else
    nok "h5's next Join: APPROVED with the certificate signed by hand"; show "$H/h5.json"
fi

if ws_stop_server; then ok "server stopped cleanly"; else nok "server stopped cleanly"; fi
if grep -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$WS_SERVER_LOG" >/dev/null; then
    nok "server log free of sanitizer reports"; show "$WS_SERVER_LOG"
else
    ok "server log free of sanitizer reports"
fi
finish
