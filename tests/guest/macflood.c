/* SPDX-License-Identifier: MIT */
/*
 * macflood - a guest program that sends Ethernet frames from many source
 * addresses, as a guest attacking a switch's MAC table would.
 *
 *   macflood IFNAME COUNT DST_MAC [SEED]
 *
 * Sends COUNT 60-byte frames to DST_MAC through an AF_PACKET socket bound
 * to IFNAME, each from a different locally administered unicast source
 * (02:xx:xx:xx:xx:xx, drawn from SEED; COUNT distinct ones), ethertype
 * 0x88b5 (local experimental), as fast as the socket takes them. Prints "macflood: sent N" and
 * exits 0, or 1 on an error. Static, no libc beyond POSIX: the test guests have only busybox.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_halen = 6 };
	uint8_t frame[60] = { 0 };
	unsigned long count, seed = 1;
	struct timespec pause = { 0, 1000000 };
	int fd;

	if (argc < 4 || parse_mac(argv[3], frame) < 0) {
		fprintf(stderr, "usage: macflood IFNAME COUNT DST_MAC [SEED]\n");
		return 1;
	}
	count = strtoul(argv[2], NULL, 10);
	if (argc > 4)
		seed = strtoul(argv[4], NULL, 10);
	sa.sll_ifindex = (int)if_nametoindex(argv[1]);
	fd = socket(AF_PACKET, SOCK_RAW, htons(0x88b5));
	if (sa.sll_ifindex == 0 || fd < 0) {
		fprintf(stderr, "macflood: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	memcpy(sa.sll_addr, frame, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned long i = 0; i < count; i++) {
		/* distinct: a 32-bit counter mixed with the seed, bijectively */
		uint32_t v = (uint32_t)((i + seed * 0x10000) * 2654435761u);

		frame[6] = 0x02;
		frame[7] = (uint8_t)(seed >> 3);
		frame[8] = (uint8_t)(v >> 24);
		frame[9] = (uint8_t)(v >> 16);
		frame[10] = (uint8_t)(v >> 8);
		frame[11] = (uint8_t)v;
		memcpy(frame + 14, &i, sizeof(i));
		while (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sa, sizeof(sa)) <
		       0) {
			if (errno != ENOBUFS && errno != EAGAIN) {
				fprintf(stderr, "macflood: send: %s\n", strerror(errno));
				return 1;
			}
			nanosleep(&pause, NULL);
		}
	}
	printf("macflood: sent %lu\n", count);
	close(fd);
	return 0;
}
