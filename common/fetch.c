/* fetch: libcurl multi wrapper (see fetch.h). */
#include "fetch.h"

#include "buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fetch_xfer {
	struct fetch_xfer *prev, *next;
	CURL              *easy;
	struct curl_slist *headers;
	hearth_buf         body;
	size_t             max_bytes;
	int                too_large; /* the write callback refused more */
	void              *user;
	char               curl_err[CURL_ERROR_SIZE];
} fetch_xfer;

struct hearth_fetch {
	CURLM      *multi;
	fetch_xfer *xfers; /* every running transfer */
	size_t      running;
};

int
hearth_fetch_new(hearth_fetch **out, hearth_err *err)
{
	/* curl 7.88 initialises globally in a thread-safe way (the
	 * "threadsafe" feature), so every hearth_fetch may call this; it is
	 * reference counted and never undone here, since other users of
	 * libcurl in the process may still need it. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "fetch: libcurl failed to initialise");
	hearth_fetch *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "fetch: out of memory");
	f->multi = curl_multi_init();
	if (f->multi == NULL) {
		free(f);
		return hearth_err_set(
		    err, HEARTH_EINTERNAL, "fetch: curl_multi_init failed");
	}
	*out = f;
	return 0;
}

static void
fetch_xfer_free(hearth_fetch *f, fetch_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		f->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	curl_multi_remove_handle(f->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	hearth_buf_fini(&x->body);
	free(x);
	f->running--;
}

void
hearth_fetch_free(hearth_fetch *f)
{
	if (f == NULL)
		return;
	while (f->xfers != NULL)
		fetch_xfer_free(f, f->xfers);
	curl_multi_cleanup(f->multi);
	free(f);
}

size_t
hearth_fetch_running(const hearth_fetch *f)
{
	return f->running;
}

static size_t
fetch_write(char *p, size_t size, size_t n, void *ctx)
{
	fetch_xfer *x   = ctx;
	size_t      len = size * n;
	if (x->max_bytes > 0 && x->body.len + len > x->max_bytes) {
		x->too_large = 1;
		return 0; /* makes curl stop with CURLE_WRITE_ERROR */
	}
	hearth_buf_append(&x->body, p, len);
	return hearth_buf_failed(&x->body) ? 0 : len;
}

/* Options that cannot fail for a valid easy handle are set without
 * checks; the URL and the TLS files are checked because they come from
 * the configuration. */
static int
fetch_setup(fetch_xfer *x, const hearth_fetch_req *r, hearth_err *err)
{
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM */
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) r->timeout_ms);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_USERAGENT,
	    r->user_agent != NULL ? r->user_agent : "hearth");
	if (r->max_bytes > 0)
		curl_easy_setopt(
		    e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) r->max_bytes);
	if (curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https")
	        != CURLE_OK
	    || curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
	        != CURLE_OK)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "fetch: this libcurl cannot restrict protocols");
	if (curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "fetch: invalid URL \"%.256s\"", r->url);
	if (r->username != NULL) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD,
		    r->password != NULL ? r->password : "");
	} else if (r->authorization != NULL) {
		hearth_buf h;
		hearth_buf_init(&h);
		hearth_buf_printf(&h, "Authorization: %s", r->authorization);
		struct curl_slist *l = hearth_buf_failed(&h)
		    ? NULL
		    : curl_slist_append(NULL, h.data);
		hearth_buf_fini(&h);
		if (l == NULL)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "fetch: out of memory");
		x->headers = l;
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, l);
	}
	if (r->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, r->ca_file);
	if (r->cert_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLCERT, r->cert_file);
	if (r->key_file != NULL)
		curl_easy_setopt(e, CURLOPT_SSLKEY, r->key_file);
	if (r->insecure_skip_verify) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return 0;
}

int
hearth_fetch_start(hearth_fetch *f, const hearth_fetch_req *r, hearth_err *err)
{
	if (r->url == NULL || r->timeout_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "fetch: a request needs a URL and a positive timeout");
	fetch_xfer *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "fetch: out of memory");
	hearth_buf_init(&x->body);
	x->max_bytes = r->max_bytes;
	x->user      = r->user;
	x->easy      = curl_easy_init();
	int rc       = x->easy == NULL ? hearth_err_set(
	                   err, HEARTH_ENOMEM, "fetch: curl_easy_init failed")
	                               : fetch_setup(x, r, err);
	if (rc == 0 && curl_multi_add_handle(f->multi, x->easy) != CURLM_OK)
		rc = hearth_err_set(err, HEARTH_EINTERNAL,
		    "fetch: curl_multi_add_handle failed");
	if (rc != 0) {
		curl_easy_cleanup(x->easy);
		curl_slist_free_all(x->headers);
		hearth_buf_fini(&x->body);
		free(x);
		return rc;
	}
	x->next = f->xfers;
	if (f->xfers != NULL)
		f->xfers->prev = x;
	f->xfers = x;
	f->running++;
	return 0;
}

/* Table of fetch.h: curl's code → (rc, reason). */
static int
fetch_classify(CURLcode c, int too_large, const char **reason)
{
	if (too_large || c == CURLE_FILESIZE_EXCEEDED) {
		*reason = "too_large";
		return HEARTH_ETOOLARGE;
	}
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
		*reason = "timeout";
		return HEARTH_ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		*reason = "connect";
		return HEARTH_EUNAVAIL;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		*reason = "tls";
		return HEARTH_EUNAVAIL;
	default:
		*reason = "io";
		return HEARTH_EIO;
	}
}

/* "HTTP 500: <start of the body>", with control bytes and quotes made
 * harmless: the text ends up in logs, JSON and HTML. */
static void
fetch_status_error(hearth_fetch_result *res)
{
	int n = snprintf(
	    res->error, sizeof(res->error), "HTTP %ld", res->status);
	if (res->len == 0 || n < 0)
		return;
	size_t o = (size_t) n;
	o += (size_t) snprintf(res->error + o, sizeof(res->error) - o, ": ");
	for (size_t i = 0; i < res->len && o + 4 < sizeof(res->error); i++) {
		unsigned char c = res->body[i];
		res->error[o++]
		    = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
		    ? ' '
		    : (char) c;
	}
	while (o > 0 && res->error[o - 1] == ' ')
		o--;
	if (res->len > 0 && o + 4 >= sizeof(res->error))
		memcpy(res->error + o, "...", 3), o += 3;
	res->error[o] = '\0';
}

static void
fetch_finish(hearth_fetch *f, fetch_xfer *x, CURLcode code,
    hearth_fetch_done_fn done, void *ctx)
{
	hearth_fetch_result res;
	memset(&res, 0, sizeof(res));
	res.user      = x->user;
	curl_off_t us = 0;
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &us);
	res.seconds = (double) us / 1e6;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &res.status);
	if (code != CURLE_OK || x->too_large) {
		res.rc = fetch_classify(code, x->too_large, &res.reason);
		if (res.rc == HEARTH_ETOOLARGE)
			snprintf(res.error, sizeof(res.error),
			    "response body larger than %zu bytes",
			    x->max_bytes);
		else
			snprintf(res.error, sizeof(res.error), "%s",
			    x->curl_err[0] ? x->curl_err
			                   : curl_easy_strerror(code));
	} else {
		size_t len = x->body.len;
		res.body   = (uint8_t *) hearth_buf_take(&x->body, &len);
		if (res.body == NULL)
			res.body
			    = calloc(1, 1); /* empty body: still a string */
		res.len = res.body != NULL ? len : 0;
		if (res.body == NULL) {
			res.rc     = HEARTH_ENOMEM;
			res.reason = "io";
			snprintf(
			    res.error, sizeof(res.error), "out of memory");
		} else if (res.status < 200 || res.status > 299) {
			res.rc     = HEARTH_EIO;
			res.reason = "http_status";
			fetch_status_error(&res);
		}
	}
	fetch_xfer_free(f, x);
	done(ctx, &res);
}

int
hearth_fetch_poll(
    hearth_fetch *f, int timeout_ms, hearth_fetch_done_fn done, void *ctx)
{
	int still = 0, reported = 0;
	/* Perform first so that transfers started since the last call get
	 * their sockets before the wait. */
	if (curl_multi_perform(f->multi, &still) != CURLM_OK)
		return HEARTH_EINTERNAL;
	if (timeout_ms > 0
	    && curl_multi_poll(f->multi, NULL, 0, timeout_ms, NULL)
	        != CURLM_OK)
		return HEARTH_EINTERNAL;
	if (curl_multi_perform(f->multi, &still) != CURLM_OK)
		return HEARTH_EINTERNAL;
	CURLMsg *m;
	int      left = 0;
	while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		char *priv = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		fetch_xfer *x = (fetch_xfer *) (void *) priv;
		/* m points into curl's state, which removing the handle
		 * frees: copy the result code first. */
		CURLcode code = m->data.result;
		fetch_finish(f, x, code, done, ctx);
		reported++;
	}
	return reported;
}

void
hearth_fetch_wakeup(hearth_fetch *f)
{
	curl_multi_wakeup(f->multi);
}
