#!/usr/bin/env bash
# onnxruntime C++ headers and library for Debian 12, where no package provides them.
#
#   bash .ci/onnxruntime.sh PREFIX      # -> PREFIX/include/onnxruntime_cxx_api.h, PREFIX/lib/libonnxruntime.so
#
# Headers: Debian 13 (trixie)'s libonnxruntime-dev, fetched with `apt-get download` through a
# private sources list and private apt state (the system's apt setup is not touched) from the
# Debian mirror the system's own sources use, and unpacked with dpkg-deb -x (not installed:
# Debian 13's library needs a newer glibc). Library: the pip wheel of the same onnxruntime
# version, whose libonnxruntime runs on Debian 12. Headers and library must be the same version
# (or the headers older): newer headers than the library make OrtGetApiBase()->GetApi() return
# null. Nothing is cached outside PREFIX; a PREFIX that already holds both is left as it is.
#
# Environment: ORT_VERSION (default 1.21.0), PYTHON (the interpreter whose pip downloads the
# wheel, default python3), DEBIAN_MIRROR (e.g. http://deb.debian.org/debian; default: read
# from /etc/apt/sources.list and /etc/apt/sources.list.d/).
set -euo pipefail

ORT_VERSION="${ORT_VERSION:-1.21.0}"
PYTHON="${PYTHON:-python3}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log=""
fail() {
    echo "onnxruntime.sh: $*${log:+ (log: $log)}" >&2
    exit 1
}

[ $# -eq 1 ] || fail "usage: $0 PREFIX"
mkdir -p "$1"
PREFIX="$(cd "$1" && pwd)"
LIB="libonnxruntime.so.$ORT_VERSION"

if [ -f "$PREFIX/include/onnxruntime_cxx_api.h" ] && [ -f "$PREFIX/lib/$LIB" ] &&
    [ -L "$PREFIX/lib/libonnxruntime.so" ]; then
    echo "onnxruntime $ORT_VERSION: already in $PREFIX"
    exit 0
fi

# The Debian archive the system's apt sources point at (one-line and deb822 formats).
debian_mirror() {
    local files=()
    [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && files+=("$f")
    done
    [ ${#files[@]} -gt 0 ] || return 0
    sed -e 's/#.*//' "${files[@]}" |
        awk '/^[[:space:]]*deb[[:space:]]/ { sub(/\[[^]]*\]/, ""); print $2 }
             /^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }' |
        grep -E '^https?://[^[:space:]]+/debian/?$' | head -n 1 | sed 's:/*$::'
}

MIRROR="${DEBIAN_MIRROR:-$(debian_mirror)}"
[ -n "$MIRROR" ] || fail "no Debian mirror (a .../debian URI) in the system's apt sources; set DEBIAN_MIRROR"
[ -f "$KEYRING" ] || fail "$KEYRING not found (package debian-archive-keyring)"
command -v dpkg-deb >/dev/null || fail "dpkg-deb not found"
command -v unzip >/dev/null || fail "unzip not found"

WORK="$PREFIX/.download"
rm -rf "$WORK"
mkdir -p "$WORK/apt/lists/partial" "$WORK/apt/cache/archives/partial" "$WORK/deb" "$WORK/wheel"
echo "deb [signed-by=$KEYRING] $MIRROR trixie main" >"$WORK/apt/sources.list"
APT_OPTS=(
    -o "Dir::Etc::SourceList=$WORK/apt/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$WORK/apt/lists"
    -o "Dir::Cache=$WORK/apt/cache"
    -o Dir::Etc::Preferences=/dev/null
    -o Dir::Etc::PreferencesParts=/dev/null
    # the private folders are not writable by apt's unprivileged download user
    -o APT::Sandbox::User=root
    -o Acquire::Languages=none
)

log="$WORK/log"
: >"$log"
apt-get -q "${APT_OPTS[@]}" update >"$log" 2>&1 ||
    fail "apt-get update against $MIRROR trixie failed: $(tail -n 3 "$log" | tr '\n' ' ')"
deb_version="$(apt-cache "${APT_OPTS[@]}" show --no-all-versions libonnxruntime-dev 2>>"$log" |
    sed -n 's/^Version: //p' | head -n 1)"
[ -n "$deb_version" ] || fail "libonnxruntime-dev not found in $MIRROR trixie"
upstream="${deb_version#*:}"
upstream="${upstream%%[+-]*}"
[ "$upstream" = "$ORT_VERSION" ] ||
    fail "trixie has libonnxruntime-dev $deb_version, not $ORT_VERSION (set ORT_VERSION=$upstream)"
(cd "$WORK/deb" && apt-get -q "${APT_OPTS[@]}" download "libonnxruntime-dev=$deb_version") \
    >>"$log" 2>&1 || fail "apt-get download libonnxruntime-dev=$deb_version failed: $(tail -n 3 "$log" | tr '\n' ' ')"
dpkg-deb -x "$WORK"/deb/libonnxruntime-dev_*.deb "$WORK/deb/root"

"$PYTHON" -m pip download --quiet --no-deps --no-cache-dir --only-binary=:all: \
    --dest "$WORK/wheel" "onnxruntime==$ORT_VERSION" >>"$log" 2>&1 ||
    fail "pip download onnxruntime==$ORT_VERSION failed: $(tail -n 3 "$log" | tr '\n' ' ')"
unzip -q -o -d "$WORK/wheel/x" "$WORK"/wheel/onnxruntime-*.whl "onnxruntime/capi/$LIB" ||
    fail "$LIB not in the onnxruntime $ORT_VERSION wheel"

# One prefix: the headers flattened into include/, the library and its links in lib/.
header="$(find "$WORK/deb/root" -name onnxruntime_cxx_api.h | head -n 1)"
[ -n "$header" ] || fail "onnxruntime_cxx_api.h not in libonnxruntime-dev $deb_version"
rm -rf "$PREFIX/include" "$PREFIX/lib"
mkdir -p "$PREFIX/include" "$PREFIX/lib"
cp -R "$(dirname "$header")"/. "$PREFIX/include/"
cp "$WORK/wheel/x/onnxruntime/capi/$LIB" "$PREFIX/lib/"
ln -s "$LIB" "$PREFIX/lib/libonnxruntime.so.1"
ln -s libonnxruntime.so.1 "$PREFIX/lib/libonnxruntime.so"
rm -rf "$WORK"
echo "onnxruntime $ORT_VERSION: headers from Debian 13's libonnxruntime-dev $deb_version, library from the pip wheel, in $PREFIX"
