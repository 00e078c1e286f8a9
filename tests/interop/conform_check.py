#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Judge a vhu-conform --json result.

  conform_check.py RESULT.json pass [--na=ID,...] [--min=N]
      every check passed, except the ones named, which must be n/a (each
      with a reason); at least N checks ran
  conform_check.py RESULT.json fail ID,...
      each check named failed (and was run)
  conform_check.py RESULT.json report [--min=N]
      print the table; at least N checks ran, each with a verdict and detail

The table is printed in every mode, so the test log shows it.
"""
import json
import sys


def table(r):
	print('peer: %s (type %s, features 0x%x, protocol 0x%x, %d queue(s))' %
	      (r['peer'], r['type'], r['features'], r['protocol_features'], r['queues']))
	for c in r['checks']:
		print('  %-24s %-5s %s' % (c['id'], c['result'], c['detail']))
	s = r['summary']
	print('  %d pass, %d fail, %d n/a' % (s['pass'], s['fail'], s['na']))


def opt(args, name, default):
	for a in args:
		if a.startswith('--%s=' % name):
			return a.split('=', 1)[1]
	return default


def main(argv):
	with open(argv[1]) as f:
		r = json.load(f)
	mode, args = argv[2], argv[3:]
	table(r)
	checks = {c['id']: c for c in r['checks']}
	bad = []
	for c in r['checks']:
		if c['result'] not in ('pass', 'fail', 'n/a') or not c['detail']:
			bad.append('%s: result %r, detail %r' % (c['id'], c['result'], c['detail']))
	n = int(opt(args, 'min', '0'))
	if len(checks) < n:
		bad.append('%d checks ran, want at least %d' % (len(checks), n))
	if mode == 'pass':
		na = set(filter(None, opt(args, 'na', '').split(',')))
		for c in r['checks']:
			want = 'n/a' if c['id'] in na else 'pass'
			if c['result'] != want:
				bad.append('%s: %s, want %s (%s)' % (c['id'], c['result'], want, c['detail']))
		for i in na - set(checks):
			bad.append('%s: did not run' % i)
	elif mode == 'fail':
		for i in args[0].split(','):
			if i not in checks:
				bad.append('%s: did not run' % i)
			elif checks[i]['result'] != 'fail':
				bad.append('%s: %s, want fail (%s)' % (i, checks[i]['result'],
								     checks[i]['detail']))
	elif mode != 'report':
		sys.exit(__doc__)
	for b in bad:
		print('FAIL: ' + b)
	return 1 if bad else 0


if __name__ == '__main__':
	sys.exit(main(sys.argv))
