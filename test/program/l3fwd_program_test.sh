#!/usr/bin/env bash
# Program test: the real softfino binary forwards a pcap of a few thousand
# packets (valid and malformed) through net_pcap ports; every output record
# per port and every drop counter must equal what an independent oracle
# (l3fwd_workload.py, written from the spec with scapy) computed.
#   l3fwd_program_test.sh SOFTFINO [FP_CORES]
set -euo pipefail
softfino=$1
fp_cores=${2:-1}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/eal_args.sh"
work=$(mktemp -d /tmp/softfino-l3fwd.XXXXXX)
trap 'rm -rf "$work"' EXIT

/usr/bin/python3 "$here/l3fwd_workload.py" --config "$here/l3fwd_test_config.json" \
  --out-dir "$work" --count 3000 --seed 1 --ports 3 >/dev/null
/usr/bin/python3 -c "from scapy.all import wrpcap; wrpcap('$work/empty.pcap', [])"

# Each pipe owns a TX queue on every port (net_pcap: one tx_pcap each), and
# the traffic manager of port P lives in pipe P % pipes, which alone sends on
# P. So each port's whole output is in one file, in order, and the files of
# the other pipes' TX queues stay empty.
# lcores map onto whatever CPUs exist (CI machines may have only two).
lcores="0@0"
cpus=$(nproc)
vdev0="net_pcap0,rx_pcap=$work/in.pcap,tx_pcap=$work/out0.pcap"
vdev1="net_pcap1,rx_pcap=$work/empty.pcap,tx_pcap=$work/out1.pcap"
vdev2="net_pcap2,rx_pcap=$work/empty.pcap,tx_pcap=$work/out2.pcap"
if [[ $fp_cores -gt 1 ]]; then
  for ((q = 1; q <= fp_cores; q++)); do lcores+=",$q@$((q % cpus))"; done
  for ((q = 1; q < fp_cores; q++)); do
    vdev0+=",tx_pcap=$work/out0_q$q.pcap"
    vdev1+=",rx_pcap=$work/empty.pcap,tx_pcap=$work/out1_q$q.pcap"
    vdev2+=",rx_pcap=$work/empty.pcap,tx_pcap=$work/out2_q$q.pcap"
  done
fi

"$softfino" $(test_eal_args "l3fwd$$") --lcores "$lcores" \
  --vdev="$vdev0" --vdev="$vdev1" --vdev="$vdev2" \
  -- --pipeline l3fwd --config "$here/l3fwd_test_config.json" --exit-when-idle 300 \
  --fp-cores "$fp_cores" --stats-json "$work/stats.json" > "$work/stdout.txt"

# received = forwarded + dropped, straight from the switch's own report.
grep -E "^  total: 3000 received, [0-9]+ forwarded, [0-9]+ dropped" "$work/stdout.txt" || {
  cat "$work/stdout.txt"; echo "FAIL: the switch did not account for all 3000 packets"; exit 1; }

out_file() {  # the file of port $1's TX queue $2
  if [[ $2 -eq 0 ]]; then echo "$work/out$1.pcap"; else echo "$work/out$1_q$2.pcap"; fi
}
actual=()
for port in 0 1 2; do
  owner=$((port % fp_cores))
  actual+=(--actual "$port=$(out_file $port $owner)")
  for ((q = 0; q < fp_cores; q++)); do
    [[ $q -eq $owner ]] && continue
    n=$(/usr/bin/python3 -c "from scapy.all import rdpcap; print(len(rdpcap('$(out_file $port $q)')))")
    [[ $n -eq 0 ]] || { echo "FAIL: port $port TX queue $q sent $n packets; only pipe $owner sends there"; exit 1; }
  done
done
/usr/bin/python3 "$here/compare_output.py" --expected-dir "$work" "${actual[@]}" --stats "$work/stats.json"
