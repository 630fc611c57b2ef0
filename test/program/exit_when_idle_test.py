#!/usr/bin/python3
"""--exit-when-idle waits for input to be finished, not for the OS to run
the pipes: on a loaded machine a pipe may not run for longer than the idle
time, and its unread input must not be taken as the end of the replay.

  net_pcap port 0: queue 0 empty, queue 1 (pipe 1) the l3fwd workload, 50
  times over (ports 1, 2: nothing) -> softfino
  l3fwd, 2 pipes on one CPU, pipes spinning (--fp-no-ints), virtual time,
  --exit-when-idle 300

Pipe 1's lcore is put in SCHED_IDLE beside pipe 0's, which spins with
nothing to do: pipe 1 does not run at all. The switch must still be running
2 s later (seven idle times); once pipe 1 may run again, it forwards every
packet and exits by itself, with the l3fwd oracle's counts.

  exit_when_idle_test.py SOFTFINO
"""
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import l3fwd_workload  # noqa: E402
from live_harness import check, finish, l3fwd_flood_workload, set_thread_policy  # noqa: E402

softfino = sys.argv[1]
work = tempfile.mkdtemp(prefix='softfino-idle-exit.')
frames, cfg = l3fwd_flood_workload(work, seed=3, count=2000)
l3fwd_workload.write_pcap(f'{work}/empty.pcap', [])
# The workload REPEAT times over (100,000 packets): SCHED_IDLE starves
# pipe 1 only mostly (Linux still gives it a sliver, ~0.3% of the CPU under
# EEVDF), and in that sliver it read 8,000 packets within the 2 s on a fast
# machine, finished its input and let the switch exit; this much takes it
# ten times that sliver.
REPEAT = 50
l3fwd_workload.write_pcap(f'{work}/in.pcap', enumerate(frames * REPEAT))
expected_forwarded = REPEAT * sum(1 for f in frames if not l3fwd_workload.process(f, cfg).drop)

cpu = 1 % os.cpu_count()
vdevs = [f'--vdev=net_pcap0,rx_pcap={work}/empty.pcap,rx_pcap={work}/in.pcap,'
         f'tx_pcap={work}/o0.pcap'] + [
    f'--vdev=net_pcap{p},rx_pcap={work}/empty.pcap,tx_pcap={work}/o{p}.pcap' for p in (1, 2)]
sw = subprocess.Popen(
    [softfino, '--no-huge', '--no-shconf', '-m', '512', '--no-pci', f'--file-prefix=iex{os.getpid()}',
     '--log-level=warning', '--lcores', f'0@0,1@{cpu},2@{cpu}', *vdevs, '--',
     '--pipeline', 'l3fwd', '--config', f'{work}/config.json', '--fp-cores', '2', '--fp-no-ints',
     '--exit-when-idle', '300', '--stats-json', f'{work}/stats.json'],
    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
try:
    starved = set_thread_policy(sw.pid, 'rte-worker-2', os.SCHED_IDLE)
    check('pipe 1\'s lcore starved (SCHED_IDLE beside a spinning pipe 0)', starved)
    time.sleep(2.0)
    check('still running 2 s later: pipe 1 never looked for its input', sw.poll() is None,
          sw.returncode)
    set_thread_policy(sw.pid, 'rte-worker-2', os.SCHED_OTHER)
    sw.wait(timeout=60)
except subprocess.TimeoutExpired:
    sw.kill()
    sw.wait()
check('then it exits by itself', sw.returncode == 0, sw.stderr.read()[-1500:])
with open(f'{work}/stats.json') as f:
    totals = json.load(f)['totals']
check(f'every packet received and the oracle\'s {expected_forwarded} forwarded',
      totals['received'] == REPEAT * len(frames) and totals['forwarded'] == expected_forwarded,
      totals)
subprocess.run(['rm', '-rf', work])
finish()
