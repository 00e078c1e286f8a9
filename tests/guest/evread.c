/* SPDX-License-Identifier: MIT */
/*
 * evread: runs inside a test guest (static, busybox has no evdev tool).
 *
 *   evread DEVICE COUNT SECONDS [LED]
 *
 * Opens the evdev node DEVICE, prints each absolute axis's range as it
 * reads it with EVIOCGABS ("VHU-GUEST-DATA: abs_N=min,max,fuzz,flat,res"),
 * says "VHU-GUEST-DATA: input_ready=1" (the host starts sending then),
 * reads COUNT events, LED state changes left out (at most SECONDS
 * seconds), and prints them as
 * "VHU-GUEST-DATA: input_events=T:C:V,T:C:V,..." (the kernel's own
 * timestamps left out). With LED, it then writes EV_LED LED, 1 and a
 * SYN_REPORT to the node: virtio-input sends that on its status queue.
 * Exit 0 when all COUNT events came, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	unsigned char absbits[ABS_CNT / 8] = { 0 };
	struct input_event ev;
	int fd, count, got = 0;
	double deadline;

	if (argc < 4)
		return 2;
	fd = open(argv[1], O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "evread: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	count = atoi(argv[2]);
	deadline = now() + atoi(argv[3]);
	if (ioctl(fd, EVIOCGBIT(EV_ABS, sizeof(absbits)), absbits) >= 0) {
		for (int a = 0; a < ABS_CNT; a++) {
			struct input_absinfo ai;

			if (!(absbits[a / 8] & (1u << (a % 8))) || ioctl(fd, EVIOCGABS(a), &ai) < 0)
				continue;
			printf("VHU-GUEST-DATA: abs_%d=%d,%d,%d,%d,%d\n", a, ai.minimum, ai.maximum,
			       ai.fuzz, ai.flat, ai.resolution);
		}
	}
	printf("VHU-GUEST-DATA: input_ready=1\n");
	fflush(stdout);
	printf("VHU-GUEST-DATA: input_events=");
	while (got < count && now() < deadline) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 200) <= 0)
			continue;
		while (got < count && read(fd, &ev, sizeof(ev)) == sizeof(ev))
			if (ev.type != EV_LED) /* LED state: not an input event */
				printf("%s%u:%u:%d", got++ ? "," : "", ev.type, ev.code, ev.value);
	}
	printf("\nVHU-GUEST-DATA: input_got=%d\n", got);
	fflush(stdout);
	if (argc > 4) {
		struct input_event led[2] = {
			{ .type = EV_LED, .code = (unsigned short)atoi(argv[4]), .value = 1 },
			{ .type = EV_SYN, .code = SYN_REPORT },
		};

		if (write(fd, led, sizeof(led)) != sizeof(led))
			fprintf(stderr, "evread: writing the LED: %s\n", strerror(errno));
		usleep(500000); /* the status queue is served before power-off */
	}
	return got == count ? 0 : 1;
}
