/* SPDX-License-Identifier: MIT */
/*
 * Replays fuzz inputs without libFuzzer, so gcc and sanitizer builds run the
 * committed corpus too. Each argument is a file or a directory (whose regular
 * files are replayed in name order). Every input is copied into a buffer of
 * exactly its size, so ASan sees any read past the end.
 *
 * Exit: 0 after at least one input, 1 on a read error or when no input was
 * found (an empty corpus is a setup bug, not a pass). A crash is a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned long replayed;

static int replay_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t size = 0, cap = 0, n;
	FILE *f = fopen(path, "rb");
	int ret = 0;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		uint8_t chunk[4096];

		n = fread(chunk, 1, sizeof(chunk), f);
		if (n == 0)
			break;
		if (size + n > cap) {
			uint8_t *grown;

			cap = (size + n) * 2;
			grown = realloc(buf, cap);
			if (!grown) {
				ret = -1;
				goto out;
			}
			buf = grown;
		}
		memcpy(buf + size, chunk, n);
		size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		ret = -1;
		goto out;
	}
	{
		/* exactly @size bytes, so an overread is an ASan report */
		uint8_t *exact = malloc(size ? size : 1);

		if (!exact) {
			ret = -1;
			goto out;
		}
		if (size)
			memcpy(exact, buf, size);
		LLVMFuzzerTestOneInput(exact, size);
		free(exact);
		replayed++;
	}
out:
	free(buf);
	fclose(f);
	return ret;
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, name_cmp);
	int ret = 0;

	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		if (names[i]->d_name[0] != '.' &&
		    snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) <
			    (int)sizeof(path) &&
		    stat(path, &st) == 0 && S_ISREG(st.st_mode) && replay_file(path) < 0)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			ret = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i]) < 0)
				ret = 1;
		} else if (replay_file(argv[i]) < 0) {
			ret = 1;
		}
	}
	printf("replay: %lu input(s) replayed\n", replayed);
	if (replayed == 0) {
		fprintf(stderr, "replay: no inputs (usage: %s FILE|DIR...)\n", argv[0]);
		ret = 1;
	}
	return ret;
}
