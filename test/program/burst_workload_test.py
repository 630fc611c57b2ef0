#!/usr/bin/python3
"""softfino-gen bursts against the distributions it was asked for, measured
independently from its pcaps with scapy: no softfino code reads them.

For each burst (the frames of the burst senders that carry its number),
its duration is from its first frame to one frame time (at the burst rate)
after its last, and its gap is from the previous burst's end to its start.
Checks, per distribution:
  - the mean duration and gap within 4 standard errors (plus the rounding
    of a duration to whole frames) of the requested mean;
  - a Kolmogorov-Smirnov statistic below its 1% critical value, widened by
    what rounding to whole frames can shift the CDF;
  - file: gaps are values of the file;
  - the background's rate and the burst senders' rate;
  - the web preset's durations: median 30 us.
  burst_workload_test.py SOFTFINO_GEN
"""
import math
import statistics
import struct
import subprocess
import sys
import tempfile

from scapy.utils import RawPcapReader

gen = sys.argv[1]
work = tempfile.mkdtemp(prefix='bursts.')
SIZE, WIRE_OVERHEAD = 1000, 24  # frame, and FCS + preamble + gap
failures = []


def check(name, ok, detail=''):
    print(('ok   ' if ok else 'FAIL ') + name + ('' if ok else f': {detail}'))
    if not ok:
        failures.append(name)


def read(path):
    """(timestamp ns, sender, seq, burst) of each frame of a pcap."""
    reader = RawPcapReader(path)
    scale = 1 if reader.nano else 1000
    out = []
    for data, meta in reader:
        ts = (meta.sec * 10**9 + meta.usec * scale)
        sender, seq, burst = struct.unpack('!III', data[66:78])
        assert len(data) == SIZE and data[23] == 17 and struct.unpack('!H', data[36:38])[0] == 5001
        out.append((ts, sender, seq, burst))
    reader.close()
    return out


def cdf(kind, params):
    if kind == 'exp':
        return lambda x: 1 - math.exp(-x / params[0]) if x > 0 else 0.0
    if kind == 'lognormal':
        mu, sigma = math.log(params[0]), params[1]
        return lambda x: 0.5 * (1 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2)))) if x > 0 else 0.0
    if kind == 'uniform':
        lo, hi = params
        return lambda x: min(1.0, max(0.0, (x - lo) / (hi - lo)))
    raise ValueError(kind)


def mean_sd(kind, params):
    if kind == 'exp':
        return params[0], params[0]
    if kind == 'lognormal':
        m, s = params
        mean = m * math.exp(s * s / 2)
        return mean, mean * math.sqrt(math.exp(s * s) - 1)
    lo, hi = params
    return (lo + hi) / 2, (hi - lo) / math.sqrt(12)


def ks(samples, f):
    xs = sorted(samples)
    n = len(xs)
    return max(max(abs(f(x) - i / n), abs(f(x) - (i + 1) / n)) for i, x in enumerate(xs))


def max_density(f, hi, step):
    return max((f(x + step) - f(x)) / step for x in [step * i for i in range(1, int(hi / step))])


def bursts(tag, args, senders, burst_gbps, background_gbps):
    prefix = f'{work}/{tag}_'
    subprocess.run([gen, 'bursts', *args, '--senders', str(senders), '--burst-gbps',
                    str(burst_gbps), '--background-gbps', str(background_gbps), '--size',
                    str(SIZE), '--out-prefix', prefix], check=True, capture_output=True)
    by_burst = {}
    for s in range(senders):
        for ts, sender, seq, burst in read(f'{prefix}{s}.pcap'):
            assert sender == s and burst != 0xffffffff
            by_burst.setdefault(burst, []).append((ts, s))
    frame_ns = (SIZE + WIRE_OVERHEAD) * 8 / burst_gbps  # at the burst rate, all senders
    starts, durations = [], []
    for b in sorted(by_burst):
        ts = [t for t, _ in by_burst[b]]
        starts.append(min(ts))
        durations.append(max(ts) - min(ts) + frame_ns)
    gaps = [starts[0]] + [starts[i] - (starts[i - 1] + durations[i - 1])
                          for i in range(1, len(starts))]
    # Each sender's frames within a burst: evenly spaced at its share of the rate.
    sender_ns = frame_ns * senders
    spacing = [b - a for f in [sorted(t for t, s in v if s == 0) for v in by_burst.values()]
               for a, b in zip(f, f[1:])]
    check(f'{tag}: each sender sends at burst rate / senders within a burst',
          all(abs(x - sender_ns) <= 1 for x in spacing), spacing[:5])
    background = read(f'{prefix}{senders}.pcap') if background_gbps > 0 else []
    if background:
        end = starts[-1] + durations[-1]
        rate = len(background) * (SIZE + WIRE_OVERHEAD) * 8 / end
        check(f'{tag}: background at {background_gbps} Gb/s (measured {rate:.3f})',
              abs(rate - background_gbps) < 0.05 * background_gbps and
              all(b[3] == 0xffffffff for b in background), rate)
    return [d / 1000 for d in durations], [g / 1000 for g in gaps], sender_ns / 1000


def check_distribution(tag, what, samples, spec, quantum_us):
    kind, params = spec.split(':')
    params = [float(p) for p in params.split(',')]
    f = cdf(kind, params)
    mean, sd = mean_sd(kind, params)
    n = len(samples)
    got = statistics.fmean(samples)
    tolerance = 4 * sd / math.sqrt(n) + quantum_us / 2
    check(f'{tag}: mean {what} {got:.2f} us, asked {mean:.2f} (+- {tolerance:.2f})',
          abs(got - mean) <= tolerance)
    d = ks(samples, f)
    hi = max(samples)
    slack = max_density(f, hi, hi / 2000) * quantum_us / 2 if quantum_us else 0
    critical = 1.63 / math.sqrt(n) + slack
    check(f'{tag}: KS statistic of {what} {d:.4f} < {critical:.4f} ({spec}, {n} bursts)',
          d < critical)


N = 600
for tag, durations, gaps, senders, burst_gbps, background in [
        ('exp', 'exp:40', 'exp:100', 2, 15, 0.5),
        ('lognormal', 'lognormal:30,1', 'lognormal:80,0.7', 3, 12, 0),
        ('uniform', 'uniform:5,60', 'exp:50', 1, 9, 1)]:
    d, g, quantum = bursts(tag, ['--bursts', str(N), '--durations', durations, '--gaps', gaps,
                                 '--seed', '7'], senders, burst_gbps, background)
    check(f'{tag}: {N} bursts', len(d) == N, len(d))
    check_distribution(tag, 'duration', d, durations, quantum)
    check_distribution(tag, 'gap', g, gaps, 0)

# A negative control: the same statistics must reject a wrong distribution.
d, g, quantum = bursts('control', ['--bursts', str(N), '--durations', 'exp:40', '--gaps',
                                   'exp:100', '--seed', '7'], 2, 15, 0)
check('control: the KS check tells exp:40 from lognormal:40,1',
      ks(d, cdf('lognormal', [40, 1])) > 1.63 / math.sqrt(N) + 0.02)

# An empirical distribution from a CSV file (header, comment, extra columns).
values = [7.5, 20, 33.25, 120, 400]
with open(f'{work}/gaps.csv', 'w') as f:
    f.write('gap_us,note\n# measured\n' + ''.join(f'{v},x\n' for v in values))
d, g, quantum = bursts('file', ['--bursts', str(N), '--durations', 'const:10', '--gaps',
                                f'file:{work}/gaps.csv', '--seed', '3'], 2, 15, 0)
check('file: every gap is a value of the file',
      all(min(abs(x - v) for v in values) < 0.002 for x in g), sorted(g)[:5])
counts = [sum(1 for x in g if abs(x - v) < 0.002) for v in values]
check(f'file: values drawn uniformly ({counts})',
      all(abs(c - N / len(values)) < 4 * math.sqrt(N / len(values)) for c in counts))
check('const: durations are 10 us rounded to whole frames',
      all(abs(x - 10) <= quantum / 2 + 0.002 for x in d), d[:5])

# The web preset: lognormal durations with a 30 us median.
d, g, quantum = bursts('web', ['--preset', 'web', '--bursts', '300'], 2, 15, 1)
median = statistics.median(d)
check(f'web preset: median duration {median:.1f} us (about 30)', 24 < median < 37, median)

# Bad specs are refused with a message that names the fix.
for spec in ['gauss:3', 'exp:-1', 'lognormal:30', 'uniform:5,1', f'file:{work}/none.csv']:
    r = subprocess.run([gen, 'bursts', '--durations', spec, '--out-prefix', f'{work}/bad'],
                       capture_output=True, text=True)
    check(f'refuses --durations {spec}', r.returncode != 0 and 'distribution' in r.stderr,
          r.stderr)
print(f'{len(failures)} failure(s)')
sys.exit(1 if failures else 0)
