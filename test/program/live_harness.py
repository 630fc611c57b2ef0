"""What the live program tests (real binaries on veth pairs) share: checks
that count failures, veth pairs (optionally with one end in a network
namespace), and waiting for a line on a process's stderr."""
import os
import re
import subprocess
import sys
import time

failures = []


def check(name, cond, detail=''):
    print(('ok   ' if cond else 'FAIL ') + name + (f': {detail}' if detail and not cond else ''))
    if not cond:
        failures.append(name)


def require_root():
    if os.geteuid() != 0:
        print('SKIP: needs root for veth pairs')
        sys.exit(77)


def veth(a, b, b_netns=None):
    """A veth pair a <-> b, both up, IPv6 off (no router solicitations)."""
    subprocess.run(['ip', 'link', 'add', a, 'type', 'veth', 'peer', 'name', b], check=True)
    if b_netns:
        subprocess.run(['ip', 'link', 'set', b, 'netns', b_netns], check=True)
    for ifname, ns in ((a, None), (b, b_netns)):
        run_in = ['ip', 'netns', 'exec', ns] if ns else []
        subprocess.run([*run_in, 'sysctl', '-qw', f'net.ipv6.conf.{ifname}.disable_ipv6=1'])
        subprocess.run([*run_in, 'ip', 'link', 'set', ifname, 'up'], check=True)


def wait_for_line(proc, pattern, seconds=30):
    """Reads proc's stderr until a line matches; returns (match or None, lines read)."""
    said = []
    deadline = time.time() + seconds
    while time.time() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        said.append(line)
        m = re.search(pattern, line)
        if m:
            return m, said
    return None, said


def finish():
    print(f'{len(failures)} failure(s)')
    sys.exit(1 if failures else 0)
