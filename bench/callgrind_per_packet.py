#!/usr/bin/python3
"""Instructions per packet, split by function, counted by valgrind's callgrind.

Runs softfino (--program: l3fwd with 1,024 routes by default, or another
row of pipeline_bench.py with the same config; ports at 1 Tb/s as there, so
the traffic manager never queues) twice on pcaps of N
and 2N valid packets (softfino-gen flows), in virtual time on net_pcap ports,
and divides the difference of each function's instruction count by N: start-up,
table loading and shutdown cancel out, what is left is the per-packet cost.
Instruction counts do not depend on the machine's load, unlike timings, so
before/after comparisons hold on a shared VM.

  bench/callgrind_per_packet.py BUILD_DIR [--program l3fwd|l3fwd_trumpet16k|dta_reporter]
                                [--packets N] [--sizes 64|imix|BYTES] [--top K]
                                [--keep DIR [--reuse]]

Functions are those of callgrind_annotate (inlined code counts in its caller).
The summary splits softfino's own code (the softfino binary) into receive +
ingress (ReceiveVirtual, RunIngress, the program's Ingress and its table
lookups), the traffic manager (PipeWorker's Dispose, Enqueue, AdvanceEgress,
AdvancePort, RunEgress: the hand-off from the deparser, the TM's enqueue and
dequeue, the egress bursts up to the TX call) and the egress program, and
shows the libraries (DPDK's net_pcap, libpcap, libc) apart. The program's
own functions (Trumpet's monitor, the reporter's) count in the part that
calls them, and their sum is shown under it ("of which").

The switch stops 1 ms (wall time) after the replay ends; the polls in that
time are not per-packet work and their number follows the machine's load, so
the script prints them and the noise they add (small with the default N).
Takes a few minutes, most of it EAL start-up under valgrind.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
p.add_argument('build', help='a meson build folder (release: build/)')
p.add_argument('--program', default='l3fwd', choices=('l3fwd', 'l3fwd_trumpet16k', 'dta_reporter'),
               help="a row of pipeline_bench.py, with its config (default l3fwd)")
p.add_argument('--packets', type=int, default=100000, help='N: runs of N and 2N packets')
p.add_argument('--sizes', default='64', help="softfino-gen flows --sizes (default 64)")
p.add_argument('--top', type=int, default=25, help='functions to list')
p.add_argument('--keep', help='keep the pcaps and callgrind outputs in this folder')
p.add_argument('--reuse', action='store_true',
               help='with --keep: annotate the callgrind outputs already there, run nothing')
args = p.parse_args()

apps = os.path.join(args.build, 'src', 'apps')
work = args.keep or tempfile.mkdtemp(prefix='callgrind_per_packet.')
os.makedirs(work, exist_ok=True)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

# The config of pipeline_bench.py's row. l3fwd sends to port 1 and
# dta_reporter its reports to port 2; the ports beyond 0 receive nothing.
PORTS = 3 if args.program == 'dta_reporter' else 2
PIPELINE, CONFIG = benchlib.program_configs(apps, work, PORTS)[args.program]
with open(f'{work}/{args.program}.json', 'w') as f:
    json.dump(CONFIG, f)
with open(f'{work}/empty.pcap', 'wb') as f:  # port 1 receives nothing
    f.write(bytes.fromhex('d4c3b2a1020004000000000000000000ffff000001000000'))

# One output line of callgrind_annotate: "1,234 (0.5%)  file:function [object]".
LINE = re.compile(r'^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.*?)(?:\s+\[(.*)\])?$')


def run(packets):
    out = f'{work}/callgrind.{packets}.out'
    if args.reuse:
        return annotate(out)
    pcap = f'{work}/in{packets}.pcap'
    subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '1000', '--packets',
                    str(packets), '--sizes', args.sizes, '--out', pcap], check=True,
                   capture_output=True)
    proc = subprocess.run(
        ['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}', f'{apps}/softfino',
         '--no-huge', '--no-shconf', '-m', '256', '--no-pci', '-l', '0', '--log-level=error',
         f'--file-prefix=cgpp{os.getpid()}',
         f'--vdev=net_pcap0,rx_pcap={pcap},tx_pcap={work}/out0.pcap',
         *(f'--vdev=net_pcap{port},rx_pcap={work}/empty.pcap,tx_pcap={work}/out{port}.pcap'
           for port in range(1, PORTS)),
         '--', '--pipeline', PIPELINE, '--config', f'{work}/{args.program}.json',
         '--exit-when-idle', '1', '--stats-json', f'{work}/stats.{packets}.json'],
        capture_output=True, text=True)
    # Every packet forwarded, none dropped (dta_reporter's reports are
    # copies: "N received + M copies, N+M forwarded, 0 dropped").
    total = re.search(r'total: (\d+) received(?: \+ \d+ copies)?, \d+ forwarded, 0 dropped',
                      proc.stdout)
    if proc.returncode != 0 or not total or int(total.group(1)) != packets:
        sys.exit(f'softfino under callgrind ({packets} packets) did not forward every packet:\n'
                 f'{proc.stdout}\n{proc.stderr}')
    return annotate(out)


def idle_polls(packets):
    with open(f'{work}/stats.{packets}.json') as f:
        return sum(p['polls'] - p['busy_polls'] for p in json.load(f)['pipes'])


def annotate(out):
    ann = subprocess.run(['callgrind_annotate', '--threshold=100', out], check=True,
                         capture_output=True, text=True).stdout
    counts = {}
    for line in ann.splitlines():
        m = LINE.match(line)
        if not m or m.group(2) == 'PROGRAM TOTALS':
            continue
        fn = m.group(2).split(':', 1)[1] if ':' in m.group(2) else m.group(2)
        obj = os.path.basename(m.group(3) or '?')
        if fn.startswith('0x'):
            # Code without symbols, named by its address: callgrind may file
            # the same address of two libraries under either, so only the
            # sum over the libraries means something.
            fn, obj = '(code without symbols)', 'libraries'
        key = (fn, obj)
        counts[key] = counts.get(key, 0) + int(m.group(1).replace(',', ''))
    return counts


def Name(fn):
    """A function's name without its arguments (their types name other
    classes), anonymous namespaces kept."""
    return re.sub(r'\(.*', '', fn.replace('(anonymous namespace)', 'anonymous'))


def part(fn, obj):
    """Which part of the per-packet work a function is."""
    fn = Name(fn)
    # The project's own code is linked into the binary, and so is DPDK when
    # linked statically (-Ddpdk_static, the default): its functions (rte_*,
    # eth_*, drivers) count as libraries wherever they are.
    if obj != 'softfino' or not fn.startswith('softfino::'):
        return 'libraries (DPDK, libc, ...)'
    # The hand-off from the deparser, the TM itself (its multicast copies
    # too), and the egress bursts it fills (to TX, not counting the egress
    # program).
    if re.search(r'PipeWorker::(Dispose|Enqueue\w*|Multicast|DrainInbox|AdvanceEgress|AdvancePort|'
                 r'Collect|RunEgress)$|^softfino::tm::|^softfino::dataplane::CopyPacket', fn):
        return 'traffic manager'
    if re.search(r'::Egress$|DtaReporter::MakeReport$|^softfino::net::Build', fn):
        return 'egress program'
    # Trumpet's per-burst work runs inside the host's Ingress; its sweep
    # (Background) between bursts counts as other softfino code.
    if re.search(r'PipeWorker::(ReceiveVirtual|ReceiveReal|CountRx|RunIngress)$|::Ingress$|'
                 r'::LookupBulk$|DtaReporter::(Classify|Report|Group)$|trumpet::Stage::Observe$|'
                 r'^softfino::net::.*(Crc32Of|FoldOf)\w*Blocks$|'
                 r'trumpet::Monitor::(OnPackets|FindFlow|AddFlow|Admit)$|'
                 r'trumpet::TriggerSet::Match$', fn):
        return 'receive + ingress'
    return 'other softfino code'


def own(fn, obj):
    """The program's own code (beside the host's and softfino's), or None."""
    fn = Name(fn)
    if obj != 'softfino':
        return None
    if fn.startswith('softfino::trumpet::'):
        return 'Trumpet'
    if re.search(r'DtaReporter::|^softfino::net::Build', fn) or (
            args.program == 'dta_reporter' and re.search(r'^softfino::net::.*FoldOf\w*Blocks$', fn)):
        return 'the reporter'
    return None


n = args.packets
small, large = run(n), run(2 * n)
per_packet = {k: (large.get(k, 0) - small.get(k, 0)) / n for k in set(small) | set(large)}
parts, owned = {}, {}
for (fn, obj), v in per_packet.items():
    parts[part(fn, obj)] = parts.get(part(fn, obj), 0) + v
    if own(fn, obj):
        key = (part(fn, obj), own(fn, obj))
        owned[key] = owned.get(key, 0) + v
own_total = sum(v for name, v in parts.items() if not name.startswith('libraries'))

print(f'{args.program}, {args.sizes}-byte packets: instructions per packet '
      f'(callgrind, runs of {n} and {2 * n} packets)')
# Polls after the replay ends (--exit-when-idle 1 ms of wall time) are not
# per-packet work; their number varies with the machine's load, at about
# 1,600 instructions each.
print(f'idle polls: {idle_polls(n)} and {idle_polls(2 * n)} (each ~1,600 instructions, '
      f'not per-packet work: the difference is noise of '
      f'{abs(idle_polls(2 * n) - idle_polls(n)) * 1600 / n:.1f} per packet)')
print()
for name in ('receive + ingress', 'traffic manager', 'egress program', 'other softfino code'):
    print(f'  {name:28} {parts.get(name, 0):8.1f}')
    for (where, label), v in sorted(owned.items()):
        if where == name and abs(v) >= 0.05:
            print(f'    {"of which " + label:26} {v:8.1f}')
print(f'  {"softfino total":28} {own_total:8.1f}')
if owned:
    label = next(iter(owned))[1]
    print(f'  {"of which " + label:28} {sum(owned.values()):8.1f}')
print(f'  {"libraries (DPDK, libc, ...)":28} {parts.get("libraries (DPDK, libc, ...)", 0):8.1f}')
print()
print(f'{"per packet":>10}  part / function')
top = sorted(per_packet.items(), key=lambda kv: -abs(kv[1]))[:args.top]
for (fn, obj), v in top:
    if abs(v) < 0.05:
        break
    short = Name(fn)
    print(f'{v:10.1f}  {part(fn, obj)} / {short} [{obj}]')
if not args.keep:
    print(f'\n(callgrind outputs in {work}; --keep DIR to choose where)')
