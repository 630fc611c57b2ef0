#!/usr/bin/python3
"""Fault: a full traffic-manager queue under sustained overload.

Two 10G ingress ports (0 and 1) each send 4,000 back-to-back packets of
mixed sizes into one 10G egress port (3): a 2:1 overload for the whole run,
so its queue stays full and tail-drops about half of the bytes that arrive
(fewer than half the packets: a small one still fits where a large one
does not). A third
ingress port (2) sends packets no entry routes. In virtual time the outcome
is exact, so this script computes it from first principles (as tm_test.py
does, in O(n)) and checks:

  - every packet out of port 3 is the one the FIFO model lets through, in
    order (identity carried in the payload);
  - tm_queue_full (and the queue's tail_drops) equals the model's drops,
    no_route equals port 2's packets;
  - the counters explain every packet: received (= packets in the pcaps)
    = forwarded + dropped, dropped = the sum of drops by reason, forwarded
    = what the output pcaps hold.
  fault_tm_overload_test.py SOFTFINO
"""
import collections
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

from scapy.all import Ether, IP, UDP, Raw, wrpcap, RawPcapReader

from live_harness import check, finish

PS_PER_BYTE_10G = 800
WIRE_OVERHEAD = 24
CELL = 80
LIMIT_CELLS = 200
PER_PORT = 4000
UNROUTED = 500
T0 = 1.0  # seconds: every port's burst starts here (the switch serialises it at line rate)


def cells(n):
    return (n + CELL - 1) // CELL


def wire_ps(n):
    return (n + WIRE_OVERHEAD) * PS_PER_BYTE_10G


def frame(port, seq, size):
    head = (Ether(src='02:00:00:00:00:%02x' % port, dst='02:00:00:00:00:ff') /
            IP(src='10.0.%d.1' % port, dst='10.0.9.9') / UDP(sport=1000 + port, dport=9))
    payload = bytes(24) + struct.pack('!HH', port, seq)
    return head / Raw(payload + bytes(size - len(head) - len(payload)))


def model(sizes):
    """FIFO tail drop at LIMIT_CELLS, egress draining at 10G: the identities
    of the packets let through, in order, and the number dropped."""
    arrivals = []
    for port, port_sizes in sizes.items():
        t = int(T0 * 1e12)
        for seq, size in enumerate(port_sizes):
            arrivals.append((t, port, seq, size))
            t += wire_ps(size)
    arrivals.sort(key=lambda x: (x[0], x[1]))
    queue = collections.deque()  # (start_ps, cells) of accepted packets not yet leaving
    queued = 0
    wire_free = 0
    out, drops = [], 0
    dropped_bytes, offered = 0, 0
    for a, port, seq, size in arrivals:
        offered += size
        # A packet starting exactly at `a` is still queued (arrivals first).
        while queue and queue[0][0] < a:
            queued -= queue.popleft()[1]
        if queued + cells(size) > LIMIT_CELLS:
            drops += 1
            dropped_bytes += size
            continue
        start = max(a, wire_free)
        wire_free = start + wire_ps(size)
        queue.append((start, cells(size)))
        queued += cells(size)
        out.append((port, seq))
    return out, drops, dropped_bytes / offered


def main():
    softfino = sys.argv[1]
    rng = random.Random(10)
    work = tempfile.mkdtemp(prefix='sfF-tm.')
    choices = [70, 128, 256, 512, 1000, 1514]
    sizes = {p: [rng.choice(choices) for _ in range(PER_PORT)] for p in (0, 1)}
    for port in (0, 1):
        pkts = [frame(port, seq, size) for seq, size in enumerate(sizes[port])]
        for p in pkts:
            p.time = T0
        wrpcap(f'{work}/in{port}.pcap', pkts)
    unrouted = [frame(2, seq, 100) for seq in range(UNROUTED)]
    for p in unrouted:
        p.time = T0
    wrpcap(f'{work}/in2.pcap', unrouted)
    wrpcap(f'{work}/empty.pcap', [])
    config = {
        'tables': {'port_map': [
            {'key': {'ingress_port': 0}, 'action': 'send', 'data': {'port': 3, 'qid': 0}},
            {'key': {'ingress_port': 1}, 'action': 'send', 'data': {'port': 3, 'qid': 0}}]},
        'ports': [{'port': p, 'speed': '10G', 'queue_limit_cells': LIMIT_CELLS} for p in range(4)],
    }
    with open(f'{work}/config.json', 'w') as f:
        json.dump(config, f)
    rx = [f'{work}/in0.pcap', f'{work}/in1.pcap', f'{work}/in2.pcap', f'{work}/empty.pcap']
    cmd = [softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0',
           f'--file-prefix=sfFtm{os.getpid()}', '--log-level=warning',
           *[f'--vdev=net_pcap{p},rx_pcap={rx[p]},tx_pcap={work}/out{p}.pcap' for p in range(4)],
           '--', '--pipeline', 'tm_probe', '--config', f'{work}/config.json',
           '--clock', 'virtual', '--exit-when-idle', '200', '--no-control-socket',
           '--stats-json', f'{work}/stats.json']
    run = subprocess.run(cmd, capture_output=True, text=True)
    check('switch runs the replay and exits cleanly', run.returncode == 0, run.stderr[-2000:])
    if run.returncode != 0:
        finish()
    with open(f'{work}/stats.json') as f:
        stats = json.load(f)
    want_out, want_drops, dropped_share = model(sizes)
    got_out = [struct.unpack('!HH', raw[66:70]) for raw, _ in RawPcapReader(f'{work}/out3.pcap')]
    others = sum(sum(1 for _ in RawPcapReader(f'{work}/out{p}.pcap')) for p in (0, 1, 2))
    sent = 2 * PER_PORT + UNROUTED
    drops = stats['drops']
    totals = stats['totals']
    print(f'in {sent}, out {len(got_out)} (model {len(want_out)}), '
          f'tm_queue_full {drops.get("tm_queue_full")} (model {want_drops}), totals {totals}')
    check(f'overload is sustained: about half the bytes offered are dropped ({dropped_share:.2f})',
          0.45 < dropped_share < 0.55, dropped_share)
    first_bad = next((i for i, (g, w) in enumerate(zip(got_out, want_out)) if g != w), None)
    check('every packet out of the full queue is the one the FIFO model lets through, in order',
          got_out == want_out, f'first difference at {first_bad}, {len(got_out)} vs {len(want_out)}')
    check('nothing leaves any other port', others == 0, others)
    check('tm_queue_full = the model\'s tail drops', drops.get('tm_queue_full') == want_drops,
          drops.get('tm_queue_full'))
    q3 = [q for q in stats['queues'] if q['port'] == 3 and q['qid'] == 0]
    check('the queue counts the same tail drops and never went past its limit',
          len(q3) == 1 and q3[0]['tail_drops'] == want_drops and
          q3[0]['watermark_cells'] <= LIMIT_CELLS, q3)
    check('no_route = the unrouted packets', drops.get('no_route') == UNROUTED, drops)
    by_reason = sum(drops.values())
    check('received = every packet sent', totals['received'] == sent, totals)
    check('received = forwarded + dropped; dropped = sum of drops by reason',
          totals['received'] + totals['copies'] + totals['generated'] ==
          totals['forwarded'] + totals['dropped'] and totals['dropped'] == by_reason, totals)
    check('forwarded = packets in the output pcaps',
          totals['forwarded'] == len(got_out) + others and
          sum(p['tx_packets'] for p in stats['ports']) == len(got_out), totals)
    check('only the two expected reasons dropped anything',
          {k for k, v in drops.items() if v} == {'tm_queue_full', 'no_route'}, drops)
    if not __import__('live_harness').failures:
        shutil.rmtree(work)
    finish()


if __name__ == '__main__':
    main()
