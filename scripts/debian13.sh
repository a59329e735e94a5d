#!/usr/bin/env bash
# Runs a command of this repo (default: `make test`, the README's test command) on
# the current stack (TFX 1.21, Python 3.13) from a machine whose glibc is older than
# the 2.39 that stack's wheels need, such as Debian 12: it builds a Debian 13
# (trixie) root once, enters it with chroot and runs the command there, in this
# very checkout (bind-mounted at the same path).
#
# This is how we test the current stack on an older distribution; users do not
# need it. Where the machine's own glibc is 2.39 or newer it runs the command
# natively and touches nothing.
#
#   scripts/debian13.sh                 # make test, in the Debian 13 root
#   scripts/debian13.sh make run        # any command
#
# Needs root, debootstrap (installed with apt-get when missing) and mounts. The
# root is kept in $FLOWERS_DEBIAN13_ROOT (default /var/cache/flowers-tfx/trixie)
# and reused by the next run. Every mount made here is in a mount namespace of its
# own and is removed on exit, also when a step fails.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd -P)"
ROOT="${FLOWERS_DEBIAN13_ROOT:-/var/cache/flowers-tfx/trixie}"
SUITE=trixie
if [ "$#" -eq 0 ]; then set -- make test; fi

say() { echo "debian13: $*"; }

glibc="$(getconf GNU_LIBC_VERSION | awk '{print $2}')"
if [ "$(printf '%s\n2.39\n' "$glibc" | sort -V | head -n1)" = "2.39" ]; then
    say "glibc $glibc is new enough for the current stack: running natively"
    cd "$REPO" && exec "$@"
fi
[ "$(id -u)" -eq 0 ] || { say "needs root (chroot and mounts); glibc $glibc here"; exit 2; }

# A mount namespace of our own: the mounts below are seen by this run only (two runs
# at once do not meet), and the kernel drops them when it ends, whatever happens;
# the trap below unmounts them too.
if [ -z "${FLOWERS_DEBIAN13_NS:-}" ] && command -v unshare > /dev/null; then
    FLOWERS_DEBIAN13_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}" 2>/dev/null || true
    done
    MOUNTS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mnt() {  # mnt TARGET MOUNT-ARGS... : mount and remember it for cleanup
    local target="$1"; shift
    [ -e "$target" ] || mkdir -p "$target"
    mount "$@" "$target"
    MOUNTS+=("$target")
}

bind_ro() {  # bind_ro HOST-PATH : the same path inside the root, read-only
    local src; src="$(realpath "$1")"
    if [ -d "$src" ]; then mnt "$ROOT$src" --bind "$src"; else
        mkdir -p "$(dirname "$ROOT$src")"; touch "$ROOT$src"; mnt "$ROOT$src" --bind "$src"; fi
    mount -o remount,bind,ro "$ROOT$src"
}

mount_system() {
    mnt "$ROOT/proc" -t proc proc
    mnt "$ROOT/sys" -t sysfs sysfs
    mnt "$ROOT/dev" --bind /dev
    mnt "$ROOT/dev/pts" -t devpts devpts -o newinstance,ptmxmode=0666
    mnt "$ROOT/dev/shm" -t tmpfs shm -o mode=1777
}

# pip inside must reach the index the way the host's pip does: the host's locally
# added CA certificates, its configuration files, its PIP_* environment and the
# local folders that configuration names (bind-mounted read-only at their paths).
pip_setup() {
    if compgen -G "/usr/local/share/ca-certificates/*" > /dev/null; then
        mkdir -p "$ROOT/usr/local/share/ca-certificates"
        cp -a /usr/local/share/ca-certificates/. "$ROOT/usr/local/share/ca-certificates/"
    fi
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    local conf dir
    for conf in /etc/pip.conf /etc/xdg/pip/pip.conf "$HOME/.pip/pip.conf" "$HOME/.config/pip/pip.conf"; do
        [ -f "$conf" ] || continue
        mkdir -p "$ROOT$(dirname "$conf")"; cp -a "$conf" "$ROOT$conf"
        # Files and folders it names (constraints, find-links, file:// indexes).
        for dir in $(grep -oE '(file://)?/[^ ]+' "$conf" | sed 's|^file://||'); do
            case "$dir" in
                /etc/ssl/*) ;;  # certificates are Debian's own inside, updated below
                */simple) [ -d "${dir%/simple}" ] && bind_ro "${dir%/simple}" ;;
                *) [ -e "$dir" ] && bind_ro "$dir" ;;
            esac
        done
    done
    for dir in $(env | grep '^PIP_' | cut -d= -f2- | tr ' ' '\n' | sed 's|^file://||' | grep '^/' || true); do
        case "$dir" in /etc/ssl/*) ;; *) [ -e "$dir" ] && bind_ro "$dir" ;; esac
    done
}

build_root() {
    say "building a Debian 13 root in $ROOT (once; about 5 minutes)"
    command -v debootstrap > /dev/null || {
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null; }
    local mirror
    mirror="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
              | grep -v security | head -n1 || true)"
    [ -n "$mirror" ] || mirror="$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
    [ -n "$mirror" ] || { say "no Debian mirror found in apt's sources"; exit 1; }
    rm -rf "$ROOT.partial"
    mkdir -p "$(dirname "$ROOT")"
    debootstrap --variant=minbase "$SUITE" "$ROOT.partial" "$mirror" > "$ROOT.debootstrap.log" 2>&1 \
        || { tail -n 30 "$ROOT.debootstrap.log"; say "debootstrap failed"; exit 1; }
    local final="$ROOT"; ROOT="$ROOT.partial"
    mount_system
    cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends \
               python3 python3-venv python3-dev build-essential git make ca-certificates procps' \
        > "$final.apt.log" 2>&1 || { tail -n 30 "$final.apt.log"; say "apt-get inside the root failed"; exit 1; }
    cleanup
    ROOT="$final"
    mv "$ROOT.partial" "$ROOT"
    touch "$ROOT/.flowers-ready"
}

mkdir -p "$(dirname "$ROOT")"
exec 9> "$ROOT.lock"
flock 9  # one build at a time; later runs wait for it and reuse the root
[ -e "$ROOT/.flowers-ready" ] || build_root
flock -u 9
say "glibc $glibc here; running '$*' in the Debian 13 root $ROOT"

mount_system
pip_setup
chroot "$ROOT" update-ca-certificates > /dev/null 2>&1 || true
mnt "$ROOT$REPO" --bind "$REPO"
# The checkout's .venv inside the root is the root's own (Python 3.13), kept in the
# root for this checkout's path and reused by the next run; the host's .venv (the
# legacy stack's, if any) stays as it is. Venvs of checkout paths unused for a week
# are removed (each is about 3.5 GB).
key="$(printf '%s' "$REPO" | sha256sum | cut -c1-16)"
store="$ROOT/var/lib/flowers-tfx/venvs"
mkdir -p "$store/$key" "$REPO/.venv"
touch "$store/$key"
find "$store" -mindepth 1 -maxdepth 1 ! -name "$key" -mtime +7 -exec rm -rf {} +
mnt "$ROOT$REPO/.venv" --bind "$store/$key"
# ../shared (the full archive, read-only) where the repo's tests and benchmarks look.
if [ -d "$REPO/../shared" ]; then bind_ro "$REPO/../shared"; fi

# Java for the Flink tests (tests/helpers/flink_cluster.py): the host's JDK 17, read-only
# at its own path, with the /etc/java-* folder its configuration links point into.
# Debian 13 ships JDK 21 and 25 only, which Flink 1.19 supports as a beta (21) or not.
path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
java_env=()
if command -v java > /dev/null; then
    java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
    bind_ro "$java_home"
    for dir in $(find "$java_home" -type l -lname '/etc/java*' -printf '%l\n' | cut -d/ -f1-3 | sort -u); do
        bind_ro "$dir"
    done
    path="$path:$java_home/bin"
    java_env=(JAVA_HOME="$java_home")
else
    say "no java on this host: the Flink tests will fail in the root (they need the host's JDK 17)"
fi
envs=(PATH="$path" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" "${java_env[@]}")
while IFS= read -r line; do envs+=("$line"); done < <(env | grep -E '^(PIP_|CI=|ARGS=|FLOWERS_)' || true)
set +e
chroot "$ROOT" /usr/bin/env -i "${envs[@]}" bash -c 'cd "$0" && exec "$@"' "$REPO" "$@"
rc=$?
set -e
exit "$rc"
