#!/usr/bin/env python3
"""Locked instructions (x86 `lock`-prefixed ones and `xchg` with memory, which is implicitly
locked) executed per operation, from a callgrind profile recorded with `--dump-instr=yes`: every
executed instruction address of the binary is matched against objdump's disassembly of it.

Each locked instruction is a full barrier that costs about 15-20 cycles even uncontended, which
callgrind's instruction counts do not show; this is how docs/benchmarks-history.md counts them:

    cargo build --release -p graphsession-core --example instruction_counts
    valgrind --tool=callgrind --dump-instr=yes --callgrind-out-file=/tmp/login.cg \
        --toggle-collect='instruction_counts::measured_*' \
        target/release/examples/instruction_counts login 100000
    python3 docs/benchmarks/locked_ops.py /tmp/login.cg \
        target/release/examples/instruction_counts 100000

Usage: locked_ops.py PROFILE BINARY OPERATIONS. Prints the count per operation and, for each
locked instruction executed at least once per 20 operations, its address (`addr2line -f -i -C -e
BINARY ADDRESS` names the code)."""
import re, subprocess, sys
prof, binary, ops = sys.argv[1], sys.argv[2], int(sys.argv[3])

# The addresses of the binary's locked instructions.
locked = set()
disassembly = subprocess.run(
    ['objdump', '-d', '--no-show-raw-insn', binary], capture_output=True, text=True, check=True
).stdout
for line in disassembly.splitlines():
    match = re.match(r'\s*([0-9a-f]+):\s+(.*)', line)
    if not match:
        continue
    text = match.group(2)
    if text.startswith('lock ') or (text.startswith('xchg') and '(' in text):
        locked.add(int(match.group(1), 16))

# Callgrind's format: cost lines start with the positions (here the instruction address, then
# the line), each absolute, relative (+n, -n) or the same as before (*); names may be compressed
# to "(n)" after their first use; the cost line after a `calls=` line is a call's inclusive cost.
objects = {}
in_binary = True
positions = ['line']
last = {}
after_call = False
counts = {}
with open(prof) as profile:
    for line in profile:
        line = line.rstrip('\n')
        if line.startswith('positions:'):
            positions = line.split()[1:]
            continue
        if line.startswith(('ob=', 'cob=')):
            # Either defines a compressed name; only `ob=` says whose code follows.
            match = re.match(r'c?ob=(?:\((\d+)\))?\s*(.*)', line)
            number, name = match.group(1), match.group(2)
            if number and name:
                objects[number] = name
            if line.startswith('ob='):
                name = name or objects.get(number, '')
                in_binary = name.endswith('/' + binary.split('/')[-1])
            continue
        if line.startswith('calls='):
            after_call = True
            continue
        if not line or line[0] not in '0123456789+-*':
            continue
        parts = line.split()
        values = []
        for key, part in zip(positions, parts):
            if part == '*':
                value = last.get(key, 0)
            elif part[0] in '+-':
                value = last.get(key, 0) + int(part, 0)
            else:
                value = int(part, 0)
            last[key] = value
            values.append(value)
        if after_call:
            after_call = False
            continue
        if len(parts) <= len(positions) or not in_binary:
            continue
        address, executed = values[0], int(parts[len(positions)])
        if address in locked:
            counts[address] = counts.get(address, 0) + executed

print(f"locked instructions per op: {sum(counts.values()) / ops:.2f}")
for address, executed in sorted(counts.items(), key=lambda item: -item[1]):
    if executed / ops >= 0.05:
        print(f"  {address:#x}: {executed / ops:.2f}")
