/* SPDX-License-Identifier: MIT */
#ifndef VHU_DEVICES_SERVE_H
#define VHU_DEVICES_SERVE_H

#include <vhu/backend.h>

#include "program.h"

/**
 * prog_serve() - run a device until SIGTERM/SIGINT: create the back-end from
 * @config, listen on --socket-path or adopt --fd, and dispatch front-end
 * messages; a front-end that leaves is followed by the next one.
 *
 * Return: the process exit status: 0 after a signal, 1 after an error (one
 * line on stderr).
 */
int prog_serve(const struct prog_info *info, const struct prog_args *args,
	       const struct vhu_backend_config *config);

#endif /* VHU_DEVICES_SERVE_H */
