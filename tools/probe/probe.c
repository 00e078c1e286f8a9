/* SPDX-License-Identifier: MIT */
/*
 * vhu-probe: what does this vhost-user socket offer?
 *
 * Asks GET_FEATURES and GET_PROTOCOL_FEATURES, negotiates only the protocol
 * bits it needs to ask further (MQ, CONFIGURE_MEM_SLOTS, CONFIG), then
 * GET_QUEUE_NUM, GET_MAX_MEM_SLOTS and GET_CONFIG, prints what it learnt and
 * disconnects. It sets no virtio features, no memory and no rings.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include <vhu/frontend.h>
#include <vhu/names.h>

/* The protocol bits the probe negotiates: each unlocks one question. */
#define PROBE_PROTOCOL_FEATURES                                                     \
	(VHU_BIT(VHU_PROTOCOL_F_MQ) | VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS) | \
	 VHU_BIT(VHU_PROTOCOL_F_CONFIG))

struct options {
	const char *socket_path;
	const char *type;
	unsigned int timeout_s;
	bool json;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhu-probe --socket-path=PATH [--type=TYPE] [--json] [--timeout=SECONDS]\n"
		"\n"
		"Connect to a vhost-user back-end and print what it offers: virtio and\n"
		"vhost-user protocol features by name, queue count, memory slots and the\n"
		"decoded device config space. Changes nothing on the back-end.\n"
		"\n"
		"  --socket-path=PATH  the back-end's unix socket\n"
		"  --type=TYPE         device type for names and config: blk, net, fs, scsi,\n"
		"                      rng, input, gpu, vsock, ... (config is read only when "
		"given)\n"
		"  --json              one JSON object on stdout\n"
		"  --timeout=SECONDS   give up on a silent back-end after this long (default 5)\n"
		"  -h, --help          show this help and exit\n"
		"  --version           show the version and exit\n"
		"\n"
		"Exit status: 0 on success, 1 when the back-end could not be asked, 2 for bad\n"
		"options.\n");
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	*opt = (struct options){ .timeout_s = 5 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt->socket_path = optarg;
			break;
		case 't':
			opt->type = optarg;
			break;
		case 'j':
			opt->json = true;
			break;
		case 'T':
			opt->timeout_s = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !opt->timeout_s || opt->timeout_s > 3600) {
				fprintf(stderr, "vhu-probe: --timeout: 1..3600 seconds\n");
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vhu-probe %s\n", vhu_version_string());
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !opt->socket_path) {
		fprintf(stderr, "vhu-probe: --socket-path=PATH is required\n");
		return -1;
	}
	return 0;
}

/* One line on stderr naming the step and why it failed; returns exit status 1. */
static int report(const struct options *opt, const char *step, const struct vhu_frontend_conn *c,
		  int err)
{
	if (err == -EAGAIN || err == -EWOULDBLOCK)
		fprintf(stderr, "vhu-probe: %s: %s: timed out, no reply within %u s\n",
			opt->socket_path, step, opt->timeout_s);
	else if (err == -ECONNRESET || err == -EPIPE)
		fprintf(stderr, "vhu-probe: %s: %s: the back-end closed the connection\n",
			opt->socket_path, step);
	else if (c && vhu_frontend_conn_error(c))
		fprintf(stderr, "vhu-probe: %s: %s: %s\n", opt->socket_path, step,
			vhu_frontend_conn_error(c));
	else
		fprintf(stderr, "vhu-probe: %s: %s: %s\n", opt->socket_path, step, strerror(-err));
	return 1;
}

static int ask_protocol(struct vhu_frontend_conn *ch, struct probe_result *res,
			const struct options *opt)
{
	uint64_t want;
	int ret;

	ret = vhu_frontend_conn_get_u64(ch, VHU_REQ_GET_PROTOCOL_FEATURES, &res->protocol_features);
	if (ret < 0)
		return report(opt, "VHOST_USER_GET_PROTOCOL_FEATURES", ch, ret);
	res->has_protocol = true;
	want = res->protocol_features & PROBE_PROTOCOL_FEATURES;
	ret = vhu_frontend_conn_set_u64(ch, VHU_REQ_SET_PROTOCOL_FEATURES, want);
	if (ret < 0)
		return report(opt, "VHOST_USER_SET_PROTOCOL_FEATURES", ch, ret);
	if (want & VHU_BIT(VHU_PROTOCOL_F_MQ)) {
		ret = vhu_frontend_conn_get_u64(ch, VHU_REQ_GET_QUEUE_NUM, &res->queue_num);
		if (ret < 0)
			return report(opt, "VHOST_USER_GET_QUEUE_NUM", ch, ret);
		res->has_queue_num = true;
	}
	if (want & VHU_BIT(VHU_PROTOCOL_F_CONFIGURE_MEM_SLOTS)) {
		ret = vhu_frontend_conn_get_u64(ch, VHU_REQ_GET_MAX_MEM_SLOTS, &res->mem_slots);
		if (ret < 0)
			return report(opt, "VHOST_USER_GET_MAX_MEM_SLOTS", ch, ret);
		res->has_mem_slots = true;
	}
	return 0;
}

static int ask_config(struct vhu_frontend_conn *ch, struct probe_result *res,
		      const struct options *opt)
{
	int ret;

	res->config_size = probe_config_size(res->device_id);
	if (!res->config_size || !(res->protocol_features & VHU_BIT(VHU_PROTOCOL_F_CONFIG)))
		return 0;
	ret = vhu_frontend_conn_get_config(ch, 0, res->config_size, res->config);
	if (ret == -EIO) {
		/* The back-end answered in sync but could not read it: report, go on. */
		res->config_error = "the back-end reported failure";
		return 0;
	}
	if (ret < 0)
		return report(opt, "VHOST_USER_GET_CONFIG", ch, ret);
	res->has_config = true;
	return 0;
}

static int probe(struct vhu_frontend_conn *c, const struct options *opt, struct probe_result *res)
{
	int ret;

	ret = vhu_frontend_conn_get_u64(c, VHU_REQ_GET_FEATURES, &res->features);
	if (ret < 0)
		return report(opt, "VHOST_USER_GET_FEATURES", c, ret);
	if (res->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES)) {
		ret = ask_protocol(c, res, opt);
		if (ret)
			return ret;
	}
	return ask_config(c, res, opt);
}

int main(int argc, char **argv)
{
	struct probe_result res = { 0 };
	struct options opt;
	struct vhu_frontend_conn *conn;
	int ret;

	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	res.socket_path = opt.socket_path;
	if (opt.type) {
		ret = vhu_device_type_id(opt.type);
		if (ret < 0) {
			fprintf(stderr, "vhu-probe: --type=%s: unknown device type\n", opt.type);
			return 2;
		}
		res.device_id = (uint32_t)ret;
	}
	ret = vhu_frontend_conn_open(opt.socket_path, opt.timeout_s * 1000, &conn);
	if (ret < 0)
		return report(&opt, "connect", NULL, ret);
	ret = probe(conn, &opt, &res);
	vhu_frontend_conn_close(conn);
	if (ret)
		return ret;
	if (opt.json)
		probe_print_json(stdout, &res);
	else
		probe_print_text(stdout, &res);
	return fflush(stdout) == 0 ? 0 : 1;
}
