#!/usr/bin/env bash
# The command line as a user meets it: help, bad options, bad EAL args and
# bad config files all end with a clear message and a non-zero exit, and a
# bad config never lets a single packet through.
#   cli_test.sh SOFTFINO
set -uo pipefail
softfino=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/eal_args.sh"
work=$(mktemp -d /tmp/softfino-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

# expect NAME WANT_RC PATTERN... -- CMD...: runs CMD, checks the exit code
# (nonzero = any failure) and that the output matches every PATTERN.
expect() {
  local name=$1 want=$2; shift 2
  local patterns=()
  while [[ $1 != -- ]]; do patterns+=("$1"); shift; done
  shift
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $want == nonzero && $rc -eq 0 ]] || [[ $want != nonzero && $rc -ne $want ]]; then
    echo "FAIL $name: exit code $rc, wanted $want"; echo "$out" | tail -20; failures=$((failures + 1)); return
  fi
  for p in "${patterns[@]}"; do
    if ! grep -qE -- "$p" <<<"$out"; then
      echo "FAIL $name: output lacks /$p/"; echo "$out" | tail -20; failures=$((failures + 1)); return
    fi
  done
  echo "ok   $name"
}

/usr/bin/python3 -c "
from scapy.all import Ether, IP, UDP, wrpcap
wrpcap('$work/in.pcap', [Ether()/IP(dst='10.1.2.3')/UDP()] * 10)
wrpcap('$work/empty.pcap', [])"
ports=(--vdev="net_pcap0,rx_pcap=$work/in.pcap,tx_pcap=$work/out0.pcap"
       --vdev="net_pcap1,rx_pcap=$work/empty.pcap,tx_pcap=$work/out1.pcap")
eal=($(test_eal_args "cli$$") -l 0)

expect help 0 "--pipeline" "--config" "--fp-cores" "--exit-when-idle" "l3fwd" "EAL" -- "$softfino" --help
expect help_after_dashes 0 "--pipeline" "l3fwd" -- "$softfino" -- --help
expect list 0 "^  l3fwd " -- "$softfino" --list-pipelines
expect resources 0 "ipv4_lpm +lpm +16384" "fits on Tofino-1" -- "$softfino" -- --pipeline l3fwd --resources
expect unknown_pipeline nonzero "--pipeline: nosuch not in \{" "l3fwd" "dta_translator" -- "$softfino" -- --pipeline nosuch
expect unknown_option nonzero "--bogus" -- "$softfino" -- --pipeline l3fwd --bogus
expect missing_pipeline nonzero "--pipeline is required" -- "$softfino" "${eal[@]}" "${ports[@]}"
expect missing_config nonzero "--config: File does not exist: $work/nope.json" -- \
  "$softfino" -- --pipeline l3fwd --config "$work/nope.json"
expect bad_eal_args nonzero "EAL" "cannot initialise DPDK's EAL" -- \
  "$softfino" --no-such-eal-flag -- --pipeline l3fwd
expect no_ports nonzero "no ports: give DPDK a device" -- "$softfino" "${eal[@]}" -- --pipeline l3fwd
expect too_many_pipes nonzero "--fp-cores 2 needs 2 worker lcores" -- \
  "$softfino" "${eal[@]}" "${ports[@]}" -- --pipeline l3fwd --fp-cores 2

printf '{"tables": {\n  "nexthop": [\n    {"key": {"nexthop_id": 1},,}\n  ]\n}}\n' > "$work/syntax.json"
expect config_syntax nonzero "config $work/syntax.json: not valid JSON: parse error at line 3, column 31" -- \
  "$softfino" -- --pipeline l3fwd --config "$work/syntax.json"

cat > "$work/bad_port.json" <<'JSON'
{"tables": {
  "nexthop": [
    {"key": {"nexthop_id": 1}, "action": "forward",
     "data": {"port": 1, "src_mac": "02:00:00:00:01:00", "dst_mac": "02:00:00:00:01:01"}},
    {"key": {"nexthop_id": 2}, "action": "forward",
     "data": {"port": 7, "src_mac": "02:00:00:00:01:00", "dst_mac": "02:00:00:00:01:01"}}
  ],
  "ipv4_lpm": [
    {"key": {"dst_addr": "10.1.0.0/16"}, "action": "set_nexthop", "data": {"nexthop_id": 1}}
  ]
}}
JSON
expect config_bad_port nonzero \
  "config $work/bad_port.json: tables.nexthop\[1\].data.port: port 7 does not exist; this switch has 2 port\(s\), 0..1" -- \
  "$softfino" "${eal[@]}" "${ports[@]}" -- --pipeline l3fwd --config "$work/bad_port.json" --exit-when-idle 100
# Nothing was forwarded: the route to port 1 was good, but the switch never started.
n=$(/usr/bin/python3 -c "from scapy.all import rdpcap; print(len(rdpcap('$work/out1.pcap')))" 2>/dev/null || echo 0)
if [[ $n -ne 0 ]]; then echo "FAIL config_bad_port: $n packets forwarded by a half-configured switch"; failures=$((failures + 1)); fi

sed 's|"10.1.0.0/16"|"10.1.0.0/33"|' "$work/bad_port.json" | sed 's|"port": 7|"port": 0|' > "$work/bad_prefix.json"
expect config_bad_prefix nonzero "tables.ipv4_lpm\[0\].key.dst_addr: '10.1.0.0/33' has a bad prefix length" -- \
  "$softfino" "${eal[@]}" "${ports[@]}" -- --pipeline l3fwd --config "$work/bad_prefix.json"

# And the good path for contrast: the same switch forwards all ten packets.
sed 's|"port": 7|"port": 0|' "$work/bad_port.json" > "$work/good.json"
expect good_config 0 "total: 10 received, 10 forwarded, 0 dropped" -- \
  "$softfino" "${eal[@]}" "${ports[@]}" -- --pipeline l3fwd --config "$work/good.json" --exit-when-idle 100

if ((failures)); then echo "$failures check(s) failed"; exit 1; fi
echo "all CLI checks passed"
