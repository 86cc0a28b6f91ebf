/* scrape_status: what the scrape manager shows people: the /targets page
 * (HTML, or JSON) and the scrape_configs part of /config. */
#include "scrape_impl.h"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- /targets ------------------------------------------------------ */

static int
status_slot_cmp(const void *pa, const void *pb)
{
	const scrape_slot *a = *(const scrape_slot *const *) pa;
	const scrape_slot *b = *(const scrape_slot *const *) pb;
	int                c = strcmp(a->t->job->name, b->t->job->name);
	if (c == 0)
		c = strcmp(a->t->instance, b->t->instance);
	if (c == 0)
		c = strcmp(a->p->name, b->p->name);
	if (c == 0)
		c = strcmp(a->url, b->url);
	return c;
}

/* Every live slot, sorted; called under mu. NULL with *n 0 when there
 * is none or no memory. */
static scrape_slot **
status_slots(hearth_scrape *s, size_t *n)
{
	size_t total = 0;
	for (size_t i = 0; i < s->n_targets; i++)
		total += s->targets[i]->dead ? 0 : s->targets[i]->n_slots;
	scrape_slot **v = total ? malloc(total * sizeof(*v)) : NULL;
	*n              = 0;
	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < s->n_targets; i++)
		for (size_t k = 0;
		     !s->targets[i]->dead && k < s->targets[i]->n_slots; k++)
			v[(*n)++] = &s->targets[i]->slots[k];
	qsort(v, *n, sizeof(*v), status_slot_cmp);
	return v;
}

static const char *
status_health(const scrape_slot *sl)
{
	return sl->health < 0 ? "unknown" : sl->health ? "up" : "down";
}

/* RFC 3339 UTC with milliseconds. */
static void
status_time(char *out, size_t outsz, int64_t ns)
{
	time_t    sec = (time_t) (ns / 1000000000LL);
	struct tm tm;
	gmtime_r(&sec, &tm);
	snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (int) ((ns / 1000000) % 1000));
}

static void
status_json_str(hearth_buf *b, const char *s)
{
	hearth_buf_put_json_str(b, s, strlen(s));
}

int
hearth_scrape_status_json(hearth_scrape *s, hearth_buf *b)
{
	pthread_mutex_lock(&s->mu);
	size_t        n;
	scrape_slot **v = status_slots(s, &n);
	hearth_buf_puts(b, "{\"targets\":[");
	for (size_t i = 0; i < n; i++) {
		const scrape_slot   *sl = v[i];
		const scrape_target *t  = sl->t;
		char                 ts[64];
		hearth_buf_puts(b, i ? ",{\"job\":" : "{\"job\":");
		status_json_str(b, t->job->name);
		hearth_buf_puts(b, ",\"instance\":");
		status_json_str(b, t->instance);
		hearth_buf_puts(b, ",\"url\":");
		status_json_str(b, sl->url);
		hearth_buf_puts(b, ",\"profile\":");
		status_json_str(b, sl->p->name);
		hearth_buf_puts(b, ",\"labels\":{");
		for (size_t l = 0; l < t->n_labels; l++) {
			if (l > 0)
				hearth_buf_putc(b, ',');
			status_json_str(b, t->labels[l].name);
			hearth_buf_putc(b, ':');
			status_json_str(b, t->labels[l].value);
		}
		hearth_buf_printf(b,
		    "},\"health\":\"%s\",\"last_scrape\":", status_health(sl));
		if (sl->last_ns > 0) {
			status_time(ts, sizeof(ts), sl->last_ns);
			hearth_buf_printf(b,
			    "\"%s\",\"last_scrape_unix_ms\":%lld", ts,
			    (long long) (sl->last_ns / 1000000));
		} else {
			hearth_buf_puts(
			    b, "null,\"last_scrape_unix_ms\":null");
		}
		hearth_buf_printf(b,
		    ",\"last_duration_seconds\":%.6f,\"last_bytes\":%zu,"
		    "\"last_error\":",
		    sl->last_seconds, sl->last_bytes);
		status_json_str(b, sl->last_error);
		hearth_buf_puts(b, ",\"last_error_reason\":");
		status_json_str(b, sl->last_reason ? sl->last_reason : "");
		hearth_buf_printf(b,
		    ",\"scrapes\":%llu,\"failures\":%llu,\"skipped\":%llu,"
		    "\"interval_seconds\":%.3f,\"timeout_seconds\":%.3f}",
		    (unsigned long long) sl->scrapes,
		    (unsigned long long) sl->failures,
		    (unsigned long long) sl->skipped,
		    (double) t->job->interval_ms / 1000.0,
		    (double) t->job->timeout_ms / 1000.0);
	}
	pthread_mutex_unlock(&s->mu);
	free(v);
	hearth_buf_puts(b, "]}\n");
	return hearth_buf_failed(b) ? HEARTH_ENOMEM : 0;
}

static void
status_html(hearth_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			hearth_buf_puts(b, "&lt;");
			break;
		case '>':
			hearth_buf_puts(b, "&gt;");
			break;
		case '&':
			hearth_buf_puts(b, "&amp;");
			break;
		case '"':
			hearth_buf_puts(b, "&quot;");
			break;
		case '\'':
			hearth_buf_puts(b, "&#39;");
			break;
		default:
			hearth_buf_putc(b, *s);
		}
	}
}

int
hearth_scrape_status_html(hearth_scrape *s, hearth_buf *b)
{
	hearth_buf_puts(b,
	    "<!doctype html><meta charset=\"utf-8\"><title>hearth targets"
	    "</title><style>body{font-family:sans-serif}td,th{padding:2px 8px;"
	    "text-align:left;vertical-align:top}.up{color:#080}.down{color:"
	    "#c00}</style><h1>Scrape targets</h1>"
	    "<p><a href=\"/targets?format=json\">JSON</a></p>"
	    "<table><tr><th>job</th><th>target</th><th>profile</th>"
	    "<th>health</th><th>last scrape</th><th>duration</th>"
	    "<th>bytes</th><th>last error</th></tr>\n");
	pthread_mutex_lock(&s->mu);
	size_t        n;
	scrape_slot **v   = status_slots(s, &n);
	int64_t       now = hearth_scrape_wall_ns();
	for (size_t i = 0; i < n; i++) {
		const scrape_slot *sl = v[i];
		hearth_buf_puts(b, "<tr><td>");
		status_html(b, sl->t->job->name);
		hearth_buf_puts(b, "</td><td>");
		status_html(b, sl->url);
		hearth_buf_puts(b, "</td><td>");
		status_html(b, sl->p->name);
		hearth_buf_printf(b, "</td><td class=\"%s\">%s</td><td>",
		    status_health(sl), status_health(sl));
		if (sl->last_ns > 0) {
			char ts[64];
			status_time(ts, sizeof(ts), sl->last_ns);
			hearth_buf_printf(b, "%s (%.1f s ago)", ts,
			    (double) (now - sl->last_ns) / 1e9);
		} else {
			hearth_buf_puts(b, "never");
		}
		hearth_buf_printf(b, "</td><td>%.3f s</td><td>%zu</td><td>",
		    sl->last_seconds, sl->last_bytes);
		if (sl->last_reason != NULL) {
			hearth_buf_printf(b, "%s: ", sl->last_reason);
			status_html(b, sl->last_error);
		}
		hearth_buf_puts(b, "</td></tr>\n");
	}
	pthread_mutex_unlock(&s->mu);
	free(v);
	if (n == 0)
		hearth_buf_puts(b,
		    "<tr><td colspan=\"8\">no targets: add "
		    "scrape_configs to the config file "
		    "(docs/scrape.md)</td></tr>\n");
	hearth_buf_puts(b, "</table>\n");
	return hearth_buf_failed(b) ? HEARTH_ENOMEM : 0;
}

/* ---- /config ------------------------------------------------------- */

static void
status_put_kv(
    hearth_buf *b, int indent, const char *key, const char *value, int secret)
{
	if (value == NULL)
		return;
	hearth_buf_printf(b, "%*s%s: ", indent, "", key);
	status_json_str(b, secret ? "<secret>" : value);
	hearth_buf_putc(b, '\n');
}

static void
status_dump_groups(hearth_buf *b, const hearth_scrape_group *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		hearth_buf_puts(b, "      - targets: [");
		for (size_t t = 0; t < g[i].n_targets; t++) {
			if (t > 0)
				hearth_buf_puts(b, ", ");
			status_json_str(b, g[i].targets[t]);
		}
		hearth_buf_puts(b, "]\n");
		if (g[i].n_labels > 0)
			hearth_buf_puts(b, "        labels:\n");
		for (size_t l = 0; l < g[i].n_labels; l++)
			status_put_kv(b, 10, g[i].labels[l].name,
			    g[i].labels[l].value, 0);
	}
}

static void
status_dump_profiles(hearth_buf *b, const hearth_scrape_job *j)
{
	hearth_buf_puts(b, "    profiling_config:\n");
	for (size_t i = 0; i < hearth_scrape_n_builtins; i++) {
		const hearth_scrape_profile *p = NULL;
		for (size_t k = 0; k < j->n_profiles && p == NULL; k++)
			if (!j->profiles[k].custom
			    && strcmp(j->profiles[k].name,
			           hearth_scrape_builtins[i].key)
			        == 0)
				p = &j->profiles[k];
		hearth_buf_printf(b, "      %s: {enabled: %s",
		    hearth_scrape_builtins[i].key,
		    p != NULL ? "true" : "false");
		if (p != NULL) {
			hearth_buf_puts(b, ", path: ");
			status_json_str(b, p->path);
			hearth_buf_printf(b, ", delta: %s",
			    p->delta || p->cpu_seconds ? "true" : "false");
		}
		hearth_buf_puts(b, "}\n");
	}
	int any = 0;
	for (size_t k = 0; k < j->n_profiles; k++) {
		const hearth_scrape_profile *p = &j->profiles[k];
		if (!p->custom)
			continue;
		if (!any++)
			hearth_buf_puts(b, "      custom:\n");
		hearth_buf_puts(b, "        - {name: ");
		status_json_str(b, p->name);
		hearth_buf_puts(b, ", path: ");
		status_json_str(b, p->path);
		hearth_buf_printf(
		    b, ", delta: %s}\n", p->delta ? "true" : "false");
	}
}

int
hearth_scrape_config_dump(const hearth_scrape_config *c, hearth_buf *b)
{
	char d1[32];
	hearth_buf_puts(
	    b, c->n_jobs == 0 ? "scrape_configs: []\n" : "scrape_configs:\n");
	for (size_t i = 0; i < c->n_jobs; i++) {
		const hearth_scrape_job *j = &c->jobs[i];
		hearth_buf_puts(b, "  - job_name: ");
		status_json_str(b, j->name);
		hearth_buf_printf(b, "\n    scrape_interval: %s\n",
		    hearth_config_duration_format(
		        j->interval_ms, d1, sizeof(d1)));
		hearth_buf_printf(b, "    scrape_timeout: %s\n",
		    hearth_config_duration_format(
		        j->timeout_ms, d1, sizeof(d1)));
		status_put_kv(b, 4, "scheme", j->scheme, 0);
		status_put_kv(b, 4, "tenant_id", j->tenant, 0);
		hearth_buf_printf(b, "    body_size_limit: %lld\n",
		    (long long) j->body_size_limit);
		if (j->username != NULL) {
			hearth_buf_puts(b, "    basic_auth:\n");
			status_put_kv(b, 6, "username", j->username, 0);
			status_put_kv(b, 6, "password", j->password, 1);
			status_put_kv(
			    b, 6, "password_file", j->password_file, 0);
		}
		if (j->auth_type != NULL) {
			hearth_buf_puts(b, "    authorization:\n");
			status_put_kv(b, 6, "type", j->auth_type, 0);
			status_put_kv(b, 6, "credentials", j->credentials, 1);
			status_put_kv(
			    b, 6, "credentials_file", j->credentials_file, 0);
		}
		if (j->ca_file || j->cert_file || j->insecure_skip_verify) {
			hearth_buf_puts(b, "    tls_config:\n");
			status_put_kv(b, 6, "ca_file", j->ca_file, 0);
			status_put_kv(b, 6, "cert_file", j->cert_file, 0);
			status_put_kv(b, 6, "key_file", j->key_file, 0);
			hearth_buf_printf(b,
			    "      insecure_skip_verify: %s\n",
			    j->insecure_skip_verify ? "true" : "false");
		}
		if (j->n_groups > 0)
			hearth_buf_puts(b, "    static_configs:\n");
		status_dump_groups(b, j->groups, j->n_groups);
		if (j->n_sd > 0)
			hearth_buf_puts(b, "    file_sd_configs:\n");
		for (size_t k = 0; k < j->n_sd; k++) {
			hearth_buf_puts(b, "      - files: [");
			for (size_t f = 0; f < j->sd[k].n_files; f++) {
				if (f > 0)
					hearth_buf_puts(b, ", ");
				status_json_str(b, j->sd[k].files[f]);
			}
			hearth_buf_printf(b,
			    "]\n        refresh_interval: %s\n",
			    hearth_config_duration_format(
			        j->sd[k].refresh_ms, d1, sizeof(d1)));
		}
		status_dump_profiles(b, j);
	}
	return hearth_buf_failed(b) ? HEARTH_ENOMEM : 0;
}
