#!/usr/bin/python3
"""Instructions a packet on tea_nat's cache-hit path, counted by callgrind.

Runs tea_bench's BM_TeaSwitchHit (tea_nat's Ingress on bursts of 32 packets
of known flows, every lookup a cache hit) under valgrind's callgrind,
collecting inside that benchmark only, and divides what TeaNat::Ingress
executed, less its miss and answer paths (the warm-up's READs and their
answers: TeaLookup::Miss, FromCollector, ParseRoce, and whatever
TeaLookup::Lookup calls, which a hit never does), by the packets whose keys
it hashed. Instruction counts do not follow the machine's load as timings
do, so a change's before and after compare on a shared VM.

  bench/tea_hit_instructions.py BUILD_DIR [--binary PATH]

--binary: another build's tea_bench (a copy kept from before a change).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
p.add_argument('build')
p.add_argument('--binary', help='tea_bench to measure (default BUILD_DIR/bench/tea_bench)')
args = p.parse_args()
binary = args.binary or f'{args.build}/bench/tea_bench'
BURST = 32  # pipe::kBurstSize: BM_TeaSwitchHit's bursts are full

out = os.path.join(tempfile.mkdtemp(prefix='tea_hit.'), 'callgrind.out')
run = subprocess.run(['valgrind', '--tool=callgrind', f'--callgrind-out-file={out}',
                      '--collect-atstart=no', '--toggle-collect=*BM_TeaSwitchHit*', binary,
                      '--benchmark_filter=BM_TeaSwitchHit', '--benchmark_min_time=0.05'],
                     capture_output=True, text=True)
if run.returncode != 0 or not os.path.exists(out):
    sys.exit(f'callgrind of {binary} failed: {run.stderr[-2000:]}')

# callgrind's format: "fn=(id) name" starts a function's records, and each
# call from it is "cfn=(id)", "calls=N ...", then a line whose last number
# is the call's inclusive cost. Names are given once, then ids alone.
names = {}
inclusive = {}  # callee name -> total inclusive cost over all calls
edges = []  # (caller, callee, calls, inclusive cost)
caller = ''
lines = open(out).read().split('\n')
i = 0
while i < len(lines):
    m = re.match(r'(c?fn)=\((\d+)\)(?: (.*))?$', lines[i])
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3)
        name = names.get(m.group(2), '')
        if m.group(1) == 'fn':
            caller = name
        else:
            calls = int(re.match(r'calls=(\d+)', lines[i + 1]).group(1))
            cost = int(lines[i + 2].split()[-1])
            edges.append((caller, name, calls, cost))
            inclusive[name] = inclusive.get(name, 0) + cost
            i += 3
            continue
    i += 1

ingress = [n for n in inclusive if 'TeaNat::Ingress(' in n]
if len(ingress) != 1:
    sys.exit('TeaNat::Ingress not found in the profile: is tea_bench built (-Dbenches=true)?')
slow = sum(cost for c, d, _, cost in edges
           if ('TeaNat::Ingress(' in c and re.search(r'TeaLookup::Miss|FromCollector|ParseRoce', d))
           or 'TeaLookup::Lookup(' in c)
bursts = sum(calls for c, d, calls, _ in edges
             if 'TeaNat::Ingress(' in c and 'Crc32Of16ByteBlocks' in d)
if bursts == 0:
    sys.exit('no burst of hashed keys seen: has TeaNat::Ingress changed how it hashes?')
per_packet = (inclusive[ingress[0]] - slow) / (bursts * BURST)
print(f'{per_packet:.1f} instructions a packet on tea_nat\'s hit path '
      f'({bursts} bursts of {BURST}; {binary})')
