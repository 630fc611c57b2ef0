#!/usr/bin/env bash
# Multi-core scaling on a borrowed many-core machine that has none of
# softfino's packages: pipeline_bench.py from a bundle (scripts/bundle,
# built and copied beside this checkout), a few worker counts, testpmd as
# the one-core ceiling, no OVS. Writes the machine's description
# (machine.txt: CPUs, SMT siblings, memory) and pipeline_bench's table,
# data and (with gnuplot) plot into OUT.
#
#   scripts/bundle                                  # on the build machine
#   bench/many_cores.sh OUT [pipeline_bench.py options]   # on the other one
#   e.g. bench/many_cores.sh /tmp/mc --cores 1,2,4,8,15 --sizes 64 --seconds 2
#
# As root it reserves 4,096 2-MiB hugepages (mounting hugetlbfs if need
# be); otherwise, or if that fails, the runs use ordinary memory (--no-huge,
# about 3x slower per packet) and the table says so.
set -uo pipefail
cd "$(dirname "$0")/.."
[[ $# -ge 1 ]] || { echo "usage: bench/many_cores.sh OUT [pipeline_bench.py options]" >&2; exit 1; }
out=$1; shift
[[ -x bundle/src/apps/softfino ]] || { echo "bench/many_cores.sh: no bundle/ (run scripts/bundle first)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/many_cores.sh: needs python3" >&2; exit 1; }
mkdir -p "$out"
{ date -u; uname -a; id; echo "nproc: $(nproc)"; lscpu; lscpu -e; free -g; python3 --version; } \
  > "$out/machine.txt" 2>&1

huge=()
pages=/sys/kernel/mm/hugepages/hugepages-2048kB
if [[ $EUID -eq 0 ]]; then
  mkdir -p /dev/hugepages
  mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages || true
  echo 4096 > $pages/nr_hugepages || true
fi
free_pages=$(cat $pages/free_hugepages 2>/dev/null || echo 0)
if mountpoint -q /dev/hugepages && [[ $free_pages -ge 2048 ]]; then
  huge=(--huge)
  # The first run after reserving pages measures too low (testpmd, here:
  # no reading at all): a short run to discard.
  PATH=$PWD/bundle/bin:$PATH python3 bench/pipeline_bench.py bundle --out "$out/warm-up" --no-ovs \
    --huge --cores 1 --sizes 64 --programs l3fwd --seconds 1 >/dev/null 2>&1 || true
  rm -rf "$out/warm-up"
fi
echo "bench/many_cores.sh: $(nproc) CPUs, ${free_pages} free 2-MiB hugepages: ${huge[*]:---no-huge}" \
  | tee -a "$out/machine.txt"
PATH=$PWD/bundle/bin:$PATH python3 bench/pipeline_bench.py bundle --out "$out" --no-ovs \
  "${huge[@]}" "$@"
