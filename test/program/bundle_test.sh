#!/usr/bin/env bash
# Program test: the folder scripts/bundle makes runs softfino on a machine
# without Debian's DPDK. Such a machine is simulated here with a mount
# namespace in which DPDK's driver folder is an empty tmpfs (EAL then finds
# no drivers but the bundled ones); there, l3fwd through the bundle must
# forward l3fwd_program_test.sh's workload exactly as its oracle says. And
# where that folder is present the wrappers that hand EAL shared drivers
# must refuse, with a message, instead of letting EAL register each driver
# twice (a panic).
#   bundle_test.sh BUILD_DIR
set -euo pipefail
build=$1
here=$(cd "$(dirname "$0")" && pwd)
# EAL loads no driver from a path with a world-writable folder in it (/tmp,
# and so a checkout under /tmp): the bundle goes under /run (root's, 755).
# Root is needed anyway, for the mount namespace.
[[ $EUID -eq 0 ]] || { echo "SKIP: needs root (a mount namespace)"; exit 77; }
work=$(mktemp -d /run/softfino-bundle.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$here/../../scripts/bundle" "$work/bundle" "$build" >/dev/null
softfino=$work/bundle/src/apps/softfino
testpmd=$work/bundle/bin/dpdk-testpmd
pmds=$(grep -o '/[^ ]*/pmds-[0-9.]*' "$testpmd" | head -1)
[[ -n $pmds ]] || { echo "FAIL: no DPDK driver folder named in the testpmd wrapper"; exit 1; }

# A wrapper that hands EAL the bundled shared drivers (testpmd's; softfino's
# when it links DPDK's shared libraries) must refuse beside that folder.
# softfino linked with DPDK's static archives carries its drivers and loads
# no plugin folder: its wrapper has nothing to refuse.
if [[ -d $pmds ]]; then
  for wrapped in "$testpmd" "$softfino"; do
    grep -q -- "-d " "$wrapped" || continue
    if said=$("$wrapped" -l 0 2>&1); then
      echo "FAIL: $(basename "$wrapped") from the bundle ran beside $pmds"; exit 1
    fi
    grep -q "which EAL would load beside the bundled ones" <<<"$said" || {
      echo "FAIL: no reason given for refusing: $said"; exit 1; }
    echo "ok   $(basename "$wrapped") refuses beside $pmds"
  done
fi

# softfino-gen and softfino-ctl need no drivers: they run anywhere.
"$work/bundle/src/apps/softfino-gen" --help >/dev/null
"$work/bundle/src/apps/softfino-ctl" --help >/dev/null

unshare -m bash -c "if [ -d '$pmds' ]; then mount -t tmpfs none '$pmds'; fi && \
  '$here/l3fwd_program_test.sh' '$softfino'"
echo "ok   l3fwd through the bundle, DPDK's drivers hidden, matches the oracle"
