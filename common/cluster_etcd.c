/* etcd membership through etcd's v3 JSON gateway (libcurl): keys and
 * values are base64, int64 fields are decimal strings.
 *
 *   register:  POST /v3/lease/grant {"TTL":s} -> ID
 *              POST /v3/kv/put {key: PREFIX+ID, value: url, lease: ID}
 *   keepalive: POST /v3/lease/keepalive {"ID":..} every TTL/3; an answer
 *              without TTL means the lease expired: register again
 *   members:   POST /v3/kv/range [PREFIX, PREFIX+1) -> kvs, revision
 *   changes:   POST /v3/watch from revision+1, a long-lived streaming
 *              response served by a curl multi handle inside
 *              cluster_etcd_wait; any message on it triggers a range read
 *              (events are not interpreted: the range is the truth).
 *              While no watch runs, the range is re-read every retry_ms.
 *   leave:     POST /v3/lease/revoke {"ID":..}
 * Requests go to the current endpoint; a transport failure moves to the
 * next one. */
#include "cluster_impl.h"

#include "config_tree.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETCD_MAX_RESPONSE ((size_t) 16 << 20)

struct cluster_etcd {
	char        **eps; /* base URLs without a trailing '/' */
	size_t        n_eps;
	size_t        cur;
	char         *prefix;
	char         *key_b64;  /* base64(prefix) */
	char         *end_b64;  /* base64(prefix + 1) */
	char         *self_key; /* base64(prefix + self_id), NULL: none */
	char         *self_val; /* base64(self_url) */
	int64_t       ttl_ms;
	int64_t       timeout_ms;
	int64_t       retry_ms;
	hearth_log    log;
	CURL         *easy; /* blocking requests */
	CURLM        *multi;
	CURL         *watch; /* NULL when no watch runs */
	int           watch_dirty;
	int           watch_ended;
	hearth_buf    resp;
	hearth_arena *arena;
	int64_t       lease; /* 0 = not registered */
	int64_t       revision;
	int           need_range;
	int           failing; /* log only the first of a run of failures */
	int64_t       next_register;
	int64_t       next_keepalive;
	int64_t       next_range;
	int64_t       next_watch;
};

static char *
etcd_b64(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	if (out != NULL)
		EVP_EncodeBlock(
		    (unsigned char *) out, (const unsigned char *) s, (int) n);
	return out;
}

/* Decode base64 s[0..n) into a NUL-terminated arena string; NULL when
 * malformed. */
static char *
etcd_unb64(hearth_arena *a, const char *s, size_t n)
{
	if (n % 4 != 0)
		return NULL;
	char *out = hearth_arena_alloc(a, n / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	int m = EVP_DecodeBlock(
	    (unsigned char *) out, (const unsigned char *) s, (int) n);
	if (m < 0)
		return NULL;
	/* EVP_DecodeBlock counts the bytes padding stands for. */
	for (size_t i = n; i > 0 && s[i - 1] == '=' && m > 0; i--)
		m--;
	out[m] = '\0';
	if (memchr(out, '\0', (size_t) m) != NULL)
		return NULL;
	return out;
}

static size_t
etcd_write_cb(char *p, size_t sz, size_t n, void *ud)
{
	hearth_buf *b = ud;
	hearth_buf_append(b, p, sz * n);
	return hearth_buf_failed(b) ? 0 : sz * n;
}

/* A failure worth one log line per run of failures. */
static int
etcd_fail(cluster_etcd *e, const char *what, const char *why)
{
	char q[600];
	if (!e->failing)
		hearth_log_write(&e->log, HEARTH_LOG_WARN,
		    "ring etcd request failed", "op=%s endpoint=%s err=%s",
		    what, e->eps[e->cur], hearth_log_quote(q, sizeof(q), why));
	e->failing = 1;
	return -1;
}

/* POST body to path; the parsed JSON answer in *root (arena memory).
 * Transport failures try every endpoint once. 0 or -1 (logged). */
static int
etcd_post(cluster_etcd *e, const char *path, const char *body,
    const hearth_config_node **root)
{
	char       url[1024], why[CURL_ERROR_SIZE + 64];
	hearth_err err;
	long       status = 0;
	CURLcode   cc     = CURLE_OK;

	for (size_t tries = 0; tries < e->n_eps; tries++) {
		snprintf(url, sizeof(url), "%s%s", e->eps[e->cur], path);
		hearth_buf_reset(&e->resp);
		e->resp.failed = 0;
		curl_easy_setopt(e->easy, CURLOPT_URL, url);
		curl_easy_setopt(e->easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(
		    e->easy, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
		cc = curl_easy_perform(e->easy);
		if (cc == CURLE_OK)
			break;
		e->cur = (e->cur + 1) % e->n_eps;
	}
	if (cc != CURLE_OK) {
		snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
		return etcd_fail(e, path, why);
	}
	curl_easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(why, sizeof(why), "HTTP %ld: %.200s", status,
		    e->resp.data != NULL ? e->resp.data : "");
		return etcd_fail(e, path, why);
	}
	hearth_arena_reset(e->arena);
	if (hearth_config_tree_parse(e->arena, e->resp.data, e->resp.len,
	        "etcd response", 1, root, &err)
	        != 0
	    || (*root)->kind != HEARTH_CONFIG_MAP)
		return etcd_fail(e, path, "unreadable JSON answer");
	if (e->failing)
		hearth_log_write(&e->log, HEARTH_LOG_INFO,
		    "ring etcd reachable again", "endpoint=%s",
		    e->eps[e->cur]);
	e->failing = 0;
	return 0;
}

/* A scalar field of a map as int64 (the gateway writes int64 as "123"),
 * or 0 when absent. */
static int64_t
etcd_int(const hearth_config_node *map, const char *key)
{
	const hearth_config_node *n = hearth_config_tree_get(map, key);
	if (n == NULL || n->kind != HEARTH_CONFIG_SCALAR)
		return 0;
	return strtoll(n->str, NULL, 10);
}

static int
etcd_register(cluster_etcd *e)
{
	const hearth_config_node *root;
	char                      body[256];
	long long                 ttl_s
	    = e->ttl_ms < 1000 ? 1 : (long long) (e->ttl_ms / 1000);

	snprintf(body, sizeof(body), "{\"TTL\":\"%lld\"}", ttl_s);
	if (etcd_post(e, "/v3/lease/grant", body, &root) != 0)
		return -1;
	int64_t id = etcd_int(root, "ID");
	if (id == 0)
		return etcd_fail(e, "/v3/lease/grant", "no lease ID");
	size_t n   = strlen(e->self_key) + strlen(e->self_val) + 96;
	char  *put = malloc(n);
	if (put == NULL)
		return etcd_fail(e, "/v3/kv/put", "out of memory");
	snprintf(put, n,
	    "{\"key\":\"%s\",\"value\":\"%s\",\"lease\":\"%lld\"}",
	    e->self_key, e->self_val, (long long) id);
	int rc = etcd_post(e, "/v3/kv/put", put, &root);
	free(put);
	if (rc != 0)
		return -1;
	e->lease = id;
	hearth_log_write(&e->log, HEARTH_LOG_INFO, "ring registered in etcd",
	    "prefix=%s lease=%lld ttl_s=%lld", e->prefix, (long long) id,
	    ttl_s);
	return 0;
}

/* 0 alive, 1 expired (register again), -1 failed. */
static int
etcd_keepalive(cluster_etcd *e)
{
	const hearth_config_node *root;
	char                      body[96];
	snprintf(
	    body, sizeof(body), "{\"ID\":\"%lld\"}", (long long) e->lease);
	if (etcd_post(e, "/v3/lease/keepalive", body, &root) != 0)
		return -1;
	const hearth_config_node *r = hearth_config_tree_get(root, "result");
	if (r == NULL || etcd_int(r, "TTL") <= 0) {
		hearth_log_write(&e->log, HEARTH_LOG_WARN,
		    "ring etcd lease expired", "lease=%lld",
		    (long long) e->lease);
		e->lease = 0;
		return 1;
	}
	return 0;
}

/* What an ingester registers: tcp://host:port (or an in-process URL). */
static int
etcd_url_ok(const char *u)
{
	if (strncmp(u, "tcp://", 6) == 0)
		return cluster_hostport_ok(u + 6, strlen(u + 6));
	return (strncmp(u, "inproc://", 9) == 0 && u[9] != '\0')
	    || (strncmp(u, "ipc://", 6) == 0 && u[6] != '\0');
}

static int
etcd_range(cluster_etcd *e, cluster_set *members, int *changed)
{
	const hearth_config_node *root;
	char                      body[1024];
	cluster_set               s    = { 0 };
	size_t                    plen = strlen(e->prefix);

	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"range_end\":\"%s\"}",
	    e->key_b64, e->end_b64);
	if (etcd_post(e, "/v3/kv/range", body, &root) != 0)
		return -1;
	const hearth_config_node *kvs = hearth_config_tree_get(root, "kvs");
	for (size_t i = 0;
	     kvs != NULL && kvs->kind == HEARTH_CONFIG_LIST && i < kvs->n;
	     i++) {
		const hearth_config_node *k
		    = hearth_config_tree_get(&kvs->items[i], "key");
		const hearth_config_node *v
		    = hearth_config_tree_get(&kvs->items[i], "value");
		if (k == NULL || v == NULL || k->kind != HEARTH_CONFIG_SCALAR
		    || v->kind != HEARTH_CONFIG_SCALAR)
			continue;
		char *key = etcd_unb64(e->arena, k->str, k->len);
		char *val = etcd_unb64(e->arena, v->str, v->len);
		if (key == NULL || val == NULL || strlen(key) <= plen
		    || strncmp(key, e->prefix, plen) != 0
		    || !etcd_url_ok(val)) {
			/* One bad value must not block every other member
			 * (a view whose client cannot be made is refused). */
			char q[300];
			hearth_log_write(&e->log, HEARTH_LOG_WARN,
			    "ring etcd key ignored", "prefix=%s key=%s",
			    e->prefix,
			    hearth_log_quote(q, sizeof(q),
			        key != NULL ? key : "(not base64)"));
			continue;
		}
		if (cluster_set_add(&s, key + plen, val) != 0) {
			cluster_set_fini(&s);
			return etcd_fail(e, "/v3/kv/range", "out of memory");
		}
	}
	const hearth_config_node *h = hearth_config_tree_get(root, "header");
	if (h != NULL)
		e->revision = etcd_int(h, "revision");
	cluster_set_sort(&s);
	if (cluster_set_equal(&s, members))
		cluster_set_fini(&s);
	else {
		cluster_set_move(members, &s);
		*changed = 1;
	}
	return 0;
}

static size_t
etcd_watch_cb(char *p, size_t sz, size_t n, void *ud)
{
	cluster_etcd *e = ud;
	(void) p;
	/* Any message (created, events, progress) means "look again"; a
	 * canceled watch ends the transfer so it is restarted. */
	e->watch_dirty = 1;
	if (sz * n > 0 && memmem(p, sz * n, "\"canceled\":true", 15) != NULL)
		return 0;
	return sz * n;
}

static void
etcd_watch_end(cluster_etcd *e)
{
	if (e->watch == NULL)
		return;
	curl_multi_remove_handle(e->multi, e->watch);
	curl_easy_cleanup(e->watch);
	e->watch = NULL;
}

static int
etcd_watch_start(cluster_etcd *e)
{
	char url[1024], body[1024];
	snprintf(url, sizeof(url), "%s/v3/watch", e->eps[e->cur]);
	snprintf(body, sizeof(body),
	    "{\"create_request\":{\"key\":\"%s\",\"range_end\":\"%s\","
	    "\"start_revision\":\"%lld\"}}",
	    e->key_b64, e->end_b64, (long long) e->revision + 1);
	CURL *w = curl_easy_init();
	if (w == NULL)
		return -1;
	curl_easy_setopt(w, CURLOPT_URL, url);
	curl_easy_setopt(w, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(w, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(w, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(w, CURLOPT_CONNECTTIMEOUT_MS, (long) e->timeout_ms);
	curl_easy_setopt(w, CURLOPT_WRITEFUNCTION, etcd_watch_cb);
	curl_easy_setopt(w, CURLOPT_WRITEDATA, e);
	if (curl_multi_add_handle(e->multi, w) != CURLM_OK) {
		curl_easy_cleanup(w);
		return -1;
	}
	e->watch       = w;
	e->watch_ended = 0;
	return 0;
}

int
cluster_etcd_step(
    cluster_etcd *e, int64_t now, cluster_set *members, int *changed)
{
	int fails = 0;
	*changed  = 0;
	if (e->self_key != NULL && e->lease != 0 && now >= e->next_keepalive) {
		int r = etcd_keepalive(e);
		fails += r < 0;
		e->next_keepalive = now
		    + (r < 0 && e->retry_ms < e->ttl_ms / 3 ? e->retry_ms
		                                            : e->ttl_ms / 3);
		if (r > 0)
			e->next_register = now;
	}
	if (e->self_key != NULL && e->lease == 0 && now >= e->next_register) {
		if (etcd_register(e) == 0) {
			e->next_keepalive = now + e->ttl_ms / 3;
			e->need_range     = 1;
			e->next_range     = now;
		} else {
			fails++;
			e->next_register = now + e->retry_ms;
		}
	}
	if (e->watch != NULL && e->watch_ended) {
		etcd_watch_end(e);
		e->need_range = 1;
		e->next_watch = now + e->retry_ms;
	}
	if (e->watch_dirty) {
		e->watch_dirty = 0;
		e->need_range  = 1;
		e->next_range  = now;
	}
	if (e->watch == NULL && now >= e->next_range)
		e->need_range = 1; /* no watch: poll */
	if (e->need_range && now >= e->next_range) {
		if (etcd_range(e, members, changed) == 0)
			e->need_range = 0;
		else
			fails++;
		e->next_range = now + e->retry_ms;
	}
	if (e->watch == NULL && !e->need_range && now >= e->next_watch) {
		if (etcd_watch_start(e) != 0)
			e->next_watch = now + e->retry_ms;
	}
	return fails;
}

int64_t
cluster_etcd_next(const cluster_etcd *e)
{
	int64_t next = INT64_MAX;
	if (e->self_key != NULL)
		next = e->lease != 0 ? e->next_keepalive : e->next_register;
	if ((e->need_range || e->watch == NULL) && e->next_range < next)
		next = e->next_range;
	if (e->watch == NULL && e->next_watch < next)
		next = e->next_watch;
	if (e->watch_dirty || e->watch_ended)
		next = 0;
	return next;
}

void
cluster_etcd_wait(cluster_etcd *e, int timeout_ms)
{
	int      running = 0, left;
	CURLMsg *m;
	curl_multi_poll(e->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(e->multi, &running);
	while ((m = curl_multi_info_read(e->multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == e->watch) {
			/* The stream ended (etcd restarted, watch canceled,
			 * endpoint down): poll until it is restarted. */
			if (!e->failing)
				hearth_log_write(&e->log, HEARTH_LOG_WARN,
				    "ring etcd watch ended",
				    "endpoint=%s err=\"%s\"", e->eps[e->cur],
				    curl_easy_strerror(m->data.result));
			e->watch_ended = 1;
			e->cur         = (e->cur + 1) % e->n_eps;
		}
}

void
cluster_etcd_wakeup(cluster_etcd *e)
{
	curl_multi_wakeup(e->multi);
}

void
cluster_etcd_revoke(cluster_etcd *e)
{
	const hearth_config_node *root;
	char                      body[96];
	etcd_watch_end(e);
	if (e->lease == 0)
		return;
	snprintf(
	    body, sizeof(body), "{\"ID\":\"%lld\"}", (long long) e->lease);
	if (etcd_post(e, "/v3/lease/revoke", body, &root) == 0)
		hearth_log_write(&e->log, HEARTH_LOG_INFO, "ring left etcd",
		    "lease=%lld", (long long) e->lease);
	e->lease = 0;
}

static int
etcd_parse_endpoints(cluster_etcd *e, const char *s, hearth_err *err)
{
	const char *p = s;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		size_t n = (size_t) (end - p);
		while (n > 0 && p[n - 1] == '/')
			n--;
		if (!((n > 7 && strncmp(p, "http://", 7) == 0)
		        || (n > 8 && strncmp(p, "https://", 8) == 0)))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-ring.etcd-endpoints: bad endpoint \"%.*s\": "
			    "want "
			    "http://host:port",
			    (int) (end - p), p);
		char **v = realloc(e->eps, (e->n_eps + 1) * sizeof(*v));
		if (v == NULL)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "cluster: out of memory");
		e->eps = v;
		if ((e->eps[e->n_eps] = strndup(p, n)) == NULL)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "cluster: out of memory");
		e->n_eps++;
		p = *end == ',' ? end + 1 : end;
	}
	if (e->n_eps == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "-ring.etcd-endpoints: no endpoint given");
	return 0;
}

int
cluster_etcd_new(const cluster_etcd_cfg *cfg, const hearth_log *log,
    cluster_etcd **out, hearth_err *err)
{
	int rc;
	*out            = NULL;
	cluster_etcd *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "cluster: out of memory");
	e->log        = *log;
	e->ttl_ms     = cfg->lease_ttl_ms;
	e->timeout_ms = cfg->request_timeout_ms;
	e->retry_ms   = cfg->retry_ms;
	e->need_range = 1;
	hearth_buf_init(&e->resp);
	e->resp.limit = ETCD_MAX_RESPONSE;
	if ((rc = etcd_parse_endpoints(e, cfg->endpoints, err)) != 0)
		goto fail;
	size_t plen = strlen(cfg->prefix);
	if (plen == 0 || (unsigned char) cfg->prefix[plen - 1] == 0xff) {
		rc = hearth_err_set(err, HEARTH_EINVAL,
		    "-ring.etcd-prefix: \"%s\" cannot be used as a key prefix",
		    cfg->prefix);
		goto fail;
	}
	char *end = strdup(cfg->prefix);
	if (end != NULL)
		end[plen - 1]++;
	e->prefix  = strdup(cfg->prefix);
	e->key_b64 = etcd_b64(cfg->prefix, plen);
	e->end_b64 = end != NULL ? etcd_b64(end, plen) : NULL;
	free(end);
	if (cfg->self_id != NULL) {
		size_t n   = plen + strlen(cfg->self_id);
		char  *key = malloc(n + 1);
		if (key != NULL) {
			snprintf(
			    key, n + 1, "%s%s", cfg->prefix, cfg->self_id);
			e->self_key = etcd_b64(key, n);
			free(key);
		}
		e->self_val = etcd_b64(cfg->self_url, strlen(cfg->self_url));
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = hearth_err_set(err, HEARTH_EINTERNAL,
		    "cluster: libcurl failed to initialise");
		goto fail;
	}
	e->easy  = curl_easy_init();
	e->multi = curl_multi_init();
	e->arena = hearth_arena_new(4 * ETCD_MAX_RESPONSE);
	if (e->prefix == NULL || e->key_b64 == NULL || e->end_b64 == NULL
	    || (cfg->self_id != NULL
	        && (e->self_key == NULL || e->self_val == NULL))
	    || e->easy == NULL || e->multi == NULL || e->arena == NULL) {
		rc = hearth_err_set(
		    err, HEARTH_ENOMEM, "cluster: out of memory");
		goto fail;
	}
	curl_easy_setopt(e->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, (long) e->timeout_ms);
	curl_easy_setopt(
	    e->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) e->timeout_ms);
	curl_easy_setopt(e->easy, CURLOPT_WRITEFUNCTION, etcd_write_cb);
	curl_easy_setopt(e->easy, CURLOPT_WRITEDATA, &e->resp);
	*out = e;
	return 0;
fail:
	cluster_etcd_free(e);
	return rc;
}

void
cluster_etcd_free(cluster_etcd *e)
{
	if (e == NULL)
		return;
	etcd_watch_end(e);
	if (e->multi != NULL)
		curl_multi_cleanup(e->multi);
	if (e->easy != NULL)
		curl_easy_cleanup(e->easy);
	for (size_t i = 0; i < e->n_eps; i++)
		free(e->eps[i]);
	free(e->eps);
	free(e->prefix);
	free(e->key_b64);
	free(e->end_b64);
	free(e->self_key);
	free(e->self_val);
	hearth_buf_fini(&e->resp);
	hearth_arena_free(e->arena);
	free(e);
}
