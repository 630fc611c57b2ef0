#!/usr/bin/python3
"""Soak: the whole DTA testbed, live, under steady load for a set time.

  scapy (softfino-gen flows, replayed) --veth-- softfino (dta_reporter)
      --veth (reports)--> softfino (dta_translator) --veth--> softfino-collector
                      \\--veth (forwarded traffic)--> sink (own namespace)

Every process is live (real time, veth pairs), with a control socket each
switch. The traffic pcap is replayed whole, again and again, at --pps until
--seconds have passed. Every --sample seconds the script records each
process's RSS (/proc/PID/status VmRSS) and each switch's counters (through
softfino-ctl stats, so the control plane is exercised under load too).

At the end it checks, and exits non-zero if any fails:
  1. counters add up on both switches: received + copies + generated =
     forwarded + dropped, dropped = the sum of drops by reason; and along
     the chain: packets sent = reporter received; reporter's forwarded
     port = what the sink's kernel counted; reporter's report port =
     translator's received reports;
  2. memory stays flat: after a warm-up (the first quarter of the run, at
     least one sample), no process's RSS grows by more than
     max(4 MiB, 5% of its warm RSS) by the end;
  3. DTA queries still match ground truth computed from the traffic alone
     (replayed R times): the top flows' byte counts (Key-Increment) are
     exact, their Key-Write and Postcarding answers name the reporter, and
     Append list 0 holds the flow starts in order (whole batches) -- exact
     when the counters show nothing lost anywhere. The translator gives up
     requests on purpose when a queue pair waits for its recovery probe
     (DTA's telemetry tolerates loss; drop reason rdma_recovering), so
     where the counters show loss the answers must stay within it: each
     Key-Increment at most the truth and short of it by no more than the
     lost FETCH_ADDs' bytes, Key-Write and paths still the reporter's, and
     Append's entries real flow starts in order.

  soak.py BUILD_DIR OUT_DIR [--seconds N] [--pps P] [--sample S]
"""
import argparse
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'program'))
from live_harness import CollectorTestbed, EAL, veth, wait_for_line  # noqa: E402
from scapy.all import IP, TCP, UDP, Ether, RawPcapReader, sendp  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
ap.add_argument('build')
ap.add_argument('out')
ap.add_argument('--seconds', type=float, default=600)
ap.add_argument('--pps', type=float, default=1500, help='traffic packets per second')
ap.add_argument('--sample', type=float, default=5, help='seconds between RSS/stat samples')
args = ap.parse_args()
if os.geteuid() != 0:
    print('SKIP: the soak needs root for its veth pairs')
    sys.exit(77)
apps = f'{args.build}/src/apps'
out = args.out
os.makedirs(out, exist_ok=True)
SWITCH_ID = 7
LAYOUT = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
          'append_lists': 4, 'append_entries': 4096, 'append_batch': 4,
          'append_head_interval': 1, 'postcarding_slots': 1 << 14, 'postcarding_copies': 2}
REGIONS = ['dta.keywrite', 'dta.keyincrement', 'dta.append', 'dta.postcarding']
STRUCTURES = ['keywrite', 'keyincrement', 'append', 'postcarding']
failures = []


def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + (f': {detail}' if detail and not cond else ''),
          flush=True)
    if not cond:
        failures.append(name)


def rss_kib(pid):
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def ctl_stats(sock):
    r = subprocess.run([f'{apps}/softfino-ctl', '--socket', sock, 'stats'], capture_output=True,
                       text=True, timeout=10)
    return json.loads(r.stdout) if r.returncode == 0 else None


def adds_up(s):
    t = s['totals']
    return (t['received'] + t['copies'] + t['generated'] == t['forwarded'] + t['dropped'] and
            t['dropped'] == sum(s['drops'].values()))


print(f'soak: {args.seconds:.0f} s at {args.pps:.0f} packets/s; output in {out}', flush=True)
subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '300', '--packets', '6000',
                '--zipf', '0.99', '--seed', '1', '--out', f'{out}/traffic.pcap'], check=True,
               stdout=subprocess.DEVNULL)
traffic = [Ether(bytes(d)) for d, _ in RawPcapReader(f'{out}/traffic.pcap')]

bed = CollectorTestbed('sfFs')
tag = bed.tag
gen_if, rep_in, rep_fwd, sink_if, sink_ns = (f'{tag}g', f'{tag}h', f'{tag}i', f'{tag}j',
                                             f'{tag}m')
dumps = [f'{r}={out}/{r}.bin' for r in REGIONS]
procs = {}
samples = []
replays = 0
sent = 0
try:
    bed.up()
    subprocess.run(['ip', 'netns', 'add', sink_ns], check=True)
    veth(gen_if, rep_in)
    veth(rep_fwd, sink_if, sink_ns)
    with open(f'{out}/layout.json', 'w') as f:
        json.dump(LAYOUT, f)
    port = bed.start_collector(f'{apps}/softfino-collector', [
        '--dta-layout', f'{out}/layout.json', '--stats-json', f'{out}/collector_stats.json',
        *[a for d in dumps for a in ('--dump-region', d)]])
    if port is None:
        sys.exit('the collector did not start')
    procs['collector'] = bed.collector
    translator = {
        'rdma': {'connections': [
            {'name': f'c0/{s}', 'collector': f'{bed.handshake_ip()}:{port}', 'region': r,
             'port': 1, 'ip': '10.9.2.1', 'mac': '02:00:00:00:02:01'}
            for s, r in zip(STRUCTURES, REGIONS)]},
        'dta_translator': {'base_form': '3-byte', 'collectors': ['c0'], 'layout': LAYOUT,
                           'postcarding_path_length': 1, 'probe_timeout_us': 100000},
        'pktgen': [{'app': 0, 'period_us': 5000}],
    }
    with open(f'{out}/translator.json', 'w') as f:
        json.dump(translator, f, indent=1)
    tsock, rsock = f'{out}/translator.sock', f'{out}/reporter.sock'
    sw = bed.start_switch(f'{apps}/softfino', [
        '--pipeline', 'dta_translator', '--config', f'{out}/translator.json', '--clock', 'real',
        '--control-socket', tsock, '--stats-json', f'{out}/translator_stats.json'])
    if sw is None:
        sys.exit('the translator did not start')
    procs['translator'] = sw
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
    # The reporter's report port is the translator's link (bed.host).
    rep = subprocess.Popen(
        [f'{apps}/softfino', *EAL, f'--file-prefix={tag}rep',
         f'--vdev=net_af_packet0,iface={rep_in}', f'--vdev=net_af_packet1,iface={rep_fwd}',
         f'--vdev=net_af_packet2,iface={bed.host}',
         '--', '--pipeline', 'dta_reporter', '--config', f'{out}/reporter.json',
         '--clock', 'real', '--control-socket', rsock,
         '--stats-json', f'{out}/reporter_stats.json'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m, said = wait_for_line(rep, r'running on')
    if m is None:
        sys.exit('the reporter did not start: ' + ''.join(said))
    procs['reporter'] = rep
    time.sleep(0.3)

    begin = time.time()
    next_sample = begin
    chunk = 50
    # Whole replays only, so the truth is the pcap's times R.
    while time.time() - begin + len(traffic) / args.pps <= args.seconds or replays == 0:
        t0 = time.time()
        for start in range(0, len(traffic), chunk):
            sendp(traffic[start:start + chunk], iface=gen_if, verbose=False)
            sent += len(traffic[start:start + chunk])
            lag = t0 + (start + chunk) / args.pps - time.time()
            if lag > 0:
                time.sleep(lag)
            if time.time() >= next_sample:
                samples.append({'t': round(time.time() - begin, 1),
                                **{n: rss_kib(p.pid) for n, p in procs.items()},
                                'reporter_rx': (ctl_stats(rsock) or {}).get('totals', {}).get(
                                    'received'),
                                'translator_rx': (ctl_stats(tsock) or {}).get('totals', {}).get(
                                    'received')})
                next_sample += args.sample
        replays += 1
    time.sleep(2.0)  # the last reports drain through
    elapsed = time.time() - begin
    samples.append({'t': round(elapsed, 1), **{n: rss_kib(p.pid) for n, p in procs.items()}})
    sink_rx = int(subprocess.run(['ip', 'netns', 'exec', sink_ns, 'cat',
                                  f'/sys/class/net/{sink_if}/statistics/rx_packets'],
                                 capture_output=True, text=True).stdout)
    for name in ('reporter', 'translator', 'collector'):
        procs[name].send_signal(signal.SIGTERM)
        procs[name].wait(timeout=60)
    check('every process exits cleanly', all(p.returncode == 0 for p in procs.values()),
          {n: p.returncode for n, p in procs.items()})
finally:
    for p in procs.values():
        if p.poll() is None:
            p.kill()
    bed.down()
    for ifname in (gen_if, rep_fwd):
        subprocess.run(['ip', 'link', 'del', ifname], stderr=subprocess.DEVNULL)
    subprocess.run(['ip', 'netns', 'del', sink_ns], stderr=subprocess.DEVNULL)

with open(f'{out}/samples.json', 'w') as f:
    json.dump(samples, f, indent=1)
with open(f'{out}/reporter_stats.json') as f:
    rs = json.load(f)
with open(f'{out}/translator_stats.json') as f:
    ts = json.load(f)
with open(f'{out}/collector_stats.json') as f:
    cs = json.load(f)

# --- 1. counters ---
print(f'\n{replays} replays, {sent} packets in {elapsed:.0f} s; reporter {rs["totals"]}; '
      f'translator {ts["totals"]}')
check('reporter: received + copies + generated = forwarded + dropped, dropped = sum by reason',
      adds_up(rs), rs['totals'])
check('translator: received + copies + generated = forwarded + dropped, dropped = sum by reason',
      adds_up(ts), ts['totals'])
rmiss = sum(p['rx_missed'] for p in rs['ports'])
tmiss = sum(p['rx_missed'] for p in ts['ports'])
check('every packet sent reached the reporter', rs['ports'][0]['rx_packets'] + rmiss == sent and
      rs['ports'][0]['rx_packets'] == sent, (rs['ports'][0], sent))
check('the reporter forwarded every packet to the sink (its kernel counted them)',
      rs['ports'][1]['tx_packets'] == sink_rx == sent, (rs['ports'][1]['tx_packets'], sink_rx))
check('every report the reporter sent reached the translator',
      rs['ports'][2]['tx_packets'] == ts['ports'][0]['rx_packets'] and tmiss == 0,
      (rs['ports'][2]['tx_packets'], ts['ports'][0]['rx_packets'], tmiss))
c0 = ts['program']['collectors'][0]
lost = sum(c0[s]['lost'] for s in STRUCTURES)
recovering = ts['drops'].get('rdma_recovering', 0)
naks = sum(q['psn_sequence_errors'] for q in cs['soft_rnic']['qps'])
print(f'translator: {c0["requests"]} RDMA requests; given up while recovering '
      f'{recovering}, requester-counted lost {lost}; collector NAKs {naks}')

# --- 2. memory ---
warm_at = max(1, len(samples) // 4)
warm, last = samples[min(warm_at, len(samples) - 1)], samples[-1]
print(f'\nRSS (KiB) at t={warm["t"]} s (warm) and t={last["t"]} s (end):')
for name in ('reporter', 'translator', 'collector'):
    w, e = warm[name], last[name]
    allowed = max(4096, w * 5 // 100) if w else 0
    print(f'  {name:10s} {w:>8} -> {e:>8} ({(e or 0) - (w or 0):+d}; allowed +{allowed}); '
          f'peak {max(s[name] or 0 for s in samples)}')
    check(f'{name}: memory flat after warm-up', w is not None and e is not None and
          e - w <= allowed, (w, e))

# --- 3. queries against the truth (the pcap's flows, times the replays) ---
flows, starts, slot_of = {}, [], {}
one = []
for p in traffic:
    ip = p[IP]
    l4 = p[TCP] if TCP in p else p[UDP]
    key = zlib.crc32(struct.pack('!4s4sBHH', bytes(map(int, ip.src.split('.'))),
                                 bytes(map(int, ip.dst.split('.'))), ip.proto, l4.sport,
                                 l4.dport))
    one.append(key)
    flows[key] = flows.get(key, 0) + ip.len
for _ in range(replays):
    for key in one:
        slot = key % reporter['dta_reporter']['flow_slots']
        if slot_of.get(slot) != key:
            slot_of[slot] = key
            starts.append(key)
top = sorted(flows, key=lambda k: -flows[k])[:5]
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
check('every query answered', len(answers) == len(requests), q.stderr[-300:])
clean = lost == 0 and naks == 0 and rmiss == 0 and tmiss == 0 and recovering == 0
# A lost FETCH_ADD takes at most one packet's bytes from its row.
max_len = max(p[IP].len for p in traffic)
ki_lost = c0['keyincrement']['lost'] + recovering
print(f'\n{"flow key":>12s} {"bytes (truth)":>14s} {"Key-Increment":>14s} {"Key-Write":>10s} '
      f'{"path":>6s}')
for i, k in enumerate(top[:len(answers) // 3]):
    ki, kw, pc = answers[3 * i:3 * i + 3]
    truth = flows[k] * replays
    print(f'{k:>12d} {truth:>14d} {ki["count"]:>14d} {kw.get("data", 0) >> 16:>10} '
          f'{str(pc.get("path")):>6s}')
    if clean:
        check(f'flow {k}: Key-Increment = bytes x {replays} replays, Key-Write and path name '
              'the reporter', ki['count'] == truth and kw['found'] and
              kw['data'] >> 16 == SWITCH_ID and pc['path'] == [SWITCH_ID], (ki, kw, pc))
    else:
        check(f'flow {k}: Key-Increment within the counted loss of the truth, Key-Write and '
              'path name the reporter',
              truth - ki_lost * max_len <= ki['count'] <= truth and kw['found'] and
              kw['data'] >> 16 == SWITCH_ID and pc['path'] == [SWITCH_ID], (ki, kw, pc))
if answers:
    apl = answers[-1]
    whole = len(starts) // LAYOUT['append_batch'] * LAYOUT['append_batch']
    if clean:
        check(f'Append list 0 holds the {whole} flow starts in order (whole batches)',
              apl['entries'] == starts[:whole], (len(apl['entries']), whole))
    else:
        it = iter(starts)
        check(f'Append list 0: {len(apl["entries"])} entries, all flow starts in order',
              all(any(e == s for s in it) for e in apl['entries']), len(apl['entries']))
print('exact (nothing lost anywhere)' if clean else
      f'loss counted: rdma_recovering {recovering}, requester lost {lost}, NAKs {naks}, '
      f'rx_missed {rmiss}+{tmiss}; answers checked against it')
print(f'\nsoak: {len(failures)} failure(s)' + (f': {failures}' if failures else ''))
sys.exit(1 if failures else 0)
