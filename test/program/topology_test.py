#!/usr/bin/python3
"""Two switches in one softfino process (--topology), wired by an internal link.

  s1 (l3fwd):  port 0 = net_pcap0 (the workload comes in here), port 1 = link
               "s1-s2", port 2 = net_pcap1
  s2 (l3fwd):  port 0 = link "s1-s2", port 1 = net_pcap2, port 2 = net_pcap3

s2's routes send next hop 1 back over the link, and s1 routes those packets
to s2 again: a routing loop through both switches that only TTL ends, so
packets cross the link both ways many times and expire in whichever switch
their TTL runs out.

The truth is the l3fwd oracle (l3fwd_workload.py, written from the spec)
applied hop by hop across the two switches' tables: every pcap port must
send exactly the oracle's frames, in order, and each switch must count
exactly the oracle's received packets and drops by reason.

  topology_test.py SOFTFINO [inline|workers] [SOFTFINO_CTL]

inline: EAL -l 0, both switches' pipes on the main lcore; workers: each
switch's pipe on its own worker lcore. With SOFTFINO_CTL, the topology then
runs live and each switch is asked over its own control socket.
"""
import copy
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import l3fwd_workload  # noqa: E402
from compare_output import read_pcap  # noqa: E402

softfino = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else 'inline'
softfino_ctl = sys.argv[3] if len(sys.argv) > 3 else None
work = tempfile.mkdtemp(prefix='softfino-topology.')
COUNT = 3000

subprocess.run(['/usr/bin/python3', f'{HERE}/l3fwd_workload.py', '--config',
                f'{HERE}/l3fwd_test_config.json', '--out-dir', work, '--count', str(COUNT),
                '--seed', '7', '--ports', '3'], check=True, capture_output=True)
with open(f'{work}/empty.pcap', 'wb') as f:
    f.write(bytes.fromhex('d4c3b2a1020004000000000000000000ffff000001000000'))

# s1 sends next hops 1, 3 and 5 over the link. s2 has the same routes and
# other next hops: 1 goes back to s1 (the loop), 3 and 5 leave on s2's pcap
# ports.
with open(f'{HERE}/l3fwd_test_config.json') as f:
    s1_config = json.load(f)
s1_ports = {1: 1, 2: 2, 3: 1, 4: 0, 5: 1, 100: 2}
for nh in s1_config['tables']['nexthop']:
    nh['data']['port'] = s1_ports[nh['key']['nexthop_id']]
s2_config = copy.deepcopy(s1_config)
s2_ports = {1: 0, 2: 1, 3: 1, 4: 2, 5: 2, 100: 2}
for nh in s2_config['tables']['nexthop']:
    nh['data']['port'] = s2_ports[nh['key']['nexthop_id']]
for name, config in (('s1', s1_config), ('s2', s2_config)):
    with open(f'{work}/{name}.json', 'w') as f:
        json.dump(config, f)

topology = {'switches': [
    {'name': 's1', 'pipeline': 'l3fwd', 'config': 's1.json',
     'ports': ['net_pcap0', {'link': 's1-s2'}, 'net_pcap1']},
    {'name': 's2', 'pipeline': 'l3fwd', 'config': 's2.json',
     'ports': [{'link': 's1-s2'}, 'net_pcap2', 'net_pcap3']},
]}
with open(f'{work}/topology.json', 'w') as f:
    json.dump(topology, f)

# --- the oracle, hop by hop ---------------------------------------------------
configs = {'s1': l3fwd_workload.Config(f'{work}/s1.json', 3),
           's2': l3fwd_workload.Config(f'{work}/s2.json', 3)}
# Where each switch port leads: a pcap file, or the far end of the link.
wiring = {('s1', 0): 's1_p0', ('s1', 1): ('s2', 0), ('s1', 2): 's1_p2',
          ('s2', 0): ('s1', 1), ('s2', 1): 's2_p1', ('s2', 2): 's2_p2'}
inputs = read_pcap(f'{work}/in.pcap')[0]
assert len(inputs) == COUNT
expected_out = {name: [] for name in ('s1_p0', 's1_p2', 's2_p1', 's2_p2')}
expected_rx = Counter()
expected_drops = {'s1': Counter(), 's2': Counter()}
link_crossings = 0
for frame in inputs:
    switch = 's1'
    expected_rx[switch] += 1
    while True:
        verdict = l3fwd_workload.process(frame, configs[switch])
        if verdict.drop:
            expected_drops[switch][verdict.drop] += 1
            break
        dest = wiring[(switch, verdict.port)]
        if isinstance(dest, str):
            expected_out[dest].append(verdict.frame)
            break
        switch, frame = dest[0], verdict.frame
        expected_rx[switch] += 1
        link_crossings += 1
assert expected_drops['s2']['ttl_expired'] > 0 and expected_drops['s1']['ttl_expired'] > 0, \
    'the workload must make packets loop until TTL expires in both switches'

# --- the switch ---------------------------------------------------------------
eal = ['--no-huge', '--no-shconf', '-m', '1024', '--no-pci', f'--file-prefix=topo{os.getpid()}',
       '--log-level=warning']
if mode == 'inline':
    eal += ['-l', '0']
else:
    cpus = os.cpu_count()
    eal += ['--lcores', f'0@0,1@{1 % cpus},2@{2 % cpus}']
empty = f'{work}/empty.pcap'
eal += [f'--vdev=net_pcap0,rx_pcap={work}/in.pcap,tx_pcap={work}/s1_p0.pcap',
        f'--vdev=net_pcap1,rx_pcap={empty},tx_pcap={work}/s1_p2.pcap',
        f'--vdev=net_pcap2,rx_pcap={empty},tx_pcap={work}/s2_p1.pcap',
        f'--vdev=net_pcap3,rx_pcap={empty},tx_pcap={work}/s2_p2.pcap']
run = subprocess.run([softfino, *eal, '--', '--topology', f'{work}/topology.json',
                      '--exit-when-idle', '300', '--stats-json', f'{work}/stats.json',
                      '--no-control-socket'], capture_output=True, text=True, timeout=120)
if run.returncode != 0:
    print(run.stdout, run.stderr)
    sys.exit(f'FAIL: softfino exited {run.returncode}')
for name in ('s1', 's2'):
    assert f'softfino: {name}: l3fwd running on 3 port(s) with 1 pipe(s), virtual time' in run.stderr, \
        run.stderr

failures = []
for name, frames in expected_out.items():
    actual = read_pcap(f'{work}/{name}.pcap')[0]
    if actual != frames:
        missing = Counter(frames) - Counter(actual)
        extra = Counter(actual) - Counter(frames)
        failures.append(f'{name}: {len(actual)} frames sent, {len(frames)} expected '
                        f'({sum(missing.values())} missing, {sum(extra.values())} unexpected'
                        f'{", same frames in another order" if not missing and not extra else ""})')
with open(f'{work}/stats.json') as f:
    stats = json.load(f)['switches']
for name in ('s1', 's2'):
    rx = sum(p['rx_packets'] for p in stats[name]['ports'])
    if rx != expected_rx[name]:
        failures.append(f'{name}: received {rx}, expected {expected_rx[name]}')
    drops = {r: n for r, n in stats[name]['drops'].items() if n}
    if drops != dict(expected_drops[name]):
        failures.append(f'{name}: drops {drops}, expected {dict(expected_drops[name])}')
if failures:
    print(run.stdout)
    sys.exit('FAIL:\n  ' + '\n  '.join(failures))
# Mistakes only EAL's devices reveal stop the process before it forwards,
# with what to fix.
bad = copy.deepcopy(topology)
bad['switches'][1]['ports'][2] = 'net_pcap9'
with open(f'{work}/bad.json', 'w') as f:
    json.dump(bad, f)
for what, args, message in (
        ('unknown device', ['--topology', f'{work}/bad.json'],
         'switch s2 port 2: no DPDK device named net_pcap9 (EAL has: net_pcap0, net_pcap1, '
         'net_pcap2, net_pcap3)'),
        ('device left out', ['--topology', f'{work}/topology.json'],
         'DPDK device net_pcap4 is in no switch\'s ports')):
    extra = [f'--vdev=net_pcap4,rx_pcap={empty},tx_pcap={work}/x.pcap'] if 'left' in what else []
    r = subprocess.run([softfino, *eal, *extra, '--', *args, '--no-control-socket'],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 1 or message not in r.stderr:
        failures.append(f'{what}: exit {r.returncode}, stderr {r.stderr[-300:]!r}')

# Each switch answers on its own control socket (softfino-ctl --switch NAME):
# its own program, ports and tables; a switch name not in the topology is
# refused with the path it looked for.
if softfino_ctl:
    prefix = f'topoctl{os.getpid()}'
    live_eal = [a if not a.startswith('--file-prefix') else f'--file-prefix={prefix}' for a in eal]
    live_eal = [a.replace(f'{work}/in.pcap', empty) for a in live_eal]
    sw = subprocess.Popen([softfino, *live_eal, '--', '--topology', f'{work}/topology.json'],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    def ctl(*args):
        return subprocess.run([softfino_ctl, '--file-prefix', prefix, *args],
                              capture_output=True, text=True, timeout=10)
    try:
        for _ in range(100):
            if ctl('--switch', 's2', 'info').returncode == 0:
                break
            time.sleep(0.1)
        for name, nexthops in (('s1', s1_ports), ('s2', s2_ports)):
            info = json.loads(ctl('--switch', name, 'info').stdout)
            if info.get('pipeline') != 'l3fwd' or info.get('ports') != 3:
                failures.append(f'{name}: info {info}')
            dump = json.loads(ctl('--switch', name, 'table_dump', 'table=nexthop').stdout)
            got = {e['key']['nexthop_id']: e['data']['port'] for e in dump}
            if got != nexthops:
                failures.append(f'{name}: nexthop table {got}, its config has {nexthops}')
        wrong = ctl('--switch', 's3', 'info')
        if wrong.returncode == 0 or 'softfino-s3.sock' not in wrong.stderr:
            failures.append(f'--switch s3 (no such switch): {wrong.returncode} {wrong.stderr}')
    finally:
        sw.send_signal(signal.SIGTERM)
        sw.wait(timeout=30)
    if sw.returncode != 0:
        failures.append(f'the live topology exited {sw.returncode}: {sw.stderr.read()}')
if failures:
    sys.exit('FAIL:\n  ' + '\n  '.join(failures))

print(f'topology ({mode}): {COUNT} packets in, {link_crossings} link crossings, outputs '
      f'{ {k: len(v) for k, v in expected_out.items()} }, drops s1 {dict(expected_drops["s1"])}, '
      f's2 {dict(expected_drops["s2"])}: all exact')
subprocess.run(['rm', '-rf', work])
