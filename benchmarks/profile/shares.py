#!/usr/bin/env python3
"""Where the calling threads' Java samples go, from a JFR recording of the load JVM.

usage: shares.py FILE.jfr [--threads load-] [--top 25]

Reads `jfr print --stack-depth 128 --events jdk.ExecutionSample FILE.jfr` (the `jfr` tool of the
JDK) and keeps the samples of threads whose name starts with --threads (the harness's load
threads are `load-N`). A sample is the mesh's own work when, walking from the running frame
towards the thread's root, an `io.meshlet` frame (not the benchmark harness's) comes before any
`RealInterceptorChain.proceed`: the code running was called by the mesh, not by the OkHttp chain
the mesh called (so OkHttp's own exchange below MeshOkHttpInterceptor and DeadConnectionWatch does
not count). Prints the mesh's share, its frames by inclusive share (within the mesh's samples, in
% of all kept samples), and the running frames (self) of the mesh's samples.
See docs/benchmarks.md, "Where the client's CPU per call goes (issue 17)".
"""
import argparse, collections, re, subprocess, sys

ap = argparse.ArgumentParser()
ap.add_argument('jfr')
ap.add_argument('--threads', default='load-')
ap.add_argument('--top', type=int, default=25)
a = ap.parse_args()
out = subprocess.run(['jfr', 'print', '--stack-depth', '128', '--events', 'jdk.ExecutionSample', a.jfr],
                     capture_output=True, text=True, check=True).stdout

samples, cur, thread = [], None, ''
for line in out.splitlines():
    s = line.strip()
    if s.startswith('jdk.ExecutionSample'):
        cur, thread = [], ''
    elif s.startswith('sampledThread'):
        m = re.search(r'"([^"]*)"', s)
        thread = m.group(1) if m else ''
    elif s.startswith('stackTrace'):
        continue
    elif s == ']' and cur is not None:
        if thread.startswith(a.threads):
            samples.append(cur)
        cur = None
    elif cur is not None and '(' in s:
        cur.append(re.sub(r'\(.*$', '', s))  # frame without parameters and line

n = len(samples)
if n == 0:
    sys.exit(f'{a.jfr}: no samples of threads starting with {a.threads!r}')

def mesh_frame(f):
    return f.startswith('io.meshlet.') and not f.startswith('io.meshlet.benchmarks.')

def is_mesh(stack):
    for f in stack:  # running frame first
        if f.endswith('RealInterceptorChain.proceed'):
            return False
        if mesh_frame(f):
            return True
    return False

mesh = [s for s in samples if is_mesh(s)]
print(f'{a.jfr}: {n} samples of {a.threads}* threads; mesh\'s own work {len(mesh)} = {100 * len(mesh) / n:.1f}%')
incl = collections.Counter()
for s in mesh:
    for f in set(s):
        incl[f] += 1
print(f'--- inclusive, mesh\'s own samples only (% of all {n}): io.meshlet frames and the frames they call')
callees = collections.Counter()
for s in mesh:
    seen = set()
    for i, f in enumerate(s):
        if i > 0 and mesh_frame(s[i]) and not mesh_frame(s[i - 1]):
            key = f'{s[i]} -> {s[i - 1]}'
            if key not in seen:
                callees[key] += 1
                seen.add(key)
for f, c in incl.most_common():
    if mesh_frame(f) and 100 * c / n >= 0.3:
        print(f'{100 * c / n:5.1f}%  {f}')
print('--- calls out of io.meshlet code (caller -> callee), mesh\'s own samples')
for k, c in callees.most_common(a.top):
    print(f'{100 * c / n:5.1f}%  {k}')
print('--- running frame (self), mesh\'s own samples')
for f, c in collections.Counter(s[0] for s in mesh if s).most_common(a.top):
    print(f'{100 * c / n:5.1f}%  {f}')
