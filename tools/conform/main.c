/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: check a vhost-user back-end against the spec.
 *
 * It learns what the peer offers (features, protocol features, queues, its
 * device type), then runs each check of the catalogue: against the socket
 * given, or against a command started afresh for each check (a hostile
 * check may kill the peer), and prints one row per check.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"
#include <vhu/names.h>
#include <vhu/version.h>

#define START_MS 30000 /* a Python peer on a loaded machine is slow */
#define STOP_MS 5000

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vhu-conform (--socket-path=PATH | --exec='CMD {socket}') [--type=TYPE]\n"
		"                   [--only=IDS] [--json | --markdown] [--name=TEXT]\n"
		"                   [--pid=PID] [--peer-log=FILE] [--timeout=SECONDS]\n"
		"                   [--rss-limit=KIB] [--list]\n"
		"       vhu-conform frontend --listen=PATH [--nack=REQUEST] [--json | --markdown]\n"
		"                   [--name=TEXT] [--timeout=SECONDS]\n"
		"\n"
		"Check a vhost-user back-end against the rules of the spec (QEMU\n"
		"docs/interop/vhost-user.rst): negotiation and gating, REPLY_ACK, ring states,\n"
		"the bounds of every message (the published CVE classes), hostile ring\n"
		"contents, reconnection and, for a command, the back-end program conventions.\n"
		"One row per check: pass, FAIL or n/a, with the detail. After every check the\n"
		"peer must still live and answer a fresh GET_FEATURES.\n"
		"\n"
		"  --socket-path=PATH  a back-end listening on PATH (checks run one after the\n"
		"                      other against the same process)\n"
		"  --exec=CMD          a command line run with /bin/sh, {socket} replaced by a\n"
		"                      socket path; started afresh for each check and stopped\n"
		"                      with SIGTERM after it (it must then exit 0)\n"
		"  --pid=PID           with --socket-path: the peer's process, so that checks can\n"
		"                      see it die, and count its fds, CPU time and memory\n"
		"  --type=TYPE         device type: blk, net, rng, input or gpu have a data\n"
		"                      queue the ring checks drive; with --exec, asked from\n"
		"                      --print-capabilities when not given\n"
		"  --only=IDS          run only these checks: ids or id prefixes, comma-separated\n"
		"                      (ring-,bounds-queue-index)\n"
		"  --json              one JSON object on stdout\n"
		"  --markdown          a markdown table on stdout\n"
		"  --name=TEXT         the peer's name in the report (default: PATH or CMD)\n"
		"  --peer-log=FILE     append the started peer's output to FILE (default: "
		"dropped)\n"
		"  --timeout=SECONDS   the longest wait for a reply or a completion (default 3)\n"
		"  --rss-limit=KIB     resource-rss fails when the peer's VmRSS grows more than\n"
		"                      this over its hostile passes (default 1024)\n"
		"  --list              list the checks with their spec rule and exit\n"
		"  -h, --help          show this help and exit\n"
		"  --version           show the version and exit\n"
		"\n"
		"Exit status: 0 when no check failed, 1 when one did, 2 for bad options or a\n"
		"peer that could not be reached at all.\n"
		"\n"
		"vhu-conform frontend listens as a back-end and checks what a front-end sends:\n"
		"order, gating, REPLY_ACK use, and what it does after --nack=REQUEST (a\n"
		"request name such as SET_VRING_ADDR) was refused. vhu-conform frontend --help\n"
		"says more.\n");
}

static const struct check *const catalogues[] = {
	conform_checks_proto,  conform_checks_ring, conform_checks_packed,
	conform_checks_bounds, conform_checks_prog, conform_checks_dev,
};

static void list(void)
{
	for (size_t c = 0; c < sizeof(catalogues) / sizeof(catalogues[0]); c++)
		for (const struct check *k = catalogues[c]; k->id; k++)
			printf("%-24s %-13s %s\n%-38s [%s]\n", k->id, k->category, k->rule, "",
			       k->section);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "socket-path", required_argument, NULL, 's' },
		{ "exec", required_argument, NULL, 'e' },
		{ "type", required_argument, NULL, 't' },
		{ "only", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "markdown", no_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "peer-log", required_argument, NULL, 'l' },
		{ "pid", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "rss-limit", required_argument, NULL, 'R' },
		{ "list", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	*opt = (struct options){ .timeout_s = 3, .rss_limit_kib = 1024 };
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			opt->socket_path = optarg;
			break;
		case 'e':
			opt->exec = optarg;
			break;
		case 't':
			opt->type = optarg;
			break;
		case 'o':
			opt->only = optarg;
			break;
		case 'j':
			opt->json = true;
			break;
		case 'm':
			opt->markdown = true;
			break;
		case 'n':
			opt->name = optarg;
			break;
		case 'l':
			opt->peer_log = optarg;
			break;
		case 'p':
			opt->pid = (pid_t)strtol(optarg, &end, 10);
			if (*end || opt->pid <= 0) {
				fprintf(stderr, "vhu-conform: --pid: a process id\n");
				return -1;
			}
			break;
		case 'T':
			opt->timeout_s = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || !opt->timeout_s || opt->timeout_s > 600) {
				fprintf(stderr, "vhu-conform: --timeout: 1..600 seconds\n");
				return -1;
			}
			break;
		case 'R':
			opt->rss_limit_kib = strtol(optarg, &end, 10);
			if (*end || end == optarg || opt->rss_limit_kib < 0 ||
			    opt->rss_limit_kib > 1048576) {
				fprintf(stderr, "vhu-conform: --rss-limit: 0..1048576 KiB\n");
				return -1;
			}
			break;
		case 'L':
			list();
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vhu-conform %s\n", vhu_version_string());
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !opt->socket_path == !opt->exec) {
		fprintf(stderr,
			"vhu-conform: one of --socket-path=PATH or --exec=CMD is required\n");
		return -1;
	}
	if (opt->exec && !strstr(opt->exec, "{socket}")) {
		fprintf(stderr, "vhu-conform: --exec: the command has no {socket}\n");
		return -1;
	}
	if (opt->pid && !opt->socket_path) {
		fprintf(stderr, "vhu-conform: --pid goes with --socket-path\n");
		return -1;
	}
	if (opt->json && opt->markdown) {
		fprintf(stderr, "vhu-conform: --json and --markdown are exclusive\n");
		return -1;
	}
	return 0;
}

static bool selected(const struct options *opt, const char *id)
{
	const char *p = opt->only;

	if (!p)
		return true;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n && !strncmp(id, p, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* Start the peer for one check (exec mode). */
static int start(struct ctx *cx, struct spawn *sp, char *sock, size_t size)
{
	int ret, fd = -1;

	snprintf(sock, size, "%s/peer.sock", spawn_dir());
	ret = spawn_peer(cx->opt, sock, NULL, -1, -1, sp);
	if (ret == 0)
		ret = spawn_wait_socket_keep(sp, START_MS, &fd);
	if (ret == 0)
		conn_keep_ready(fd); /* the check's first connection */
	if (ret < 0) {
		spawn_stop(sp, 100);
		return ret;
	}
	cx->path = sock;
	cx->pid = sp->pid;
	return 0;
}

/* Learn what the peer offers, over one connection. */
static int learn(struct ctx *cx, struct peer_info *pi)
{
	struct conn c;
	uint64_t mq = VHU_BIT(VHU_PROTOCOL_F_MQ), v;
	int ret;

	ret = conn_open(cx, &c);
	if (ret < 0) {
		fprintf(stderr, "vhu-conform: %s: %s\n", cx->path, strerror(-ret));
		return ret;
	}
	ret = conn_get_u64(&c, VHU_REQ_GET_FEATURES, &cx->features);
	if (ret == 0 && (cx->features & VHU_BIT(VHU_F_PROTOCOL_FEATURES))) {
		ret = conn_get_u64(&c, VHU_REQ_GET_PROTOCOL_FEATURES, &cx->pfeatures);
		if (ret == 0 && (cx->pfeatures & mq)) {
			ret = conn_send(&c, VHU_REQ_SET_PROTOCOL_FEATURES, VHU_VERSION, &mq, 8,
					NULL, 0);
			if (ret == 0)
				ret = conn_get_u64(&c, VHU_REQ_GET_QUEUE_NUM, &v);
			if (ret == 0)
				cx->num_queues = v > 0xffff ? 0xffff : (unsigned int)v;
		}
	}
	conn_close(&c);
	if (ret < 0) {
		fprintf(stderr, "vhu-conform: %s: asking its features: %s\n", cx->path,
			err_text(ret));
		return ret;
	}
	if (!cx->num_queues)
		cx->num_queues = 1;
	pi->features = cx->features;
	pi->pfeatures = cx->pfeatures;
	pi->num_queues = cx->num_queues;
	return 0;
}

/* The type from --print-capabilities, when the command has one. */
static const char *ask_type(const struct options *opt)
{
	static char type[32];
	char buf[4096], why[128];
	int status;

	if (conform_capabilities(opt, buf, sizeof(buf), &status) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || conform_parse_caps(buf, type, sizeof(type), why, sizeof(why)))
		return NULL;
	return type;
}

/* After a check: the peer lives and answers; a started one exits 0 on SIGTERM. */
static void after(struct ctx *cx, struct spawn *sp)
{
	char why[160];
	int status;

	if (!peer_answers(cx, why, sizeof(why))) {
		/* a started peer that ended by itself, cleanly, when the check's
		 * connection closed serves one connection a process (QEMU 7.2's
		 * virtiofsd): nothing to ask it any more, and no failure */
		if (sp && spawn_wait_exit(sp, 200, &status) && WIFEXITED(status) &&
		    !WEXITSTATUS(status)) {
			note(cx, "the peer ended by itself (exit 0) once the check's connection "
				 "closed: one connection a process");
			sp->pid = 0;
			conn_keep_ready(-1);
			return;
		}
		fail(cx, "after the check: %s", why);
	}
	if (!sp)
		return;
	conn_keep_ready(-1); /* not taken by the check: closed */
	status = spawn_stop(sp, STOP_MS);
	if (status < 0)
		fail(cx, "still running %d s after SIGTERM", STOP_MS / 1000);
	else if (WIFEXITED(status) && WEXITSTATUS(status))
		fail(cx, "exited with status %d after SIGTERM (see --peer-log)",
		     WEXITSTATUS(status));
	else if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
		fail(cx, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
}

static void run_one(struct ctx base, const struct check *k, struct run *out)
{
	struct ctx cx = base;
	struct spawn sp;
	char sock[160];
	int ret;

	out->check = k;
	out->res = (struct result){ .verdict = V_PASS };
	cx.res = &out->res;
	spawn_log(base.opt, "=== vhu-conform: check %s\n", k->id);
	if ((k->flags & CHECK_EXEC_ONLY) && !base.opt->exec)
		return na(&cx, "needs the program: --exec");
	if (k->flags & CHECK_OWN_PEER)
		return k->run(&cx);
	if (base.opt->exec) {
		ret = start(&cx, &sp, sock, sizeof(sock));
		if (ret < 0)
			return fail(&cx, "the peer did not start: %s",
				    ret == -ECHILD ? "it exited" : strerror(-ret));
	}
	k->run(&cx);
	after(&cx, base.opt->exec ? &sp : NULL);
}

int main(int argc, char **argv)
{
	struct ctx cx = { 0 };
	struct peer_info pi = { 0 };
	struct spawn sp = { 0 };
	struct options opt;
	struct run *runs;
	char sock[160];
	size_t n = 0, cap = 0;
	int ret, failed = 0;

	if (argc > 1 && !strcmp(argv[1], "frontend"))
		return conform_frontend_main(argc - 1, argv + 1);
	if (parse_options(argc, argv, &opt) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	cx.opt = &opt;
	cx.timeout_ms = opt.timeout_s * 1000;
	cx.path = opt.socket_path;
	cx.type = opt.type;
	cx.pid = opt.pid;
	pi.name = opt.name ? opt.name : opt.socket_path ? opt.socket_path : opt.exec;
	if (opt.exec) {
		if (!cx.type)
			cx.type = ask_type(&opt);
		ret = start(&cx, &sp, sock, sizeof(sock));
		if (ret < 0) {
			fprintf(stderr, "vhu-conform: the peer did not start: %s\n",
				ret == -ECHILD ? "it exited" : strerror(-ret));
			return 2;
		}
	}
	ret = learn(&cx, &pi);
	conn_keep_ready(-1);
	if (opt.exec)
		spawn_stop(&sp, STOP_MS);
	if (ret < 0)
		return 2;
	if (cx.type && !strcmp(cx.type, "block"))
		cx.type = "blk"; /* vhost-user.json's name for it */
	pi.type = cx.type;
	for (size_t c = 0; c < sizeof(catalogues) / sizeof(catalogues[0]); c++)
		for (const struct check *k = catalogues[c]; k->id; k++)
			cap++;
	runs = calloc(cap, sizeof(*runs));
	if (!runs)
		return 2;
	for (size_t c = 0; c < sizeof(catalogues) / sizeof(catalogues[0]); c++)
		for (const struct check *k = catalogues[c]; k->id; k++) {
			if (!selected(&opt, k->id))
				continue;
			run_one(cx, k, &runs[n]);
			failed |= runs[n].res.verdict == V_FAIL;
			if (!opt.json && !opt.markdown)
				fprintf(stderr, "%s %s\n",
					runs[n].res.verdict == V_FAIL ? "FAIL" : "ok  ", k->id);
			n++;
		}
	if (opt.json)
		report_json(stdout, &pi, runs, n);
	else if (opt.markdown)
		report_markdown(stdout, &pi, runs, n);
	else
		report_text(stdout, &pi, runs, n);
	free(runs);
	if (opt.exec) {
		static const char *const socks[] = { "peer", "caps", "term", "daemon" };

		for (size_t i = 0; i < sizeof(socks) / sizeof(socks[0]); i++) {
			snprintf(sock, sizeof(sock), "%s/%s.sock", spawn_dir(), socks[i]);
			unlink(sock);
		}
		rmdir(spawn_dir());
	}
	return failed ? 1 : 0;
}
