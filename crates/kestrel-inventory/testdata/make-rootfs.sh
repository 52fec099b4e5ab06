#!/bin/sh
# Rebuilds testdata/rootfs from real packages: run on a Debian 12 (bookworm) amd64 host with
# pip and npm, from the crate directory. Needs the registries (Debian, PyPI, npm); the tests do not.
set -eu
out=$(pwd)/testdata/rootfs
work=$(mktemp -d)
rm -rf "$out"; mkdir -p "$out"

# Operating system: Debian's own layout (/etc/os-release is a relative symlink).
mkdir -p "$out/usr/lib" "$out/etc"
cp /usr/lib/os-release "$out/usr/lib/os-release"
ln -s ../usr/lib/os-release "$out/etc/os-release"

# dpkg: status stanzas, file lists, machine-readable copyright files of a few installed packages.
mkdir -p "$out/var/lib/dpkg/info"
: > "$out/var/lib/dpkg/status"
for p in zlib1g libzstd1 gzip libssl3 python3-jwt; do
  dpkg-query -s "$p" >> "$out/var/lib/dpkg/status"; echo >> "$out/var/lib/dpkg/status"
  list=/var/lib/dpkg/info/$p:amd64.list; [ -f "$list" ] || list=/var/lib/dpkg/info/$p.list
  cp "$list" "$out/var/lib/dpkg/info/"
  while read -r f; do
    [ "$f" = "/." ] && continue
    # Directories (also merged-/usr symlinks such as /bin) become plain directories.
    if [ -d "$f" ]; then mkdir -p "$out$f"
    elif [ -L "$f" ]; then mkdir -p "$out$(dirname "$f")"; ln -sf "$(readlink "$f")" "$out$f"
    else mkdir -p "$out$(dirname "$f")"; : > "$out$f"; fi
  done < "$list"
  cp "/usr/share/doc/$p/copyright" "$out/usr/share/doc/$p/copyright"
done
# A package removed with its configuration kept (dpkg -r): same stanza, edited status.
dpkg-query -s gzip | sed -e 's/^Status: .*/Status: deinstall ok config-files/' -e 's/^Package: gzip/Package: gzip-removed/' >> "$out/var/lib/dpkg/status"
# Debian's own egg-info of python3-jwt (owned by dpkg, so a shadowed PyPI package).
cp -r /usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info "$out/usr/lib/python3/dist-packages/"

# Python: wheels from PyPI, unpacked as pip installs them.
site="$out/opt/venv/lib/python3.11/site-packages"
mkdir -p "$site"
pip download --no-deps --only-binary=:all: -d "$work/whl" requests==2.19.1 urllib3==1.23 jinja2==3.1.2 >/dev/null
pip download --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux2014_x86_64 -d "$work/whl" pillow==9.5.0 >/dev/null
for w in "$work"/whl/requests-*.whl "$work"/whl/urllib3-*.whl; do unzip -q -o "$w" -d "$site"; done
# jinja2 and Pillow: metadata only, with the files RECORD names present but empty (Pillow's
# vendored shared libraries among them).
for w in "$work"/whl/Jinja2-*.whl "$work"/whl/Pillow-*.whl; do
  unzip -q -o "$w" '*.dist-info/*' -d "$site"
  unzip -Z1 "$w" | grep -v '/$' | grep -v 'dist-info/' | while read -r f; do mkdir -p "$site/$(dirname "$f")"; : > "$site/$f"; done
done

# npm: package directories from registry tarballs (package.json and license files).
nm="$out/srv/app/node_modules"
mkdir -p "$nm"
cd "$work"
for spec in lodash@4.17.15 minimist@1.2.5 debug@2.6.9 ms@2.1.1 ms@2.0.0 @types/minimist@1.2.5; do
  tgz=$(npm pack --silent "$spec")
  mkdir -p x && tar -xzf "$tgz" -C x && rm "$tgz"
  case "$spec" in
    ms@2.0.0) dest="$nm/debug/node_modules/ms" ;;
    @types/*) dest="$nm/@types/${spec#@types/}"; dest="${dest%@*}" ;;
    *) dest="$nm/${spec%@*}" ;;
  esac
  mkdir -p "$dest"
  # Most tarballs hold package/, DefinitelyTyped's hold the bare name.
  top=x/$(ls x)
  cp "$top/package.json" "$dest/"
  for l in "$top"/LICENSE* "$top"/license* "$top"/index.js; do [ -f "$l" ] && cp "$l" "$dest/"; done
  rm -rf x
done
cd - >/dev/null

# Ruby: Debian's ruby-rack gemspec; Java: two small jars of Debian's liblog4j2-java.
apt-get download ruby-rack liblog4j2-java >/dev/null 2>&1 || (cd "$work" && apt-get download ruby-rack liblog4j2-java)
for d in ruby-rack_*.deb liblog4j2-java_*.deb; do [ -f "$d" ] && mv "$d" "$work/"; done
mkdir -p "$work/deb"
for d in "$work"/*.deb; do dpkg-deb -x "$d" "$work/deb"; done
mkdir -p "$out/usr/share/rubygems-integration/all/specifications" "$out/usr/share/java"
cp "$work"/deb/usr/share/rubygems-integration/all/specifications/rack-*.gemspec "$out/usr/share/rubygems-integration/all/specifications/"
cp "$work/deb/usr/share/java/log4j-jul.jar" "$work/deb/usr/share/java/log4j-to-jul.jar" "$out/usr/share/java/"
rm -rf "$work"
echo "rootfs fixture rebuilt in $out"
