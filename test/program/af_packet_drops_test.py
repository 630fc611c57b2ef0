#!/usr/bin/python3
"""A stalled switch: frames its af_packet receive ring cannot hold are
dropped by the kernel, and counted in the port's rx_missed (DPDK 22.11's
net_af_packet reports no drops itself; softfino reads its sockets'
PACKET_STATISTICS).

  scapy --veth-- softfino (l3fwd, no routes)

softfino is stopped (SIGSTOP) while N frames arrive, more than its ring
holds (framecnt=256), then continued. The truth is the kernel's own count
of frames the switch's interface received (its rx_packets in sysfs): every
one of them is either received by the port or counted missed, and some
were missed.
  af_packet_drops_test.py SOFTFINO
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import Ether, IP, UDP, Raw, sendp

from live_harness import EAL, check, finish, require_root, veth, wait_for_line

softfino = sys.argv[1]
require_root()

N, RING = 2000, 256
tag = f'sfA{os.getpid() % 100000}'
host, sw0 = f'{tag}a', f'{tag}b'
work = tempfile.mkdtemp(prefix='sfA-drops.')
sw = None


def kernel_rx(ifname):
    with open(f'/sys/class/net/{ifname}/statistics/rx_packets') as f:
        return int(f.read())


try:
    veth(host, sw0)
    with open(f'{work}/config.json', 'w') as f:
        json.dump({}, f)
    sw = subprocess.Popen(
        [softfino, *EAL, f'--file-prefix={tag}',
         f'--vdev=net_af_packet0,iface={sw0},framecnt={RING}',
         '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json', '--clock', 'real',
         '--no-control-socket', '--stats-json', f'{work}/stats.json'],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m, said = wait_for_line(sw, r'running on')
    check('switch starts', m is not None, ''.join(said))
    if m is None:
        raise SystemExit(1)
    before = kernel_rx(sw0)
    frame = (Ether(src='02:00:00:00:01:01', dst='02:00:00:00:01:02') /
             IP(src='10.1.0.1', dst='10.77.0.1') / UDP(sport=1, dport=2) / Raw(b'x' * 18))
    sw.send_signal(signal.SIGSTOP)
    sendp([frame] * N, iface=host, verbose=False)
    arrived = kernel_rx(sw0) - before
    sw.send_signal(signal.SIGCONT)
    time.sleep(1.0)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    check('switch exits cleanly', sw.returncode == 0, sw.stderr.read()[-2000:])
    with open(f'{work}/stats.json') as f:
        stats = json.load(f)
    port = stats['ports'][0]
    print(f'kernel: {arrived} frames arrived on {sw0}; port 0: {port}')
    check(f'all {N} frames reached the switch\'s interface (kernel count)', arrived == N, arrived)
    check(f'the ring ({RING} frames) overflowed while the switch was stopped, and the kernel\'s '
          'drops show as rx_missed', 0 < port['rx_missed'] and port['rx_packets'] <= RING, port)
    check('every frame that arrived was received or counted missed: rx_packets + rx_missed = '
          'the kernel\'s count', port['rx_packets'] + port['rx_missed'] == arrived,
          (port, arrived))
    t = stats['totals']
    check('received = forwarded + dropped, dropped = sum by reason',
          t['received'] + t['copies'] + t['generated'] == t['forwarded'] + t['dropped'] and
          t['dropped'] == sum(stats['drops'].values()) and t['received'] == port['rx_packets'], t)
finally:
    if sw is not None and sw.poll() is None:
        sw.send_signal(signal.SIGCONT)
        sw.kill()
    subprocess.run(['ip', 'link', 'del', host], stderr=subprocess.DEVNULL)

finish()
