#!/bin/sh
# Installs the Debian 12 packages wiresync needs to build (and, with --test, to run its
# tests). Needs root; safe to run again.
set -eu

build="autoconf automake pkg-config make gcc libc6-dev
  libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev libssl-dev openssl libsqlite3-dev libpq-dev
  libnl-3-dev libnl-route-3-dev libnl-genl-3-dev libinih-dev libjansson-dev libqrencode-dev check"
test="python3 python3-grpcio python3-protobuf python3-h2 python3-cryptography protobuf-compiler sqlite3
  iproute2 procps
  sslscan
  iputils-ping wireguard-go wireguard-tools nftables
  clang libclang-rt-14-dev llvm-14
  dpkg-dev debhelper lintian
  curl chromium python3-websocket zbar-tools
  postgresql-15"

pkgs=$build
[ "${1:-}" = "--test" ] && pkgs="$build $test"

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: missing Debian packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "deps.sh: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
