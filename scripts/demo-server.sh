#!/bin/sh
# Sets everything up on a fresh Debian 12 machine (as root), creates a CA and a server
# certificate under ./demo, and runs wiresyncd in the foreground on the embedded SQLite
# database ./demo/wiresync.db. Ctrl-C stops it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
autoreconf -fi
mkdir -p build-demo
cd build-demo
[ -f Makefile ] || ../configure
make -j"$(nproc)"
cd "$top"
demo=$top/demo
ca="$top/certs/wiresync-ca -d $demo/ca"
mkdir -p "$demo"
if [ ! -f "$demo/ca/ca.crt" ]; then
	$ca init demo
	$ca server server --dns localhost --ip 127.0.0.1
fi
port=${WIRESYNC_PORT:-7443}
cat <<EOT

wiresyncd is starting on 0.0.0.0:$port with database $demo/wiresync.db.
To enrol a host, give it a certificate that binds its WireGuard key and tunnel address:

  $top/certs/wiresync-ca -d $demo/ca agent HOSTNAME --key "\$(wg pubkey < private.key)" --ip 10.9.0.2

then copy $demo/ca/ca.crt, $demo/ca/HOSTNAME.crt and HOSTNAME.key to the host and point
its agent at this server (see README.md). Check the server with:

  $top/build-demo/test/ws-call -s 127.0.0.1:$port -A $demo/ca/ca.crt \\
      -C $demo/ca/HOSTNAME.crt -K $demo/ca/HOSTNAME.key health

EOT
exec "$top/build-demo/wiresyncd" --listen="0.0.0.0:$port" \
	--certificate="$demo/ca/server.crt" --private-key="$demo/ca/server.key" \
	--ca="$demo/ca/ca.crt" --crl="$demo/ca/ca.crl" --database="$demo/wiresync.db"
