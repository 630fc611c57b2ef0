#!/usr/bin/env bash
# softfino-ctl against a running switch. The switch serves its control socket
# (mode 0600, in a folder it creates, replacing a stale socket file), its
# commands answer with exactly what the workload implies, bad requests get a
# clear error and change nothing, misbehaving clients (silent, half a line,
# never reading, oversize, too many) never stop others from being served, a
# second switch refuses the same socket, and SIGTERM stops the switch with
# exit 0 and removes the socket.
#   ctl_test.sh SOFTFINO SOFTFINO_CTL
set -uo pipefail
softfino=$1
ctl=$2
here=$(cd "$(dirname "$0")" && pwd)
source "$here/eal_args.sh"
work=$(mktemp -d /tmp/softfino-ctl.XXXXXX)
prefix="ctl$$"
# DPDK's runtime folder for a prefix, where the default socket lives.
runtime_base=/var/run
[[ $(id -u) -eq 0 ]] || runtime_base=${XDG_RUNTIME_DIR:-/tmp}
default_dir="$runtime_base/dpdk/${prefix}b"
sock="$work/run/a/ctl.sock"  # its folders do not exist yet: the switch makes them
pid=
pid_b=
cleanup() {
  [[ -n $pid ]] && kill "$pid" 2>/dev/null
  [[ -n $pid_b ]] && kill "$pid_b" 2>/dev/null
  wait 2>/dev/null
  # DPDK leaves its (by now empty) runtime folders behind; these are ours.
  rm -rf "$work" "$default_dir" "$runtime_base/dpdk/$prefix" "$runtime_base/dpdk/${prefix}c"
}
trap cleanup EXIT
die() { echo "FAIL $*"; exit 1; }
failures=0
check() {  # check NAME CONDITION-COMMAND...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; failures=$((failures + 1)); fi
}

# The workload, and what it implies, from the packets themselves: port 0 gets
# 40 routed to port 1, 7 with no route and 3 IPv6 with hop limit 1; port 2
# gets 5 routed to port 0.
/usr/bin/python3 - "$work" <<'PY' || die "cannot write the workload"
import json, sys
from scapy.all import Ether, IP, IPv6, UDP, Raw, wrpcap
work = sys.argv[1]
to1 = [Ether()/IP(dst='10.1.2.3')/UDP()/Raw(b'x' * 18)] * 40
no_route = [Ether()/IP(dst='9.9.9.9')/UDP()] * 7
ttl = [Ether()/IPv6(dst='2001:db8:1::1', hlim=1)/UDP()] * 3
to0 = [Ether()/IP(dst='10.2.0.1')/UDP()/Raw(b'y' * 100)] * 5
wrpcap(f'{work}/in0.pcap', to1 + no_route + ttl)
wrpcap(f'{work}/in2.pcap', to0)
wrpcap(f'{work}/empty.pcap', [])
size = lambda pkts: sum(len(p) for p in pkts)
json.dump({
    'ports': [
        {'rx_packets': 50, 'rx_bytes': size(to1 + no_route + ttl), 'tx_packets': 5, 'tx_bytes': size(to0)},
        {'rx_packets': 0, 'rx_bytes': 0, 'tx_packets': 40, 'tx_bytes': size(to1)},
        {'rx_packets': 5, 'rx_bytes': size(to0), 'tx_packets': 0, 'tx_bytes': 0},
    ],
    # (port, qid): enqueued packets, bytes
    'queues': {'0,0': [5, size(to0)], '1,0': [40, size(to1)]},
    'drops': {'no_route': 7, 'ttl_expired': 3},
    'totals': {'received': 55, 'forwarded': 45, 'dropped': 10},
}, open(f'{work}/expected.json', 'w'))
PY
cat > "$work/config.json" <<'JSON'
{"tables": {
  "nexthop": [
    {"key": {"nexthop_id": 1}, "action": "forward",
     "data": {"port": 1, "src_mac": "02:00:00:00:01:00", "dst_mac": "02:00:00:00:01:01"}},
    {"key": {"nexthop_id": 2}, "action": "forward",
     "data": {"port": 0, "src_mac": "02:00:00:00:00:00", "dst_mac": "02:00:00:00:00:02"}}],
  "ipv4_lpm": [
    {"key": {"dst_addr": "10.1.0.0/16"}, "action": "set_nexthop", "data": {"nexthop_id": 1}},
    {"key": {"dst_addr": "10.2.0.0/16"}, "action": "set_nexthop", "data": {"nexthop_id": 2}}],
  "ipv6_lpm": [
    {"key": {"dst_addr": "2001:db8:1::/48"}, "action": "set_nexthop", "data": {"nexthop_id": 1}}]},
 "ports": [{"port": 1, "queues": 4}]}
JSON

# Switch A: an explicit --control-socket; no --exit-when-idle, so it runs
# until signalled, like a live switch.
"$softfino" $(test_eal_args "$prefix") -l 0 \
  --vdev="net_pcap0,rx_pcap=$work/in0.pcap,tx_pcap=$work/out0.pcap" \
  --vdev="net_pcap1,rx_pcap=$work/empty.pcap,tx_pcap=$work/out1.pcap" \
  --vdev="net_pcap2,rx_pcap=$work/in2.pcap,tx_pcap=$work/out2.pcap" \
  -- --pipeline l3fwd --config "$work/config.json" --control-socket "$sock" \
  > "$work/a.txt" 2>&1 &
pid=$!
# Up once it answers and has seen the whole workload.
for _ in $(seq 200); do
  out=$("$ctl" --socket "$sock" stats 2>/dev/null) && grep -q '"received": 55' <<<"$out" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/a.txt"; die "switch A exited early"; }
  sleep 0.1
done
grep -q '"received": 55' <<<"${out:-}" || { cat "$work/a.txt"; die "softfino-ctl stats never showed 55 received"; }
check startup_line_names_socket grep -q "control socket $sock\$" "$work/a.txt"

# Everything a client can see, checked in Python against expected.json.
/usr/bin/python3 - "$ctl" "$sock" "$work" "$pid" <<'PY'
import json, os, select, socket, stat, subprocess, sys, time
ctl, sock, work, pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
exp = json.load(open(f'{work}/expected.json'))
failures = 0

def check(name, cond, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + name + ('' if cond else f': {detail}'))
    failures += 0 if cond else 1

def run(*args):
    p = subprocess.run([ctl, '--socket', sock, *args], capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout, p.stderr.strip()

def ok(*args):
    rc, out, err = run(*args)
    if rc != 0:
        raise SystemExit(f'FAIL softfino-ctl {" ".join(args)}: exit {rc}: {err}')
    return json.loads(out)

def error(name, args, want):
    rc, out, err = run(*args)
    check(name, rc == 1 and out == '' and err == f'softfino-ctl: {want}', f'exit {rc}, stderr {err!r}')

def still_answers(after):
    info = ok('info')
    check(f'answers_after_{after}', info['pid'] == pid, info)

# The socket: mode 0600, this user's; its folder made private.
st = os.lstat(sock)
check('socket_mode_0600', stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
      oct(st.st_mode))
check('socket_owner', st.st_uid == os.geteuid(), st.st_uid)
check('socket_folder_0700', stat.S_IMODE(os.stat(os.path.dirname(sock)).st_mode) == 0o700)

info = ok('info')
check('info', {k: info.get(k) for k in ('pipeline', 'ports', 'pipes', 'clock', 'pid')} ==
      {'pipeline': 'l3fwd', 'ports': 3, 'pipes': 1, 'clock': 'virtual', 'pid': pid}
      and info['seconds'] > 0, info)

stats = ok('stats')
totals = lambda t: {k: t[k] for k in exp['totals']}
check('stats_totals', totals(stats['totals']) == exp['totals'], stats['totals'])
fields = ('rx_packets', 'rx_bytes', 'tx_packets', 'tx_bytes')
check('stats_ports', [{f: p[f] for f in fields} for p in stats['ports']] == exp['ports'],
      stats['ports'])

ports = ok('ports')
check('ports', [{f: p[f] for f in fields} for p in ports] == exp['ports'] and
      [p['port'] for p in ports] == [0, 1, 2] and [p['queues'] for p in ports] == [1, 4, 1], ports)
check('ports_one', ok('ports', 'port=1') == ports[1], ok('ports', 'port=1'))
error('ports_no_such_port', ['ports', 'port=7'],
      'port 7 does not exist; this switch has 3 port(s), 0..2')
error('ports_port_not_a_number', ['ports', 'port=one'],
      '"port" must be a port number (an integer), e.g. {"port": 0}; got "one"')
error('ports_unknown_arg', ['ports', 'prot=1'], "unknown argument 'prot': ports takes port")

pipes = ok('pipes')
check('pipes', len(pipes) == 1 and (pipes[0]['rx_packets'], pipes[0]['tx_packets'],
      pipes[0]['dropped']) == (55, 45, 10), pipes)
error('pipes_no_such_pipe', ['pipes', 'pipe=1'],
      'pipe 1 does not exist; this switch has 1 pipe(s), 0..0')

queues = ok('queues')
check('queues_all', [(q['port'], q['qid']) for q in queues] ==
      [(0, 0), (1, 0), (1, 1), (1, 2), (1, 3), (2, 0)], queues)
got = {f"{q['port']},{q['qid']}": [q['enqueued_packets'], q['enqueued_bytes']]
       for q in queues if q['enqueued_packets']}
check('queues_counts', got == exp['queues'] and all(q['tail_drops'] == 0 for q in queues), got)
check('queues_filter', ok('queues', 'port=1', 'qid=0') == [queues[1]], ok('queues', 'port=1', 'qid=0'))
check('queues_port', len(ok('queues', 'port=1')) == 4)
error('queues_no_such_qid', ['queues', 'port=1', 'qid=9'],
      'qid 9 does not exist; port 1 has 4 queue(s), 0..3')

drops = ok('drops')
want_drops = {r: exp['drops'].get(r, 0) for r in drops}
check('drops', drops == want_drops and set(exp['drops']) <= set(drops), drops)
check('drops_match_stats', drops == stats['drops'])

known = ('counter_clear, counter_list, counter_read, drops, events, events_status, help, info, mcast_add, '
         'mcast_delete, mcast_list, mcast_modify, mirror_add, mirror_delete, mirror_list, '
         'mirror_modify, pipes, ports, queues, register_list, register_read, register_reset, '
         'register_write, stats, table_add, table_batch, table_clear, table_counter_clear, '
         'table_counter_read, table_delete, table_dump, table_modify')
help_ = ok('help')
check('help', sorted(help_) == known.split(', ') and all(help_.values()), help_)
check('help_one', list(ok('help', 'command=ports')) == ['ports'])
error('unknown_command', ['frobnicate'], f"unknown command 'frobnicate'; known commands: {known}")
check('raw', ok('--raw', '{"id": "abc", "cmd": "info"}')['pid'] == pid)
rc, out, err = run('--raw', '{"id": 1, "cmd": ')
check('raw_malformed', rc == 1 and err.startswith(
      'softfino-ctl: the request is not valid JSON (parse error at line 1, column ') and
      err.endswith('send one JSON object per line, e.g. {"id": 1, "cmd": "help"}'), err)

# Raw clients, misbehaving on purpose.
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)  # blocking: waits while the listen backlog is full
    s.settimeout(10)
    return s

def reply(s):
    buf = b''
    while not buf.endswith(b'\n'):
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return json.loads(buf) if buf else None

def closed(s):
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False

s = connect()
s.sendall(b'{"id": 1, "cmd": \n')
r = reply(s)
check('malformed_json', r['id'] is None and not r['ok'] and 'not valid JSON' in r['error'], r)
s.sendall(b'{"id": 2, "cmd": "frobnicate"}\n')
r = reply(s)
check('unknown_command_raw', r == {'id': 2, 'ok': False,
      'error': f"unknown command 'frobnicate'; known commands: {known}"}, r)
s.sendall(b'{"id": 3}\n')
r = reply(s)
check('missing_cmd', r['id'] == 3 and 'has no "cmd"' in r['error'], r)
s.sendall(b'{"id": 4, "cmd": "ports", "args": [1]}\n')
r = reply(s)
check('args_not_object', r['id'] == 4 and "the args of 'ports' must be a JSON object" in r['error'], r)
s.sendall(b'{"id": {"any": ["json"]}, "cmd": "info"}\n')
r = reply(s)
check('same_connection_still_served', r['ok'] and r['id'] == {'any': ['json']}, r)
s.close()
still_answers('bad_requests')

big = connect()
try:
    big.sendall(b'{"id": 5, "cmd": "info", "args": {"pad": "' + b'x' * (100 * 1024) + b'"}}\n')
except (BrokenPipeError, ConnectionResetError):
    pass  # the switch may hang up before it has all of it
r = reply(big)
check('oversize_request', r is not None and not r['ok'] and
      r['error'].startswith('request longer than 65536 bytes'), r)
check('oversize_closes_connection', closed(big))
big.close()
still_answers('oversize_request')

# Clients that do not play along, all connected at once.
silent = connect()                                    # connects, says nothing
half = connect()
half.sendall(b'{"id": 6, "cmd": "in')                 # half a line, rest later
one_unread = connect()
one_unread.sendall(b'{"id": 7, "cmd": "stats"}\n')    # never reads the reply
lazy = connect()
lazy.sendall(b'{"cmd": "stats"}\n' * 3000)            # ~10 MB of replies, never read
time.sleep(0.5)
still_answers('silent_half_unread_clients')
check('stats_beside_them', totals(ok('stats')['totals']) == exp['totals'])
half.sendall(b'fo"}\n')
r = reply(half)
check('half_line_completed_later', r['id'] == 6 and r['ok'], r)
# The switch caps what it holds for `lazy`, and drops it once it has read
# nothing for 2 s: reading then gets what was buffered, then the end, well
# short of 3000 replies. Wait for the drop itself (the peer's hang-up shows
# as POLLRDHUP before our unread data is read), not a fixed time: a loaded
# machine (the sanitizer run) can take seconds just to fill the cap.
watch = select.poll()
watch.register(lazy, select.POLLRDHUP)
deadline = time.time() + 60
while time.time() < deadline and not watch.poll(200):
    pass
lines = 0
try:
    while True:
        chunk = lazy.recv(1 << 20)
        if not chunk:
            break
        lines += chunk.count(b'\n')
except ConnectionResetError:
    pass
except socket.timeout:
    lines = -1
check('never_reading_client_dropped', 0 < lines < 3000, f'{lines} replies')
still_answers('dropping_a_client')
for c in (silent, half, one_unread, lazy):
    c.close()

# At most 64 clients; the 65th is told so.
time.sleep(0.2)
crowd = [connect() for _ in range(64)]
time.sleep(0.5)
extra = connect()
r = reply(extra)
check('too_many_clients', r is not None and
      r['error'] == 'too many control clients (64 connected); close one and try again', r)
rc, out, err = run('info')
check('ctl_says_too_many', rc == 1 and 'too many control clients' in err, err)
for c in crowd + [extra]:
    c.close()
time.sleep(0.2)
still_answers('crowd_left')
sys.exit(1 if failures else 0)
PY
[[ $? -eq 0 ]] || failures=$((failures + 1))

# A second switch at the same socket refuses to start; A keeps serving.
out=$("$softfino" $(test_eal_args "${prefix}c") -l 0 \
  --vdev="net_pcap0,rx_pcap=$work/empty.pcap,tx_pcap=$work/c0.pcap" \
  -- --pipeline l3fwd --control-socket "$sock" 2>&1)
rc=$?
check second_switch_refused test $rc -ne 0
check second_switch_says_why grep -q "softfino: a running switch already serves the control socket $sock; stop it" <<<"$out"
answers() { "$ctl" --socket "$sock" info >/dev/null; }
check first_switch_unharmed answers

# SIGTERM: exit 0, socket gone, same totals in the final report.
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?
pid=
check sigterm_exit_0 test $rc -eq 0
check socket_removed test ! -e "$sock"
check final_report grep -q "total: 55 received, 45 forwarded, 10 dropped" "$work/a.txt"
out=$("$ctl" --socket "$sock" info 2>&1); rc=$?
check ctl_without_switch test $rc -eq 1
check ctl_without_switch_says_why grep -qF \
  "softfino-ctl: no switch at $sock: is softfino running with --control-socket $sock?" <<<"$out"

# Switch B: the default socket in DPDK's runtime folder, where a killed
# switch left a stale socket file; softfino-ctl finds it by --file-prefix.
mkdir -p -m 0700 "$default_dir"
/usr/bin/python3 -c "import socket; socket.socket(socket.AF_UNIX).bind('$default_dir/softfino.sock')"
check stale_socket_present test -S "$default_dir/softfino.sock"
"$softfino" $(test_eal_args "${prefix}b") -l 0 \
  --vdev="net_pcap0,rx_pcap=$work/empty.pcap,tx_pcap=$work/b0.pcap" \
  -- --pipeline l3fwd > "$work/b.txt" 2>&1 &
pid_b=$!
for _ in $(seq 200); do
  out=$("$ctl" --file-prefix "${prefix}b" info 2>&1) && break
  kill -0 "$pid_b" 2>/dev/null || break
  sleep 0.1
done
check default_socket_by_prefix grep -q "\"pid\": $pid_b" <<<"$out"
check default_socket_in_startup_line grep -q "control socket $default_dir/softfino.sock" "$work/b.txt"
kill -TERM "$pid_b"
rc=0; wait "$pid_b" || rc=$?
pid_b=
check b_sigterm_exit_0 test $rc -eq 0
check default_socket_removed test ! -e "$default_dir/softfino.sock"

if ((failures)); then echo "$failures check(s) failed"; exit 1; fi
echo "all control socket checks passed"
