#!/usr/bin/python3
"""softfino-collector --tea-table, live: the TEA table's memory contract.

The collector hosts two TEA tables on one end of a veth pair; this script
is the control plane (softfino-collector tea ..., the real CLI) and the
switch (RoCEv2 READ/WRITE built with scapy, as collector_test.py does).
Independent of our C++: bucket indexes are zlib.crc32 of the key bytes,
offsets come from the formulas of include/softfino/tea/layout.h written out
here, and the region dump at exit is decoded here. Checks:
  every inserted key is in bucket h or h+1 with its value; a refused insert
  had its whole window full of other keys, and is counted; one READ of the
  window at table_offset + h * bucket_bytes returns the key; remote
  deferral: a WRITE of a packet at row(l, h) + window and one READ of the
  row return [bucket h | bucket h+1 | packet]; shadow rows equal the
  buckets they copy; the layout request agrees with the header.
  tea_collector_test.py SOFTFINO_COLLECTOR
"""
import json
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from scapy.all import AsyncSniffer, Ether, IP, UDP, Raw, sendp, raw
from scapy.contrib.roce import BTH

from live_harness import EAL, check, finish, require_root, veth, wait_for_line

collector = sys.argv[1]
require_root()

tag = f'{os.getpid() % 100000}'
host_if, rnic_if = f'sft{tag}a', f'sft{tag}b'
work = tempfile.mkdtemp(prefix='tea_collector_test.')
HOST_MAC, HOST_IP, RNIC_IP = '02:00:00:00:00:01', '10.9.1.1', '10.9.1.2'
HOST_QPN, START_PSN, MTU = 0x33, 5000, 1024
BUCKETS, PACKET, LANES = 256, 200, 2
FW_BUCKETS, FW_SLOTS = 64, 4
WRITE_ONLY, READ_REQ, RR_ONLY, ACK = 10, 12, 16, 17

veth(host_if, rnic_if)


def h_of(key, buckets):
    return zlib.crc32(key) & (buckets - 1)


def round64(n):
    return (n + 63) // 64 * 64


def decode_entry(b):
    """(occupied, key, value) of a 32-byte entry, as layout.h describes it."""
    return b[24] == 1, bytes(b[:16]), struct.unpack('!Q', b[16:24])[0]


def window_value(window, key):
    for i in range(0, len(window) - 31, 32):
        occupied, k, v = decode_entry(window[i:i + 32])
        if occupied and k == key:
            return v
    return None


proc = None
try:
    stats_path, dump_t, dump_fw = f'{work}/stats.json', f'{work}/t.bin', f'{work}/fw.bin'
    proc = subprocess.Popen(
        [collector, *EAL, f'--file-prefix=teacol{tag}', f'--vdev=net_af_packet0,iface={rnic_if}',
         '--', '--tea-table', f'tea.t:buckets={BUCKETS},packet={PACKET},lanes={LANES}',
         '--tea-table', f'tea.fw:buckets={FW_BUCKETS},slots={FW_SLOTS}', '--ip', RNIC_IP,
         '--listen', '127.0.0.1:0', '--mtu', str(MTU), '--stats-json', stats_path,
         '--dump-region', f'tea.t={dump_t}', '--dump-region', f'tea.fw={dump_fw}'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m, said = wait_for_line(proc, r'handshake on 127\.0\.0\.1:(\d+)')
    check('collector starts with two TEA tables', m is not None, said)
    if m is None:
        raise SystemExit(1)
    port = int(m.group(1))
    connect = f'127.0.0.1:{port}'

    def tea(*args):
        r = subprocess.run([collector, 'tea', *args, '--connect', connect], capture_output=True,
                           text=True, timeout=60)
        return r.returncode, [json.loads(line) for line in r.stdout.splitlines()]

    rc, [layout] = tea('layout', '--table', 'tea.t')
    bucket_bytes, window = layout['bucket_bytes'], layout['window_bytes']
    row_bytes = round64(2 * 32 + PACKET)
    shadow_offset = round64(64 + (BUCKETS + 1) * 32)
    check('layout answers the documented geometry',
          rc == 0 and layout['bucket_count'] == BUCKETS and bucket_bytes == 32 and
          window == 64 and layout['table_offset'] == 64 and
          layout['shadow_offset'] == shadow_offset and layout['shadow_row_bytes'] == row_bytes and
          layout['shadow_lanes'] == LANES and layout['hash'] == 'crc_32', layout)
    rc, answers = tea('layout')
    check('a request without "table" is refused when there are two',
          rc == 2 and 'tea.fw' in answers[0].get('error', ''), answers)

    # Random keys, in bulk through --requests; some windows fill up.
    rng = random.Random(4)
    keys = [bytes(rng.getrandbits(8) for _ in range(16)) for _ in range(170)]
    values = {k: rng.getrandbits(64) for k in keys}
    with open(f'{work}/inserts.jsonl', 'w') as f:
        for k in keys:
            f.write(json.dumps({'op': 'insert', 'table': 'tea.t', 'key': k.hex(),
                                'value': f'0x{values[k]:x}'}) + '\n')
    rc, answers = tea('insert', '--requests', f'{work}/inserts.jsonl')
    present, refused, placed, window_full = {}, [], {}, True
    for k, a in zip(keys, answers):
        h = h_of(k, BUCKETS)
        if 'error' in a:
            refused.append((k, a['error']))
            # No deletes yet: the earlier keys' buckets must cover the window.
            window_full &= {h, h + 1} <= set(placed.values())
        else:
            present[k] = values[k]
            placed[k] = a.get('bucket')
            if a['h'] != h or a['bucket'] not in (h, h + 1):
                check(f'insert of {k.hex()} lands in h or h+1 (h = {h})', False, a)
    check(f'{len(present)} inserts placed, {len(refused)} refused for a full window',
          len(answers) == len(keys) and refused and present and window_full and
          all('probe window' in e for _, e in refused), refused[:2])

    # A 5-tuple key through the CLI, in the fixed form.
    tuple_key = struct.pack('!IIHHB3x', 0x0a000001, 0xc0a80102, 1234, 80, 6)
    rc, answers = tea('insert', '--table', 'tea.t', '--tuple', '10.0.0.1,192.168.1.2,1234,80,6',
                      '--value', '0xc0a80001abcd0000', '--replace')
    if rc == 0:
        present[tuple_key] = 0xc0a80001abcd0000
    check('a 5-tuple insert lands in its window',
          rc == 0 and answers[0]['h'] == h_of(tuple_key, BUCKETS), answers)
    rc, answers = tea('lookup', '--table', 'tea.t', '--key', tuple_key.hex())
    check('lookup by hex finds the 5-tuple key',
          rc == 0 and answers[0]['found'] and answers[0]['value_hex'] == '0xc0a80001abcd0000',
          answers)

    # Deletes.
    gone = list(present)[:20]
    with open(f'{work}/deletes.jsonl', 'w') as f:
        for k in gone:
            f.write(json.dumps({'op': 'delete', 'table': 'tea.t', 'key': k.hex()}) + '\n')
    rc, answers = tea('delete', '--requests', f'{work}/deletes.jsonl')
    check('deletes succeed', rc == 0 and all(a.get('deleted') for a in answers), answers[:2])
    for k in gone:
        del present[k]
    rc, answers = tea('delete', '--table', 'tea.t', '--key', gone[0].hex())
    check('deleting an absent key is refused', rc == 2 and 'not present' in answers[0]['error'])

    # The fw table: 4 slots a bucket, window 256 bytes.
    fw_keys = [bytes(rng.getrandbits(8) for _ in range(16)) for _ in range(60)]
    with open(f'{work}/fw.jsonl', 'w') as f:
        for i, k in enumerate(fw_keys):
            f.write(json.dumps({'op': 'insert', 'table': 'tea.fw', 'key': k.hex(), 'value': i}) +
                    '\n')
    rc, answers = tea('insert', '--requests', f'{work}/fw.jsonl')
    fw_present = {k: i for i, (k, a) in enumerate(zip(fw_keys, answers)) if 'error' not in a}
    check('fw table (4 slots) takes the keys', len(fw_present) >= 55, answers[:3])

    # The switch: a queue pair on tea.t, then READs.
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

    qp = handshake({'version': 1, 'qpn': HOST_QPN, 'psn': START_PSN, 'mac': HOST_MAC,
                    'ip': HOST_IP, 'region': 'tea.t'})
    check('queue pair on tea.t, with the layout\'s rkey and iova',
          qp.get('rkey') == layout['rkey'] and qp.get('iova') == layout['iova'], qp)
    answers_rx = []
    sniffer = AsyncSniffer(iface=host_if, store=False,
                           lfilter=lambda p: IP in p and p[IP].src == RNIC_IP,
                           prn=lambda p: answers_rx.append(p))
    sniffer.start()
    time.sleep(0.5)
    psn = START_PSN

    def request(opcode, offset, length, payload=b''):
        global psn
        pad = (4 - len(payload) % 4) % 4
        pkt = (Ether(src=HOST_MAC, dst=qp['mac']) / IP(src=HOST_IP, dst=RNIC_IP, flags='DF', id=0) /
               UDP(sport=0xc123, dport=4791, chksum=0) /
               BTH(opcode=opcode, padcount=pad, migreq=1, dqpn=qp['qpn'], ackreq=1, psn=psn) /
               Raw(struct.pack('!QII', qp['iova'] + offset, qp['rkey'], length) + payload +
                   b'\0' * pad))
        psn += 1
        before = len(answers_rx)
        sendp(pkt, iface=host_if, verbose=False)
        deadline = time.time() + 3
        while len(answers_rx) == before and time.time() < deadline:
            time.sleep(0.01)
        got = answers_rx[before:]
        if len(got) != 1:
            return None, None
        body = raw(got[0][BTH].payload)
        return got[0][BTH].opcode, body[4:len(body) - got[0][BTH].padcount]  # after the AETH

    sample = list(present)[:25]
    found = 0
    for k in sample:
        op, data = request(READ_REQ, 64 + h_of(k, BUCKETS) * 32, 64)
        if op == RR_ONLY and len(data) == 64 and window_value(data, k) == present[k]:
            found += 1
    check(f'one 64-byte READ at 64 + 32 h finds each of {len(sample)} keys', found == len(sample),
          f'{found} found')
    op, data = request(READ_REQ, 64 + h_of(gone[1], BUCKETS) * 32, 64)
    check('a deleted key is not in its window',
          op == RR_ONLY and window_value(data, gone[1]) is None)

    # Remote deferral on lane 1 of a present key's row.
    k = sample[0]
    h = h_of(k, BUCKETS)
    row = shadow_offset + (1 * BUCKETS + h) * row_bytes
    packet = bytes(rng.getrandbits(8) for _ in range(150))
    op, _ = request(WRITE_ONLY, row + 64, len(packet), packet)
    check('the deferred packet WRITE is ACKed', op == ACK)
    op, data = request(READ_REQ, row, 64 + len(packet))
    check('one READ of the shadow row returns buckets h, h+1 then the packet',
          op == RR_ONLY and window_value(data[:64], k) == present[k] and data[64:] == packet,
          f'op {op}, {len(data or b"")} bytes')
    sniffer.stop()

    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    check('collector exits cleanly', proc.returncode == 0, proc.stderr.read())

    # The dump, decoded here.
    mem = open(dump_t, 'rb').read()
    hdr = struct.unpack('<8sIIQQQIIIIII', mem[:64])
    check('header as documented',
          hdr == (b'SFTEATB1', 1, 32, BUCKETS, 64, shadow_offset, row_bytes, PACKET, LANES, 16, 8,
                  1),
          hdr)
    occupied = {}
    misplaced = []
    for b in range(BUCKETS + 1):
        ok, key, value = decode_entry(mem[64 + 32 * b:96 + 32 * b])
        if ok:
            occupied[key] = value
            if (b not in (h_of(key, BUCKETS), h_of(key, BUCKETS) + 1) or
                    placed.get(key, b) != b):
                misplaced.append(b)
    check('the table holds exactly the present keys and values, each in h or h+1',
          occupied == present and not misplaced, f'{len(occupied)} vs {len(present)}, '
          f'misplaced {misplaced[:4]}')
    stale = [(lane, hh) for lane in range(LANES) for hh in range(BUCKETS)
             if mem[shadow_offset + (lane * BUCKETS + hh) * row_bytes:][:64] !=
             mem[64 + 32 * hh:128 + 32 * hh]]
    check('every shadow row copies buckets h and h+1', not stale, stale[:4])
    check('the deferred packet is still in its row',
          mem[row + 64:row + 64 + len(packet)] == packet)

    fw = open(dump_fw, 'rb').read()
    fw_occupied = {}
    for b in range(FW_BUCKETS + 1):
        for s in range(FW_SLOTS):
            at = 64 + b * 32 * FW_SLOTS + 32 * s
            ok, key, value = decode_entry(fw[at:at + 32])
            if ok and b in (h_of(key, FW_BUCKETS), h_of(key, FW_BUCKETS) + 1):
                fw_occupied[key] = value
    check('fw table (4 slots): every key in bucket h or h+1', fw_occupied == fw_present)

    stats = json.load(open(stats_path))
    t = stats['tea']['tea.t']
    check('insert failures and deletes are counted',
          t['insert_failures'] == len(refused) and t['deletes'] == len(gone) and
          t['entries'] == len(present) and t['delete_misses'] == 1, t)
finally:
    if proc and proc.poll() is None:
        proc.kill()
    subprocess.run(['ip', 'link', 'del', host_if], stderr=subprocess.DEVNULL)

finish()
