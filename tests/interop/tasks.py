# SPDX-License-Identifier: MIT
#
# The threads of a process as the tests count them: the process's own, not
# the kernel's io_uring workers (iou-wrk-*, iou-sqp-*). Those are told by
# PF_IO_WORKER in /proc/PID/task/TID/stat, not by name: a worker the kernel
# is starting still carries the name of the thread that submitted the I/O
# (a pool worker's, say) until it renames itself.
import os

PF_IO_WORKER = 0x10


def _stat_flags(pid, tid):
	with open('/proc/%d/task/%s/stat' % (pid, tid)) as f:
		# "tid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces
		return int(f.read().rsplit(')', 1)[1].split()[6])


def threads(pid):
	"""Names of @pid's threads, io_uring's workers left out."""
	names = []
	for tid in os.listdir('/proc/%d/task' % pid):
		try:
			if _stat_flags(pid, tid) & PF_IO_WORKER:
				continue
			with open('/proc/%d/task/%s/comm' % (pid, tid)) as f:
				names.append(f.read().strip())
		except (OSError, IndexError, ValueError):
			pass  # gone meanwhile
	return names
