/* SPDX-License-Identifier: MIT */
/*
 * uinput-feed: runs inside a test guest (static). Creates a uinput
 * device (keys A and B, BTN_LEFT, ABS_X/ABS_Y, the Num and Caps Lock LEDs),
 * prints "node /dev/input/eventN", then obeys commands on stdin, one a line:
 *
 *   emit FILE     inject FILE's events ("TYPE CODE VALUE" lines)
 *   flood N       KEY_A pressed (one frame), then N frames of ABS_X = 1..N:
 *                 a reader that overflows loses the press, which only a
 *                 resynchronisation after SYN_DROPPED brings back
 *   leds SECONDS  print "led CODE VALUE" for each LED event the device gets
 *                 (written to its evdev node by a reader), for SECONDS
 *   destroy       UI_DEV_DESTROY and end
 *
 * Each command is answered "done CMD" when it finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int fd;

static void emit(unsigned short type, unsigned short code, int value)
{
	struct input_event ev = { .type = type, .code = code, .value = value };

	if (write(fd, &ev, sizeof(ev)) != sizeof(ev))
		fprintf(stderr, "uinput-feed: write: %s\n", strerror(errno));
}

static void setup(void)
{
	struct uinput_setup us = { .id = { BUS_VIRTUAL, 0x1d6b, 0x0104, 3 } };
	static const int keys[] = { KEY_A, KEY_B, BTN_LEFT };
	char sys[64], path[128];

	fd = open("/dev/uinput", O_RDWR | O_NONBLOCK);
	if (fd < 0) {
		perror("uinput-feed: /dev/uinput");
		exit(1);
	}
	ioctl(fd, UI_SET_EVBIT, EV_KEY);
	for (unsigned int i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ioctl(fd, UI_SET_KEYBIT, keys[i]);
	ioctl(fd, UI_SET_EVBIT, EV_LED);
	ioctl(fd, UI_SET_LEDBIT, LED_NUML);
	ioctl(fd, UI_SET_LEDBIT, LED_CAPSL);
	ioctl(fd, UI_SET_EVBIT, EV_ABS);
	for (int a = ABS_X; a <= ABS_Y; a++) {
		struct uinput_abs_setup abs = {
			.code = (unsigned short)a,
			.absinfo = { .minimum = 0, .maximum = 1000, .resolution = 7 }
		};

		ioctl(fd, UI_SET_ABSBIT, a);
		ioctl(fd, UI_ABS_SETUP, &abs);
	}
	strcpy(us.name, "vhu uinput tablet");
	if (ioctl(fd, UI_DEV_SETUP, &us) < 0 || ioctl(fd, UI_DEV_CREATE) < 0 ||
	    ioctl(fd, UI_GET_SYSNAME(sizeof(sys)), sys) < 0) {
		perror("uinput-feed: creating the device");
		exit(1);
	}
	for (int i = 0; i < 100; i++) {
		char glob[256];
		FILE *p;

		snprintf(glob, sizeof(glob),
			 "ls -d /sys/devices/virtual/input/%s/event* 2>/dev/null", sys);
		p = popen(glob, "r");
		if (p && fgets(path, sizeof(path), p)) {
			pclose(p);
			path[strcspn(path, "\n")] = '\0';
			printf("node /dev/input/%s\n", strrchr(path, '/') + 1);
			fflush(stdout);
			return;
		}
		if (p)
			pclose(p);
		usleep(50000);
	}
	fprintf(stderr, "uinput-feed: no event node for %s\n", sys);
	exit(1);
}

static void leds(int seconds)
{
	time_t end = time(NULL) + seconds;
	struct input_event ev;

	while (time(NULL) < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 100) <= 0)
			continue;
		while (read(fd, &ev, sizeof(ev)) == sizeof(ev))
			if (ev.type == EV_LED) {
				printf("led %u %d\n", ev.code, ev.value);
				fflush(stdout);
			}
	}
}

int main(void)
{
	char line[256], arg[200];

	setup();
	while (fgets(line, sizeof(line), stdin)) {
		int n = 0;

		if (sscanf(line, "emit %199s", arg) == 1) {
			FILE *f = fopen(arg, "r");
			int t, c, v;

			while (f && fscanf(f, "%d %d %d", &t, &c, &v) == 3)
				emit((unsigned short)t, (unsigned short)c, v);
			if (f)
				fclose(f);
		} else if (sscanf(line, "flood %d", &n) == 1) {
			emit(EV_KEY, KEY_A, 1);
			emit(EV_SYN, SYN_REPORT, 0);
			for (int i = 1; i <= n; i++) {
				emit(EV_ABS, ABS_X, i);
				emit(EV_SYN, SYN_REPORT, 0);
			}
		} else if (sscanf(line, "leds %d", &n) == 1) {
			leds(n);
		} else if (!strncmp(line, "destroy", 7)) {
			ioctl(fd, UI_DEV_DESTROY);
			close(fd);
			printf("done destroy\n");
			fflush(stdout);
			return 0;
		}
		line[strcspn(line, "\n")] = '\0';
		printf("done %s\n", line);
		fflush(stdout);
	}
	return 0;
}
