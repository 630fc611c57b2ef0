#!/usr/bin/python3
"""TAS-style core scaling (--fp-cores-max 2): the switch starts on one core,
grows to two while the input floods it, and shrinks back once it idles,
moving whole pipes between lcores as it goes. Nothing may be lost or
duplicated, and each pipe's state must be exactly its own traffic's.

  net_pcap port 0, two RX queues replaying parts of the l3fwd workload R times
  -> softfino l3fwd, 2 pipes on 2 worker lcores, autoscaled -> pcap files

Checked against the l3fwd oracle (l3fwd_workload.py, from the spec):
- the switch grew and shrank (its "cores" counters) while it forwarded;
- every port sent exactly R times the oracle's frames for it (as a
  multiset);
- drops by reason exactly R times the oracle's;
- per-pipe state: each pipe's nexthop_counter (an indexed counter, one set
  of cells per pipe as on Tofino) holds exactly R times the oracle's
  packets and bytes per next hop: a pipe run by two cores at once, or
  polled by none for a while and losing input, would not.

  autoscale_test.py SOFTFINO SOFTFINO_CTL
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import l3fwd_workload  # noqa: E402
from compare_output import read_pcap  # noqa: E402
from live_harness import (check, ctl_json, finish, l3fwd_expectations, nexthop_cells,  # noqa: E402
                          l3fwd_flood_workload)

softfino, softfino_ctl = sys.argv[1], sys.argv[2]
REPEAT = 40
work = tempfile.mkdtemp(prefix='softfino-autoscale.')
frames, cfg = l3fwd_flood_workload(work, seed=5)

# Queue i (pipe i) gets the frames that leave on ports pipe i owns (port p's
# traffic manager lives in pipe p % 2), drops split between both: no packet
# crosses between pipes, so which pipe counts a packet follows from its
# queue alone. (Packets handed between pipes under a flood: test sw_rss.)
expected_port, expected_drops, _, expected_nexthop = l3fwd_expectations(
    frames, cfg, lambda i, frame, v: i % 2 if v.drop else v.port % 2, REPEAT)
queues = ([], [])
for i, frame in enumerate(frames):
    v = l3fwd_workload.process(frame, cfg)
    queues[i % 2 if v.drop else v.port % 2].append(frame)
for q in (0, 1):
    l3fwd_workload.write_pcap(f'{work}/q{q}.pcap', enumerate(queues[q] * REPEAT))
l3fwd_workload.write_pcap(f'{work}/empty.pcap', [])
total = REPEAT * len(frames)

prefix = f'as{os.getpid()}'
cpus = os.cpu_count()
vdevs = []
for p in range(3):
    rx = [f'{work}/q0.pcap', f'{work}/q1.pcap'] if p == 0 else [f'{work}/empty.pcap'] * 2
    vdevs.append(f'--vdev=net_pcap{p},rx_pcap={rx[0]},rx_pcap={rx[1]},'
                 f'tx_pcap={work}/out{p}_q0.pcap,tx_pcap={work}/out{p}_q1.pcap')
sw = subprocess.Popen(
    [softfino, '--no-huge', '--no-shconf', '-m', '512', '--no-pci', f'--file-prefix={prefix}',
     '--log-level=warning', '--lcores', f'0@0,1@{1 % cpus},2@{2 % cpus}', *vdevs,
     '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json', '--clock', 'real',
     '--fp-cores-max', '2', '--stats-json', f'{work}/stats.json'],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ctl(*args):
    return ctl_json(softfino_ctl, prefix, *args)


try:
    # Until everything arrived and the idle switch gave a core back.
    deadline = time.time() + 120
    stats = None
    while time.time() < deadline:
        stats = ctl('stats')
        if stats and stats['totals']['received'] == total and stats['cores']['shrunk'] >= 1 \
                and stats['cores']['active'] == 1:
            break
        time.sleep(0.2)
    check('all packets received, then the idle switch shrank to one core',
          stats is not None and stats['totals']['received'] == total and
          stats['cores']['active'] == 1, stats and (stats['totals'], stats['cores']))
    for pipe in (0, 1):
        cells = nexthop_cells(ctl, pipe)
        check(f'pipe {pipe}: its nexthop_counter holds exactly its own queue\'s traffic '
              f'({REPEAT} replays)', cells == expected_nexthop[pipe],
              (cells, expected_nexthop[pipe]))
finally:
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=60)
check('switch exits cleanly', sw.returncode == 0, sw.stderr.read()[-2000:])
with open(f'{work}/stats.json') as f:
    final = json.load(f)
cores = final['cores']
print(f'cores: {cores}; totals: {final["totals"]}')
check('the switch grew to two cores and shrank back while forwarding',
      cores['grown'] >= 1 and cores['shrunk'] >= 1 and cores['max'] == 2, cores)
drops = {r: n for r, n in final['drops'].items() if n}
check('drops by reason = the oracle\'s', drops == dict(expected_drops), (drops, expected_drops))
for p in range(3):
    owner = p % 2  # the pipe whose TX queue sends port p's traffic
    sent = Counter(read_pcap(f'{work}/out{p}_q{owner}.pcap')[0])
    other = read_pcap(f'{work}/out{p}_q{1 - owner}.pcap')[0]
    check(f'port {p}: every frame the oracle expects, {sum(expected_port[p].values())}, '
          f'sent exactly that often, nothing else', sent == expected_port[p] and not other,
          (sum(sent.values()), len(other), sum((expected_port[p] - sent).values()),
           sum((sent - expected_port[p]).values())))
subprocess.run(['rm', '-rf', work])
finish()
