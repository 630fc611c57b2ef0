#!/usr/bin/python3
"""BurstRadar against an exact oracle from the traffic manager's own queue
trace, in virtual time, through the real softfino with net_pcap ports (no
root needed).

softfino-gen incast makes 4 senders (ports 0..3) burst into port 5 (10G) at
the same moments, over light background traffic (port 4, 1 Gb/s). The same
workload runs twice with the same TM settings, so the queueing is the same
packet for packet:
  1. through tm_probe, whose egress writes each packet's queueing metadata
     into it: the TM's queue trace. The oracle is the set of packets whose
     queueing delay exceeded the threshold (5% of a 25 us RTT at 10G =
     1562.5 bytes = 1250 ns).
  2. through burstradar, whose couriers (port 6) say which packets it
     caught, by sender address and enqueue timestamp.
Every oracle packet must be reported. The extras may only be packets that
queued behind a burst (its tail, which depth in 80-byte cells over-marks)
or a burst's first packet, which did not wait but left with the burst's
other first packets behind it (net_pcap gives microsecond timestamps, so
those arrive at the same instant and count in its dequeue depth). Then a tiny ring behind a slow monitor port: entries overwritten
before their courier read them are counted, and marked = couriers +
overwritten. Efficiency: couriers as a fraction of all packets (an INT-style
export would send every one).

With PIPES = 2: two pipes, a victim port and a monitor port in each (port
P is in pipe P % 2). Senders on even ports burst into port 6 (pipe 0),
those on odd ports into port 5 (pipe 1); each pipe's couriers leave its own
monitor port (8 and 7), numbered from 0 in that pipe, against the same
kind of oracle from a two-pipe tm_probe trace.
  burstradar_test.py SOFTFINO SOFTFINO_GEN [PIPES]
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

from scapy.all import RawPcapReader, wrpcap

softfino, gen = sys.argv[1], sys.argv[2]
pipes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
assert pipes in (1, 2)
work = tempfile.mkdtemp(prefix='burstradar.')
SENDERS, BURSTS, PACKETS = 4, 8, 40
INPUTS = SENDERS + 1  # the background sender's pcap is the last
OUT, MONITOR = 5, 6
THRESHOLD_NS = 1562.5 * 8 / 10  # bytes at 10 Gb/s
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


subprocess.run([gen, 'incast', '--senders', str(SENDERS), '--bursts', str(BURSTS),
                '--burst-packets', str(PACKETS), '--size', '1000', '--gap-us', '1000',
                '--background-gbps', '1', '--out-prefix', f'{work}/in'],
               check=True, capture_output=True)
wrpcap(f'{work}/empty.pcap', [], linktype=1)
ports = [{'port': OUT, 'speed': '10G', 'queue_limit_cells': 20000},
         {'port': MONITOR, 'speed': '100G', 'queue_limit_cells': 20000}]


def run(pipeline, config, tag):
    with open(f'{work}/{tag}.json', 'w') as f:
        json.dump(config, f)
    vdevs = [f'--vdev=net_pcap{p},rx_pcap={work}/in{p}.pcap,tx_pcap={work}/{tag}_out{p}.pcap'
             for p in range(INPUTS)]
    vdevs += [f'--vdev=net_pcap{p},rx_pcap={work}/empty.pcap,tx_pcap={work}/{tag}_out{p}.pcap'
              for p in (OUT, MONITOR)]
    r = subprocess.run([softfino, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0',
                        f'--file-prefix=br{tag}{os.getpid()}', '--log-level=error', *vdevs, '--',
                        '--pipeline', pipeline, '--config', f'{work}/{tag}.json',
                        '--clock', 'virtual', '--exit-when-idle', '300', '--no-control-socket',
                        '--stats-json', f'{work}/{tag}_stats.json'],
                       capture_output=True, text=True)
    check(f'{pipeline} ({tag}) runs', r.returncode == 0, r.stderr[-1500:])
    with open(f'{work}/{tag}_stats.json') as f:
        return json.load(f)


def extras_explained(extra, trace):
    """The extra reports that are burst tails (queued) or a burst's first
    packets (others arrived at the same instant), and whether that is all."""
    tails = [k for k in extra if trace[k][2] > 0]
    arrivals = {}
    for src_ip, enq in trace:
        arrivals[enq] = arrivals.get(enq, 0) + 1
    heads = [k for k in extra if trace[k][2] == 0 and arrivals[k[1]] > 1]
    return len(tails) + len(heads) == len(extra) and len(heads) <= BURSTS, \
        [trace[k] for k in extra if k not in tails and k not in heads][:5]


def trace_of(path):
    """(sender address, enqueue time) -> (sender, seq, queueing ns, deq_qdepth),
    from tm_probe's output."""
    trace = {}
    for data, _ in RawPcapReader(path):
        src_ip = data[26:30]
        enq_qdepth, deq_qdepth, deq_timedelta, enq_tstamp = struct.unpack('!IIII', data[42:58])
        sender, seq = struct.unpack('!II', data[66:74])
        trace[(src_ip, enq_tstamp)] = (sender, seq, deq_timedelta, deq_qdepth)
    return trace


def read_courier_file(path):
    couriers = []
    for data, _ in RawPcapReader(path):
        assert struct.unpack('!H', data[36:38])[0] == 9393
        (seq, src_ip, dst_ip, sport, dport, proto, _, eport, enq_ts, deq_ts, enq_d, deq_d,
         length, _) = struct.unpack('!IIIHHBBHIIIIHH', data[42:82])
        couriers.append({'seq': seq, 'src_ip': struct.pack('!I', src_ip), 'enq_tstamp': enq_ts,
                         'deq_tstamp': deq_ts, 'deq_qdepth': deq_d, 'egress_port': eport,
                         'length': length, 'sport': sport, 'dport': dport, 'proto': proto})
    return couriers


def two_pipes():
    """Each pipe: its senders burst into its victim port, its couriers leave
    its monitor port."""
    victim = {0: 6, 1: 5}   # by pipe
    monitor = {0: 8, 1: 7}
    nports = 9

    def out_file(tag, port, queue):
        return f'{work}/{tag}_out{port}' + ('' if queue == 0 else f'_q{queue}') + '.pcap'

    def run2(pipeline, config, tag):
        with open(f'{work}/{tag}.json', 'w') as f:
            json.dump(config, f)
        vdevs = []
        for p in range(nports):
            v = f'net_pcap{p}'
            for q in range(2):  # pipe q reads queue q: each input port's pcap goes to its pipe
                rx = f'{work}/in{p}.pcap' if p < INPUTS and q == p % 2 else f'{work}/empty.pcap'
                v += f',rx_pcap={rx},tx_pcap={out_file(tag, p, q)}'
            vdevs.append(f'--vdev={v}')
        r = subprocess.run([softfino, '--no-huge', '--no-shconf', '-m', '512', '--no-pci',
                            '--lcores', f'0@0,1@{1 % os.cpu_count()},2@0',
                            f'--file-prefix=br{tag}{os.getpid()}', '--log-level=error', *vdevs,
                            '--', '--pipeline', pipeline, '--config', f'{work}/{tag}.json',
                            '--clock', 'virtual', '--exit-when-idle', '300',
                            '--no-control-socket', '--fp-cores', '2',
                            '--stats-json', f'{work}/{tag}_stats.json'],
                           capture_output=True, text=True)
        check(f'{pipeline} on 2 pipes ({tag}) runs', r.returncode == 0, r.stderr[-1500:])
        with open(f'{work}/{tag}_stats.json') as f:
            return json.load(f)

    ports2 = [{'port': victim[q], 'speed': '10G', 'queue_limit_cells': 20000} for q in (0, 1)]
    ports2 += [{'port': monitor[q], 'speed': '100G', 'queue_limit_cells': 20000} for q in (0, 1)]
    run2('tm_probe', {'tables': {'port_map': [
        {'key': {'ingress_port': p}, 'action': 'send', 'data': {'port': victim[p % 2], 'qid': 0}}
        for p in range(INPUTS)]}, 'ports': ports2}, 'trace2')
    stats = run2('burstradar', {'burstradar': {
        'forward': [{'in': p, 'out': victim[p % 2]} for p in range(INPUTS)],
        'threshold_rtt_fraction': 0.05, 'rtt_us': 25, 'ring_entries': 1000,
        'monitor_port': [monitor[0], monitor[1]], 'mirror_session': 900},
        'ports': ports2}, 'br2')
    program = stats['program']
    print(f'burstradar, 2 pipes: {program}')
    total_couriers = 0
    for q in (0, 1):
        trace = trace_of(out_file('trace2', victim[q], q))
        senders = [p for p in range(INPUTS) if p % 2 == q]
        expected = sum(1 for p in senders for _ in RawPcapReader(f'{work}/in{p}.pcap'))
        check(f'pipe {q}: the trace of port {victim[q]} holds its {expected} packets',
              len(trace) == expected, len(trace))
        oracle = {k for k, v in trace.items() if v[2] > THRESHOLD_NS}
        couriers = read_courier_file(out_file('br2', monitor[q], q))
        total_couriers += len(couriers)
        reported = {(c['src_ip'], c['enq_tstamp']) for c in couriers}
        where = f'pipe {q}: monitor port {monitor[q]}'
        check(f'{where} carries couriers of port {victim[q]} only, each naming a packet of '
              'its trace', all(c['egress_port'] == victim[q] for c in couriers) and
              all(k in trace for k in reported))
        missed = oracle - reported
        check(f'{where}: every oracle packet reported ({len(oracle)} queued > '
              f'{THRESHOLD_NS:.0f} ns)', not missed and len(oracle) > 0, len(missed))
        ok, unexplained = extras_explained(reported - oracle, trace)
        check(f'{where}: extra reports are only burst tails or heads', ok, unexplained)
        check(f'{where}: sequence numbers count up from 0 in its pipe',
              [c['seq'] for c in couriers] == list(range(len(couriers))))
        check(f'{where}: telemetry matches the trace',
              all(c['deq_qdepth'] == trace[(c['src_ip'], c['enq_tstamp'])][3] and
                  c['deq_tstamp'] - c['enq_tstamp'] == trace[(c['src_ip'], c['enq_tstamp'])][2]
                  for c in couriers))
        other = 1 - q
        n = sum(1 for _ in RawPcapReader(out_file('br2', monitor[q], other)))
        check(f'{where}: pipe {other} sent nothing there', n == 0, n)
    check('marked = couriers, none overwritten, all sent',
          program['overwritten'] == 0 and program['marked'] == program['couriers'] == total_couriers,
          program)


if pipes == 2:
    two_pipes()
    print(f'{len(failures)} failure(s)')
    sys.exit(1 if failures else 0)

# 1. The TM's queue trace.
run('tm_probe', {'tables': {'port_map': [
    {'key': {'ingress_port': p}, 'action': 'send', 'data': {'port': OUT, 'qid': 0}}
    for p in range(INPUTS)]}, 'ports': ports}, 'trace')
trace = trace_of(f'{work}/trace_out{OUT}.pcap')
background = sum(1 for _ in RawPcapReader(f'{work}/in{SENDERS}.pcap'))
total = SENDERS * BURSTS * PACKETS + background
check(f'the trace holds all {total} packets, each once', len(trace) == total, len(trace))
oracle = {k for k, v in trace.items() if v[2] > THRESHOLD_NS}


def burstradar(ring, monitor_speed, tag):
    config = {'burstradar': {
        'forward': [{'in': p, 'out': OUT} for p in range(INPUTS)],
        'threshold_rtt_fraction': 0.05, 'rtt_us': 25, 'ring_entries': ring,
        'monitor_port': MONITOR},
        'ports': [ports[0], {'port': MONITOR, 'speed': monitor_speed, 'queue_limit_cells': 20000}]}
    stats = run('burstradar', config, tag)
    return stats, read_couriers(tag)


def read_couriers(tag):
    return read_courier_file(f'{work}/{tag}_out{MONITOR}.pcap')


# 2. BurstRadar with a ring large enough.
stats, couriers = burstradar(1000, '100G', 'big')
program = stats['program']
print(f'burstradar: {program}')
reported = {(c['src_ip'], c['enq_tstamp']) for c in couriers}
known = all(k in trace for k in reported)
check('every courier names a packet of the trace (sender, enqueue time)', known)
missed = oracle - reported
check(f'every oracle packet reported ({len(oracle)} of {total} queued > {THRESHOLD_NS:.0f} ns)',
      not missed and len(oracle) > 0, sorted(trace[k][:3] for k in missed)[:5])
extra = reported - oracle
ok, unexplained = extras_explained(extra, trace)
check('extra reports are only burst tails (queued) or burst heads (others arrived with them)',
      ok, unexplained)
print(f'extra reports: {len(extra)} ({100 * len(extra) / max(len(oracle), 1):.1f}% of the oracle; '
      'the paper: about 6% with a real size mix)')
check('extras stay within the cell-rounding bound (under 15% of the oracle)',
      len(extra) <= 0.15 * len(oracle), len(extra))
check('telemetry in the couriers matches the trace (depth, time, 5-tuple)',
      all(c['deq_qdepth'] == trace[(c['src_ip'], c['enq_tstamp'])][3] and
          c['deq_tstamp'] - c['enq_tstamp'] == trace[(c['src_ip'], c['enq_tstamp'])][2] and
          c['egress_port'] == OUT and c['dport'] == 5001 and c['proto'] == 17 and
          c['length'] == 1000 for c in couriers if (c['src_ip'], c['enq_tstamp']) in trace))
check('no ring entry overwritten with 1000 entries',
      program['overwritten'] == 0 and program['couriers'] == program['marked'] == len(couriers),
      program)
print(f'efficiency: {len(couriers)} couriers for {total} packets = {len(couriers) / total:.3f} '
      f'of what an INT-style export of every packet sends ({total / max(len(couriers), 1):.1f}x fewer)')

# 2b. The same stage hosted by l3fwd, which routes every packet to the same
# port: the TM sees the same packets at the same times, so the couriers must
# be the same, field by field.
big_couriers = couriers
l3fwd = {'tables': {
    'nexthop': [{'key': {'nexthop_id': 1}, 'action': 'forward',
                 'data': {'port': OUT, 'src_mac': '02:00:00:00:05:00',
                          'dst_mac': '02:00:00:00:05:01'}}],
    'ipv4_lpm': [{'key': {'dst_addr': '10.4.0.0/16'}, 'action': 'set_nexthop',
                  'data': {'nexthop_id': 1}}]},
    'burstradar': {'threshold_rtt_fraction': 0.05, 'rtt_us': 25, 'ring_entries': 1000,
                   'monitor_port': MONITOR, 'watch': [OUT]},
    'ports': [ports[0], {'port': MONITOR, 'speed': '100G', 'queue_limit_cells': 20000}]}
stats = run('l3fwd', l3fwd, 'l3fwd')
check('l3fwd hosting the stage sends the same couriers as the burstradar program',
      read_couriers('l3fwd') == big_couriers and
      stats['program']['burstradar']['couriers'] == len(big_couriers),
      stats.get('program'))

# 3. A tiny ring behind a slow monitor port: couriers queue, the ring wraps.
stats, couriers = burstradar(8, '1G', 'tiny')
program = stats['program']
print(f'burstradar, 8-entry ring, 1G monitor: {program}')
check('overwritten entries are counted, and marked = couriers + overwritten',
      program['overwritten'] > 0 and
      program['marked'] == program['couriers'] + program['overwritten'] and
      len(couriers) == program['couriers'] and
      stats['drops'].get('burstradar_overwritten') == program['overwritten'], program)
print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
