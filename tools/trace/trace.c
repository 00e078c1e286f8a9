/* SPDX-License-Identifier: MIT */
/*
 * vhu-trace: sit between a vhost-user front-end and back-end and show every
 * message that passes, decoded.
 *
 * It listens where the front-end connects (--listen) and connects to the
 * back-end (--connect) for each front-end that comes. Every message is
 * relayed unchanged, fds included, and printed with its decoded fields
 * (lib/wire's vhu_msg_format()), a timestamp, and for replies the time since
 * the request. The back-end channel is traced too: the fd of
 * SET_BACKEND_REQ_FD is swapped for one end of our own socketpair, and what
 * flows on it is relayed between the two; the GPU socket of
 * VHOST_USER_GPU_SET_SOCKET the same way, its messages streamed (gpurelay.c)
 * because an UPDATE can carry 64 MiB. Kick and call eventfds, and the
 * memory, are handed through untouched: the data plane never passes here.
 * With --ring-view, the memory is also mapped read-only to show the rings
 * (ringview.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gpurelay.h"
#include "ringview.h"
#include <vhu/gpu.h>
#include <vhu/version.h>
#include <vhu/wire.h>

#define FMT_MAX 16384

struct options {
	const char *listen_path;
	const char *connect_path;
	int listen_fd;	 /* --listen-fd: an inherited listening socket, or -1 */
	int frontend_fd; /* --frontend-fd: an inherited connected front-end, or -1 */
	int connect_fd;	 /* --connect-fd: an inherited connected back-end, or -1 */
	const char *output;
	unsigned int timeout_s;
	unsigned int ring_view_ms; /* 0: no ring view */
	bool json;
	bool once;
};

/* One traced conversation: the main sockets and the back-end channel. */
struct conn {
	int fe, be;	      /* main socket: the front-end's, the back-end's */
	int chan_fe, chan_be; /* back-end channel: the front-end's end, our pair's end */
	int gpu_fe, gpu_be;   /* GPU socket: the same */
	struct gpu_relay *gpu_req, *gpu_rep; /* its two directions: requests, replies */
	/* when the last request of each id went out, per direction (0: none) */
	uint64_t sent_ns[3][64];
	unsigned long messages;
	struct ringview *rv; /* --ring-view, else NULL */
};

static volatile sig_atomic_t stop;
static FILE *out;
static bool json;
static uint64_t t0;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vhu-trace (--listen=PATH | --listen-fd=FD | --frontend-fd=FD)\n"
		"                 (--connect=PATH | --connect-fd=FD) [--json] [--output=FILE]\n"
		"                 [--once] [--timeout=SECONDS] [--ring-view=SECONDS]\n"
		"\n"
		"Relay a vhost-user conversation between a front-end and a back-end and print\n"
		"every message, decoded, as it passes: requests and replies on the main\n"
		"socket, on the back-end channel and on the vhost-user-gpu socket (its\n"
		"messages streamed, never held whole), with their fds, a timestamp and, for\n"
		"replies, the time since the request. Messages and fds go through unchanged;\n"
		"kick and call eventfds and the memory are handed over, so the rings never\n"
		"pass through vhu-trace.\n"
		"\n"
		"  --listen=PATH      where the front-end connects (created; removed at exit)\n"
		"  --connect=PATH     the back-end's socket, connected to for each front-end\n"
		"  --listen-fd=FD     an inherited listening socket instead of --listen\n"
		"  --frontend-fd=FD   an inherited socket connected to the front-end: one\n"
		"                     conversation (as --once)\n"
		"  --connect-fd=FD    an inherited socket connected to the back-end, instead of\n"
		"                     --connect: one conversation (as --once)\n"
		"  --json             one JSON object per message instead of text\n"
		"  --output=FILE      write the trace to FILE instead of standard output\n"
		"  --once             exit when the first conversation ends\n"
		"  --timeout=SECONDS  keep retrying the back-end's socket this long (default 5)\n"
		"  --ring-view=SECONDS  every SECONDS (0.1..3600), a line per ring: its avail\n"
		"                     and used indices, requests outstanding, used per second\n"
		"                     (maps the memory fds read-only; packed rings: the\n"
		"                     descriptors available and not used; not behind a vIOMMU)\n"
		"  -h, --help         show this help and exit\n"
		"  --version          show the version and exit\n"
		"\n"
		"Example (QEMU on vhu-blk through the tracer):\n"
		"  vhu-blk --socket-path=/tmp/blk.sock --blk-file=disk.img &\n"
		"  vhu-trace --listen=/tmp/trace.sock --connect=/tmp/blk.sock &\n"
		"  qemu-system-x86_64 ... -chardev socket,id=c0,path=/tmp/trace.sock ...\n"
		"\n"
		"Exit status: 0 after SIGINT/SIGTERM or --once, 1 on errors, 2 for bad options.\n");
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "output", required_argument, NULL, 'o' },
		{ "once", no_argument, NULL, '1' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "ring-view", required_argument, NULL, 'R' },
		{ "listen-fd", required_argument, NULL, 'L' },
		{ "frontend-fd", required_argument, NULL, 'F' },
		{ "connect-fd", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	*o = (struct options){
		.timeout_s = 5, .listen_fd = -1, .frontend_fd = -1, .connect_fd = -1
	};
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen_path = optarg;
			break;
		case 'c':
			o->connect_path = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'o':
			o->output = optarg;
			break;
		case '1':
			o->once = true;
			break;
		case 'T':
			o->timeout_s = (unsigned int)strtoul(optarg, &end, 10);
			if (*end || o->timeout_s > 3600) {
				fprintf(stderr, "vhu-trace: --timeout: 0..3600 seconds\n");
				return -1;
			}
			break;
		case 'R': {
			double sec = strtod(optarg, &end);

			if (*end || end == optarg || !(sec >= 0.1 && sec <= 3600)) {
				fprintf(stderr, "vhu-trace: --ring-view: 0.1..3600 seconds\n");
				return -1;
			}
			o->ring_view_ms = (unsigned int)(sec * 1000 + 0.5);
			break;
		}
		case 'L':
		case 'F':
		case 'C': {
			long v = strtol(optarg, &end, 10);
			int *slot = c == 'L'   ? &o->listen_fd
				    : c == 'F' ? &o->frontend_fd
					       : &o->connect_fd;

			if (*end || end == optarg || v < 3 || v > INT_MAX ||
			    fcntl((int)v, F_GETFD) < 0) {
				fprintf(stderr, "vhu-trace: --%s=%s: not an open fd (3 or more)\n",
					c == 'L'   ? "listen-fd"
					: c == 'F' ? "frontend-fd"
						   : "connect-fd",
					optarg);
				return -1;
			}
			*slot = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("vhu-trace %s\n", vhu_version_string());
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc ||
	    (!!o->listen_path + (o->listen_fd >= 0) + (o->frontend_fd >= 0)) != 1 ||
	    (!!o->connect_path + (o->connect_fd >= 0)) != 1) {
		fprintf(stderr, "vhu-trace: one of --listen, --listen-fd, --frontend-fd and one of "
				"--connect, --connect-fd are required\n");
		return -1;
	}
	if (o->frontend_fd >= 0 || o->connect_fd >= 0)
		o->once = true; /* an inherited connection is one conversation */
	return 0;
}

static void print_msg(const char *from, const char *chan, enum vhu_dir dir, const struct vhu_msg *m,
		      uint64_t at, int64_t latency_ns, uint64_t relay_ns)
{
	static char text[FMT_MAX];
	double t = (double)(at - t0) / 1e9;

	vhu_msg_format(dir, m, json, text, sizeof(text));
	if (json) {
		fprintf(out, "{\"t\": %.6f, \"from\": \"%s\", \"channel\": \"%s\", \"msg\": %s", t,
			from, chan, text);
		if (latency_ns >= 0)
			fprintf(out, ", \"latency_us\": %.1f", (double)latency_ns / 1e3);
		fprintf(out, ", \"relay_us\": %.1f}\n", (double)relay_ns / 1e3);
	} else {
		fprintf(out, "%12.6f %s %-4s %s", t, from[0] == 'f' ? "F>B" : "B>F",
			chan[0] == 'm'	 ? ""
			: chan[0] == 'g' ? "gpu"
					 : "chan",
			text);
		if (latency_ns >= 0)
			fprintf(out, " (%.1f us after the request)", (double)latency_ns / 1e3);
		fprintf(out, "\n");
	}
	fflush(out);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * Swap the fd @m carries (a socket the front-end made) for one end of a
 * pair of ours: we keep the front-end's socket in @fe_end and the other end
 * of the pair in @be_end, and relay between them. Return: 0, or <0 when
 * no pair could be made (the fd is then handed on, untraced).
 */
static int interpose(struct vhu_msg *m, int *fe_end, int *be_end, const char *what)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		fprintf(stderr, "vhu-trace: socketpair: %s: the %s is relayed untraced\n",
			strerror(errno), what);
		return -errno;
	}
	close_fd(fe_end);
	close_fd(be_end);
	*fe_end = m->fds[0];
	*be_end = sp[0];
	m->fds[0] = sp[1];
	return 0;
}

/* A GPU socket message went through whole: print it. */
static void gpu_done(void *ctx, struct gpu_relay *r, uint64_t done_ns)
{
	struct conn *c = ctx;
	bool from_be = r == c->gpu_req; /* the back-end asks, the display answers */
	unsigned int slot = r->m.hdr.request % 64;
	int64_t latency = -1;

	if (r->fds_lost)
		fprintf(stderr, "vhu-trace: GPU socket: the %s sent more than %u fds: closed\n",
			from_be ? "back-end" : "front-end", VHU_MAX_FDS);
	if (!from_be && c->sent_ns[VHU_DIR_GPU][slot]) {
		latency = (int64_t)(r->at_ns - c->sent_ns[VHU_DIR_GPU][slot]);
		c->sent_ns[VHU_DIR_GPU][slot] = 0;
	}
	if (from_be)
		c->sent_ns[VHU_DIR_GPU][slot] = done_ns;
	c->messages++;
	print_msg(from_be ? "back-end" : "front-end", "gpu", VHU_DIR_GPU, &r->m, r->at_ns, latency,
		  done_ns - r->at_ns);
}

static void gpu_close(struct conn *c, const char *why)
{
	if (c->gpu_fe < 0)
		return;
	fprintf(stderr, "vhu-trace: GPU socket: %s\n", why);
	gpu_relay_clear(c->gpu_req);
	gpu_relay_clear(c->gpu_rep);
	close_fd(&c->gpu_fe);
	close_fd(&c->gpu_be);
}

/* The GPU socket's sockets had events: move both directions on. */
static void gpu_service(struct conn *c, short be_revents, short fe_revents)
{
	int a = gpu_relay_step(c->gpu_req, now_ns, gpu_done, c);
	int b = a < 0 ? 0 : gpu_relay_step(c->gpu_rep, now_ns, gpu_done, c);

	if (a < 0 || b < 0)
		gpu_close(c, a == -ECONNRESET || b == -ECONNRESET ? "closed"
								  : strerror(-(a < 0 ? a : b)));
	else if (!a && !b && ((be_revents | fe_revents) & (POLLHUP | POLLERR | POLLNVAL)))
		gpu_close(c, "hung up");
}

/*
 * Relay one message from @src to @dst. @dir: the direction of the requests
 * on this socket pair; @from: who sends. Return: 0, or <0 when the
 * conversation on this pair is over.
 */
static int relay(struct conn *c, int src, int dst, enum vhu_dir dir, const char *from,
		 const char *chan)
{
	struct vhu_msg m;
	uint64_t at, done;
	int64_t latency = -1;
	int ret = vhu_msg_recv(src, &m);
	bool reply;
	unsigned int slot;

	at = now_ns();
	if (ret == -EBADMSG) {
		fprintf(stderr,
			"vhu-trace: %s sent more fds than a message may carry: relayed without "
			"them\n",
			from);
	} else if (ret == -EMSGSIZE) {
		fprintf(stderr,
			"vhu-trace: %s sent a payload of %" PRIu32 " bytes, over %u: closing\n",
			from, m.hdr.size, VHU_MAX_PAYLOAD);
		return ret;
	} else if (ret < 0) {
		return ret;
	}
	reply = m.hdr.flags & VHU_FLAG_REPLY;
	slot = m.hdr.request % 64;
	if (reply && c->sent_ns[dir][slot]) {
		latency = (int64_t)(at - c->sent_ns[dir][slot]);
		c->sent_ns[dir][slot] = 0;
	}
	/* the back-end channel and the GPU socket: the back-end gets our pair's
	 * end, we keep the front-end's */
	if (dir == VHU_DIR_TO_BACKEND && !reply && m.nfds == 1 && src == c->fe) {
		if (m.hdr.request == VHU_REQ_SET_BACKEND_REQ_FD)
			interpose(&m, &c->chan_fe, &c->chan_be, "back-end channel");
		else if (m.hdr.request == VHU_REQ_GPU_SET_SOCKET &&
			 interpose(&m, &c->gpu_fe, &c->gpu_be, "GPU socket") == 0) {
			gpu_relay_init(c->gpu_req, c->gpu_be, c->gpu_fe);
			gpu_relay_init(c->gpu_rep, c->gpu_fe, c->gpu_be);
		}
	}
	ret = vhu_msg_send(dst, &m);
	done = now_ns();
	if (c->rv && ret == 0 && dir == VHU_DIR_TO_BACKEND && src == c->fe)
		ringview_observe(c->rv, &m); /* its fds are still open */
	if (!reply)
		c->sent_ns[dir][slot] = done;
	c->messages++;
	print_msg(from, chan, dir, &m, at, latency, done - at);
	vhu_msg_close_fds(&m);
	return ret;
}

/* Relay until either side of the main socket goes. */
static void conversation(struct conn *c, unsigned int ring_view_ms)
{
	uint64_t next_view = now_ns() + (uint64_t)ring_view_ms * 1000000u;

	while (!stop) {
		struct pollfd p[6] = {
			{ .fd = c->fe, .events = POLLIN },
			{ .fd = c->be, .events = POLLIN },
			{ .fd = c->chan_be, .events = POLLIN },
			{ .fd = c->chan_fe, .events = POLLIN },
			{ .fd = c->gpu_be },
			{ .fd = c->gpu_fe },
		};
		int wait_ms = 500, n;

		if (c->rv) {
			uint64_t now = now_ns();

			if (now >= next_view) {
				ringview_print(c->rv, out, json, (double)(now - t0) / 1e9, now);
				next_view = now + (uint64_t)ring_view_ms * 1000000u;
			}
			wait_ms = (int)((next_view - now) / 1000000u) + 1;
		}
		if (c->gpu_fe >= 0) {
			p[4].events = (short)(gpu_relay_src_events(c->gpu_req) |
					      gpu_relay_dst_events(c->gpu_rep));
			p[5].events = (short)(gpu_relay_src_events(c->gpu_rep) |
					      gpu_relay_dst_events(c->gpu_req));
		}
		n = poll(p, 6, wait_ms < 500 ? wait_ms : 500);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p[0].revents &&
		    relay(c, c->fe, c->be, VHU_DIR_TO_BACKEND, "front-end", "main") < 0)
			break;
		if (p[1].revents &&
		    relay(c, c->be, c->fe, VHU_DIR_TO_BACKEND, "back-end", "main") < 0)
			break;
		/* a channel that ends closes both its ends; the conversation goes on */
		if (c->chan_be >= 0 && p[2].revents &&
		    relay(c, c->chan_be, c->chan_fe, VHU_DIR_TO_FRONTEND, "back-end",
			  "backend-channel") < 0) {
			close_fd(&c->chan_be);
			close_fd(&c->chan_fe);
		}
		if (c->chan_fe >= 0 && p[3].revents &&
		    relay(c, c->chan_fe, c->chan_be, VHU_DIR_TO_FRONTEND, "front-end",
			  "backend-channel") < 0) {
			close_fd(&c->chan_be);
			close_fd(&c->chan_fe);
		}
		if (c->gpu_fe >= 0 && (p[4].revents || p[5].revents))
			gpu_service(c, p[4].revents, p[5].revents);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct options o;
	struct ringview *rv = NULL;
	struct gpu_relay *gpu[2] = { NULL, NULL };
	int lfd, ret, status = 0;

	if (parse_options(argc, argv, &o) < 0)
		return 2;
	json = o.json;
	out = stdout;
	if (o.output && !(out = fopen(o.output, "w"))) {
		fprintf(stderr, "vhu-trace: --output=%s: %s\n", o.output, strerror(errno));
		return 1;
	}
	gpu[0] = malloc(sizeof(*gpu[0]));
	gpu[1] = malloc(sizeof(*gpu[1]));
	if (!gpu[0] || !gpu[1] || (o.ring_view_ms && !(rv = ringview_new()))) {
		fprintf(stderr, "vhu-trace: out of memory\n");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	t0 = now_ns();
	lfd = o.listen_fd;
	if (o.listen_path) {
		ret = vhu_sock_listen(o.listen_path, &lfd);
		if (ret < 0) {
			fprintf(stderr, "vhu-trace: --listen=%s: %s\n", o.listen_path,
				strerror(-ret));
			return 1;
		}
	}
	fprintf(stderr, "vhu-trace: %s %s, relaying to %s\n",
		o.frontend_fd >= 0 ? "front-end on fd" : "listening on",
		o.listen_path	     ? o.listen_path
		: o.frontend_fd >= 0 ? "(inherited)"
				     : "an inherited fd",
		o.connect_path ? o.connect_path : "an inherited fd");
	while (!stop) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct conn c = { .chan_fe = -1,
				  .chan_be = -1,
				  .gpu_fe = -1,
				  .gpu_be = -1,
				  .gpu_req = gpu[0],
				  .gpu_rep = gpu[1],
				  .rv = rv };

		if (o.frontend_fd >= 0) {
			c.fe = o.frontend_fd;
		} else {
			if (poll(&p, 1, 500) <= 0)
				continue;
			c.fe = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			if (c.fe < 0)
				continue;
		}
		if (o.connect_fd >= 0) {
			c.be = o.connect_fd;
			ret = 0;
		} else {
			ret = vhu_sock_connect(o.connect_path, o.timeout_s * 1000u, &c.be);
		}
		if (ret < 0) {
			fprintf(stderr, "vhu-trace: --connect=%s: %s\n", o.connect_path,
				strerror(-ret));
			close(c.fe);
			status = 1;
			if (o.once)
				break;
			continue;
		}
		fprintf(stderr, "vhu-trace: a front-end connected\n");
		if (rv)
			ringview_reset(rv);
		conversation(&c, o.ring_view_ms);
		fprintf(stderr, "vhu-trace: conversation over after %lu messages\n", c.messages);
		close_fd(&c.fe);
		close_fd(&c.be);
		close_fd(&c.chan_fe);
		close_fd(&c.chan_be);
		gpu_close(&c, "closed with the conversation");
		if (o.once)
			break;
	}
	if (lfd >= 0)
		close(lfd);
	if (o.listen_path)
		unlink(o.listen_path);
	ringview_free(rv);
	free(gpu[0]);
	free(gpu[1]);
	if (out != stdout)
		fclose(out);
	return status;
}
