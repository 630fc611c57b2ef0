#!/usr/bin/python3
"""softfino-ctl's register, counter, mirror-session and multicast-group
commands against a running softfino, checked against values computed here
from the packets themselves (scapy), never against the switch's own output.

Part 1 (l3fwd, net_pcap replay): after the replay, register max_ip_len
equals the longest IP packet per ingress port and counter nexthop_counter the
packets/bytes routed through each next hop, computed from the pcaps; a write
reads back, a too-wide value or bad index is refused and changes nothing,
reset zeroes, clear zeroes.

Part 2 (packet_fates, live, root: a veth feeds port 0, ports 1-4 write
pcaps): a mirror session and a multicast group added while the switch runs
make truncated mirror copies and one copy per member of what is sent after,
deleting them stops the copies; refused requests leave the switch running.
  stateful_ctl_test.py SOFTFINO SOFTFINO_CTL
"""
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live_harness import check, failures, finish, veth, wait_until  # noqa: E402
from live_harness import ctl_call as harness_ctl_call  # noqa: E402
from scapy.all import Ether, IP, IPv6, UDP, Raw, rdpcap, sendp, wrpcap  # noqa: E402

softfino, ctl = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix='softfino-stateful.')
EAL = ['--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0', '--log-level=error']


def ctl_call(sock, *args):
    return harness_ctl_call(ctl, sock, *args)


def start(args, sock):
    proc = subprocess.Popen([softfino, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    if not wait_until(lambda: ctl_call(sock, 'info')[0] is not None or proc.poll() is not None):
        proc.kill()
        sys.exit(f'FAIL the switch did not answer: {proc.stderr.read()}')
    if proc.poll() is not None:
        sys.exit(f'FAIL the switch exited: {proc.stderr.read()}')
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    check('switch exits 0 on SIGTERM', proc.returncode == 0, f'rc {proc.returncode}')


def rx_packets(sock):
    ports, _ = ctl_call(sock, 'ports')
    return sum(p['rx_packets'] for p in ports) if ports else -1


# --- Part 1: registers and counters after a replay -----------------------
# The l3fwd program test's config; routes are looked up here by longest
# prefix (ipaddress), independently of the switch.
config_file = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'l3fwd_test_config.json')
config = json.load(open(config_file))
routes = {4: [], 6: []}
for family, table in ((4, 'ipv4_lpm'), (6, 'ipv6_lpm')):
    for e in config['tables'][table]:
        routes[family].append((ipaddress.ip_network(e['key']['dst_addr']), e['data']['nexthop_id']))


def nexthop_of(p):
    """The next hop the config routes p through, 0 when it is not forwarded."""
    if IP in p:
        addr, family, ttl = ipaddress.ip_address(p[IP].dst), 4, p[IP].ttl
    else:
        addr, family, ttl = ipaddress.ip_address(p[IPv6].dst), 6, p[IPv6].hlim
    best = max(((net.prefixlen, nh) for net, nh in routes[family] if addr in net), default=None)
    return best[1] if best and ttl > 1 else 0


def ip_len(p):
    return len(p[IP]) if IP in p else len(p[IPv6])


v4 = ['10.1.2.3', '10.1.2.200', '10.1.2.5', '10.1.9.9', '10.200.0.1', '100.64.1.1', '172.16.5.77',
      '192.168.3.3', '198.51.100.200', '203.0.113.7', '9.9.9.9']
v6 = ['2001:db8:1:2::3', '2001:db8:1:2:8000::1', '2001:db8:1:2::9', '2001:db8:1:7::1',
      '2001:db8:9::1', '2001:db8:ff00::5', '64:ff9b::1', 'fd00::1', '2002::1']


def eth():
    # An explicit destination: without one scapy would look IPv6 neighbours up.
    return Ether(src='02:00:00:00:00:aa', dst='02:00:00:00:00:bb')


# Port 0: lengths varying packet to packet over every route (and two with
# no route); TTL 1 packets are routed but not forwarded, yet seen by
# max_ip_len. Port 2: fewer, shorter packets.
in0 = [eth() / IP(dst=v4[k % len(v4)]) / UDP() / Raw(b'a' * (k * 37 % 700)) for k in range(90)]
in0 += [eth() / IPv6(dst=v6[k % len(v6)]) / UDP() / Raw(b'b' * (k * 53 % 500)) for k in range(45)]
in0 += [eth() / IP(dst='10.1.2.3', ttl=1) / UDP() / Raw(b'd' * 1200)] * 3
in2 = [eth() / IP(dst=v4[k % len(v4)]) / UDP() / Raw(b'e' * (40 + k)) for k in range(25)]
wrpcap(f'{work}/in0.pcap', in0)
wrpcap(f'{work}/in2.pcap', in2)
wrpcap(f'{work}/empty.pcap', [])
nexthops = sorted({e['key']['nexthop_id'] for e in config['tables']['nexthop']})
sock = f'{work}/l3.sock'
vdevs = [f'--vdev=net_pcap0,rx_pcap={work}/in0.pcap,tx_pcap={work}/out0.pcap',
         f'--vdev=net_pcap1,rx_pcap={work}/empty.pcap,tx_pcap={work}/out1.pcap',
         f'--vdev=net_pcap2,rx_pcap={work}/in2.pcap,tx_pcap={work}/out2.pcap']
sw = start([*EAL, '--file-prefix', f'st1{os.getpid()}', *vdevs, '--', '--pipeline', 'l3fwd',
            '--config', config_file, '--control-socket', sock], sock)
total = len(in0) + len(in2)
check('the replay is received', wait_until(lambda: rx_packets(sock) == total), rx_packets(sock))
time.sleep(0.2)

listed, err = ctl_call(sock, 'register_list')
check('register_list names max_ip_len (16 bits)',
      listed is not None and {'name': 'max_ip_len', 'size': 512, 'width': 16,
                              'pipes': 1, 'initial': 0} in listed['registers'], listed or err)
got, err = ctl_call(sock, 'register_read', 'register=max_ip_len', 'from=0', 'to=3')
want = [max(ip_len(p) for p in in0), 0, max(ip_len(p) for p in in2), 0]
check('register_read = longest IP packet per ingress port, from the pcaps',
      got is not None and [e['values'] for e in got['entries']] == [[w] for w in want],
      f'{got or err} want {want}')
got, err = ctl_call(sock, 'register_read', 'register=max_ip_len', 'index=2', 'pipe=0')
check('register_read pipe=0 index=2', got is not None and got['entries'] == [{'index': 2, 'value': want[2]}],
      got or err)

got, err = ctl_call(sock, 'counter_read', 'counter=nexthop_counter', 'from=0', 'to=127')
for nh in nexthops:
    pkts = [p for p in in0 + in2 if nexthop_of(p) == nh]
    check(f'counter_read nexthop {nh} = packets/bytes forwarded there, from the pcaps',
          got is not None and got['entries'][nh] == {'index': nh, 'packets': len(pkts),
                                                      'bytes': sum(len(p) for p in pkts)},
          f'{got and got["entries"][nh] or err} want {len(pkts)} pkts')
check('counter_read: every other next hop is zero', got is not None and all(
    e['packets'] == 0 and e['bytes'] == 0 for e in got['entries'] if e['index'] not in nexthops))
check('the workload forwards through several next hops',
      len({nexthop_of(p) for p in in0 + in2} - {0}) >= 5)

# Write, read back; refused writes change nothing.
got, err = ctl_call(sock, 'register_write', 'register=max_ip_len', 'from=5', 'to=6', 'value=4321')
check('register_write from=5 to=6', got is not None and got['written'] == 2, got or err)
got, _ = ctl_call(sock, 'register_read', 'register=max_ip_len', 'from=4', 'to=7')
check('register_write reads back', got and [e['values'][0] for e in got['entries']] == [0, 4321, 4321, 0], got)
for bad, says in ((['index=5', 'value=65536'], 'does not fit its 16 bits'),
                  (['index=512', 'value=1'], 'index 512 is out of range; valid indices are 0..511'),
                  (['index=5', 'value=1', 'pipe=1'], 'pipe 1 does not exist'),
                  (['index=5', 'value=-3'], 'value: must be an integer >= 0')):
    got, err = ctl_call(sock, 'register_write', 'register=max_ip_len', *bad)
    check(f'register_write {" ".join(bad)} refused: {says}', got is None and err and says in err, got or err)
for cmd, args, says in (('register_read', ['register=max_len'], "no register 'max_len' in this program; it has max_ip_len"),
                        ('counter_read', ['counter=nexthop_counter', 'index=65536'], 'index 65536 is out of range'),
                        ('counter_clear', ['counter=hits'], "no counter 'hits'"),
                        ('register_read', ['register=max_ip_len', 'index=0', 'to=3'], 'either index=I or from=A to=B')):
    got, err = ctl_call(sock, cmd, *args)
    check(f'{cmd} {" ".join(args)} refused: {says}', got is None and err and says in err, got or err)
got, _ = ctl_call(sock, 'register_read', 'register=max_ip_len', 'index=5')
check('refused writes changed nothing', got and got['entries'][0]['values'] == [4321], got)

got, err = ctl_call(sock, 'register_reset', 'register=max_ip_len')
check('register_reset', got == {'reset': ['max_ip_len']}, got or err)
got, _ = ctl_call(sock, 'register_read', 'register=max_ip_len')
check('register_reset zeroes every cell', got and all(e['values'] == [0] for e in got['entries'])
      and len(got['entries']) == 512, got and got['entries'][:8])
got, err = ctl_call(sock, 'counter_clear', 'counter=nexthop_counter')
check('counter_clear', got is not None and got['cleared'] == 65536, got or err)
got, _ = ctl_call(sock, 'counter_read', 'counter=nexthop_counter', 'from=0', 'to=3')
check('counter_clear zeroes', got and all(e['packets'] == 0 and e['bytes'] == 0 for e in got['entries']), got)
check('the switch still answers', ctl_call(sock, 'info')[0] is not None)
stop(sw)
# The switch forwarded what the config implies, registers or not.
port_of = {e['key']['nexthop_id']: e['data']['port'] for e in config['tables']['nexthop']}
for port in range(3):
    out = rdpcap(f'{work}/out{port}.pcap')
    want = sum(1 for p in in0 + in2 if nexthop_of(p) and port_of[nexthop_of(p)] == port)
    check(f'forwarding unaffected: port {port} sent {want}', len(out) == want, len(out))

# --- Part 2: mirror sessions and multicast groups at run time ------------
if os.geteuid() != 0:
    print('SKIP part 2: needs root for a veth pair')
    shutil.rmtree(work, ignore_errors=True)
    finish()

fates = {"tables": {"fate": [
    {"key": {"udp_dst_port": 3001}, "action": "mirror_and_forward", "data": {"port": 1, "session": 9}},
    {"key": {"udp_dst_port": 2001}, "action": "multicast", "data": {"group": 7}}]}}
json.dump(fates, open(f'{work}/fates.json', 'w'))
host, sw_if = f'sth{os.getpid() % 10000}', f'sts{os.getpid() % 10000}'
veth(host, sw_if)
sock = f'{work}/fates.sock'
vdevs = [f'--vdev=net_af_packet0,iface={sw_if}']
vdevs += [f'--vdev=net_pcap{k},rx_pcap={work}/empty.pcap,tx_pcap={work}/f{k}.pcap' for k in range(1, 5)]
try:
    sw = start([*EAL, '--file-prefix', f'st2{os.getpid()}', *vdevs, '--', '--pipeline', 'packet_fates',
                '--config', f'{work}/fates.json', '--clock', 'real', '--control-socket', sock], sock)
    sent = 0
    N = 20

    def send_phase(phase):
        """N packets to the mirror fate and N to the multicast fate, tagged
        with the phase in the UDP source port; waits until all are in."""
        global sent
        pkts = []
        for k in range(N):
            pkts.append(Ether(dst='02:00:00:00:00:01') / IP(dst='10.0.0.1') /
                        UDP(sport=phase * 100 + k, dport=3001) / Raw(b'm' * 200))
            pkts.append(Ether(dst='02:00:00:00:00:01') / IP(dst='10.0.0.1') /
                        UDP(sport=phase * 100 + k, dport=2001) / Raw(b'g' * 50))
        sendp(pkts, iface=host, verbose=False)
        sent += len(pkts)
        ok = wait_until(lambda: rx_packets(sock) >= sent)
        check(f'phase {phase}: the switch received what was sent', ok, rx_packets(sock))
        time.sleep(0.3)  # let the TM drain to the pcaps

    send_phase(1)  # no session 9, no group 7: originals only
    # Refused requests, each with its reason, and nothing changes.
    for cmd, args, says in (
            ('mirror_add', ['session=9', 'port=5'], 'port: 5 is not an integer in 0..4'),
            ('mirror_add', ['session=9', 'port=3', 'max_len=8'], 'shorter than an Ethernet header'),
            ('mirror_delete', ['session=9'], 'mirror session 9 does not exist'),
            ('mcast_add', ['group=7', 'members=[{"port": 9}]'], 'members[0].port: 9 is not an integer in 0..4'),
            ('mcast_add', ['group=7', 'members=[]'], 'members: must be a non-empty array'),
            ('mcast_delete', ['group=7'], 'multicast group 7 does not exist')):
        got, err = ctl_call(sock, cmd, *args)
        check(f'{cmd} {" ".join(args)} refused: {says}', got is None and err and says in err, got or err)
    got, _ = ctl_call(sock, 'mirror_list')
    check('mirror_list empty after refusals', got == {'mirror_sessions': []}, got)

    got, err = ctl_call(sock, 'mirror_add', 'session=9', 'port=3', 'max_len=64')
    check('mirror_add session 9 -> port 3, max_len 64', got is not None, err)
    got, err = ctl_call(sock, 'mcast_add', 'group=7', 'members=[{"port": 2, "rid": 5}, {"port": 4, "rid": 6}]')
    check('mcast_add group 7 -> ports 2 (rid 5) and 4 (rid 6)', got is not None, err)
    got, _ = ctl_call(sock, 'mcast_list')
    check('mcast_list', got == {'multicast_groups': [{'group': 7, 'members': [
        {'port': 2, 'rid': 5}, {'port': 4, 'rid': 6}]}]}, got)
    send_phase(2)
    got, err = ctl_call(sock, 'mirror_delete', 'session=9')
    check('mirror_delete 9', got is not None, err)
    got, err = ctl_call(sock, 'mcast_delete', 'group=7')
    check('mcast_delete 7', got is not None, err)
    send_phase(3)
    drops, _ = ctl_call(sock, 'drops')
    stop(sw)

    def phases(pcap, pred=lambda p: True):
        out = {1: [], 2: [], 3: []}
        for p in rdpcap(pcap) if os.path.exists(pcap) else []:
            if UDP in p and pred(p):
                out.setdefault(p[UDP].sport // 100, []).append(p)
        return out

    # Originals of the mirror fate leave port 1 in every phase.
    f1 = phases(f'{work}/f1.pcap')
    check('port 1: every mirrored original, in every phase',
          [len(f1[k]) for k in (1, 2, 3)] == [N, N, N], [len(f1[k]) for k in (1, 2, 3)])
    # Port 3 (the session's port) gets copies only while the session exists,
    # each truncated to 64 bytes. Decode the raw bytes: a truncated frame's
    # IP length no longer matches, so read the UDP ports straight.
    raw3 = [bytes(p) for p in rdpcap(f'{work}/f3.pcap')] if os.path.exists(f'{work}/f3.pcap') else []
    by_phase = {}
    for b in raw3:
        by_phase.setdefault(int.from_bytes(b[34:36], 'big') // 100, []).append(b)
    check('port 3: mirror copies only in phase 2, N of them',
          {k: len(v) for k, v in by_phase.items()} == {2: N}, {k: len(v) for k, v in by_phase.items()})
    check('port 3: every copy truncated to max_len 64', all(len(b) == 64 for b in raw3),
          sorted({len(b) for b in raw3}))
    check('port 3: copies carry the original bytes (dst port 3001)',
          all(int.from_bytes(b[36:38], 'big') == 3001 for b in raw3))
    # Multicast: one copy per member, only in phase 2, with the member's rid
    # in packet_fates' record (UDP payload offset 1, 16 bits).
    for port, rid in ((2, 5), (4, 6)):
        fp = phases(f'{work}/f{port}.pcap')
        check(f'port {port}: one multicast copy per packet, only in phase 2',
              [len(fp[k]) for k in (1, 2, 3)] == [0, N, 0], [len(fp[k]) for k in (1, 2, 3)])
        rids = {int.from_bytes(bytes(p[UDP].payload)[1:3], 'big') for p in fp[2]}
        check(f'port {port}: copies carry rid {rid}', rids == {rid}, rids)
    check('drops: phases 1 and 3 had no session and no group',
          drops is not None and drops.get('no_mirror_session') == 2 * N
          and drops.get('no_multicast_group') == 2 * N, drops)
finally:
    subprocess.run(['ip', 'link', 'del', host], stderr=subprocess.DEVNULL)
    shutil.rmtree(work, ignore_errors=True)
finish()
