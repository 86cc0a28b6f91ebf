#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "cluster.h"
#include "ingester.pb-c.h"

#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG (64 * 1024)

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* An ingester stand-in: answers PING with a PingResponse. */
typedef struct fake_ing {
	const char        *id;
	uint64_t           series;
	int                ready;
	hearth_rpc_server *srv;
	int                port;
} fake_ing;

static int
fake_handler(void *ctx, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	fake_ing *f = ctx;
	(void) meta;
	(void) body;
	(void) len;
	(void) arena;
	if (method != HEARTH_RPC_PING)
		return hearth_err_set(err, HEARTH_EINVAL, "unexpected method");
	Hearth__Ingester__PingResponse r
	    = HEARTH__INGESTER__PING_RESPONSE__INIT;
	r.member_id   = (char *) f->id;
	r.series      = f->series;
	r.head_bytes  = 1000;
	r.block_bytes = 2000;
	r.ready       = f->ready;
	size_t n      = hearth__ingester__ping_response__get_packed_size(&r);
	hearth_buf_reserve(resp, n);
	hearth__ingester__ping_response__pack(&r, (uint8_t *) resp->data);
	resp->len = n;
	return 0;
}

/* url "tcp://127.0.0.1:0" picks a port; a given port is reused. */
static void
fake_start(fake_ing *f, const char *url)
{
	hearth_err err;
	hearth_log log;
	hearth_log_init(&log, "fake", HEARTH_LOG_ERROR);
	assert_int_equal(hearth_rpc_server_new(url, MAX_MSG, 2, fake_handler,
	                     f, &log, &f->srv, &err),
	    0);
	assert_int_equal(hearth_rpc_server_start(f->srv, &err), 0);
	if (strncmp(url, "tcp", 3) == 0)
		f->port = hearth_rpc_server_port(f->srv);
}

static void
fake_stop(fake_ing *f)
{
	hearth_rpc_server_free(f->srv);
	f->srv = NULL;
}

static hearth_cluster_cfg
base_cfg(void)
{
	hearth_cluster_cfg c    = { 0 };
	c.tokens                = 128;
	c.replication_factor    = 3;
	c.shard_size            = 4;
	c.heartbeat_interval_ms = 100;
	c.heartbeat_timeout_ms  = 300;
	c.dns_refresh_ms        = 200;
	c.rpc_max_message_bytes = MAX_MSG;
	return c;
}

static hearth_log
quiet_log(void)
{
	hearth_log l;
	hearth_log_init(&l, "ring", HEARTH_LOG_ERROR);
	return l;
}

static void
test_cluster_static_list(void **state)
{
	(void) state;
	hearth_cluster_cfg cfg = base_cfg();
	hearth_cluster    *c;
	hearth_err         err;
	hearth_log         log = quiet_log();
	cfg.members = "ing-2=127.0.0.1:1, ing-1=localhost:2,ing-3=[::1]:3";
	assert_int_equal(hearth_cluster_new(&cfg, &log, NULL, &c, &err), 0);
	/* Before start: an empty view, version 0. */
	hearth_cluster_view *v0 = hearth_cluster_acquire(c);
	assert_int_equal(v0->n, 0);
	assert_int_equal(v0->version, 0);
	assert_int_equal(hearth_cluster_start(c, &err), 0);
	hearth_cluster_view *v = hearth_cluster_acquire(c);
	assert_int_equal(v->version, 1);
	assert_int_equal(v->n, 3);
	assert_int_equal(v->replication_factor, 3);
	assert_int_equal(v->shard_size, 4);
	assert_string_equal(v->members[0]->id, "ing-1");
	assert_string_equal(v->members[0]->url, "tcp://localhost:2");
	assert_string_equal(v->members[1]->id, "ing-2");
	assert_string_equal(v->members[1]->url, "tcp://127.0.0.1:1");
	assert_string_equal(v->members[2]->url, "tcp://[::1]:3");
	assert_string_equal(hearth_ring_id(v->ring, 2), "ing-3");
	assert_string_equal(
	    hearth_rpc_client_url(v->members[1]->client), "tcp://127.0.0.1:1");
	/* Nobody answers: all unhealthy. */
	uint8_t healthy[3] = { 9, 9, 9 };
	hearth_cluster_healthy(v, healthy);
	assert_memory_equal(healthy, "\0\0\0", 3);
	/* The old view outlives the change. */
	assert_int_equal(v0->n, 0);
	hearth_cluster_release(v0);
	hearth_cluster_release(v);
	hearth_cluster_free(c);
}

static void
expect_einval(const hearth_cluster_cfg *cfg, const char *msg)
{
	hearth_cluster *c = (hearth_cluster *) 1;
	hearth_err      err;
	hearth_log      log = quiet_log();
	assert_int_equal(
	    hearth_cluster_new(cfg, &log, NULL, &c, &err), HEARTH_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, msg);
}

static void
test_cluster_config_errors(void **state)
{
	(void) state;
	hearth_cluster_cfg cfg = base_cfg();
	cfg.members            = "ing-1=10.0.0.1:9095,ing-2";
	expect_einval(&cfg,
	    "-ring.members: bad entry \"ing-2\": want "
	    "id=host:port, e.g. ingester-1=10.0.0.1:9095");
	cfg.members = "ing-1=10.0.0.1:99999";
	expect_einval(&cfg,
	    "-ring.members: bad entry "
	    "\"ing-1=10.0.0.1:99999\": want id=host:port, "
	    "e.g. ingester-1=10.0.0.1:9095");
	cfg.members = "=h:1";
	expect_einval(&cfg,
	    "-ring.members: bad entry \"=h:1\": want "
	    "id=host:port, e.g. ingester-1=10.0.0.1:9095");
	cfg.members = "a=h:1,,b=h:2";
	expect_einval(&cfg,
	    "-ring.members: bad entry \"\": want "
	    "id=host:port, e.g. ingester-1=10.0.0.1:9095");
	cfg.members = "a=::1:9095";
	expect_einval(&cfg,
	    "-ring.members: bad entry \"a=::1:9095\": want "
	    "id=host:port, e.g. ingester-1=10.0.0.1:9095");
	cfg.members = "a=h:1,a=g:2";
	expect_einval(&cfg, "-ring.members: member id \"a\" appears twice");
	cfg     = base_cfg();
	cfg.dns = "dns+hearth-ingester";
	expect_einval(&cfg,
	    "-ring.dns: \"dns+hearth-ingester\" is neither "
	    "dns+NAME:PORT nor dnssrv+NAME");
	cfg.dns = "srv+x";
	expect_einval(&cfg,
	    "-ring.dns: \"srv+x\" is neither dns+NAME:PORT "
	    "nor dnssrv+NAME");
	cfg.dns = "dnssrv+";
	expect_einval(&cfg,
	    "-ring.dns: bad SRV name in \"dnssrv+\": want "
	    "dnssrv+_rpc._tcp.hearth-ingester.ns.svc");
	cfg                = base_cfg();
	cfg.etcd_endpoints = "127.0.0.1:2379";
	expect_einval(&cfg,
	    "-ring.etcd-endpoints: bad endpoint "
	    "\"127.0.0.1:2379\": want http://host:port");
	cfg         = base_cfg();
	cfg.self_id = "me";
	expect_einval(&cfg,
	    "-ring.instance-addr: the ingester \"me\" has no "
	    "address for the ring");
}

static int
wait_healthy(hearth_cluster_member *m, int want, int max_ms)
{
	int64_t end = hearth_clock_mono_ms() + max_ms;
	while (atomic_load(&m->healthy) != want && hearth_clock_mono_ms() < end)
		sleep_ms(20);
	return atomic_load(&m->healthy) == want;
}

static void
test_cluster_health_flips(void **state)
{
	(void) state;
	fake_ing           f    = { "ing-1", 42, 1, NULL, 0 };
	fake_ing           self = { "a<b", 7, 1, NULL, 0 };
	hearth_cluster_cfg cfg  = base_cfg();
	hearth_cluster    *c;
	hearth_err         err;
	hearth_log         log = quiet_log();
	hearth_metrics    *met = hearth_metrics_new();
	char               members[64], url[64];
	fake_start(&f, "tcp://127.0.0.1:0");
	fake_start(&self, "inproc://cluster_test_self");
	snprintf(members, sizeof(members), "ing-1=127.0.0.1:%d", f.port);
	cfg.members  = members;
	cfg.self_id  = "a<b";
	cfg.self_url = "inproc://cluster_test_self";
	assert_int_equal(hearth_cluster_new(&cfg, &log, met, &c, &err), 0);
	assert_int_equal(hearth_cluster_start(c, &err), 0);
	hearth_cluster_view *v = hearth_cluster_acquire(c);
	assert_int_equal(v->n, 2);
	assert_string_equal(v->members[0]->id, "a<b");
	hearth_cluster_member *m = v->members[1];
	assert_string_equal(m->id, "ing-1");
	/* start pinged once already. */
	assert_int_equal(atomic_load(&m->healthy), 1);
	assert_int_equal(atomic_load(&m->series), 42);
	assert_int_equal(atomic_load(&m->head_bytes), 1000);
	assert_int_equal(atomic_load(&m->block_bytes), 2000);
	assert_true(atomic_load(&m->last_heartbeat_ms) > 0);
	assert_int_equal(atomic_load(&v->members[0]->healthy), 1);

	/* A failed call marks it down until the next good ping; a request
	 * error does not. */
	hearth_cluster_report(m, HEARTH_EINVAL);
	assert_int_equal(atomic_load(&m->healthy), 1);
	hearth_cluster_report(m, HEARTH_EUNAVAIL);
	assert_int_equal(atomic_load(&m->healthy), 0);
	assert_true(wait_healthy(m, 1, 2000));

	hearth_buf out;
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(met, &out), 0);
	assert_non_null(strstr(
	    out.data, "hearth_ring_member_healthy{member=\"ing-1\"} 1"));
	assert_non_null(
	    strstr(out.data, "hearth_ring_members{state=\"ACTIVE\"} 2"));
	assert_non_null(strstr(out.data, "hearth_ring_changes_total 1"));

	/* Server gone: unhealthy within a few heartbeats. */
	fake_stop(&f);
	assert_true(wait_healthy(m, 0, 3000));
	hearth_buf_reset(&out);
	assert_int_equal(hearth_cluster_write_json(c, &out), 0);
	assert_non_null(strstr(out.data, "\"state\":\"UNHEALTHY\""));
	/* Back on the same port, replaying its WAL: JOINING, not healthy. */
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", f.port);
	f.ready = 0;
	fake_start(&f, url);
	int64_t end = hearth_clock_mono_ms() + 5000;
	while (!atomic_load(&m->reachable) && hearth_clock_mono_ms() < end)
		sleep_ms(20);
	assert_int_equal(atomic_load(&m->reachable), 1);
	assert_int_equal(atomic_load(&m->healthy), 0);
	hearth_buf_reset(&out);
	assert_int_equal(hearth_cluster_write_json(c, &out), 0);
	assert_non_null(strstr(out.data, "\"state\":\"JOINING\""));
	/* Ready: healthy again. */
	f.ready = 1;
	assert_true(wait_healthy(m, 1, 3000));

	hearth_buf_reset(&out);
	assert_int_equal(hearth_cluster_write_json(c, &out), 0);
	assert_true(
	    strncmp(out.data, "{\"version\":1,\"since_unix_ms\":", 29) == 0);
	assert_non_null(strstr(out.data,
	    "\"replication_factor\":3,\"shard_size\":4,\"members\":[{\"id\":"
	    "\"a<b\",\"url\":\"inproc://cluster_test_self\",\"state\":"
	    "\"ACTIVE\",\"tokens\":128,\"ownership\":0."));
	assert_non_null(
	    strstr(out.data, "{\"id\":\"ing-1\",\"url\":\"tcp://127.0.0.1:"));
	assert_non_null(strstr(out.data,
	    "\"series\":42,\"head_bytes\":1000,\"block_bytes\":2000}]}"));
	hearth_buf_reset(&out);
	assert_int_equal(hearth_cluster_write_html(c, &out), 0);
	assert_non_null(strstr(out.data, "<td>a&lt;b</td>"));
	assert_null(strstr(out.data, "a<b"));
	assert_non_null(strstr(out.data, "<td class=\"ACTIVE\">ACTIVE</td>"));
	assert_non_null(strstr(out.data, "</table></body></html>\n"));
	hearth_buf_fini(&out);

	hearth_cluster_release(v);
	hearth_cluster_free(c);
	hearth_metrics_free(met);
	fake_stop(&f);
	fake_stop(&self);
}

static void
test_cluster_dns_localhost(void **state)
{
	(void) state;
	fake_ing           f   = { "x", 1, 1, NULL, 0 };
	hearth_cluster_cfg cfg = base_cfg();
	hearth_cluster    *c;
	hearth_err         err;
	hearth_log         log = quiet_log();
	hearth_metrics    *met = hearth_metrics_new();
	char               dns[64], id[64];
	fake_start(&f, "tcp://127.0.0.1:0");
	snprintf(dns, sizeof(dns), "dns+localhost:%d", f.port);
	snprintf(id, sizeof(id), "127.0.0.1:%d", f.port);
	cfg.dns = dns;
	assert_int_equal(hearth_cluster_new(&cfg, &log, met, &c, &err), 0);
	assert_int_equal(hearth_cluster_start(c, &err), 0);
	hearth_cluster_view *v = hearth_cluster_acquire(c);
	long                 i = hearth_ring_find(v->ring, id);
	assert_true(i >= 0);
	char url[80];
	snprintf(url, sizeof(url), "tcp://%s", id);
	assert_string_equal(v->members[i]->url, url);
	assert_int_equal(atomic_load(&v->members[i]->healthy), 1);
	/* Re-resolution with the same answer changes nothing. */
	sleep_ms(500);
	hearth_cluster_view *v2 = hearth_cluster_acquire(c);
	assert_int_equal(v2->version, v->version);
	hearth_cluster_release(v2);
	hearth_cluster_release(v);
	hearth_cluster_free(c);

	/* A name that does not resolve: logged and counted, not fatal. */
	cfg.dns = "dns+hearth-nowhere.invalid:9095";
	assert_int_equal(hearth_cluster_new(&cfg, &log, met, &c, &err), 0);
	assert_int_equal(hearth_cluster_start(c, &err), 0);
	v = hearth_cluster_acquire(c);
	assert_int_equal(v->n, 0);
	hearth_cluster_release(v);
	hearth_cluster_free(c);
	hearth_buf out;
	hearth_buf_init(&out);
	hearth_metrics_write(met, &out);
	assert_non_null(strstr(
	    out.data, "hearth_ring_membership_errors_total{source=\"dns\"} "));
	hearth_buf_fini(&out);
	hearth_metrics_free(met);
	fake_stop(&f);
}

/* ---- etcd ------------------------------------------------------------ */

static int
free_port(void)
{
	int                s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { 0 };
	socklen_t          n = sizeof(a);
	a.sin_family         = AF_INET;
	a.sin_addr.s_addr    = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *) &a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *) &a, &n), 0);
	close(s);
	return ntohs(a.sin_port);
}

static size_t
sink(char *p, size_t sz, size_t n, void *ud)
{
	hearth_buf_append(ud, p, sz * n);
	return sz * n;
}

static int
etcd_healthy(int port)
{
	char       url[64];
	hearth_buf b;
	hearth_buf_init(&b);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", port);
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 500L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	int ok = curl_easy_perform(h) == CURLE_OK && b.data != NULL
	    && strstr(b.data, "true") != NULL;
	curl_easy_cleanup(h);
	hearth_buf_fini(&b);
	return ok;
}

static pid_t
etcd_spawn(const char *dir, int cport, int pport)
{
	char data[300], curl_[64], purl[64], initial[96];
	snprintf(data, sizeof(data), "%s/data", dir);
	snprintf(curl_, sizeof(curl_), "http://127.0.0.1:%d", cport);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", pport);
	snprintf(initial, sizeof(initial), "n=%s", purl);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char log[320];
		snprintf(log, sizeof(log), "%s/etcd.log", dir);
		FILE *f = freopen(log, "w", stdout);
		(void) f;
		dup2(STDOUT_FILENO, STDERR_FILENO);
		execlp("etcd", "etcd", "--name", "n", "--data-dir", data,
		    "--listen-client-urls", curl_, "--advertise-client-urls",
		    curl_, "--listen-peer-urls", purl,
		    "--initial-advertise-peer-urls", purl, "--initial-cluster",
		    initial, (char *) NULL);
		_exit(127);
	}
	return pid;
}

static hearth_cluster *
etcd_cluster(const char *endpoints, const char *self_id, const char *url)
{
	hearth_cluster_cfg cfg = base_cfg();
	hearth_cluster    *c;
	hearth_err         err;
	hearth_log         log    = quiet_log();
	cfg.etcd_endpoints        = endpoints;
	cfg.etcd_prefix           = "/hearth-test/ingesters/";
	cfg.etcd_lease_ttl_ms     = 3000;
	cfg.heartbeat_interval_ms = 200;
	cfg.self_id               = self_id;
	cfg.self_url              = url;
	assert_int_equal(hearth_cluster_new(&cfg, &log, NULL, &c, &err), 0);
	assert_int_equal(hearth_cluster_start(c, &err), 0);
	return c;
}

/* Wait until c's view has exactly the ids in want ("a,b" sorted). */
static int
wait_members(hearth_cluster *c, const char *want, int max_ms)
{
	int64_t end = hearth_clock_mono_ms() + max_ms;
	for (;;) {
		char                 got[256] = "";
		hearth_cluster_view *v        = hearth_cluster_acquire(c);
		for (size_t i = 0; i < v->n; i++) {
			if (i)
				strcat(got, ",");
			strncat(got, v->members[i]->id, 64);
		}
		hearth_cluster_release(v);
		if (strcmp(got, want) == 0)
			return 1;
		if (hearth_clock_mono_ms() > end) {
			fprintf(stderr, "members: got \"%s\" want \"%s\"\n",
			    got, want);
			return 0;
		}
		sleep_ms(50);
	}
}

static void
test_cluster_etcd_join_and_leave(void **state)
{
	(void) state;
	hearth_err err;
	char       tmpl[] = "/tmp/hearth-cluster-etcd-XXXXXX";
	char      *dir    = mkdtemp(tmpl);
	assert_non_null(dir);
	int     cport = free_port(), pport = free_port();
	pid_t   pid = etcd_spawn(dir, cport, pport);
	int64_t end = hearth_clock_mono_ms() + 15000;
	while (!etcd_healthy(cport) && hearth_clock_mono_ms() < end)
		sleep_ms(100);
	assert_true(etcd_healthy(cport));

	char endpoints[64], ua[64], uc[64];
	snprintf(endpoints, sizeof(endpoints), "http://127.0.0.1:%d", cport);
	fake_ing fa = { "ing-a", 1, 1, NULL, 0 },
	         fc = { "ing-c", 2, 1, NULL, 0 };
	fake_start(&fa, "tcp://127.0.0.1:0");
	fake_start(&fc, "tcp://127.0.0.1:0");
	snprintf(ua, sizeof(ua), "tcp://127.0.0.1:%d", fa.port);
	snprintf(uc, sizeof(uc), "tcp://127.0.0.1:%d", fc.port);

	/* A registers; it is in its own view at once. */
	hearth_cluster *a = etcd_cluster(endpoints, "ing-a", ua);
	assert_true(wait_members(a, "ing-a", 100));
	/* A malformed value under the prefix is skipped, not fatal. */
	char cmd[400];
	snprintf(cmd, sizeof(cmd),
	    "ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:%d put "
	    "/hearth-test/ingesters/bad not-a-url >/dev/null 2>&1",
	    cport);
	assert_int_equal(system(cmd), 0);
	/* B (no ingester) reads A from etcd at start. */
	hearth_cluster *b = etcd_cluster(endpoints, NULL, NULL);
	assert_true(wait_members(b, "ing-a", 100));
	hearth_cluster_view *old = hearth_cluster_acquire(b);
	assert_string_equal(old->members[0]->url, ua);
	assert_true(wait_healthy(old->members[0], 1, 2000));
	/* C joins at run time: B sees it through the watch. */
	hearth_cluster *c = etcd_cluster(endpoints, "ing-c", uc);
	assert_true(wait_members(b, "ing-a,ing-c", 5000));
	assert_true(wait_members(a, "ing-a,ing-c", 5000));
	assert_true(wait_members(c, "ing-a,ing-c", 100));
	hearth_cluster_view *v = hearth_cluster_acquire(b);
	assert_true(v->version > old->version);
	assert_true(v->members[0] == old->members[0]); /* reused, not new */
	assert_true(wait_healthy(v->members[1], 1, 2000));
	hearth_cluster_release(v);
	/* A stops: its lease is revoked, its key is gone, B and C see it
	 * leave well before the 3 s lease would have expired. */
	int64_t t0 = hearth_clock_mono_ms();
	hearth_cluster_stop(a);
	assert_true(wait_members(b, "ing-c", 2500));
	assert_true(wait_members(c, "ing-c", 2500));
	assert_true(hearth_clock_mono_ms() - t0 < 2500);
	/* The view B handed out before still works: its member's client
	 * lives until the view is released. */
	assert_string_equal(old->members[0]->id, "ing-a");
	hearth_arena   *ar = hearth_arena_new(0);
	hearth_rpc_meta meta = { "", "t", hearth_clock_unix_ms() + 2000, NULL };
	const uint8_t  *r;
	size_t          n;
	assert_int_equal(
	    hearth_rpc_call(old->members[0]->client, HEARTH_RPC_PING, &meta,
	        NULL, 0, ar, &r, &n, &err),
	    0);
	hearth_arena_free(ar);
	hearth_cluster_release(old);

	hearth_cluster_free(a);
	hearth_cluster_free(b);
	hearth_cluster_free(c);
	fake_stop(&fa);
	fake_stop(&fc);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cluster_static_list),
		cmocka_unit_test(test_cluster_config_errors),
		cmocka_unit_test(test_cluster_health_flips),
		cmocka_unit_test(test_cluster_dns_localhost),
		cmocka_unit_test(test_cluster_etcd_join_and_leave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
