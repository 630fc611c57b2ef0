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
     Append's written entries real flow starts in order (a lost batch
     leaves its positions empty).

  soak.py BUILD_DIR OUT_DIR [--seconds N] [--pps P] [--sample S]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'test', 'program'))
from live_harness import CollectorTestbed, EAL, veth, wait_for_line  # noqa: E402
from scapy.all import IP, Ether, RawPcapReader, sendp  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from dta_common import (LAYOUT, REGIONS, REPORTER, STRUCTURES, SWITCH_ID, query_top,  # noqa: E402
                        start_collector, truth)

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

# Its own handshake subnet: a long run meets other tests' testbeds.
bed = CollectorTestbed('sfFs', ctl_net=150 + os.getpid() % 100)
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
    translator = start_collector(bed, apps, out, dumps)
    procs['collector'] = bed.collector
    with open(f'{out}/translator.json', 'w') as f:
        json.dump(translator, f, indent=1)
    tsock, rsock = f'{out}/translator.sock', f'{out}/reporter.sock'
    sw = bed.start_switch(f'{apps}/softfino', [
        '--pipeline', 'dta_translator', '--config', f'{out}/translator.json', '--clock', 'real',
        '--control-socket', tsock, '--stats-json', f'{out}/translator_stats.json'])
    if sw is None:
        sys.exit('the translator did not start')
    procs['translator'] = sw
    reporter = REPORTER
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
flows, starts = truth(traffic, replays)
top, answers = query_top(apps, out, dumps, flows)
clean = lost == 0 and naks == 0 and rmiss == 0 and tmiss == 0 and recovering == 0
# A lost FETCH_ADD takes at most one packet's bytes from its row.
max_len = max(p[IP].len for p in traffic)
ki_lost = c0['keyincrement']['lost'] + recovering
print(f'\n{"flow key":>12s} {"bytes (truth)":>14s} {"Key-Increment":>14s} {"Key-Write":>10s} '
      f'{"path":>6s}')
for i, k in enumerate(top[:len(answers) // 3]):
    ki, kw, pc = answers[3 * i:3 * i + 3]
    want = flows[k]['bytes']
    print(f'{k:>12d} {want:>14d} {ki["count"]:>14d} {kw.get("data", 0) >> 16:>10} '
          f'{str(pc.get("path")):>6s}')
    if clean:
        check(f'flow {k}: Key-Increment = bytes x {replays} replays, Key-Write and path name '
              'the reporter', ki['count'] == want and kw['found'] and
              kw['data'] >> 16 == SWITCH_ID and pc['path'] == [SWITCH_ID], (ki, kw, pc))
    else:
        check(f'flow {k}: Key-Increment within the counted loss of the truth, Key-Write and '
              'path name the reporter',
              want - ki_lost * max_len <= ki['count'] <= want and kw['found'] and
              kw['data'] >> 16 == SWITCH_ID and pc['path'] == [SWITCH_ID], (ki, kw, pc))
if answers:
    apl = answers[-1]
    whole = len(starts) // LAYOUT['append_batch'] * LAYOUT['append_batch']
    if clean:
        check(f'Append list 0 holds the {whole} flow starts in order (whole batches)',
              apl['entries'] == starts[:whole], (len(apl['entries']), whole))
    else:
        # A lost batch WRITE leaves its whole batch of positions empty (0);
        # what was written must be flow starts, in order.
        entries, batch = apl['entries'], LAYOUT['append_batch']
        holes = [i for i, e in enumerate(entries) if e == 0]
        whole_holes = all(entries[i // batch * batch + j] == 0 for i in holes
                          for j in range(batch) if i // batch * batch + j < len(entries))
        it = iter(starts)
        check(f'Append list 0: {len(entries)} entries, the written ones flow starts in order, '
              f'{len(holes)} empty where whole batches were lost',
              whole_holes and all(any(e == s for s in it) for e in entries if e != 0),
              (len(entries), len(holes)))
print('exact (nothing lost anywhere)' if clean else
      f'loss counted: rdma_recovering {recovering}, requester lost {lost}, NAKs {naks}, '
      f'rx_missed {rmiss}+{tmiss}; answers checked against it')
print(f'\nsoak: {len(failures)} failure(s)' + (f': {failures}' if failures else ''))
sys.exit(1 if failures else 0)
