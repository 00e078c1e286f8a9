/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>

#include "common/util.h"

void vhu_close_fd(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

void vhu_close_fds(int *fds, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		vhu_close_fd(&fds[i]);
}
