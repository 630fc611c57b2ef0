#!/usr/bin/python3
"""TEA with two memory servers: one is killed mid-run and tea_nat's lookups
fail over to the replica within a second.

  inside host --veth (port 0)-- softfino (tea_nat) --veth (port 3)-- outside host
                                  | port 1: RDMA to collector 0 (own netns)
                                  | port 2: RDMA to collector 1 (own netns)

Each key lives on its primary server and its replica (tea/key.h: primary =
(CRC-32(key) * 0x9E3779B1 mod 2^32) * servers >> 32, computed here with
zlib; replica = the other one): this script inserts every entry into both.
No cache (every packet is a lookup), so every packet tells which server
answered.

1. Both servers up: one packet per flow; every one translated exactly as
   the entries say (scapy recomputes the checksums), and both servers
   answered lookups.
2. Collector 1 is killed (SIGKILL). Packets of flows whose primary is
   server 1 keep coming, one every 10 ms for 1.5 s. Those sent before the
   switch takes the server out are lost (their READs time out, counted);
   from the failover on, every one is translated, by the replica.
   Measured here: the failover time (from the kill to the first packet sent
   after it that came through) must be under one second, and the packets
   lost in between must equal the switch's timeouts on server 1.
3. The switch reports the failover: a tea_failover event (server 1 down)
   in its --events file and failovers = 1 in its counters.
  tea_failover_test.py SOFTFINO SOFTFINO_COLLECTOR
"""
import json
import signal
import struct
import sys
import tempfile
import time
import zlib

from scapy.all import AsyncSniffer, Ether, IP, UDP, Raw, sendp, raw

from live_harness import (CollectorTestbed, check, finish, require_root, tagged_id, tea_insert,
                          veth)

softfino, collector = sys.argv[1], sys.argv[2]
require_root()

bed = CollectorTestbed('stf', 2)
out_host, out_sw = f'{bed.tag}o', f'{bed.tag}p'
work = tempfile.mkdtemp(prefix='tea_failover_test.')
OUT_SPEC = 'tea.out:buckets=1024,slots=2'
IN_SPEC = 'tea.in:buckets=1024,slots=2'
PUBLIC = '203.0.113.7'
N_FLOWS = 120
TIMEOUT_US = 100000
MAC_IN = '02:00:00:00:0a:01'


def ip_int(ip):
    a = [int(x) for x in ip.split('.')]
    return a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3]


def key_bytes(src, dst, sport, dport, proto):
    """tea/key.h: addresses, ports (network order), protocol, 3 zero bytes."""
    return struct.pack('!IIHHB3x', ip_int(src), ip_int(dst), sport, dport, proto)


def primary(key):
    return ((zlib.crc32(key) * 0x9E3779B1) % 2**32 * 2) >> 32


flows = []
for i in range(N_FLOWS):
    f = {'src': f'10.1.0.{1 + i}', 'dst': f'198.51.100.{1 + i % 50}', 'sport': 30000 + i,
         'dport': 53, 'proto': 17, 'public_port': 20000 + i}
    f['server'] = primary(key_bytes(f['src'], f['dst'], f['sport'], f['dport'], f['proto']))
    flows.append(f)
on_1 = [f for f in flows if f['server'] == 1]


def value(ip, port):
    return f'0x{ip_int(ip) << 32 | port << 16:016x}'


requests = []
for f in flows:
    requests.append({'op': 'insert', 'table': 'tea.out',
                     'key': {'src': f['src'], 'dst': f['dst'], 'sport': f['sport'],
                             'dport': f['dport'], 'proto': f['proto']},
                     'value': value(PUBLIC, f['public_port'])})
    requests.append({'op': 'insert', 'table': 'tea.in',
                     'key': {'src': f['dst'], 'dst': PUBLIC, 'sport': f['dport'],
                             'dport': f['public_port'], 'proto': f['proto']},
                     'value': value(f['src'], f['sport'])})


def packet(f, pid):
    return (Ether(src=MAC_IN, dst='02:00:00:00:00:fe') /
            IP(src=f['src'], dst=f['dst'], ttl=64, id=pid % 65536) /
            UDP(sport=f['sport'], dport=f['dport']) / Raw(b'tea%06d' % pid + bytes(12)))


def translated(pkt, f):
    p = pkt.copy()
    p[IP].src, p[UDP].sport = PUBLIC, f['public_port']
    del p[IP].chksum
    del p[UDP].chksum
    return raw(Ether(raw(p)))


def pid_of(p):
    return tagged_id(raw(p), b'tea')


try:
    bed.up()
    veth(out_host, out_sw)
    ports = [bed.start_collector(collector, ['--tea-table', OUT_SPEC, '--tea-table', IN_SPEC], k)
             for k in range(2)]
    if None in ports:
        raise SystemExit(1)
    connects = [f'{bed.handshake_ip(k)}:{ports[k]}' for k in range(2)]
    for k in range(2):  # every key on its primary and its replica: here, both
        tea_insert(collector, connects[k], requests, work, f'entries inserted on server {k}')

    config = {
        'rdma': {'connections': [
            {'name': f'{name}/{k}', 'collector': connects[k], 'region': region, 'port': 1 + k,
             'ip': '10.9.2.1'}
            for k in range(2) for name, region in (('nat_out', 'tea.out'), ('nat_in', 'tea.in'))]},
        'nat': {'inside_ports': [0], 'outside_ports': [3], 'out_table': OUT_SPEC,
                'in_table': IN_SPEC},
        'tea': {'deferral': 'local', 'cache_entries': 0, 'timeout_us': TIMEOUT_US,
                'probe_timeout_us': 200000},
        'pktgen': [{'app': 0, 'period_us': 5000}],
    }
    with open(f'{work}/config.json', 'w') as fh:
        json.dump(config, fh)
    sw = bed.start_switch(softfino, [
        '--pipeline', 'tea_nat', '--config', f'{work}/config.json', '--clock', 'real',
        '--no-control-socket', '--stats-json', f'{work}/switch.json',
        '--events', f'{work}/events.jsonl'], extra_ifaces=[out_sw])
    if sw is None:
        raise SystemExit(1)

    got = {}  # pid -> bytes

    def on_packet(p):
        pid = pid_of(p)
        if pid is not None:
            got[pid] = raw(p)

    sniff = AsyncSniffer(iface=out_host, store=False, prn=on_packet,
                         lfilter=lambda p: IP in p and p[IP].src == PUBLIC)
    sniff.start()
    time.sleep(0.5)

    # 1. Both up.
    first = {}
    for i, f in enumerate(flows):
        first[i] = (f, packet(f, i))
    sendp([p for _, p in first.values()], iface=bed.host, verbose=False, inter=0.002)
    time.sleep(1.0)
    wrong = [i for i, (f, p) in first.items() if got.get(i) != translated(p, f)]
    check(f'both servers up: all {N_FLOWS} packets translated exactly', not wrong, wrong[:5])

    # 2. Server 1 dies.
    bed.collectors[1].send_signal(signal.SIGKILL)
    t0 = time.monotonic()
    sent = []  # (pid, send time)
    pid = 1000
    while time.monotonic() - t0 < 1.5:
        f = on_1[pid % len(on_1)]
        p = packet(f, pid)
        sent.append((pid, time.monotonic() - t0, f, p))
        sendp(p, iface=bed.host, verbose=False)
        pid += 1
        time.sleep(0.01)
    time.sleep(0.5)
    sniff.stop()
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    bed.collectors[0].send_signal(signal.SIGTERM)
    bed.collectors[0].wait(timeout=30)
    check('switch and the live collector exit cleanly',
          sw.returncode == 0 and bed.collectors[0].returncode == 0,
          (sw.returncode, bed.collectors[0].returncode))

    through = [(pid, t) for pid, t, f, p in sent if pid in got]
    lost = [(pid, t) for pid, t, f, p in sent if pid not in got]
    failover_s = through[0][1] if through else None
    print(f'after the kill: {len(sent)} packets of server 1\'s flows sent, {len(lost)} lost, '
          f'failover {failover_s * 1000 if failover_s is not None else "never"} ms after it')
    check('failover within one second of the kill', failover_s is not None and failover_s < 1.0,
          failover_s)
    check('only packets sent before the failover were lost',
          failover_s is not None and all(t < failover_s for _, t in lost), lost[-3:])
    check('from the failover on, every packet translated exactly (by the replica)',
          all(got.get(pid) == translated(p, f) for pid, t, f, p in sent
              if failover_s is not None and t >= failover_s))

    stats = json.load(open(f'{work}/switch.json'))
    out = stats['program']['pipes'][0]['out']
    s0, s1 = out['servers']
    print(f"server 0: reads {s0['reads']} up {s0['up']}; server 1: reads {s1['reads']} "
          f"timeouts {s1['timeouts']} failovers {s1['failovers']} up {s1['up']}; "
          f"served by the replica {out['served_by_replica']}")
    check('both servers answered lookups before the kill', s0['found'] > 0 and s1['found'] > 0,
          (s0['found'], s1['found']))
    check('server 1 taken out once, server 0 never',
          s1['failovers'] == 1 and not s1['up'] and s0['failovers'] == 0 and s0['up'])
    check(f'the lost packets are the timeouts counted on server 1 ({len(lost)})',
          s1['timeouts'] == len(lost), (s1['timeouts'], len(lost)))
    check('the replica served the rest', out['served_by_replica'] == len(through),
          (out['served_by_replica'], len(through)))
    events = [json.loads(l) for l in open(f'{work}/events.jsonl')]
    check('a tea_failover event for server 1 of each table that lost it',
          any(e.get('event') == 'tea_failover' and e['table'] == 'out' and e['server'] == 1 and
              not e['up'] and e['replica'] == 0 for e in events), events)
finally:
    bed.down()
finish()
