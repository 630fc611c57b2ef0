#!/usr/bin/python3
"""The DTA testbed on one machine, as scripts/demo runs it:

  softfino-gen flows -> softfino (dta_reporter) -> reports
      -> softfino (dta_translator) --veth--> softfino-collector (soft RNIC)
      -> softfino-collector query, beside the truth computed here from the
         traffic itself (zlib's CRC-32 of each 5-tuple, its bytes, ...)

The reporter runs in virtual time over the generated pcap. Its reports then
go to the translator over a veth pair, at a pace the collector's soft RNIC
on this small machine keeps up with. The collector runs in its own network
namespace. Needs root for the veth pairs.

  dta_testbed.py BUILD_DIR OUT_DIR
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'program'))
from live_harness import CollectorTestbed, EAL  # noqa: E402
from scapy.all import Ether, RawPcapReader, sendp, wrpcap  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from dta_common import (LAYOUT, REGIONS, REPORTER, STRUCTURES, SWITCH_ID, query_top,  # noqa: E402
                        start_collector, truth)

build, out = sys.argv[1], sys.argv[2]
if os.geteuid() != 0:
    print('SKIP: the testbed needs root for its veth pairs')
    sys.exit(77)
apps = f'{build}/src/apps'
os.makedirs(out, exist_ok=True)
def step(text):
    print(f'\n== {text}', flush=True)


step('1. traffic: softfino-gen flows (300 flows, Zipf 0.99, imix)')
subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '300', '--packets', '6000',
                '--zipf', '0.99', '--seed', '1', '--out', f'{out}/traffic.pcap'], check=True)

step('2. reporter: softfino --pipeline dta_reporter (virtual time, net_pcap)')
reporter = REPORTER
with open(f'{out}/reporter.json', 'w') as f:
    json.dump(reporter, f, indent=1)
wrpcap(f'{out}/empty.pcap', [], linktype=1)
run = subprocess.run(
    [f'{apps}/softfino', *EAL, '--file-prefix', f'demorep{os.getpid()}',
     f'--vdev=net_pcap0,rx_pcap={out}/traffic.pcap,tx_pcap={out}/reporter_port0.pcap',
     f'--vdev=net_pcap1,rx_pcap={out}/empty.pcap,tx_pcap={out}/forwarded.pcap',
     f'--vdev=net_pcap2,rx_pcap={out}/empty.pcap,tx_pcap={out}/reports.pcap',
     '--', '--pipeline', 'dta_reporter', '--config', f'{out}/reporter.json', '--clock', 'virtual',
     '--exit-when-idle', '200', '--no-control-socket', '--stats-json', f'{out}/reporter_stats.json'],
    capture_output=True, text=True)
if run.returncode != 0:
    sys.exit(f'reporter failed: {run.stderr}')
with open(f'{out}/reporter_stats.json') as f:
    print(f"   reports made: {json.load(f)['program']['reports']}")
reports = [bytes(d) for d, _ in RawPcapReader(f'{out}/reports.pcap')]

step('3. translator and collector: reports -> RoCEv2 -> soft-RNIC memory')
bed = CollectorTestbed('sfdemo')
regions, structures = REGIONS, STRUCTURES
dumps = [f'{r}={out}/{r}.bin' for r in regions]
try:
    bed.up()
    translator = start_collector(bed, apps, out, dumps)
    with open(f'{out}/translator.json', 'w') as f:
        json.dump(translator, f, indent=1)
    sw = bed.start_switch(f'{apps}/softfino', [
        '--pipeline', 'dta_translator', '--config', f'{out}/translator.json', '--clock', 'real',
        '--no-control-socket', '--stats-json', f'{out}/translator_stats.json'])
    if sw is None:
        sys.exit('the translator did not start')
    time.sleep(0.3)
    frames = [Ether(r) for r in reports]
    for start in range(0, len(frames), 100):
        sendp(frames[start:start + 100], iface=bed.host, verbose=False)
        time.sleep(0.05)
    time.sleep(1.0)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    bed.collector.send_signal(signal.SIGTERM)
    bed.collector.wait(timeout=30)
finally:
    bed.down()
with open(f'{out}/translator_stats.json') as f:
    t = json.load(f)['program']
c0 = t['collectors'][0]
print(f"   reports in: {t['ingress']['reports']}; RDMA requests: {c0['requests']}, "
      f"lost: {sum(c0[s]['lost'] for s in structures)}")

step('4. queries (softfino-collector query) beside the truth from the traffic')
# The truth, from the traffic pcap alone.
flows, starts = truth([Ether(bytes(d)) for d, _ in RawPcapReader(f'{out}/traffic.pcap')])
top, answers = query_top(apps, out, dumps, flows)
print(f"{'flow':42s} {'bytes (truth)':>14s} {'Key-Increment':>14s} {'entry (truth)':>14s} "
      f"{'Key-Write':>10s} {'path':>6s}")
same = 0
for i, k in enumerate(top):
    ki, kw, pc = answers[3 * i:3 * i + 3]
    entry = SWITCH_ID << 16 | 0
    ok = ki['count'] == flows[k]['bytes'] and kw['data'] == entry and pc['path'] == [SWITCH_ID]
    same += ok
    print(f"{flows[k]['flow']:42s} {flows[k]['bytes']:>14d} {ki['count']:>14d} "
          f"{'7:port0':>14s} {(str(kw['data'] >> 16) + ':port' + str(kw['data'] & 0xffff)) if kw['found'] else 'none':>10s} "
          f"{str(pc['path']):>6s}")
ap = answers[-1]
whole = len(starts) // LAYOUT['append_batch'] * LAYOUT['append_batch']
print(f"\nAppend list 0 (flow starts, in order): {len(ap['entries'])} entries read, "
      f"{'equal to' if ap['entries'] == starts[:whole] else 'DIFFERENT from'} the first {whole} "
      f"of the {len(starts)} flow starts in the traffic (the rest wait for their batch of "
      f"{LAYOUT['append_batch']})")
print(f'{same} of {len(top)} top flows answered exactly as the traffic says')
sys.exit(0 if same == len(top) and ap['entries'] == starts[:whole] else 1)
