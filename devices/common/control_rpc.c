/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 on a request text (control.h): validation of the envelope,
 * method lookup, strict params, and the reply. No I/O: the connection
 * threads (control.c) and the fuzz target call ctl_handle().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

#define CTL_BATCH_MAX 64u

int ctl_fail(struct ctl_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	if (!err->code)
		err->code = ret;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return ret;
}

static const struct ctl_param *param_find(const struct ctl_param *t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

static int param_set(const struct ctl_param *p, const struct json_value *v, struct ctl_error *err)
{
	switch (p->type) {
	case CTL_P_STRING:
		if (v->type != JSON_STRING)
			break;
		*(const char **)p->out = v->str;
		return 0;
	case CTL_P_U64:
		if (v->type != JSON_NUMBER)
			break;
		if (!v->is_int || v->i < 0)
			return ctl_fail(err, CTL_INVALID_PARAMS,
					"'%s' must be a non-negative integer", p->name);
		*(uint64_t *)p->out = (uint64_t)v->i;
		return 0;
	case CTL_P_BOOL:
		if (v->type != JSON_TRUE && v->type != JSON_FALSE)
			break;
		*(bool *)p->out = v->type == JSON_TRUE;
		return 0;
	}
	return ctl_fail(err, CTL_INVALID_PARAMS, "'%s' must be a %s, not a %s", p->name,
			p->type == CTL_P_STRING ? "string"
			: p->type == CTL_P_U64	? "number"
						: "boolean",
			json_type_name(v->type));
}

int ctl_params(const struct json_value *params, const struct ctl_param *table, size_t n,
	       struct ctl_error *err)
{
	for (const struct json_value *m = params->first; m; m = m->next) {
		const struct ctl_param *p = param_find(table, n, m->key);

		if (!p)
			return ctl_fail(err, CTL_INVALID_PARAMS, "unknown parameter '%s'", m->key);
		if (param_set(p, m, err) < 0)
			return CTL_INVALID_PARAMS;
		if (p->present)
			*p->present = true;
	}
	for (size_t i = 0; i < n; i++)
		if (table[i].required && !json_get(params, table[i].name))
			return ctl_fail(err, CTL_INVALID_PARAMS, "missing parameter '%s'",
					table[i].name);
	return 0;
}

int ctl_param_name(const struct json_value *params, bool required, const char **name,
		   struct ctl_error *err)
{
	const struct ctl_param table[] = { { "name", CTL_P_STRING, required, name } };

	*name = NULL;
	return ctl_params(params, table, 1, err);
}

static void reply_error(struct json_writer *w, const struct json_value *id, int code,
			const char *message)
{
	jw_object_begin(w);
	jw_key(w, "jsonrpc");
	jw_string(w, "2.0");
	jw_key(w, "id");
	if (id)
		jw_value(w, id);
	else
		jw_null(w);
	jw_key(w, "error");
	jw_object_begin(w);
	jw_key(w, "code");
	jw_int(w, code);
	jw_key(w, "message");
	jw_string(w, message);
	jw_object_end(w);
	jw_object_end(w);
}

static int get_methods(const struct ctl_config *cfg, struct json_writer *r)
{
	jw_array_begin(r);
	jw_string(r, "rpc_get_methods");
	for (size_t i = 0; i < cfg->num_methods; i++)
		jw_string(r, cfg->methods[i].name);
	jw_array_end(r);
	return 0;
}

/* Run the method; 0 with @result filled, or the error code in @err. */
static int call(const struct ctl_config *cfg, const char *name, const struct json_value *params,
		struct json_writer *result, struct ctl_error *err)
{
	static const struct json_value empty = { .type = JSON_OBJECT };
	const struct ctl_method *m = NULL;
	int ret;

	if (!params)
		params = &empty;
	if (strcmp(name, "rpc_get_methods") == 0) {
		if (params->count)
			return ctl_fail(err, CTL_INVALID_PARAMS, "no parameters expected");
		return get_methods(cfg, result);
	}
	for (size_t i = 0; i < cfg->num_methods && !m; i++)
		if (strcmp(cfg->methods[i].name, name) == 0)
			m = &cfg->methods[i];
	if (!m)
		return ctl_fail(err, CTL_METHOD_NOT_FOUND, "method '%.200s' not found", name);
	ret = m->fn(cfg->opaque, params, result, err);
	if (ret < 0 && !err->code)
		ctl_fail(err, ret, "%s", strerror(-ret));
	if (ret == 0 && !jw_finish(result))
		return ctl_fail(err, CTL_INTERNAL_ERROR, "reply too large");
	return ret < 0 ? -1 : 0;
}

/* Check the envelope; 0, or the error (and a message) for it. */
static int envelope(const struct json_value *req, const struct json_value **id, const char **method,
		    const struct json_value **params, const char **why)
{
	const struct json_value *v;

	*id = NULL, *method = NULL, *params = NULL;
	if (req->type != JSON_OBJECT) {
		*why = "a request must be an object";
		return CTL_INVALID_REQUEST;
	}
	for (v = req->first; v; v = v->next) {
		if (strcmp(v->key, "id") == 0) {
			if (v->type != JSON_STRING && v->type != JSON_NUMBER &&
			    v->type != JSON_NULL) {
				*why = "'id' must be a string, a number or null";
				return CTL_INVALID_REQUEST;
			}
			*id = v;
		} else if (strcmp(v->key, "method") == 0 && v->type == JSON_STRING) {
			*method = v->str;
		} else if (strcmp(v->key, "params") == 0) {
			*params = v;
		} else if (strcmp(v->key, "jsonrpc") != 0 || v->type != JSON_STRING ||
			   strcmp(v->str, "2.0") != 0) {
			*why = strcmp(v->key, "method") == 0	? "'method' must be a string"
			       : strcmp(v->key, "jsonrpc") == 0 ? "'jsonrpc' must be \"2.0\""
								: "unknown member in the request";
			return CTL_INVALID_REQUEST;
		}
	}
	if (!json_get(req, "jsonrpc") || !*method) {
		*why = !*method ? "'method' is missing" : "'jsonrpc' is missing";
		return CTL_INVALID_REQUEST;
	}
	if (*params && (*params)->type != JSON_OBJECT) {
		*why = "'params' must be an object (parameters by name)";
		return CTL_INVALID_PARAMS;
	}
	return 0;
}

/* One request of a batch or alone: append its reply (none for a notification). */
static void handle_one(const struct ctl_config *cfg, const struct json_value *req,
		       struct json_writer *w)
{
	struct ctl_error err = { 0 };
	const struct json_value *id, *params;
	struct json_writer result;
	const char *method, *why = NULL;
	bool notification;
	int code;

	code = envelope(req, &id, &method, &params, &why);
	notification = code == 0 && !json_get(req, "id");
	if (code) {
		reply_error(w, id, code, why);
		return;
	}
	jw_init(&result, CTL_REPLY_MAX);
	if (call(cfg, method, params, &result, &err) < 0) {
		if (!notification)
			reply_error(w, id, err.code, err.message);
	} else if (!notification) {
		jw_object_begin(w);
		jw_key(w, "jsonrpc");
		jw_string(w, "2.0");
		jw_key(w, "id");
		jw_value(w, id);
		jw_key(w, "result");
		jw_raw(w, result.buf, result.len);
		jw_object_end(w);
	}
	jw_free(&result);
}

int ctl_handle(const struct ctl_config *cfg, const char *text, size_t len,
	       struct json_writer *reply)
{
	struct json_doc doc;
	const char *why = NULL;
	char msg[128];
	size_t pos = 0;
	int ret;

	ret = json_parse(text, len, &doc, &why, &pos);
	if (ret == -ENOMEM)
		return ret;
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "parse error at byte %zu: %s", pos, why);
		reply_error(reply, NULL, CTL_PARSE_ERROR, msg);
		return 0;
	}
	if (doc.root->type != JSON_ARRAY) {
		handle_one(cfg, doc.root, reply);
	} else if (doc.root->count == 0 || doc.root->count > CTL_BATCH_MAX) {
		snprintf(msg, sizeof(msg), "a batch holds 1 to %u requests", CTL_BATCH_MAX);
		reply_error(reply, NULL, CTL_INVALID_REQUEST, msg);
	} else {
		struct json_writer batch;

		jw_init(&batch, CTL_REPLY_MAX);
		jw_array_begin(&batch);
		for (const struct json_value *r = doc.root->first; r; r = r->next)
			handle_one(cfg, r, &batch);
		jw_array_end(&batch);
		/* all notifications: no reply at all (JSON-RPC 2.0, "Batch") */
		if (batch.len > 2 && jw_finish(&batch))
			jw_raw(reply, batch.buf, batch.len);
		else if (batch.len > 2)
			reply_error(reply, NULL, CTL_INTERNAL_ERROR, "reply too large");
		jw_free(&batch);
	}
	json_free(&doc);
	return 0;
}
