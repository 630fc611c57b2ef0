#!/usr/bin/python3
"""Software RSS (--sw-rss) on ports without RSS and with a single queue each
way, as a virtio-net NIC without its RSS feature has: two pipes, every port
one RX and one TX queue.

  net_pcap port 0 (one RX queue) replaying the l3fwd workload R times as
  fast as it can, ports 1, 2 silent -> softfino l3fwd, 2 pipes, --sw-rss,
  real time -> one pcap file per port

Pipe 0 owns port 0: it reads the queue, hashes every frame and hands pipe
1 its frames; each pipe hands the other the frames for ports it owns (port
p's traffic manager lives in pipe p % 2), so both rings between the pipes
carry a flood, which back-pressure must absorb without loss.

Checked against independent truths:
- which pipe each frame belongs to: a Toeplitz hash written here, bit by
  bit from its definition, over what a NIC with RTE_ETH_RSS_IP|TCP|UDP
  hashes (IPv4/IPv6 addresses; TCP/UDP ports too unless a fragment; one
  VLAN tag parsed; anything else hashes to 0), with softfino's symmetric
  key, then the NIC's default redirection table (entry hash % 128 -> queue
  entry % pipes);
- each pipe's received packets per port and its nexthop_counter cells
  (packets and bytes per next hop, one set per pipe as on Tofino) are
  exactly those of its frames by that hash, from the l3fwd oracle;
- every port sent exactly R times the oracle's frames (a multiset), and
  nothing else; drops by reason exactly R times the oracle's (none lost
  between pipes: no sw_rss_full, no tm_handoff_full);
- --sw-rss in virtual time is refused with the fix.

  sw_rss_test.py SOFTFINO SOFTFINO_CTL
"""
import json
import os
import signal
import struct
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
                          l3fwd_flood_workload, set_thread_policy)

softfino, softfino_ctl = sys.argv[1], sys.argv[2]
REPEAT = int(os.environ.get("SWRSS_REPEAT", "20"))
PIPES = 2
KEY = bytes([0x6d, 0x5a] * 20)


def toeplitz(data):
    """The Toeplitz hash of `data` under KEY, from its definition: for every
    set bit i of the input (most significant first), XOR in the 32 key bits
    starting at bit i."""
    key = int.from_bytes(KEY, 'big')
    key_bits = len(KEY) * 8
    h = 0
    for i in range(len(data) * 8):
        if data[i // 8] & (0x80 >> (i % 8)):
            h ^= (key >> (key_bits - 32 - i)) & 0xffffffff
    return h


def nic_hash(frame):
    l3 = 14
    if len(frame) < l3:
        return 0
    etype = struct.unpack_from('!H', frame, 12)[0]
    if etype == 0x8100:
        l3 += 4
        if len(frame) < l3:
            return 0
        etype = struct.unpack_from('!H', frame, l3 - 2)[0]
    if etype == 0x0800:
        if len(frame) < l3 + 20:
            return 0
        tup = frame[l3 + 12:l3 + 20]
        l4 = l3 + (frame[l3] & 0xf) * 4
        frag = struct.unpack_from('!H', frame, l3 + 6)[0] & 0x3fff
        ports = frame[l3 + 9] in (6, 17) and frag == 0
    elif etype == 0x86DD:
        if len(frame) < l3 + 40:
            return 0
        tup = frame[l3 + 8:l3 + 40]
        l4 = l3 + 40
        ports = frame[l3 + 6] in (6, 17)
    else:
        return 0
    if ports and len(frame) >= l4 + 4:
        tup += frame[l4:l4 + 4]
    return toeplitz(tup)


def pipe_of(frame):
    return (nic_hash(frame) % 128) % PIPES


work = tempfile.mkdtemp(prefix='softfino-swrss.')
frames, cfg = l3fwd_flood_workload(work, seed=9)

expected_port, expected_drops, expected_rx, expected_nexthop = l3fwd_expectations(
    frames, cfg, lambda i, frame, v: pipe_of(frame), REPEAT, pipes=PIPES)
print(f'{len(frames)} frames x {REPEAT}; by hash: pipe 0 {expected_rx[0]}, pipe 1 {expected_rx[1]}')
check('the workload spreads over both pipes', min(expected_rx) > 0.3 * REPEAT * len(frames),
      expected_rx)
l3fwd_workload.write_pcap(f'{work}/flood.pcap', enumerate(frames * REPEAT))
l3fwd_workload.write_pcap(f'{work}/empty.pcap', [])
total = REPEAT * len(frames)

prefix = f'swrss{os.getpid()}'
cpus = os.cpu_count()
vdevs = [f'--vdev=net_pcap{p},rx_pcap={work}/{"flood" if p == 0 else "empty"}.pcap,'
         f'tx_pcap={work}/out{p}.pcap' for p in range(3)]
eal = ['--no-huge', '--no-shconf', '-m', '512', '--no-pci', f'--file-prefix={prefix}',
       '--log-level=warning', '--lcores', f'0@0,1@{1 % cpus},2@{1 % cpus}', *vdevs]

refused = subprocess.run([softfino, *eal, '--', '--pipeline', 'l3fwd', '--config',
                          f'{work}/config.json', '--sw-rss', '--clock', 'virtual'],
                         capture_output=True, text=True, timeout=60)
check('--sw-rss in virtual time is refused with the fix',
      refused.returncode != 0 and '--clock real' in refused.stderr, refused.stderr[-500:])

sw = subprocess.Popen(
    [softfino, *eal, '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json',
     '--clock', 'real', '--sw-rss', '--stats-json', f'{work}/stats.json'],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def ctl(*args):
    return ctl_json(softfino_ctl, prefix, *args)




try:
    check('pipe 1\'s lcore starved (SCHED_IDLE beside pipe 0)',
          set_thread_policy(sw.pid, 'rte-worker-2', os.SCHED_IDLE))
    deadline = time.time() + 120
    stats = None
    while time.time() < deadline:
        stats = ctl('stats')
        if stats and stats['totals']['received'] == total and \
                stats['totals']['forwarded'] + stats['totals']['dropped'] == total:
            break
        time.sleep(0.2)
    check('every packet received and accounted for',
          stats is not None and stats['totals']['received'] == total, stats and stats['totals'])
    for pipe in range(PIPES):
        cells = nexthop_cells(ctl, pipe)
        check(f'pipe {pipe}: its nexthop_counter holds exactly the traffic of its flows by '
              f'the NIC hash', cells == expected_nexthop[pipe], (cells, expected_nexthop[pipe]))
finally:
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=60)
check('switch exits cleanly', sw.returncode == 0, sw.stderr.read()[-2000:])
with open(f'{work}/stats.json') as f:
    final = json.load(f)
pipes = final['pipes']
print('pipes:', [{k: p[k] for k in ('rx_packets', 'tx_packets', 'held_back')} for p in pipes])
check('each pipe received exactly its frames by the NIC hash',
      [p['rx_packets'] for p in pipes] == expected_rx, ([p['rx_packets'] for p in pipes], expected_rx))
drops = {r: n for r, n in final['drops'].items() if n}
check('drops by reason = the oracle\'s (nothing lost between pipes)',
      drops == dict(expected_drops), (drops, expected_drops))
check('back-pressure held pipe 0 back while pipe 1 was starved', pipes[0]['held_back'] > 0,
      pipes[0]['held_back'])
for p in range(3):
    sent = Counter(read_pcap(f'{work}/out{p}.pcap')[0])
    check(f'port {p} (one TX queue): every frame the oracle expects, '
          f'{sum(expected_port[p].values())}, sent exactly that often, nothing else',
          sent == expected_port[p],
          (sum(sent.values()), sum((expected_port[p] - sent).values()),
           sum((sent - expected_port[p]).values())))
subprocess.run(['rm', '-rf', work])
finish()
