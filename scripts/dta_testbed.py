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
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'program'))
from live_harness import CollectorTestbed, EAL  # noqa: E402
from scapy.all import IP, TCP, UDP, Ether, RawPcapReader, sendp, wrpcap  # noqa: E402

build, out = sys.argv[1], sys.argv[2]
if os.geteuid() != 0:
    print('SKIP: the testbed needs root for its veth pairs')
    sys.exit(77)
apps = f'{build}/src/apps'
os.makedirs(out, exist_ok=True)
SWITCH_ID = 7
LAYOUT = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
          'append_lists': 4, 'append_entries': 4096, 'append_batch': 4,
          'append_head_interval': 1, 'postcarding_slots': 1 << 14, 'postcarding_copies': 2}


def step(text):
    print(f'\n== {text}', flush=True)


step('1. traffic: softfino-gen flows (300 flows, Zipf 0.99, imix)')
subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '300', '--packets', '6000',
                '--zipf', '0.99', '--seed', '1', '--out', f'{out}/traffic.pcap'], check=True)

step('2. reporter: softfino --pipeline dta_reporter (virtual time, net_pcap)')
reporter = {'dta_reporter': {
    'base_form': '3-byte', 'switch_id': SWITCH_ID, 'hop': 1,
    'forward': [{'in': 0, 'out': 1}], 'report_port': 2,
    'report': {'src_ip': '10.0.0.7', 'dst_ip': '10.0.255.255',
               'src_mac': '02:00:00:00:00:07', 'dst_mac': '02:00:00:00:00:ff'},
    'flow_slots': 65536,
    'key_write': {'redundancy': 2},
    'key_increment': {'redundancy': 2, 'counter': 'bytes', 'every': 1},
    'append': {'list': 0}, 'postcarding': {}}}
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
regions = ['dta.keywrite', 'dta.keyincrement', 'dta.append', 'dta.postcarding']
structures = ['keywrite', 'keyincrement', 'append', 'postcarding']
dumps = [f'{r}={out}/{r}.bin' for r in regions]
try:
    bed.up()
    with open(f'{out}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    port = bed.start_collector(f'{apps}/softfino-collector', [
        '--dta-layout', f'{out}/layout.json', '--stats-json', f'{out}/collector_stats.json',
        *[a for d in dumps for a in ('--dump-region', d)]])
    if port is None:
        sys.exit('the collector did not start')
    translator = {
        'rdma': {'connections': [
            {'name': f'c0/{s}', 'collector': f'10.9.3.2:{port}', 'region': r, 'port': 1,
             'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'} for s, r in zip(structures, regions)]},
        'dta_translator': {'base_form': '3-byte', 'collectors': ['c0'], 'layout': LAYOUT,
                           'postcarding_path_length': 1, 'probe_timeout_us': 20000},
        'pktgen': [{'app': 0, 'period_us': 5000}],
    }
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
flows = {}
starts = []  # flow starts, as the reporter's table of flow_slots flows sees them
slot_of = {}
for data, _ in RawPcapReader(f'{out}/traffic.pcap'):
    p = Ether(data)
    ip = p[IP]
    l4 = p[TCP] if TCP in p else p[UDP]
    key = zlib.crc32(struct.pack('!4s4sBHH', bytes(map(int, ip.src.split('.'))),
                                 bytes(map(int, ip.dst.split('.'))), ip.proto, l4.sport,
                                 l4.dport))
    if key not in flows:
        flows[key] = {'flow': f'{ip.src}:{l4.sport} > {ip.dst}:{l4.dport}', 'bytes': 0}
    slot = key % reporter['dta_reporter']['flow_slots']
    if slot_of.get(slot) != key:  # a new flow, or one that another evicted
        slot_of[slot] = key
        starts.append(key)
    flows[key]['bytes'] += ip.len
top = sorted(flows, key=lambda k: -flows[k]['bytes'])[:5]
requests = []
for k in top:
    requests += [{'primitive': 'keyincrement', 'key': k},
                 {'primitive': 'keywrite', 'key': k, 'redundancy': 2},
                 {'primitive': 'postcarding', 'key': k, 'copies': 2, 'known': [SWITCH_ID]}]
requests.append({'primitive': 'append', 'list': 0})
with open(f'{out}/requests.jsonl', 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in requests)
q = subprocess.run([f'{apps}/softfino-collector', 'query', '--dta-layout', f'{out}/layout.json',
                    *[a for d in dumps for a in ('--memory', d)],
                    '--requests', f'{out}/requests.jsonl'], capture_output=True, text=True)
answers = [json.loads(line) for line in q.stdout.splitlines()]
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
