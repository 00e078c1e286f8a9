/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <stdio.h>
#include <string.h>

#include "leakcheck.h"

int leak_count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1; /* the directory's own fd */
}

int leak_count_memfd_maps(const char *name)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], needle[128];
	int n = 0;

	if (!f)
		return -1;
	snprintf(needle, sizeof(needle), "/memfd:%s", name);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}
