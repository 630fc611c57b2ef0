#!/usr/bin/python3
"""Writes the seed corpus of every fuzzer (test/fuzz/corpus/<target>/seed_*).

Seeds are small valid inputs (and a few near misses) built here from the
wire formats, independently of softfino's own builders; RoCEv2 ICRCs come
from scapy (scapy.contrib.roce). Run it again after a format changes; files
libFuzzer added to the corpus are left alone.
"""
import json
import os
import struct
import sys

sys.path.insert(0, '/usr/lib/python3/dist-packages')
from scapy.all import Ether  # noqa: E402
from scapy.contrib.roce import BTH  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, 'corpus')

MAC_A = bytes.fromhex('020000000001')
MAC_B = bytes.fromhex('020000000002')


def ip4(text):
    return bytes(int(x) for x in text.split('.'))


def csum(data):
    if len(data) % 2:
        data += b'\0'
    s = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(payload, ethertype=0x0800, vlan=None):
    hdr = MAC_B + MAC_A
    if vlan is not None:
        hdr += struct.pack('!HH', 0x8100, vlan)
    return hdr + struct.pack('!H', ethertype) + payload


def ipv4(payload, src='10.0.0.1', dst='10.0.0.2', proto=17, options=b'', flags=0x4000):
    ihl = 5 + len(options) // 4
    hdr = struct.pack('!BBHHHBBH4s4s', 0x40 | ihl, 0, ihl * 4 + len(payload), 0, flags, 64,
                      proto, 0, ip4(src), ip4(dst)) + options
    hdr = hdr[:10] + struct.pack('!H', csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(payload, nh=17):
    return struct.pack('!IHBB', 6 << 28, len(payload), nh, 64) + bytes(15) + b'\1' + \
        bytes(15) + b'\2' + payload


def udp(payload, dport, sport=12345):
    return struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'seed_' + name), 'wb') as f:
        f.write(data)


# --- packets ---------------------------------------------------------------

def parse_l3():
    frames = {
        'ipv4_udp': eth(ipv4(udp(b'hello', 53))),
        'ipv4_options': eth(ipv4(udp(b'x' * 20, 80), options=b'\x01\x01\x01\x00')),
        'ipv4_padded': eth(ipv4(b'')) + bytes(26),
        'ipv6_udp': eth(ipv6(udp(b'hello6', 53)), 0x86dd),
        'arp': eth(bytes(28), 0x0806),
        'ipv4_bad_checksum': eth(ipv4(udp(b'a', 1))[:10] + b'\0\0' + ipv4(udp(b'a', 1))[12:]),
    }
    for name, f in frames.items():
        write('fuzz_parse_l3', name, b'\0' + f)
    # The first segment holds the headers only, as in a chained jumbo frame.
    write('fuzz_parse_l3', 'ipv4_chained', bytes([34]) + eth(ipv4(udp(bytes(1400), 9))))


def dta():
    def report(opcode, prim, form=3, seq=7, flags=0x80, vlan=None):
        base = bytes([opcode, seq, flags]) if form == 3 else bytes([opcode, flags])
        return eth(ipv4(udp(base + prim, 40040, 40040)), vlan=vlan)
    seeds = {
        'keywrite': report(1, struct.pack('!BII', 2, 0xdeadbeef, 42)),
        'append': report(2, struct.pack('!II', 3, 99)),
        'keyincrement': report(3, struct.pack('!BIQ', 2, 1234, 1 << 40)),
        'postcard': report(4, struct.pack('!IBI', 77, 3, 5)),
        'keywrite_2byte': report(1, struct.pack('!BII', 1, 1, 2), form=2),
        'postcard_vlan': report(4, struct.pack('!IBI', 1, 1, 1), vlan=0x2064),
        'bad_redundancy': report(1, struct.pack('!BII', 9, 1, 2)),
        'nack': eth(ipv4(udp(bytes([5, 0x80]), 40044, 40040))),
    }
    for name, f in seeds.items():
        write('fuzz_dta_report', name, f)


def courier():
    entry = struct.pack('!IIIHHBxHIIIIH2x', 9, 0x0a000001, 0x0a000002, 1000, 2000, 6, 3,
                        100, 900, 12, 4, 1500)
    assert len(entry) == 40
    write('fuzz_courier', 'entry', eth(ipv4(udp(entry, 9393))))
    write('fuzz_courier', 'entry_vlan', eth(ipv4(udp(entry, 9393)), vlan=5))
    write('fuzz_courier', 'truncated', eth(ipv4(udp(entry[:20], 9393))))
    write('fuzz_courier', 'other_udp', eth(ipv4(udp(entry, 53))))


def programs():
    def chunks(*frames):
        return b''.join(struct.pack('<H', len(f)) + f for f in frames)

    def tcp(dport, sport=40000, flags=0x18, seq=1, payload=b'data'):
        return struct.pack('!HHIIBBHHH', sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + \
            payload
    v4 = eth(ipv4(udp(b'x' * 64, 9000), dst='10.1.2.3'))
    v6 = eth(ipv6(udp(b'y' * 64, 9000)), 0x86dd)
    flows = [eth(ipv4(tcp(80, 40000 + i, seq=i * 100), src='10.1.0.%d' % i, dst='10.2.0.9',
                      proto=6)) for i in range(1, 5)]
    # Byte 0: the program (fuzz_program.cpp's kPrograms order), byte 1: ingress port.
    write('fuzz_program', 'l3fwd', b'\0\0' + chunks(v4, v6, v4[:30], *flows))
    write('fuzz_program', 'tm_probe', b'\1\0' + chunks(v4, v4, v6))
    fates = [eth(ipv4(udp(b'f' * 32, port))) for port in (1001, 2001, 3001, 4001, 5001, 6001)]
    write('fuzz_program', 'packet_fates', b'\2\0' + chunks(*fates))
    write('fuzz_program', 'burstradar', b'\3\0' + chunks(*(flows * 6)))
    write('fuzz_program', 'dta_reporter', b'\4\0' + chunks(*flows, eth(ipv4(udp(b'u', 53)))))


# RoCEv2 RC opcodes (IBA table 38).
WRITE_FIRST, WRITE_MIDDLE, WRITE_LAST, WRITE_ONLY, WRITE_ONLY_IMM = 0x06, 0x07, 0x08, 0x0a, 0x0b
SEND_ONLY, READ_REQ, READ_RESP_ONLY, ACK, ATOMIC_ACK = 0x04, 0x0c, 0x10, 0x11, 0x12
CMP_SWAP, FETCH_ADD = 0x13, 0x14


def roce(opcode, psn, ext=b'', payload=b'', qpn=0x11, ackreq=True, src='10.0.0.1',
         dst='10.0.0.2', vlan=None):
    pad = -len(payload) % 4
    bth = struct.pack('!BBHBBBB', opcode, 0x40 | pad << 4, 0xffff, 0, qpn >> 16,
                      (qpn >> 8) & 0xff, qpn & 0xff)
    bth += struct.pack('!I', (0x80000000 if ackreq else 0) | psn)
    body = bth + ext + payload + bytes(pad) + bytes(4)
    frame = eth(ipv4(udp(body, 4791, 0xc000), src=src, dst=dst), vlan=vlan)
    icrc = BTH.compute_icrc(Ether(frame)[BTH], None)
    return frame[:-4] + icrc


def reth(vaddr, rkey, length):
    return struct.pack('!QII', vaddr, rkey, length)


def atomic_eth(vaddr, rkey, swap_add, compare=0):
    return struct.pack('!QIQQ', vaddr, rkey, swap_add, compare)


def roce_seeds():
    frames = {
        'write_only': roce(WRITE_ONLY, 0, reth(0x10040, 0, 32), bytes(range(32))),
        'write_only_imm': roce(WRITE_ONLY_IMM, 0, reth(0x10000, 0, 5) + b'\0\0\0\1', b'abcde'),
        'write_first': roce(WRITE_FIRST, 0, reth(0x10000, 0, 600), bytes(256), qpn=0x12,
                            ackreq=False),
        'write_middle': roce(WRITE_MIDDLE, 1, b'', bytes(256), qpn=0x12, ackreq=False),
        'write_last': roce(WRITE_LAST, 2, b'', bytes(88), qpn=0x12),
        'read': roce(READ_REQ, 0, reth(0x10000, 0, 2048)),
        'fetch_add': roce(FETCH_ADD, 0, atomic_eth(0x40000, 3, 5)),
        'cmp_swap': roce(CMP_SWAP, 1, atomic_eth(0x40008, 3, 9, 0)),
        'send': roce(SEND_ONLY, 0, b'', b'hi'),
        'ack': roce(ACK, 3, struct.pack('!I', 0x1f000001)),
        'nak': roce(ACK, 3, struct.pack('!I', 0x60000001)),
        'read_response': roce(READ_RESP_ONLY, 0, struct.pack('!I', 0x1f000001), bytes(64)),
        'atomic_ack': roce(ATOMIC_ACK, 0, struct.pack('!IQ', 0x1f000001, 7)),
        'write_vlan': roce(WRITE_ONLY, 0, reth(0x10000, 0, 4), b'abcd', vlan=3),
    }
    for name, f in frames.items():
        write('fuzz_roce_parser', name, f)

    def rnic(*frames_):
        return b'\0' + b''.join(struct.pack('<H', len(f)) + f for f in frames_)
    f = frames
    sequences = {
        'write_only': rnic(f['write_only']),
        'write_multi': rnic(f['write_first'], f['write_middle'], f['write_last']),
        'read': rnic(f['read']),
        'atomics_and_duplicate': rnic(f['fetch_add'], f['cmp_swap'], f['fetch_add']),
        'write_read_only_region': rnic(roce(WRITE_ONLY, 0, reth(0x20000, 1, 8), bytes(8))),
        'read_read_only_region': rnic(roce(READ_REQ, 0, reth(0x20000, 1, 512))),
        'write_write_only_region': rnic(roce(WRITE_ONLY, 0, reth(0x30000, 2, 256), bytes(256))),
        'write_out_of_bounds': rnic(roce(WRITE_ONLY, 0, reth(0x10ff0, 0, 32), bytes(32))),
        'psn_gap_then_resync': rnic(roce(WRITE_ONLY, 5, reth(0x10000, 0, 4), b'late'),
                                    f['write_only']),
        'duplicate_write': rnic(f['write_only'], f['write_only']),
        'misaligned_atomic': rnic(roce(FETCH_ADD, 0, atomic_eth(0x40004, 3, 1))),
        'wrong_peer': rnic(roce(WRITE_ONLY, 0, reth(0x10000, 0, 4), b'evil', src='10.6.6.6')),
        'bad_icrc': b'\1' + rnic(f['write_only'])[1:],
    }
    for name, data in sequences.items():
        write('fuzz_soft_rnic', name, data)


# --- control, text and config inputs ---------------------------------------

def control():
    requests = [
        {'id': 1, 'cmd': 'help'},
        {'id': 2, 'cmd': 'help', 'args': {'command': 'table_add'}},
        {'id': 3, 'cmd': 'table_dump', 'args': {'table': 'ipv4_lpm'}},
        {'id': 4, 'cmd': 'table_add', 'args': {'table': 'ipv4_lpm', 'entry': {
            'key': {'dst_addr': '10.1.0.0/16'}, 'action': 'set_nexthop',
            'data': {'nexthop_id': 1}}}},
        {'id': 5, 'cmd': 'table_delete', 'args': {'table': 'ipv4_lpm', 'entry': {
            'key': {'dst_addr': '10.0.0.0/8'}}}},
        {'id': 6, 'cmd': 'table_batch', 'args': {'ops': [
            {'op': 'modify', 'table': 'nexthop', 'entry': {
                'key': {'nexthop_id': 1}, 'action': 'forward',
                'data': {'port': 2, 'src_mac': '02:00:00:00:02:00',
                         'dst_mac': '02:00:00:00:02:01'}}}]}},
        {'id': 7, 'cmd': 'table_clear', 'args': {'table': 'ipv4_lpm'}},
        {'id': 8, 'cmd': 'trigger_add', 'args': {
            'trigger': 'lossy: filter src=10.1.0.0/16 group 5tuple every 10ms '
                       'when lost/packets > 10%'}},
        {'id': 9, 'cmd': 'trigger_list'},
        {'id': 10, 'cmd': 'trigger_del', 'args': {'name': 'heavy'}},
        {'id': 'x', 'cmd': 'events', 'args': {'since': 0, 'max': 10}},
    ]
    for r in requests:
        write('fuzz_control', 'req%s' % r['id'], json.dumps(r).encode())
    write('fuzz_control', 'session',
          '\n'.join(json.dumps(r) for r in requests).encode())
    write('fuzz_control', 'not_json', b'{"id": 1, "cmd": ')
    write('fuzz_control', 'deep', b'[' * 100 + b']' * 100)


def control_framing():
    def chunks(*pieces):
        return b''.join(struct.pack('<H', len(x)) + x for x in pieces)
    help_ = b'{"id": 1, "cmd": "help"}\n'
    echo = b'{"id": 2, "cmd": "echo", "args": {"a": [1, 2, 3]}}\n'
    write('fuzz_control_framing', 'two_lines', chunks(help_ + echo))
    write('fuzz_control_framing', 'split_line', chunks(echo[:10], echo[10:30], echo[30:]))
    write('fuzz_control_framing', 'blank_and_crlf', chunks(b'\n  \r\n' + help_[:-1] + b'\r\n'))
    write('fuzz_control_framing', 'no_final_newline', chunks(help_ + echo[:-1]))
    write('fuzz_control_framing', 'too_long', chunks(help_ + b'{"id": 3, "x": "' + b'a' * 300))
    write('fuzz_control_framing', 'many', chunks(help_ * 12))


def triggers():
    lines = [
        'heavy: filter dst=10.9.0.0/16 proto=tcp group src/24 every 10ms when bytes > 100000',
        'lossy: filter src=10.1.0.0/16 group 5tuple every 10ms when lost/packets > 10%',
        'all:   filter * group dst every 1ms when packets >= 1000',
        'ports: filter sport=80 dport=1024/6 proto=17 group dport/8 every 2s when bursts < 3',
    ]
    write('fuzz_trigger', 'file', ('# triggers\n\n' + '\n'.join(lines) + '\n').encode())
    for i, line in enumerate(lines):
        write('fuzz_trigger', 'line%d' % i, line.encode())
    write('fuzz_trigger', 'json', json.dumps({
        'name': 'lossy', 'filter': {'src': '10.1.0.0/16'}, 'group': ['5tuple'],
        'every': '10ms', 'when': 'lost/packets > 10%'}).encode())
    write('fuzz_trigger', 'json_group', json.dumps({
        'name': 'g', 'filter': {}, 'group': {'src': 24, 'dport': 16},
        'every': '1s', 'when': 'packets <= 5'}).encode())


def configs():
    def cfg(path):
        with open(os.path.join(REPO, path), 'rb') as f:
            return f.read()
    l3fwd = cfg('test/program/l3fwd_test_config.json')
    fates = cfg('pipelines/packet_fates/config/default.json')
    tm = cfg('pipelines/tm_probe/config/default.json')
    # fuzz_table_config: first byte picks the program (its kPrograms order).
    write('fuzz_table_config', 'l3fwd', b'\0' + l3fwd)
    write('fuzz_table_config', 'l3fwd_default', b'\0' + cfg('pipelines/l3fwd/config/default.json'))
    write('fuzz_table_config', 'l3fwd_trumpet', b'\0' + json.dumps({
        'tables': {'ipv4_lpm': []}, 'trumpet': {'flows': 1024, 'epoch_us': 1000, 'triggers': [
            'all: filter * group dst every 1ms when packets >= 1000']}}).encode())
    write('fuzz_table_config', 'tm_probe', b'\1' + tm)
    write('fuzz_table_config', 'packet_fates', b'\2' + fates)
    write('fuzz_table_config', 'burstradar', b'\3' + json.dumps({'burstradar': {}}).encode())
    reporter = {'dta_reporter': {
        'base_form': '3-byte', 'switch_id': 7, 'hop': 1, 'forward': [{'in': 0, 'out': 1}],
        'report_port': 2, 'report': {'src_ip': '10.0.0.7', 'dst_ip': '10.0.255.255',
                                     'src_mac': '02:00:00:00:00:07',
                                     'dst_mac': '02:00:00:00:00:ff'},
        'flow_slots': 1024, 'key_write': {'redundancy': 2},
        'key_increment': {'redundancy': 2, 'counter': 'bytes', 'every': 4},
        'append': {'list': 1}, 'postcarding': {}}}
    write('fuzz_table_config', 'dta_reporter', b'\4' + json.dumps(reporter).encode())

    # fuzz_switch_config: first byte is the port count.
    write('fuzz_switch_config', 'packet_fates', b'\5' + fates)
    write('fuzz_switch_config', 'tm_probe', b'\4' + tm)
    write('fuzz_switch_config', 'pktgen', b'\2' + json.dumps({'pktgen': [
        {'app': 0, 'period_us': 100, 'batches': 1, 'packets_per_batch': 1,
         'packet_len': 64}]}).encode())
    write('fuzz_switch_config', 'ports', b'\4' + json.dumps({'ports': [
        {'port': 2, 'speed': '10G', 'queues': 4, 'queue_limit_cells': 2000},
        {'port': 3, 'speed': '100G'}]}).encode())

    layout = {'keywrite_slots': 1 << 16, 'keyincrement_rows': 2, 'keyincrement_slots': 1 << 16,
              'append_lists': 8, 'append_entries': 1024, 'append_batch': 4,
              'append_head_interval': 1, 'postcarding_slots': 1 << 14, 'postcarding_copies': 2}
    write('fuzz_dta_config', 'layout', b'\0' + json.dumps(layout).encode())
    write('fuzz_dta_config', 'translator', b'\1' + json.dumps({'dta_translator': {
        'base_form': '3-byte', 'collectors': ['c0'], 'layout': layout,
        'postcarding_path_length': 3, 'postcard_cache_rows': 1024,
        'nack_reporters': True}}).encode())
    write('fuzz_dta_config', 'reporter', b'\2' + json.dumps(reporter).encode())

    for name, spec in {'nat': 'tea.nat:buckets=1M,packet=256', 'fw': 'tea.fw:buckets=64,slots=4',
                       'lanes': 'tea.t:buckets=1K,packet=128,lanes=4',
                       'key': '0x0a0000010a00000200500bb806000000'}.items():
        write('fuzz_tea_spec', name, spec.encode())

    key = bytes.fromhex('0a0000010a00000200500bb806000000')
    entry = key + struct.pack('!Q', 0x1234) + bytes([1]) + bytes(7)
    empty = bytes(32)
    write('fuzz_tea_read', 'hit_second', key + empty + entry)
    write('fuzz_tea_read', 'miss', key + empty + empty)
    write('fuzz_tea_read', 'deleted', key + entry[:24] + bytes(8))

    hello = {'version': 1, 'qpn': 0x123, 'psn': 77, 'region': 'dta.keywrite',
             'gid': '10.0.0.1', 'mac': '02:00:00:00:00:01', 'mtu': 1024}
    write('fuzz_handshake', 'hello', json.dumps(hello).encode())
    reply = dict(hello, rkey=0x4401, iova=0x7f0000000000, length=65536)
    write('fuzz_handshake', 'reply', json.dumps(reply).encode())


def main():
    parse_l3()
    dta()
    courier()
    roce_seeds()
    programs()
    control()
    control_framing()
    triggers()
    configs()


if __name__ == '__main__':
    main()
