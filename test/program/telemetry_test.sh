#!/usr/bin/env bash
# A running switch serves its counters through DPDK telemetry: DPDK's own
# dpdk-telemetry.py reads them, they equal the workload's packet count, and
# SIGTERM then stops the switch cleanly with the same totals.
#   telemetry_test.sh SOFTFINO
set -euo pipefail
softfino=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/eal_args.sh"
work=$(mktemp -d /tmp/softfino-tel.XXXXXX)
prefix="tel$$"
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT

/usr/bin/python3 -c "
from scapy.all import Ether, IP, IPv6, UDP, wrpcap
pkts = [Ether()/IP(dst='10.1.2.3')/UDP()] * 40 + [Ether()/IP(dst='9.9.9.9')/UDP()] * 7
pkts += [Ether()/IPv6(dst='2001:db8:1::1', hlim=1)/UDP()] * 3
wrpcap('$work/in.pcap', pkts)
wrpcap('$work/empty.pcap', [])"
cat > "$work/config.json" <<'JSON'
{"tables": {
  "nexthop": [{"key": {"nexthop_id": 1}, "action": "forward",
               "data": {"port": 1, "src_mac": "02:00:00:00:01:00", "dst_mac": "02:00:00:00:01:01"}}],
  "ipv4_lpm": [{"key": {"dst_addr": "10.1.0.0/16"}, "action": "set_nexthop", "data": {"nexthop_id": 1}}],
  "ipv6_lpm": [{"key": {"dst_addr": "2001:db8:1::/48"}, "action": "set_nexthop", "data": {"nexthop_id": 1}}]
}}
JSON

# No --exit-when-idle: it runs until signalled, like a live switch.
"$softfino" $(test_eal_args "$prefix") -l 0 \
  --vdev="net_pcap0,rx_pcap=$work/in.pcap,tx_pcap=$work/out0.pcap" \
  --vdev="net_pcap1,rx_pcap=$work/empty.pcap,tx_pcap=$work/out1.pcap" \
  -- --pipeline l3fwd --config "$work/config.json" > "$work/stdout.txt" 2>&1 &
pid=$!

query() { echo "$1" | dpdk-telemetry.py -f "$prefix" 2>/dev/null | tail -1; }
for _ in $(seq 100); do
  out=$(query /softfino/port,0 || true)
  grep -q '"rx_packets": 50' <<<"$out" && break
  sleep 0.1
done
echo "port 0: $out"
grep -q '"rx_packets": 50' <<<"$out" || { echo "FAIL: telemetry never showed 50 packets on port 0"; exit 1; }
port1=$(query /softfino/port,1); echo "port 1: $port1"
grep -q '"tx_packets": 40' <<<"$port1" || { echo "FAIL: port 1 should have sent 40"; exit 1; }
drops=$(query /softfino/drops); echo "drops: $drops"
grep -q '"no_route": 7' <<<"$drops" && grep -q '"ttl_expired": 3' <<<"$drops" \
  || { echo "FAIL: drops by reason"; exit 1; }
info=$(query /softfino/info); echo "info: $info"
grep -q '"pipeline": "l3fwd"' <<<"$info" || { echo "FAIL: info"; exit 1; }
pipe0=$(query /softfino/pipe,0); echo "pipe 0: $pipe0"
grep -q '"dropped": 10' <<<"$pipe0" || { echo "FAIL: pipe 0 counters"; exit 1; }

kill -TERM $pid
rc=0; wait $pid || rc=$?
pid=
[[ $rc -eq 0 ]] || { cat "$work/stdout.txt"; echo "FAIL: exit code $rc after SIGTERM"; exit 1; }
grep -q "total: 50 received, 40 forwarded, 10 dropped" "$work/stdout.txt" \
  || { cat "$work/stdout.txt"; echo "FAIL: final report"; exit 1; }
echo "telemetry and SIGTERM ok"
