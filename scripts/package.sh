#!/usr/bin/env bash
# Builds the Debian packages campushub and campushub-dev (cpack, from the tree
# scripts/build.sh made) into build/packages/ or $1, and checks them with
# lintian (no errors allowed); without lintian it says loudly that they were
# not checked (scripts/setup.sh installs it). Environment: HUB_BUILD_DIR (the tree, default build),
# HUB_PACKAGE_RELEASE (the Debian revision, default 1: bump it for a rebuilt
# package of the same version), HUB_PACKAGE_NO_BUILD=1 (package the tree as it
# is, without building first), HUB_PACKAGE_NO_LINTIAN=1.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${HUB_BUILD_DIR:-build}
out=$(realpath -m "${1:-$build/packages}")
release=${HUB_PACKAGE_RELEASE:-1}
if [ ! -f "$build/CPackConfig.cmake" ]; then
  echo "package: $build is not a configured build tree: run scripts/build.sh first" >&2
  exit 1
fi
[ "${HUB_PACKAGE_NO_BUILD:-0}" = 1 ] || cmake --build "$build" -j "$(nproc)"
mkdir -p "$out"
rm -f "$out"/campushub_*.deb "$out"/campushub-dev_*.deb
if ! cpack --config "$build/CPackConfig.cmake" -B "$out" -D CPACK_DEBIAN_PACKAGE_RELEASE="$release" \
    >"$out/cpack.log" 2>&1; then
  cat "$out/cpack.log" >&2
  exit 1
fi
rm -rf "$out/_CPack_Packages"
debs=("$out"/campushub_*.deb "$out"/campushub-dev_*.deb)
if [ "${HUB_PACKAGE_NO_LINTIAN:-0}" != 1 ]; then
  if command -v lintian >/dev/null; then
    lintian --fail-on error "${debs[@]}"
  else
    echo "package: WARNING: lintian is not installed, the packages were NOT checked" \
      "(apt install lintian, or scripts/setup.sh; HUB_PACKAGE_NO_LINTIAN=1 says you know)" >&2
  fi
fi
printf '%s\n' "${debs[@]}"
