/* SPDX-License-Identifier: MIT */
/*
 * Built by meta/install against the installed headers and library, found
 * through pkg-config: proves the public headers stand alone and libvhu links.
 */
#include <stdio.h>
#include <string.h>
#include <vhu/names.h>
#include <vhu/protocol.h>
#include <vhu/version.h>

int main(void)
{
	const char *version = vhu_version_string();
	const char *name = vhu_request_name(1);

	if (!version || !name)
		return 1;
	printf("%s\n%s\n", version, name);
	return strcmp(name, "VHOST_USER_GET_FEATURES") != 0;
}
