/* SPDX-License-Identifier: MIT */
/*
 * vhu-conform: the result table as text, JSON or markdown.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conform.h"

static const char *const verdict_names[] = { [V_PASS] = "pass", [V_NA] = "n/a", [V_FAIL] = "FAIL" };

static void count(const struct run *runs, size_t n, unsigned int c[3])
{
	c[V_PASS] = c[V_NA] = c[V_FAIL] = 0;
	for (size_t i = 0; i < n; i++)
		c[runs[i].res.verdict]++;
}

void report_text(FILE *f, const struct peer_info *p, const struct run *runs, size_t n)
{
	unsigned int c[3];

	fprintf(f, "vhu-conform: %s\n", p->name);
	fprintf(f,
		"  features 0x%016" PRIx64 ", protocol features 0x%" PRIx64
		", %u queue(s), type %s\n\n",
		p->features, p->pfeatures, p->num_queues, p->type ? p->type : "unknown");
	fprintf(f, "%-24s %-13s %-5s %s\n", "CHECK", "CATEGORY", "RESULT", "DETAIL");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%-24s %-13s %-5s %s\n", runs[i].check->id, runs[i].check->category,
			verdict_names[runs[i].res.verdict], runs[i].res.detail);
	count(runs, n, c);
	fprintf(f, "\n%zu checks: %u pass, %u fail, %u n/a\n", n, c[V_PASS], c[V_FAIL], c[V_NA]);
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

void report_json(FILE *f, const struct peer_info *p, const struct run *runs, size_t n)
{
	unsigned int c[3];

	fputs("{\"peer\":", f);
	json_str(f, p->name);
	fprintf(f, ",\"features\":%" PRIu64 ",\"protocol_features\":%" PRIu64 ",\"queues\":%u,",
		p->features, p->pfeatures, p->num_queues);
	fputs("\"type\":", f);
	if (p->type)
		json_str(f, p->type);
	else
		fputs("null", f);
	fputs(",\"checks\":[", f);
	for (size_t i = 0; i < n; i++) {
		const struct check *k = runs[i].check;

		fputs(i ? ",\n{\"id\":" : "\n{\"id\":", f);
		json_str(f, k->id);
		fputs(",\"category\":", f);
		json_str(f, k->category);
		fputs(",\"section\":", f);
		json_str(f, k->section);
		fputs(",\"rule\":", f);
		json_str(f, k->rule);
		fprintf(f, ",\"result\":\"%s\",\"detail\":",
			runs[i].res.verdict == V_FAIL ? "fail"
						      : verdict_names[runs[i].res.verdict]);
		json_str(f, runs[i].res.detail);
		fputc('}', f);
	}
	count(runs, n, c);
	fprintf(f, "],\n\"summary\":{\"pass\":%u,\"fail\":%u,\"na\":%u}}\n", c[V_PASS], c[V_FAIL],
		c[V_NA]);
}

/* A table cell: no newlines, '|' escaped. */
static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

void report_markdown(FILE *f, const struct peer_info *p, const struct run *runs, size_t n)
{
	unsigned int c[3];

	count(runs, n, c);
	fprintf(f, "Peer: `");
	md_cell(f, p->name);
	fprintf(f,
		"` (type %s, features 0x%" PRIx64 ", protocol features 0x%" PRIx64
		", %u queue(s)): %u pass, %u fail, %u n/a\n\n",
		p->type ? p->type : "unknown", p->features, p->pfeatures, p->num_queues, c[V_PASS],
		c[V_FAIL], c[V_NA]);
	fputs("| check | rule (vhost-user.rst section) | result | detail |\n", f);
	fputs("|---|---|---|---|\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct check *k = runs[i].check;

		fprintf(f, "| `%s` | ", k->id);
		md_cell(f, k->rule);
		fputs(" (", f);
		md_cell(f, k->section);
		fprintf(f, ") | %s | ",
			runs[i].res.verdict == V_FAIL ? "**FAIL**"
						      : verdict_names[runs[i].res.verdict]);
		md_cell(f, runs[i].res.detail);
		fputs(" |\n", f);
	}
}
