#!/usr/bin/env bash
# Builds the Kestrel test image from Debian's, PyPI's and npm's registries only.
#
# Usage: tests/env/build.sh OUTDIR [TAG]
#
# OUTDIR must not exist. On success it holds:
#   rootfs/                 the root filesystem (debootstrap bookworm minbase + apps)
#   oci/                    OCI image layout, tag TAG (default kestrel-test:dev)
#   image.oci.tar           the same image as an oci-archive
#   image.docker.tar        the same image as a docker-archive (localhost/TAG)
#   inventory-debian.tsv    dpkg packages: name, version, arch, source, source version
#   inventory-python.json   venv distributions: installed, and loaded by the app
#   inventory-node.json     node_modules packages: installed, and loaded by the app
#
# Tests do not call this directly: crates/kestrel-testenv runs it into a
# temporary directory, adds manifest.json, renames the result into its
# content-keyed cache and loads the image into podman. See docs/testing.md.
#
# Environment:
#   KESTREL_TESTENV_MIRROR     Debian mirror (default http://deb.debian.org/debian)
#   KESTREL_TESTENV_DEB_CACHE  directory kept between builds for downloaded .debs
#   PYTHON                     host Python with pip, for `pip download` (default python3)
set -euo pipefail
umask 022

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUTDIR [TAG]}
tag=${2:-kestrel-test:dev}
mirror=${KESTREL_TESTENV_MIRROR:-http://deb.debian.org/debian}
python=${PYTHON:-python3}
suite=bookworm

log() { printf 'build.sh [%4ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and umoci need it)"
for tool in debootstrap umoci skopeo chroot dpkg-query npm "$python"; do
    command -v "$tool" >/dev/null || die "'$tool' not found: install it (see .ci/apt-packages.txt)"
done
"$python" -m pip --version >/dev/null 2>&1 || die "'$python -m pip' does not work: install pip for $python"
[ -e "$out" ] && die "$out already exists: pass a new directory"
case "$tag" in *:*) ;; *) die "tag '$tag' must be NAME:TAG" ;; esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$out/work
bundle=$out/bundle
rootfs=$bundle/rootfs

# debootstrap mounts inside the target while it runs; a failed run can leave
# them behind, and whoever deletes OUTDIR must not recurse into a live /proc.
unmount_below_out() {
    awk -v prefix="$out/" 'index($5, prefix) == 1 { print $5 }' /proc/self/mountinfo |
        sort -r | while read -r mnt; do umount -l "$mnt" || true; done
}
trap unmount_below_out EXIT

in_rootfs() {
    chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@"
}

log "image layout $out/oci, tag $tag"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$tag"
umoci unpack --image "$out/oci:$tag" "$bundle" >/dev/null

include=$(grep -v '^\s*#' "$here/debian-packages.txt" | awk 'NF { print $1 }' | paste -sd, -)
cache_args=()
if [ -n "${KESTREL_TESTENV_DEB_CACHE:-}" ]; then
    mkdir -p "$KESTREL_TESTENV_DEB_CACHE"
    cache_args=(--cache-dir="$KESTREL_TESTENV_DEB_CACHE")
fi
# dpkg inside the target reads this as soon as debootstrap installs it: skip
# the per-file fsync, which buys nothing for a throwaway build directory.
mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
echo force-unsafe-io >"$rootfs/etc/dpkg/dpkg.cfg.d/kestrel-build-unsafe-io"
log "debootstrap --variant=minbase $suite (+ $include) from $mirror"
debootstrap --variant=minbase --include="$include" "${cache_args[@]}" \
    "$suite" "$rootfs" "$mirror" >"$out/debootstrap.log" 2>&1 ||
    die "debootstrap failed, see $out/debootstrap.log: $(tail -n 3 "$out/debootstrap.log")"

rm "$rootfs/etc/dpkg/dpkg.cfg.d/kestrel-build-unsafe-io"

log "users shop-py (1000) and shop-node (1001)"
cat >>"$rootfs/etc/passwd" <<'EOF'
shop-py:x:1000:1000:Kestrel test app (python):/opt/app/python:/usr/sbin/nologin
shop-node:x:1001:1001:Kestrel test app (node):/opt/app/node:/usr/sbin/nologin
EOF
cat >>"$rootfs/etc/group" <<'EOF'
shop-py:x:1000:
shop-node:x:1001:
EOF

log "PyPI: pip download (host) + offline install into /opt/app/venv"
mkdir -p "$work/wheels"
"$python" -m pip download --quiet --disable-pip-version-check \
    --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
    --platform manylinux2014_x86_64 --no-deps --require-hashes \
    -r "$here/python/requirements.txt" -d "$work/wheels"
mkdir -p "$rootfs/tmp/kestrel-build"
cp "$work/wheels"/*.whl "$here/python/requirements.txt" "$here/python/inventory.py" \
    "$rootfs/tmp/kestrel-build/"
in_rootfs /usr/bin/python3 -m venv /opt/app/venv
in_rootfs /opt/app/venv/bin/pip install --quiet --disable-pip-version-check --no-cache-dir \
    --no-index --find-links /tmp/kestrel-build --require-hashes \
    -r /tmp/kestrel-build/requirements.txt
install -D -m 0644 "$here/python/app.py" "$rootfs/opt/app/python/app.py"

log "npm: npm ci (host) of the pinned lockfile into /opt/app/node"
mkdir -p "$work/node"
cp "$here/node/package.json" "$here/node/package-lock.json" "$work/node/"
(cd "$work/node" && npm ci --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error >/dev/null)
mkdir -p "$rootfs/opt/app/node"
cp -a "$work/node/." "$rootfs/opt/app/node/"
install -m 0644 "$here/node/app.js" "$rootfs/opt/app/node/app.js"
cp "$here/node/inventory.js" "$rootfs/tmp/kestrel-build/"

log "inventory: what is installed, and what each app loads"
in_rootfs PYTHONDONTWRITEBYTECODE=1 /opt/app/venv/bin/python /tmp/kestrel-build/inventory.py \
    >"$out/inventory-python.json"
in_rootfs /usr/bin/node /tmp/kestrel-build/inventory.js >"$out/inventory-node.json"
dpkg-query --admindir="$rootfs/var/lib/dpkg" -W \
    -f='${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n' |
    sort >"$out/inventory-debian.tsv"

log "slimming: apt caches, docs (copyright files kept), man pages, locales, logs"
rm -rf "$rootfs/tmp/kestrel-build" "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/root/.cache "$rootfs"/dev/*
find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
find "$rootfs/usr/share/doc" -depth -type d -empty -delete
find "$rootfs/var/log" -type f -delete
rm -f "$rootfs"/var/cache/debconf/*-old
# The runtime mounts its own; the build host's must not leak into the image.
: >"$rootfs/etc/resolv.conf"
echo kestrel-test >"$rootfs/etc/hostname"

log "OCI: repack + config"
umoci repack --image "$out/oci:$tag" \
    --history.created_by "tests/env/build.sh: debootstrap $suite minbase, pinned PyPI and npm apps" \
    "$bundle" >/dev/null
umoci config --image "$out/oci:$tag" \
    --author "Kestrel test environment (tests/env/build.sh)" \
    --config.env PATH=/opt/app/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env LANG=C.UTF-8 \
    --config.workingdir /opt/app \
    --config.cmd /opt/app/venv/bin/python --config.cmd /opt/app/python/app.py \
    --config.label org.opencontainers.image.title=kestrel-test \
    --config.label org.opencontainers.image.description="Kestrel integration-test image" \
    --history.created_by "tests/env/build.sh: image config" >/dev/null
umoci gc --layout "$out/oci"
mv "$rootfs" "$out/rootfs"
rm -rf "$bundle" "$work"

log "oci-archive and docker-archive"
skopeo copy --quiet "oci:$out/oci:$tag" "oci-archive:$out/image.oci.tar:$tag"
skopeo copy --quiet "oci:$out/oci:$tag" "docker-archive:$out/image.docker.tar:localhost/$tag"
log "done: $out"
