#!/usr/bin/python3
"""Idle pipes sleep instead of spinning (TAS's fast path blocks when idle):

  scapy --veth--> softfino (l3fwd, one worker lcore) --> net_pcap file

Run twice, by default and with --fp-no-ints. Each time the switch first
idles, then forwards a burst. Checked: by default the worker sleeps
(idle_sleeps > 0) and the process uses well under half the CPU time that
spinning takes over the same idle spell, measured in the same run (the
kernel's count of the process's CPU ticks; a pair where the spinning run
did not get 40% of a CPU is measured again, up to three times); with
--fp-no-ints it never sleeps; and both forward every frame of the burst
that came after the idle spell (the pcap's own record count).

  idle_sleep_test.py SOFTFINO
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import Ether, IP, UDP, Raw, RawPcapReader, sendp, wrpcap

from live_harness import EAL, check, finish, require_root, veth, wait_for_line

softfino = sys.argv[1]
require_root()

N = 200
IDLE_S = 2.0
tag = f'sfI{os.getpid() % 100000}'
host, sw0 = f'{tag}a', f'{tag}b'
work = tempfile.mkdtemp(prefix='sfI-idle.')
config = {'tables': {
    'nexthop': [{'key': {'nexthop_id': 1}, 'action': 'forward',
                 'data': {'port': 1, 'src_mac': '02:00:00:00:01:00', 'dst_mac': '02:00:00:00:01:01'}}],
    'ipv4_lpm': [{'key': {'dst_addr': '10.77.0.0/16'}, 'action': 'set_nexthop',
                  'data': {'nexthop_id': 1}}]}}
with open(f'{work}/config.json', 'w') as f:
    json.dump(config, f)
wrpcap(f'{work}/empty.pcap', [], linktype=1)
lcores = f'0@0,1@{1 % os.cpu_count()}'
eal = [a for a in EAL if a not in ('-l', '0')]
assert len(eal) == len(EAL) - 2, EAL


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run(extra):
    out = f'{work}/out{len(extra)}.pcap'
    sw = subprocess.Popen(
        [softfino, *eal, '--lcores', lcores, f'--file-prefix={tag}{len(extra)}',
         f'--vdev=net_af_packet0,iface={sw0}',
         f'--vdev=net_pcap1,rx_pcap={work}/empty.pcap,tx_pcap={out}',
         '--', '--pipeline', 'l3fwd', '--config', f'{work}/config.json', '--clock', 'real',
         '--no-control-socket', '--stats-json', f'{work}/stats{len(extra)}.json', *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    m, said = wait_for_line(sw, r'running on')
    check(f'switch {extra} starts', m is not None, ''.join(said))
    if m is None:
        raise SystemExit(1)
    time.sleep(0.5)
    before = cpu_ticks(sw.pid)
    time.sleep(IDLE_S)
    idle_ticks = cpu_ticks(sw.pid) - before
    frames = [Ether(src='02:00:00:00:09:01', dst='02:00:00:00:09:02') /
              IP(src='10.1.0.1', dst=f'10.77.0.{i % 250 + 1}') / UDP(sport=1000 + i, dport=2) /
              Raw(b'x' * 18) for i in range(N)]
    sendp(frames, iface=host, verbose=False)
    time.sleep(1.0)
    sw.send_signal(signal.SIGTERM)
    sw.wait(timeout=30)
    check(f'switch {extra} exits cleanly', sw.returncode == 0, sw.stderr.read()[-2000:])
    with open(f'{work}/stats{len(extra)}.json') as f:
        stats = json.load(f)
    sent = sum(1 for _ in RawPcapReader(out))
    return idle_ticks, stats['pipes'][0]['idle_sleeps'], sent


try:
    veth(host, sw0)
    hz = os.sysconf('SC_CLK_TCK')
    # The comparison only means something when the spinning run got the CPU
    # it asked for: on a machine shared with other jobs (or tests running
    # beside this one) it once got 0.18 CPU-s of its 2 s. Such a pair is
    # measured again, up to three times.
    for attempt in range(3):
        sleeping = run([])
        spinning = run(['--fp-no-ints'])
        if spinning[0] / hz >= 0.4 * IDLE_S:
            break
        print(f'spinning got only {spinning[0] / hz:.2f} CPU-s of {IDLE_S} s (a busy machine): '
              'measuring the pair again')
    print(f'over {IDLE_S} s idle: sleeping {sleeping[0] / hz:.2f} CPU-s ({sleeping[1]} sleeps), '
          f'spinning {spinning[0] / hz:.2f} CPU-s ({spinning[1]} sleeps)')
    check('by default the idle worker sleeps', sleeping[1] > 0, sleeping)
    check('with --fp-no-ints it never sleeps', spinning[1] == 0, spinning)
    check('sleeping costs less than half the CPU of spinning over the same idle spell',
          2 * sleeping[0] < spinning[0], (sleeping, spinning))
    check(f'after idling, all {N} frames forwarded (sleeping)', sleeping[2] == N, sleeping)
    check(f'after idling, all {N} frames forwarded (spinning)', spinning[2] == N, spinning)
finally:
    subprocess.run(['ip', 'link', 'del', host], capture_output=True)
    subprocess.run(['rm', '-rf', work])
finish()
