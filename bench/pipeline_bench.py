#!/usr/bin/python3
"""Whole-switch packet rates per program and per number of worker cores,
beside dpdk-testpmd (io and macswap forwarding: the ceiling) and Open
vSwitch with DPDK doing l3fwd's routing (one PMD core: the peer a user
would pick instead; ovs_bench.py) on the same ports in the same run. Writes
a markdown table and a PNG plot (gnuplot).

Each run replays a pcap of valid packets without end (net_pcap infinite_rx)
into the program on N worker cores, and sends through net_null. With N
pipes, the pcap's flows are split N ways by destination and each part
enters on a port of its own pipe and leaves on another port of that pipe
(benchlib.program_configs), so that pipes scale as a multi-pipe Tofino
does, every port's queues in one pipe. The rate is the growth of the
switch's received-packet counter between two `softfino-ctl stats` a few
seconds apart. The generator's own cost (net_pcap handing out mbufs) is in
every row alike, testpmd's included, so the ratios compare the programs.

If OVS-DPDK cannot run (not installed, fails to start), its rows say n/a
with the reason under the table, and the rest still runs.

  pipeline_bench.py BUILD_DIR --out DIR [--huge] [--max-cores N | --cores LIST]
                    [--sizes 64,imix] [--seconds S] [--no-ovs]

On a many-core machine, --cores 1,2,4,8,15 measures a few points of the
curve instead of every count (each cell is a run of a few seconds).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import ovs_bench  # noqa: E402
import tea_nat_bench  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument('build')
p.add_argument('--out', required=True)
p.add_argument('--huge', action='store_true', help='hugepages are set up: use them')
p.add_argument('--max-cores', type=int, default=0,
               help='0: every CPU but the main lcore\'s (both on a 2-CPU machine)')
p.add_argument('--cores', default='',
               help='the worker counts to measure, e.g. 1,2,4,8 (default 1..--max-cores)')
p.add_argument('--sizes', default='64,imix', help='packet sizes: 64, imix or both')
p.add_argument('--seconds', type=float, default=3.0)
p.add_argument('--repeat', type=int, default=1,
               help='measure every row N times and keep the best (on a shared machine the '
                    'best run is the least disturbed one)')
p.add_argument('--programs', default='l3fwd,l3fwd_trumpet16k,dta_reporter,burstradar,tea_nat')
p.add_argument('--no-ovs', action='store_true', help='skip Open vSwitch with DPDK')
args = p.parse_args()
apps = f'{args.build}/src/apps'
work = tempfile.mkdtemp(prefix='pipeline_bench.')
os.makedirs(args.out, exist_ok=True)
mem = benchlib.eal_memory(args.huge)
cpus = os.cpu_count()
# Every CPU but the main lcore's; on a machine of two, both (the main lcore
# then shares one, see lcores()), so there is a curve to draw.
max_cores = min(args.max_cores or max(cpus - 1, min(cpus, 2)), cpus, 16)
core_counts = ([int(c) for c in args.cores.split(',')] if args.cores
               else list(range(1, max_cores + 1)))
if core_counts[0] != 1 or core_counts != sorted(set(core_counts)) or core_counts[-1] > cpus:
    sys.exit(f'--cores {args.cores}: give rising worker counts from 1 up to {cpus} (the CPUs here)')
max_cores = core_counts[-1]
SIZES = args.sizes.split(',')
if not SIZES or set(SIZES) - {'64', 'imix'}:
    sys.exit(f'--sizes {args.sizes}: give 64, imix or 64,imix')
memory = 'hugepages' if args.huge else 'no-huge'

pcaps = {}
for size in SIZES:
    pcaps[size] = f'{work}/flows_{size}.pcap'
    subprocess.run([f'{apps}/softfino-gen', 'flows', '--flows', '1000', '--packets', '4000',
                    '--sizes', size, '--out', pcaps[size]], check=True, capture_output=True)
PREFIXES = benchlib.route_prefixes(1024)
CONFIGS = {}  # by number of cores: benchlib.program_configs


def lcores(cores):
    """EAL --lcores: the main lcore (the slow path, asleep but for a 1 ms
    tick) on CPU 0, where the OS does its own work, and worker w on CPU w;
    when every CPU runs a worker, the last one shares CPU 0."""
    return ','.join(['0@0'] + [f'{w}@{w % cpus}' for w in range(1, cores + 1)])


TEA_NAT_FAILURE = {}  # size -> why its row is n/a


def run_softfino(name, size, cores):
    if name == 'tea_nat':
        rate, why = tea_nat_bench.measure(apps, pcaps[size], benchlib.eal_memory(args.huge, cores),
                                          args.seconds, cores, lcores(cores))
        if why:
            TEA_NAT_FAILURE[size] = why
        return rate
    if cores not in CONFIGS:
        CONFIGS[cores] = benchlib.program_configs(apps, work, cores=cores)
    pipeline, config = CONFIGS[cores][name]
    with open(f'{work}/{name}.json', 'w') as f:
        json.dump(config, f)
    tag = f'pb{os.getpid()}{name}{size}{cores}'
    parts = benchlib.split_pcap_by_dst(pcaps[size], cores, f'{work}/{size}_part{{}}of{cores}.pcap')
    vdevs = [f'--vdev=net_pcap{p},rx_pcap={part},infinite_rx=1' for p, part in enumerate(parts)]
    vdevs += [f'--vdev=net_null{p},no-rx=1' for p in range(cores, len(config['ports']))]
    cmd = [f'{apps}/softfino', *benchlib.eal_memory(args.huge, cores), '--no-shconf', '--no-pci', '--lcores', lcores(cores),
           f'--file-prefix={tag}', '--log-level=error', *vdevs,
           '--', '--pipeline', pipeline, '--config', f'{work}/{name}.json', '--fp-cores',
           str(cores), '--clock', 'real']
    return benchlib.measure_softfino(apps, cmd, tag, args.seconds)


def run_testpmd(mode, size):
    return benchlib.measure_testpmd(mem, f'pbt{os.getpid()}', pcaps[size], mode, args.seconds)


def mpps(v):
    return f'{v / 1e6:.2f}' if v else 'n/a'


def ratio(a, b):
    """a / b to three places: the goal is 0.25 of testpmd io, and two
    places showed 0.246 as 0.25."""
    return f'{a / b:.3f}' if a and b else 'n/a'


def best(measure, *what):
    """The highest of --repeat runs of measure(*what) (None: did not run)."""
    rates = [measure(*what) for _ in range(args.repeat)]
    return max((r for r in rates if r), default=None)


def run_ovs(size):
    """OVS-DPDK's rate on the same pcap with l3fwd's routes, and why not
    (None, reason) when it did not run. Its PMD statistics go beside the
    table."""
    if args.no_ovs:
        return None, 'skipped (--no-ovs)'
    failures, rates = [], []

    def once():
        try:
            rate = ovs_bench.measure_ovs(pcaps[size], PREFIXES, **benchlib.NEXTHOP_MAC,
                                         seconds=args.seconds, mem=mem,
                                         stats_file=f'{work}/ovs_pmd.txt')
        except ovs_bench.OvsError as e:
            print(f'ovs-dpdk {size}: {e}', file=sys.stderr)
            failures.append(str(e))
            return None
        if rate > max(rates, default=0):  # the statistics of the run in the table
            shutil.copy(f'{work}/ovs_pmd.txt', f'{args.out}/ovs_pmd_{size}.txt')
        rates.append(rate)
        return rate
    rate = best(once)
    return rate, None if rate else failures[-1]


OVS_ROW = 'ovs-dpdk l3 (1,024 routes)'
results = {}  # (name, size) -> {cores: pps}
beside = {}  # (name, size) -> [1 core / mean of the testpmd io runs before and after it]
ceiling = {}
peer, peer_failure = {}, {}
for size in SIZES:
    for mode in ('io', 'macswap'):
        ceiling[(mode, size)] = best(run_testpmd, mode, size)
        r = ceiling[(mode, size)]
        print(f'testpmd {mode} {size}: {r / 1e6 if r else float("nan"):.2f} Mpps', flush=True)
    peer[size], peer_failure[size] = run_ovs(size)
    print(f'{OVS_ROW} {size}: {mpps(peer[size])} Mpps', flush=True)
    # One core: each program's run between two testpmd io runs (the one
    # after a program is the one before the next), and its ratio to their
    # mean, so that both sides of the ratio come from the same minutes: on a
    # shared VM the CPU's speed changes by 10-30% from one spell to the
    # next, and a ratio to testpmd io measured minutes before moved with it.
    names = args.programs.split(',')
    one_core = {name: [] for name in names}
    for _ in range(args.repeat):
        before = run_testpmd('io', size)
        for name in names:
            r = run_softfino(name, size, 1)
            after = run_testpmd('io', size)
            one_core[name].append(r)
            if r and before and after:
                beside.setdefault((name, size), []).append(r / ((before + after) / 2))
            before = after
    for name in names:
        for cores in core_counts:
            r = (max((x for x in one_core[name] if x), default=None) if cores == 1
                 else best(run_softfino, name, size, cores))
            results.setdefault((name, size), {})[cores] = r
            print(f'{name} {size} {cores} core(s): {r / 1e6 if r else float("nan"):.2f} Mpps',
                  flush=True)


lines = [f'Machine: {os.uname().nodename}, {cpus} CPUs '
         f'({open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].splitlines()[0].strip()}), '
         f'{memory}, {time.strftime("%Y-%m-%d")}; 1,000 flows, 4,000-packet pcaps replayed '
         f'without end (net_pcap infinite_rx) into net_null; {args.seconds:g} s a run'
         + (f', the best of {args.repeat} runs a cell' if args.repeat > 1 else '')
         + (f'; with {cpus} cores the main lcore (slow path, a 1 ms tick) shares a CPU with a '
            'worker' if max_cores >= cpus else '') + '.', '',
         '| program | size | ' + ' | '.join(f'{c} core(s) Mpps' for c in core_counts) +
         ' | 1 core / testpmd io | 1 core / testpmd io beside it | 1 core / testpmd macswap '
         '| 1 core / OVS-DPDK |',
         '| --- | --- | ' + ' | '.join('---' for _ in core_counts) + ' | --- | --- | --- | --- |']
empty = ' |' * (len(core_counts) - 1)  # the cells of 2+ cores, for the one-core rows
for size in SIZES:
    io, mac, ovs = ceiling[('io', size)], ceiling[('macswap', size)], peer[size]
    lines.append(f'| dpdk-testpmd io | {size} | {mpps(io)} |{empty} 1.00 | 1.00 | | '
                 f'{ratio(io, ovs)} |')
    lines.append(f'| dpdk-testpmd macswap | {size} | {mpps(mac)} |{empty} | | 1.00 | '
                 f'{ratio(mac, ovs)} |')
    lines.append(f'| {OVS_ROW} | {size} | {mpps(ovs)} |{empty} {ratio(ovs, io)} | | '
                 f'{ratio(ovs, mac)} | {"1.00" if ovs else "n/a"} |')
    for name in args.programs.split(','):
        row = results[(name, size)]
        one = row.get(1)
        cells = ' | '.join(mpps(row.get(c)) for c in core_counts)
        near = beside.get((name, size))
        near_cell = f'{statistics.median(near):.3f}' if near else 'n/a'
        lines.append(f'| {name} | {size} | {cells} | {ratio(one, io)} | {near_cell} | '
                     f'{ratio(one, mac)} | {ratio(one, ovs)} |')
lines.append('')
lines.append('"Beside it": the median over the runs of a program\'s one-core rate divided by the '
             'mean of the testpmd io runs just before and just after it (the machine\'s speed '
             'changes from one spell to the next; the column before divides by the best testpmd '
             'io run at the start).')
# Why a program's rate does not grow with pipes (written under the table
# when its multi-core cells are in it).
SCALING_NOTES = {
    'dta_reporter': 'every packet makes a report; each pipe sends its reports through a report '
                    'port of its own (report_port as a list, one per pipe, each with its own '
                    'source address and sequence).',
    'tea_nat': 'cache warm (every flow\'s entry read once in the warm-up, then every packet a '
               'cache hit), tables in a softfino-collector over a veth pair whose port one pipe '
               'reads: the other pipes\' warm-up answers are steered to them through it '
               '(tea_nat_bench.py).',
    'burstradar': 'a monitor port per pipe (monitor_port as a list): a courier reads its ring '
                  'entry in its own pipe, as on Tofino.',
}
if max_cores > 1:
    for name in args.programs.split(','):
        if name in SCALING_NOTES:
            lines.append('')
            lines.append(f'{name}, 2+ cores: {SCALING_NOTES[name]}')
if any(peer.values()):
    lines.append('')
    lines.append(f'{OVS_ROW}: Debian\'s openvswitch-switch-dpdk ({ovs_bench.version()}), '
                 'userspace datapath, one PMD core, an OpenFlow rule per route (set both MACs, '
                 'dec_ttl, output); its PMD statistics are in ovs_pmd_64.txt and ovs_pmd_imix.txt.')
for size, why in TEA_NAT_FAILURE.items():
    lines.append(f'\ntea_nat {size}: n/a: {why}')
for size in SIZES:
    if peer_failure[size]:
        reason = ' '.join(peer_failure[size].split())[-400:].replace('|', '/')
        lines.append(f'\n{OVS_ROW} {size}: n/a: {reason}')
table = '\n'.join(lines) + '\n'
with open(f'{args.out}/results.md', 'w') as f:
    f.write(table)
print()
print(table)

# The plot: Mpps against cores per program (64 B unless only imix ran),
# testpmd io as a line.
plot_size = SIZES[0]
data = f'{args.out}/results.dat'
with open(data, 'w') as f:
    for name in args.programs.split(','):
        f.write(f'# {name}\n')
        for cores, r in sorted(results[(name, plot_size)].items()):
            if r:  # a cell that did not run is no point at 0
                f.write(f'{cores} {r / 1e6:.3f}\n')
        f.write('\n\n')
# The plot's gnuplot script beside its data (paths relative to --out), so a
# machine without gnuplot (bench/many_cores.sh on a borrowed one) leaves
# what another draws with `cd OUT && gnuplot results.gp`.
names = args.programs.split(',')
plots = ', '.join(f"'results.dat' index {i} with linespoints title '{n}'" for i, n in enumerate(names))
io = (ceiling[('io', plot_size)] or 0) / 1e6
io_line = f", {io} with lines dashtype 2 title 'testpmd io, 1 core'" if io else ''
ovs_line = (f", {peer[plot_size] / 1e6} with lines dashtype 3 title 'OVS-DPDK l3, 1 PMD core'"
            if peer[plot_size] else '')
size_words = '64-byte' if plot_size == '64' else 'imix'
with open(f'{args.out}/results.gp', 'w') as f:
    f.write(f"set terminal pngcairo noenhanced size 900,540\n"
            f"set output 'results.png'\n"
            f"set title 'softfino, {size_words} packets ({memory}, {cpus} CPUs)'\n"
            f"set xlabel 'worker cores'\nset ylabel 'Mpps'\n"
            f"set xrange [0.5:{max_cores + 0.5}]\nset xtics 1\n"
            f"set yrange [0:*]\nset key outside right\n"
            f"plot {plots}{io_line}{ovs_line}\n")
if shutil.which('gnuplot'):
    r = subprocess.run(['gnuplot', 'results.gp'], cwd=args.out, text=True, capture_output=True)
    if r.returncode != 0:
        print(f'gnuplot: {r.stderr}', file=sys.stderr)
else:
    print(f'no gnuplot: no PNG plot (scripts/bench installs gnuplot-nox; elsewhere: '
          f'cd {args.out} && gnuplot results.gp)', file=sys.stderr)
shutil.rmtree(work, ignore_errors=True)  # the pcaps, configs and trigger file
