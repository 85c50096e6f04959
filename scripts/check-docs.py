#!/usr/bin/env python3
"""Lists public declarations in Sources/ without a doc comment (issue 23: every public
declaration says why it exists). Exit 1 when any is missing; `--count` prints totals only.

A declaration is documented when the nearest line above it that is not an attribute
(`@discardableResult`, `@inlinable`...) is a `///` line or closes a `/** */` block.
Generated code (`*.pb.swift`) is skipped: its source is the documented file.
"""
import pathlib
import re
import sys

DECL = re.compile(r'^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:public|open)\s+(?!import\b)')
ATTRIBUTE = re.compile(r'^\s*@\w+(?:\([^)]*\))?\s*$')


def missing(path):
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        if not DECL.match(line):
            continue
        j = i - 1
        while j >= 0 and ATTRIBUTE.match(lines[j]):
            j -= 1
        above = lines[j].strip() if j >= 0 else ''
        if not (above.startswith('///') or above.endswith('*/')):
            yield i + 1, line.strip()


def main():
    root = pathlib.Path(__file__).resolve().parent.parent / 'Sources'
    total = undocumented = 0
    report = []
    for path in sorted(root.rglob('*.swift')):
        if path.name.endswith('.pb.swift'):
            continue
        text = path.read_text().splitlines()
        total += sum(1 for line in text if DECL.match(line))
        for number, line in missing(path):
            undocumented += 1
            report.append(f'{path.relative_to(root.parent)}:{number}: {line}')
    if '--count' not in sys.argv:
        print('\n'.join(report))
    print(f'{total - undocumented} of {total} public declarations documented', file=sys.stderr)
    return 1 if undocumented else 0


if __name__ == '__main__':
    sys.exit(main())
