#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""meta/descriptors: each vhost-user.json descriptor (devices/*/50-vhu-*.json)
is a VhostUserBackend as QEMU's docs/interop/vhost-user.json defines it:
exactly the members description (str), type (a VHostUserBackendType),
binary (str) and tags (array of str), all present, none other; and its type
is the one the program prints with --print-capabilities.

  descriptors.py SOURCE_ROOT [PROGRAM...]
"""
import glob
import json
import os
import subprocess
import sys

# VHostUserBackendType, QEMU 7.2's docs/interop/vhost-user.json
TYPES = {'9p', 'balloon', 'block', 'caif', 'console', 'crypto', 'fs', 'gpu', 'input', 'net',
         'rng', 'rpmsg', 'rproc-serial', 'scsi', 'vsock'}
MEMBERS = {'description': str, 'type': str, 'binary': str, 'tags': list}


def check(path, programs):
    errors = []
    with open(path) as f:
        d = json.load(f)
    if not isinstance(d, dict):
        return [f'{path}: not a JSON object']
    for key in sorted(set(d) - set(MEMBERS)):
        errors.append(f'{path}: member "{key}" is not in VhostUserBackend')
    for key, kind in MEMBERS.items():
        if key not in d:
            errors.append(f'{path}: member "{key}" is missing')
        elif not isinstance(d[key], kind):
            errors.append(f'{path}: "{key}" is not a {kind.__name__}')
    if isinstance(d.get('tags'), list) and not all(isinstance(t, str) for t in d['tags']):
        errors.append(f'{path}: "tags" holds something other than strings')
    if isinstance(d.get('type'), str) and d['type'] not in TYPES:
        errors.append(f'{path}: type "{d["type"]}" is not a VHostUserBackendType')
    binary = os.path.basename(d.get('binary', '')) if isinstance(d.get('binary'), str) else ''
    if binary in programs:
        out = subprocess.run([programs[binary], '--print-capabilities'], capture_output=True,
                             text=True, check=False).stdout
        caps = json.loads(out)
        if caps.get('type') != d.get('type'):
            errors.append(f'{path}: type "{d.get("type")}", {binary} prints "{caps.get("type")}"')
    return errors


def main():
    root = sys.argv[1]
    programs = {os.path.basename(p): p for p in sys.argv[2:]}
    paths = sorted(glob.glob(os.path.join(root, 'devices', '*', '50-vhu-*.json')))
    if not paths:
        print('descriptors: none found')
        return 1
    errors = []
    for p in paths:
        errors += check(p, programs)
    for e in errors:
        print(e)
    print(f'descriptors: {len(paths)} checked, {len(errors)} problems')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
