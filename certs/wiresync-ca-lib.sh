# wiresync-ca-lib.sh - what wiresync-ca (POSIX sh) checks and the profile it issues to,
# kept apart from the commands that issue: the checks of names, lifetimes, keys and
# addresses (each returns 0 or 1 and prints only what it says), and the openssl
# configuration that holds the certificate profile (DESIGN.md, "Certificates"). Sourced by
# wiresync-ca from beside it (the source tree) or from PREFIX/share/wiresync (installed);
# not a program of its own.

valid_name() {
    case $1 in ''|*[!A-Za-z0-9._-]*) return 1 ;; esac
    [ ${#1} -le 64 ]
}

valid_days() {
    case $1 in ''|*[!0-9]*) return 1 ;; esac
    [ ${#1} -le 5 ] && [ "$1" -ge 1 ] && [ "$1" -le 36500 ]
}

# YYYYMMDDHHMMSSZ with plausible field ranges (openssl checks the rest).
valid_time() {
    case $1 in
        [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]Z) ;;
        *) return 1 ;;
    esac
    _t=$1
    _mo=${_t#????}; _mo=${_mo%????????Z}
    _dd=${_t#??????}; _dd=${_dd%??????Z}
    _hh=${_t#????????}; _hh=${_hh%????Z}
    _mi=${_t#??????????}; _mi=${_mi%??Z}
    _ss=${_t#????????????}; _ss=${_ss%Z}
    [ "${_mo#0}" -ge 1 ] && [ "${_mo#0}" -le 12 ] &&
    [ "${_dd#0}" -ge 1 ] && [ "${_dd#0}" -le 31 ] &&
    [ "${_hh#0}" -le 23 ] && [ "${_mi#0}" -le 59 ] && [ "${_ss#0}" -le 59 ]
}

valid_dns() {
    case $1 in
        ''|*[!A-Za-z0-9.*-]*|.*|*.|-*|*-|*..*|*.-*|*-.*) return 1 ;;
        \*.*) case ${1#\*.} in *\**) return 1 ;; esac ;;
        *\**) return 1 ;;
    esac
    [ ${#1} -le 253 ]
}

# WireGuard public key: canonical base64 of exactly 32 bytes (44 chars, one '=').
valid_wgkey() {
    [ ${#1} -eq 44 ] || return 1
    case $1 in *[!A-Za-z0-9+/=]*) return 1 ;; esac
    case $1 in *=) ;; *) return 1 ;; esac
    _b=${1%=}
    case $_b in *=*) return 1 ;; esac
    # the last character carries 4 data bits and 2 zero bits
    case $_b in *[AEIMQUYcgkosw048]) ;; *) return 1 ;; esac
    _n=$(printf '%s\n' "$1" | openssl base64 -d -A 2>/dev/null | wc -c)
    [ "$_n" -eq 32 ]
}

# IPv4 dotted quad, no leading zeros.  Prints it back.
ip4_norm() {
    case $1 in ''|*[!0-9.]*|.*|*.|*..*) return 1 ;; esac
    _ifs=$IFS; IFS=.; set -- $1; IFS=$_ifs
    [ $# -eq 4 ] || return 1
    for _o do
        case $_o in 0?*) return 1 ;; esac
        [ ${#_o} -le 3 ] && [ "$_o" -le 255 ] || return 1
    done
    printf '%s.%s.%s.%s\n' "$1" "$2" "$3" "$4"
}

# IPv6 (with optional trailing dotted quad).  Prints the canonical uncompressed
# form, eight upper-case hex groups without leading zeros, e.g. FD00:0:0:0:0:0:0:5.
ip6_norm() {
    _a=$1
    case $_a in ''|*[!0-9A-Fa-f:.]*) return 1 ;; esac
    case $_a in *:*) ;; *) return 1 ;; esac
    case $_a in *:::*|*::*::*) return 1 ;; esac
    case $_a in
        *.*)
            _v4=${_a##*:}
            ip4_norm "$_v4" >/dev/null || return 1
            _pre=${_a%"$_v4"}
            _ifs=$IFS; IFS=.; set -- $_v4; IFS=$_ifs
            _a=$_pre$(printf '%x:%x' $(($1 * 256 + $2)) $(($3 * 256 + $4)))
            ;;
    esac
    case $_a in
        *::*) _head=${_a%%::*}; _tail=${_a#*::}; _dc=1 ;;
        *) _head=$_a; _tail=; _dc=0 ;;
    esac
    case $_head in :*|*:) return 1 ;; esac
    case $_tail in :*|*:) return 1 ;; esac
    _hs=; _ts=; _n=0
    _ifs=$IFS; IFS=:
    for _g in $_head; do
        case $_g in ''|?????*|*[!0-9A-Fa-f]*) IFS=$_ifs; return 1 ;; esac
        _hs="$_hs $((0x$_g))"; _n=$((_n + 1))
    done
    for _g in $_tail; do
        case $_g in ''|?????*|*[!0-9A-Fa-f]*) IFS=$_ifs; return 1 ;; esac
        _ts="$_ts $((0x$_g))"; _n=$((_n + 1))
    done
    IFS=$_ifs
    if [ $_dc -eq 1 ]; then
        [ $_n -le 7 ] || return 1
        while [ $_n -lt 8 ]; do _hs="$_hs 0"; _n=$((_n + 1)); done
    else
        [ $_n -eq 8 ] || return 1
    fi
    _out=
    for _g in $_hs $_ts; do _out="$_out:$(printf '%X' "$_g")"; done
    printf '%s\n' "${_out#:}"
}

ip_norm() {
    case $1 in
        *:*) ip6_norm "$1" ;;
        *) ip4_norm "$1" ;;
    esac
}

# CIDR -> "IP:ADDR/MASK" as openssl's nameConstraints want it; on a bad CIDR,
# prints why and fails.  The address must be the range's first (no host bits).
cidr_nc() {
    case $1 in */*) ;; *) echo "want ADDRESS/PREFIX, e.g. 10.9.0.0/16"; return 1 ;; esac
    _p=${1##*/}; _ad=${1%/*}
    case $_p in ''|*[!0-9]*|0?*) echo "bad prefix length '$_p'"; return 1 ;; esac
    case $_ad in
        *:*)
            _n=$(ip6_norm "$_ad") || { echo "not an IPv6 address"; return 1; }
            [ "$_p" -le 128 ] || { echo "prefix length above 128"; return 1; }
            _m=; _bad=0; _i=0; _ifs=$IFS; IFS=:
            for _g in $_n; do
                _b=$((_p - 16 * _i)); [ $_b -ge 0 ] || _b=0; [ $_b -le 16 ] || _b=16
                _mk=$(( (0xffff << (16 - _b)) & 0xffff ))
                [ $(( 0x$_g & (0xffff ^ _mk) )) -eq 0 ] || _bad=1
                _m="$_m:$(printf '%x' $_mk)"; _i=$((_i + 1))
            done
            IFS=$_ifs
            [ $_bad -eq 0 ] || { echo "host bits are set (give the range's first address)"; return 1; }
            printf 'IP:%s/%s\n' "$_n" "${_m#:}" ;;
        *)
            _n=$(ip4_norm "$_ad") || { echo "not an IPv4 address"; return 1; }
            [ "$_p" -le 32 ] || { echo "prefix length above 32"; return 1; }
            _ifs=$IFS; IFS=.; set -- $_n; IFS=$_ifs
            _v=$(( ($1 << 24) | ($2 << 16) | ($3 << 8) | $4 ))
            _mk=$(( (0xffffffff << (32 - _p)) & 0xffffffff ))
            [ $(( _v & (0xffffffff ^ _mk) )) -eq 0 ] ||
                { echo "host bits are set (give the range's first address)"; return 1; }
            printf 'IP:%s/%d.%d.%d.%d\n' "$_n" $((_mk >> 24)) $(((_mk >> 16) & 255)) \
                $(((_mk >> 8) & 255)) $((_mk & 255)) ;;
    esac
}

# ---------------------------------------------------------------- the openssl profile
write_conf() {
    cat >"$TMP/ca.cnf" <<'EOF'
# generated by wiresync-ca; paths are relative to the CA directory
[ ca ]
default_ca = wiresync_ca

[ wiresync_ca ]
dir              = .
database         = ./index.txt
new_certs_dir    = ./newcerts
certificate      = ./ca.crt
private_key      = ./ca.key
serial           = ./serial
crlnumber        = ./crlnumber
default_md       = sha256
default_days     = 825
default_crl_days = 30
unique_subject   = no
copy_extensions  = none
preserve         = no
email_in_dn      = no
name_opt         = ca_default
cert_opt         = ca_default
policy           = wiresync_policy
crl_extensions   = wiresync_crl_ext

[ wiresync_policy ]
commonName       = supplied
organizationName = supplied

[ wiresync_crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = wiresync_req_dn
prompt             = no
string_mask        = utf8only

[ wiresync_req_dn ]
CN = wiresync

[ wiresync_ext_ca ]
basicConstraints     = critical,CA:TRUE,pathlen:1
keyUsage             = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
}

# Extension section for one issued certificate (SAN lines come from $TMP/san.cnf).
write_ext() {   # $1 = extendedKeyUsage
    cat >>"$TMP/ca.cnf" <<EOF

[ wiresync_ext_leaf ]
basicConstraints       = critical,CA:FALSE
keyUsage               = critical,digitalSignature
extendedKeyUsage       = $1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always
subjectAltName         = @wiresync_san

[ wiresync_san ]
EOF
    cat "$TMP/san.cnf" >>"$TMP/ca.cnf"
}
