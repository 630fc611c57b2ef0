#!/usr/bin/python3
"""softfino-collector --backend soft, live, against an independent requester.

The collector runs on one end of a veth pair (DPDK net_af_packet); this
script is the switch: it gets queue pairs over the TCP/JSON handshake, then
sends RoCEv2 requests built with scapy (BTH and ICRC by scapy.contrib.roce,
RETH/AtomicETH packed here from the IBA layouts) on the other end and reads
the answers. Checked against what IBA says a responder does, with the
region's bytes at exit compared to the memory this script expects:
  WRITE Only and First/Middle/Last land; FETCH_ADD and CMP_SWAP return the
  old value; a duplicate atomic returns the saved value and adds nothing; a
  duplicate WRITE is re-ACKed and not applied; READ comes back in MTU-sized
  First/Middle/Last responses; a bad ICRC, a truncated frame, a gap, a wrong
  rkey, an out-of-bounds address, an unaligned atomic and a WRITE to a
  read-only region change nothing and get the NAK (or silence) IBA names;
  every answer's ICRC is the one scapy computes.
  collector_test.py SOFTFINO_COLLECTOR
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from scapy.all import AsyncSniffer, Ether, IP, UDP, Raw, sendp, raw
from scapy.contrib.roce import BTH, AETH

from live_harness import check, finish, require_root, veth, wait_for_line

collector = sys.argv[1]
require_root()

tag = f'{os.getpid() % 100000}'
host_if, rnic_if = f'sfc{tag}a', f'sfc{tag}b'
work = tempfile.mkdtemp(prefix='collector_test.')
HOST_MAC, HOST_IP, RNIC_IP = '02:00:00:00:00:01', '10.9.0.1', '10.9.0.2'
HOST_QPN, START_PSN, MTU = 0x22, 1000, 1024

veth(host_if, rnic_if)

proc = None
try:
    stats_path, dump_path = f'{work}/stats.json', f'{work}/kw.bin'
    proc = subprocess.Popen(
        [collector, '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0',
         '--log-level=error', f'--file-prefix=collector{tag}',
         f'--vdev=net_af_packet0,iface={rnic_if}', '--',
         '--region', 'kw:64K', '--region', 'ro:4K:r', '--ip', RNIC_IP,
         '--listen', '127.0.0.1:0', '--mtu', str(MTU), '--stats-json', stats_path,
         '--dump-region', f'kw={dump_path}'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m, _ = wait_for_line(proc, r'handshake on 127\.0\.0\.1:(\d+)')
    port = int(m.group(1)) if m else None
    check('collector starts and names its handshake port', port is not None)
    if port is None:
        raise SystemExit(1)

    def handshake(hello):
        with socket.create_connection(('127.0.0.1', port), timeout=5) as s:
            s.sendall((json.dumps(hello) + '\n').encode())
            data = b''
            while not data.endswith(b'\n'):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return json.loads(data)

    hello = {'version': 1, 'qpn': HOST_QPN, 'psn': START_PSN, 'mac': HOST_MAC, 'ip': HOST_IP,
             'region': 'kw'}
    kw = handshake(hello)
    check('handshake gives the region keys', {'rkey', 'iova', 'length', 'qpn'} <= kw.keys(), kw)
    check('handshake confirms the PSN and the MTU', kw.get('psn') == START_PSN and
          kw.get('mtu') == MTU, kw)
    ro = handshake(dict(hello, qpn=HOST_QPN + 1, region='ro'))
    bad = handshake(dict(hello, qpn=HOST_QPN + 2, region='nope'))
    check('an unknown region is refused with the ones there are',
          'error' in bad and 'kw' in bad['error'] and 'ro' in bad['error'], bad)
    rnic_mac = kw['mac']

    answers = []
    sniffer = AsyncSniffer(iface=host_if, store=False,
                           lfilter=lambda p: IP in p and p[IP].src == RNIC_IP,
                           prn=lambda p: answers.append(p))
    sniffer.start()
    time.sleep(0.5)

    def frame(qp, opcode, psn, ext=b'', payload=b'', ackreq=1, icrc=None):
        pad = (4 - len(payload) % 4) % 4
        return (Ether(src=HOST_MAC, dst=rnic_mac) /
                IP(src=HOST_IP, dst=RNIC_IP, flags='DF', id=0) /
                UDP(sport=0xc123, dport=4791, chksum=0) /
                BTH(opcode=opcode, padcount=pad, migreq=1, dqpn=qp['qpn'], ackreq=ackreq,
                    psn=psn, icrc=icrc) /
                Raw(ext + payload + b'\0' * pad))

    def reth(qp, offset, length, rkey=None):
        return struct.pack('!QII', qp['iova'] + offset, qp['rkey'] if rkey is None else rkey,
                           length)

    def atomic(qp, offset, swap_add, compare=0):
        return struct.pack('!QIQQ', qp['iova'] + offset, qp['rkey'], swap_add, compare)

    def exchange(pkt, want, wait=3.0):
        """Sends one frame (bytes or scapy) and returns the answers that came back."""
        before = len(answers)
        sendp(pkt if not isinstance(pkt, bytes) else Raw(pkt), iface=host_if, verbose=False)
        deadline = time.time() + wait
        while len(answers) - before < want and time.time() < deadline:
            time.sleep(0.01)
        if want == 0:
            time.sleep(0.3)  # give a wrong answer time to show up
        return answers[before:]

    def aeth(p):
        return AETH(raw(p[BTH].payload)[:4])

    memory = bytearray(64 * 1024)
    WRITE_FIRST, WRITE_MIDDLE, WRITE_LAST, WRITE_ONLY = 6, 7, 8, 10
    READ_REQ, RR_FIRST, RR_MIDDLE, RR_LAST, ACK, ATOMIC_ACK = 12, 13, 14, 15, 17, 18
    CMP_SWAP, FETCH_ADD = 19, 20
    NAK_SEQ, NAK_INVALID, NAK_ACCESS = 0x60, 0x61, 0x62

    # WRITE Only.
    data = bytes(range(1, 9))
    got = exchange(frame(kw, WRITE_ONLY, 1000, reth(kw, 64, 8), data), 1)
    check('WRITE Only is ACKed', len(got) == 1 and got[0][BTH].opcode == ACK and
          got[0][BTH].psn == 1000 and got[0][BTH].dqpn == HOST_QPN and aeth(got[0]).syndrome >> 5 == 0,
          [g.summary() for g in got])
    memory[64:72] = data

    # WRITE First/Middle/Last, the middle ones a full MTU.
    big = bytes((i * 7) % 251 for i in range(2 * MTU + 100))
    exchange(frame(kw, WRITE_FIRST, 1001, reth(kw, 1000, len(big)), big[:MTU], ackreq=0), 0)
    exchange(frame(kw, WRITE_MIDDLE, 1002, b'', big[MTU:2 * MTU], ackreq=0), 0)
    got = exchange(frame(kw, WRITE_LAST, 1003, b'', big[2 * MTU:]), 1)
    check('WRITE First/Middle/Last is ACKed once, at the Last',
          len(got) == 1 and got[0][BTH].opcode == ACK and got[0][BTH].psn == 1003,
          [g.summary() for g in got])
    memory[1000:1000 + len(big)] = big

    # FETCH_ADD twice, then the second again (a retry): the saved value.
    got = exchange(frame(kw, FETCH_ADD, 1004, atomic(kw, 4096, 5)), 1)
    orig = [struct.unpack('!Q', raw(g[BTH].payload)[4:12])[0] for g in got]
    check('FETCH_ADD returns the old value', len(got) == 1 and got[0][BTH].opcode == ATOMIC_ACK and
          orig == [0], orig)
    got = exchange(frame(kw, FETCH_ADD, 1005, atomic(kw, 4096, 7)), 1)
    check('a second FETCH_ADD sees the first', [struct.unpack('!Q', raw(g[BTH].payload)[4:12])[0]
                                               for g in got] == [5])
    got = exchange(frame(kw, FETCH_ADD, 1005, atomic(kw, 4096, 7)), 1)
    check('a duplicate FETCH_ADD gets the saved value', [struct.unpack(
        '!Q', raw(g[BTH].payload)[4:12])[0] for g in got] == [5])
    got = exchange(frame(kw, CMP_SWAP, 1006, atomic(kw, 4096, 99, 12)), 1)
    check('CMP_SWAP with the right compare value swaps',
          [struct.unpack('!Q', raw(g[BTH].payload)[4:12])[0] for g in got] == [12])
    memory[4096:4104] = struct.pack('<Q', 99)  # host (little-endian) order in memory

    # READ 2000 bytes from where the WRITEs went: First, Middle, Last.
    got = exchange(frame(kw, READ_REQ, 1007, reth(kw, 900, 2000), ackreq=0), 2)
    got = sorted(got, key=lambda p: p[BTH].psn)
    ops = [(g[BTH].opcode, g[BTH].psn) for g in got]
    check('READ of 2000 bytes is answered First/Last at MTU 1024',
          ops == [(RR_FIRST, 1007), (RR_LAST, 1008)], ops)
    payload = b''.join(raw(g[BTH].payload)[4:] for g in got)  # after the AETH
    pads = [g[BTH].padcount for g in got]
    payload = b''.join(raw(g[BTH].payload)[4:len(raw(g[BTH].payload)) - g[BTH].padcount]
                       for g in got)
    check('READ returns the bytes written', payload == bytes(memory[900:2900]),
          f'{len(payload)} bytes, pads {pads}')

    # Refused: bad ICRC (silence), truncated (silence), gap (one NAK), and
    # NAKs for a wrong rkey, out of bounds, an unaligned atomic.
    good = raw(frame(kw, WRITE_ONLY, 1009, reth(kw, 0, 8), b'\xee' * 8))
    flipped = bytearray(good)
    flipped[-6] ^= 1
    check('a bad ICRC gets no answer', exchange(bytes(flipped), 0) == [])
    check('a truncated frame gets no answer', exchange(good[:60], 0) == [])
    got = exchange(frame(kw, WRITE_ONLY, 1011, reth(kw, 0, 8), b'\xee' * 8), 1)
    check('a gap gets a NAK PSN sequence error naming the expected PSN',
          len(got) == 1 and aeth(got[0]).syndrome == NAK_SEQ and got[0][BTH].psn == 1009,
          [(g[BTH].psn, aeth(g).syndrome) for g in got])
    check('the rest of a gap gets no second NAK',
          exchange(frame(kw, WRITE_ONLY, 1012, reth(kw, 0, 8), b'\xee' * 8), 0) == [])
    for name, pkt, syndrome in [
            ('a wrong rkey', frame(kw, WRITE_ONLY, 1009, reth(kw, 0, 8, kw['rkey'] ^ 0x40),
                                   b'\xee' * 8), NAK_ACCESS),
            ('an out-of-bounds WRITE', frame(kw, WRITE_ONLY, 1009, reth(kw, 64 * 1024 - 4, 8),
                                             b'\xee' * 8), NAK_ACCESS),
            ('an unaligned FETCH_ADD', frame(kw, FETCH_ADD, 1009, atomic(kw, 4100, 1)),
             NAK_INVALID),
            ('a WRITE into a read-only region', frame(ro, WRITE_ONLY, START_PSN,
                                                      reth(ro, 0, 8), b'\xee' * 8), NAK_ACCESS)]:
        got = exchange(pkt, 1)
        check(f'{name} gets NAK {syndrome:#x}', len(got) == 1 and aeth(got[0]).syndrome == syndrome,
              [(g[BTH].psn, aeth(g).syndrome) for g in got])

    # A duplicate WRITE (old PSN, other data): re-ACKed, not applied.
    got = exchange(frame(kw, WRITE_ONLY, 1000, reth(kw, 64, 8), b'\xdd' * 8), 1)
    check('a duplicate WRITE is re-ACKed', len(got) == 1 and got[0][BTH].opcode == ACK and
          got[0][BTH].psn == 1008, [(g[BTH].opcode, g[BTH].psn) for g in got])

    # Every answer's ICRC as scapy computes it.
    bad_icrc = 0
    for a in answers:
        rebuilt = a.copy()
        rebuilt[BTH].icrc = None
        if raw(Ether(raw(rebuilt)))[-4:] != raw(a)[-4:]:
            bad_icrc += 1
    check(f'all {len(answers)} answers carry the ICRC scapy computes', bad_icrc == 0 and answers,
          f'{bad_icrc} differ')
    sniffer.stop()

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    check('collector exits cleanly', proc.returncode == 0, proc.stderr.read())
    with open(dump_path, 'rb') as f:
        dumped = f.read()
    diff = [i for i in range(len(memory)) if dumped[i] != memory[i]]
    check('region memory is exactly what the accepted requests wrote',
          len(dumped) == len(memory) and not diff, f'first differing bytes at {diff[:8]}')
    with open(stats_path) as f:
        stats = json.load(f)
    drops = stats['soft_rnic']['drops']
    check('the bad ICRC is counted', drops['bad_icrc'] == 1, drops)
    qp = [q for q in stats['soft_rnic']['qps'] if q['qpn'] == kw['qpn']][0]
    check('the responder counted each outcome',
          qp['psn_sequence_errors'] == 1 and qp['psn_gap_drops'] == 1 and
          qp['unknown_rkey'] == 1 and qp['out_of_bounds'] == 1 and
          qp['misaligned_atomic'] == 1 and qp['duplicate_atomics'] == 1 and
          qp['fetch_adds'] == 2 and qp['compare_swaps'] == 1 and qp['reads'] == 1, qp)
    check('handshakes counted', stats['handshakes']['connected'] == 2 and
          stats['handshakes']['refused'] == 1, stats['handshakes'])
finally:
    if proc and proc.poll() is None:
        proc.kill()
    subprocess.run(['ip', 'link', 'del', host_if], stderr=subprocess.DEVNULL)

finish()
