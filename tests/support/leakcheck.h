/* SPDX-License-Identifier: MIT */
#ifndef VHU_TEST_LEAKCHECK_H
#define VHU_TEST_LEAKCHECK_H

/*
 * What a test counts before and after each case to prove no path leaks:
 * open fds, and mappings of memfds whose name contains a given string.
 */

/* Open fds of this process (the directory's own fd excluded); -1 on error. */
int leak_count_fds(void);

/* Lines of /proc/self/maps that map a memfd whose name contains @name; -1 on error. */
int leak_count_memfd_maps(const char *name);

#endif /* VHU_TEST_LEAKCHECK_H */
