#!/usr/bin/python3
"""End to end: softfino's rdma_probe writes, reads and fetch-adds into a
softfino-collector --backend soft over a lossy link, and everything lands
exactly once.

  scapy --veth-- softfino (rdma_probe) --veth-- softfino-collector
                                                  (own network namespace,
                                                   handshake over a third veth)

The switch connects its queue pair over the TCP/JSON handshake at start.
This script sends commands (WRITE 8 bytes, READ, FETCH_ADD) to the switch's
command port; the program turns each into one RDMA request, with every k-th
request and every k-th answer thrown away (drop_every), so the collector
NAKs gaps and the requester resends from its window (carried by answers and
by "tick" commands, spare packets standing in for timer packets). The truth
is computed here from the commands alone:
  - the collector's memory at exit holds every WRITE's bytes, and the
    counter the sum of all FETCH_ADDs (one lost or doubled would show);
  - each FETCH_ADD's result is the running sum before it, in command order;
  - each READ returns the bytes written before it.

With `relay` instead of DROP_EVERY the program throws nothing away: the
link to the collector itself is lossy (lossy_relay.py: 5% of frames lost,
3% duplicated, 5% reordered, each direction), and the counters explain
every frame: what the relay took in and put out per direction matches the
switch's port and the collector's soft RNIC, and each frame the collector
got was applied, re-answered as a duplicate, NAKed as a sequence error or
dropped behind one, or refused (the out-of-bounds WRITE), by its counters.
  rdma_e2e_test.py SOFTFINO SOFTFINO_COLLECTOR [DROP_EVERY | relay]
"""
import json
import os
import random
import signal
import struct
import sys
import tempfile
import time

from scapy.all import AsyncSniffer, Ether, IP, UDP, Raw, sendp, raw

from live_harness import CollectorTestbed, check, finish, require_root, start_program

softfino, collector = sys.argv[1], sys.argv[2]
relay = len(sys.argv) > 3 and sys.argv[3] == 'relay'
drop_every = 0 if relay else int(sys.argv[3]) if len(sys.argv) > 3 else 7
require_root()

work = tempfile.mkdtemp(prefix='rdma_e2e.')
bed = (CollectorTestbed('sfF', relay=(0.05, 0.03, 0.05, 17, f'{work}/relay'), ctl_net=213)
       if relay else CollectorTestbed('sfe'))
REGION = 64 * 1024
N_WRITES, N_ADDS, N_READS = 200, 100, 40


try:
    bed.up()
    dump = f'{work}/region.bin'
    port = bed.start_collector(collector, [
        '--region', f'kw:{REGION}', '--stats-json', f'{work}/collector.json',
        '--dump-region', f'kw={dump}'])
    if port is None:
        raise SystemExit(1)

    config = {
        'rdma': {'connections': [{'name': 'collector', 'collector': f'{bed.handshake_ip()}:{port}',
                                  'region': 'kw', 'port': 1, 'ip': '10.9.2.1',
                                  'mac': '02:00:00:00:02:01'}]},
        'probe': {'command_port': 0, 'drop_every': drop_every, 'timeout_us': 3000},
        # Timer packets every millisecond: resends need no command to carry them.
        'pktgen': [{'app': 0, 'period_us': 1000}],
    }
    sw = start_program(bed, softfino, 'rdma_probe', config, work)
    if sw is None:
        raise SystemExit(1)
    col = bed.collector

    results = {}
    reads = {}

    def on_result(p):
        data = raw(p[UDP].payload)
        kind, syndrome, cookie, offset, length, value = struct.unpack('!BBxxIIIQ', data[:24])
        if kind == 1:
            reads.setdefault(cookie, {})[offset] = data[24:24 + length]
        else:
            results.setdefault(cookie, []).append((kind, syndrome, value))

    sniffer = AsyncSniffer(iface=bed.host, store=False,
                           lfilter=lambda p: UDP in p and p[UDP].dport == 4793, prn=on_result)
    sniffer.start()
    time.sleep(0.5)

    def command(op, cookie, offset=0, value=0, length=0):
        return (Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02') /
                IP(src='192.168.1.1', dst='192.168.1.2') / UDP(sport=4792, dport=4792) /
                Raw(struct.pack('!BxxxIQQI', op, cookie, offset, value, length)))

    rng = random.Random(5)
    memory = bytearray(REGION)
    frames, expect_add, expect_read = [], {}, {}
    running = 0
    cookie = 0
    # Writes to [8, 8 + 8 * N_WRITES), FETCH_ADDs on [0, 8), READs of what
    # the writes left, each after the writes it reads.
    plan = ['w'] * N_WRITES + ['a'] * N_ADDS
    rng.shuffle(plan)
    plan += ['r'] * N_READS
    for op in plan:
        cookie += 1
        if op == 'w':
            offset = 8 + 8 * (cookie % N_WRITES)
            value = rng.getrandbits(64)
            memory[offset:offset + 8] = struct.pack('!Q', value)  # the bytes as sent
            frames.append(command(1, cookie, offset, value))
        elif op == 'a':
            add = rng.randrange(1, 1000)
            expect_add[cookie] = running
            running += add
            frames.append(command(3, cookie, 0, add))
        else:
            offset = 8 + 8 * rng.randrange(0, N_WRITES - 100)
            expect_read[cookie] = bytes(memory[offset:offset + 600])
            frames.append(command(2, cookie, offset, 0, 600))

    def answered(c):
        if c in expect_add:
            return c in results
        if c in expect_read:
            return sum(len(v) for v in reads.get(c, {}).values()) >= 600
        return True

    # In batches of 16 (no more than the requester's window and its limit
    # of 16 READs and atomics outstanding, so no command is refused), each waited for until its FETCH_ADDs
    # and READs are answered; ticks carry resends meanwhile.
    cookies = list(range(1, len(frames) + 1))
    # A batch goes out in one sendp, back to back: the request after a
    # dropped one must reach the collector before the dropped one's 3 ms
    # timeout resends it, or the collector sees no gap to NAK. (One sendp
    # per frame, a socket opened each time, spaced them by milliseconds;
    # on a faster machine the resends then always came first.)
    for start in range(0, len(frames), 16):
        sendp(frames[start:start + 16], iface=bed.host, verbose=False)
        deadline = time.time() + float(os.environ.get('E2E_BATCH_WAIT', '20'))
        while time.time() < deadline and not all(answered(c)
                                                 for c in cookies[start:start + 16]):
            sendp(command(0, 0), iface=bed.host, verbose=False)
            time.sleep(0.005)
    def await_result(c):
        deadline = time.time() + 20
        while time.time() < deadline and c not in results:
            sendp(command(0, 0), iface=bed.host, verbose=False)
            time.sleep(0.005)
        return results.get(c)

    # A refused request: a WRITE past the region's end is NAKed (remote
    # access error) and comes back as an error result; the queue pair is then
    # in the error state, as an RC QP is, and refuses further commands (a
    # FETCH_ADD barrier first, so nothing waits behind the refused one).
    cookie += 1
    expect_add[cookie] = running
    running += 5
    sendp(command(3, cookie, 0, 5), iface=bed.host, verbose=False)
    await_result(cookie)
    cookie += 1
    refused = cookie
    sendp(command(1, refused, REGION, 1), iface=bed.host, verbose=False)
    check('a WRITE out of bounds comes back as an error result (NAK remote access error)',
          await_result(refused) == [(3, 0x62, 0)], results.get(refused))
    cookie += 1
    after = cookie
    sendp(command(3, after, 0, 7), iface=bed.host, verbose=False)
    time.sleep(0.3)
    memory[0:8] = struct.pack('<Q', running)  # host order, as a NIC leaves it

    # The last WRITEs: ticks until their resends, if any, are through.
    for _ in range(50):
        sendp(command(0, 0), iface=bed.host, verbose=False)
        time.sleep(0.01)
    sniffer.stop()

    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    col.send_signal(signal.SIGTERM)
    col.wait(timeout=30)
    links = bed.stop_relays() if relay else []
    check('both exit cleanly', sw.returncode == 0 and col.returncode == 0,
          f'switch {sw.returncode}, collector {col.returncode}')

    got_adds = {c: results.get(c) for c in expect_add}
    wrong = {c: (got_adds[c], expect_add[c]) for c in expect_add
             if got_adds[c] is None or got_adds[c][0] != (2, 0, expect_add[c])}
    check(f'each of {N_ADDS} FETCH_ADDs returned the running sum before it', not wrong,
          list(wrong.items())[:5])
    bad_reads = [c for c in expect_read
                 if b''.join(reads.get(c, {}).get(o, b'') for o in sorted(reads.get(c, {})))
                 != expect_read[c]]
    check(f'each of {N_READS} READs returned what was written before it', not bad_reads,
          bad_reads[:5])
    errors = {c: r for c, r in results.items() if c != refused and any(k == 3 for k, _, _ in r)}
    check('no request failed', not errors, list(errors.items())[:5])
    with open(dump, 'rb') as f:
        region = f.read()
    diff = [i for i in range(REGION) if region[i] != memory[i]]
    check('collector memory holds every WRITE once and the sum of every FETCH_ADD',
          not diff, f'{len(diff)} bytes differ, first at {diff[:4]}')
    with open(f'{work}/switch.json') as f:
        switch_stats = json.load(f)
    with open(f'{work}/collector.json') as f:
        col_stats = json.load(f)
    drops = switch_stats.get('drops', {})
    qp = col_stats['soft_rnic']['qps'][0]
    print(f'switch drops: {drops}')
    print(f'collector QP: {qp}')
    print(f"switch program: {switch_stats.get('program')}")
    if relay:
        to_col = links[0][f'{bed.relay_a[0]}->{bed.relay_b[0]}']
        to_sw = links[0][f'{bed.relay_b[0]}->{bed.relay_a[0]}']
        print(f'relay: to the collector {to_col}, to the switch {to_sw}')
        port1 = switch_stats['ports'][1]
        rnic = col_stats['soft_rnic']
        check('the relay lost, duplicated and reordered frames both ways',
              all(d['dropped'] > 0 and d['duplicated'] > 0 and d['reordered'] > 0
                  for d in (to_col, to_sw)), (to_col, to_sw))
        check('each direction: out = in - lost + duplicated',
              all(d['out'] == d['in'] - d['dropped'] + d['duplicated'] for d in (to_col, to_sw)),
              (to_col, to_sw))
        check('what the switch sent is what the relay took in; what it put out, the collector '
              'got', port1['tx_packets'] == to_col['in'] and rnic['frames'] == to_col['out'],
              (port1['tx_packets'], rnic['frames'], to_col))
        check('what the collector answered is what the relay took in; what it put out, the '
              'switch got', rnic['answers'] == to_sw['in'] and port1['rx_packets'] == to_sw['out'],
              (rnic['answers'], port1['rx_packets'], to_sw))
        fates = ['write_packets', 'reads', 'fetch_adds', 'compare_swaps', 'duplicates',
                 'psn_sequence_errors', 'psn_gap_drops', 'unknown_rkey', 'out_of_bounds',
                 'access_denied', 'misaligned_atomic', 'bad_length', 'bad_opcode_sequence',
                 'unsupported_opcode', 'not_a_request']
        explained = sum(qp[f] for f in fates) + sum(rnic['drops'].values())
        check('every frame the collector got has one fate in its counters',
              explained == rnic['frames'], (explained, rnic['frames'], rnic['drops']))
    else:
        check('loss was injected', drops.get('injected_loss', 0) > 0, drops)
    check('a command after the refused one is refused: the queue pair is in the error state',
          after not in results and drops.get('rdma_qp_error', 0) >= 1, drops)
    check('timer packets arrived (real-time packet generator)',
          switch_stats['totals']['generated'] > 0, switch_stats['totals'])
    check('the collector saw gaps and duplicates and NAKed them',
          qp['psn_sequence_errors'] > 0 and qp['duplicates'] > 0, qp)
    t = switch_stats['totals']
    check('the switch\'s counters explain every packet: received + copies + generated = '
          'forwarded + dropped, dropped = sum by reason',
          t['received'] + t['copies'] + t['generated'] == t['forwarded'] + t['dropped'] and
          t['dropped'] == sum(drops.values()), t)
finally:
    bed.down()

finish()
