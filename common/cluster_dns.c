/* DNS membership: A/AAAA records (dns+NAME:PORT) through getaddrinfo and
 * SRV records (dnssrv+NAME) through res_nquery (libresolv), which keeps
 * its resolver state per call so the background thread shares nothing. */
#include "cluster_impl.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int
cluster_dns_parse(const char *spec, cluster_dns *d, hearth_err *err)
{
	memset(d, 0, sizeof(*d));
	if (strncmp(spec, "dnssrv+", 7) == 0) {
		const char *name = spec + 7;
		if (name[0] == '\0' || strpbrk(name, " ,/:") != NULL)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-ring.dns: bad SRV name in \"%s\": want "
			    "dnssrv+_rpc._tcp.hearth-ingester.ns.svc",
			    spec);
		d->srv  = 1;
		d->name = strdup(name);
		if (d->name == NULL)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "cluster: out of memory");
		return 0;
	}
	if (strncmp(spec, "dns+", 4) == 0) {
		const char *hp    = spec + 4;
		const char *colon = strrchr(hp, ':');
		if (cluster_hostport_ok(hp, strlen(hp)) && colon != NULL) {
			size_t n = (size_t) (colon - hp);
			if (hp[0] == '[') {
				hp++;
				n -= 2;
			}
			d->name = strndup(hp, n);
			d->port = strdup(colon + 1);
			if (d->name == NULL || d->port == NULL) {
				cluster_dns_fini(d);
				return hearth_err_set(err, HEARTH_ENOMEM,
				    "cluster: out of memory");
			}
			return 0;
		}
	}
	return hearth_err_set(err, HEARTH_EINVAL,
	    "-ring.dns: \"%s\" is neither dns+NAME:PORT nor dnssrv+NAME",
	    spec);
}

void
cluster_dns_fini(cluster_dns *d)
{
	free(d->name);
	free(d->port);
	memset(d, 0, sizeof(*d));
}

static int
cluster_dns_a(const cluster_dns *d, cluster_set *out, hearth_err *err)
{
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int rv            = getaddrinfo(d->name, d->port, &hints, &res);
	if (rv != 0)
		return hearth_err_set(err, HEARTH_EUNAVAIL,
		    "ring dns: cannot resolve %s: %s", d->name,
		    gai_strerror(rv));
	int rc = 0;
	for (struct addrinfo *ai = res; ai != NULL && rc == 0;
	     ai                  = ai->ai_next) {
		char ip[INET6_ADDRSTRLEN], id[INET6_ADDRSTRLEN + 16],
		    url[INET6_ADDRSTRLEN + 32];
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sa
			    = (const struct sockaddr_in *) ai->ai_addr;
			inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof(ip));
			snprintf(id, sizeof(id), "%s:%s", ip, d->port);
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *sa
			    = (const struct sockaddr_in6 *) ai->ai_addr;
			inet_ntop(AF_INET6, &sa->sin6_addr, ip, sizeof(ip));
			snprintf(id, sizeof(id), "[%s]:%s", ip, d->port);
		} else
			continue;
		snprintf(url, sizeof(url), "tcp://%s", id);
		rc = cluster_set_add(out, id, url);
	}
	freeaddrinfo(res);
	if (rc != 0)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "cluster: out of memory");
	return 0;
}

static int
cluster_dns_srv(const cluster_dns *d, cluster_set *out, hearth_err *err)
{
	unsigned char      ans[8192];
	struct __res_state st;
	ns_msg             msg;

	memset(&st, 0, sizeof(st));
	if (res_ninit(&st) != 0)
		return hearth_err_set(err, HEARTH_EUNAVAIL,
		    "ring dns: cannot initialise the resolver");
	int len = res_nquery(
	    &st, d->name, ns_c_in, ns_t_srv, ans, (int) sizeof(ans));
	res_nclose(&st);
	if (len < 0)
		return hearth_err_set(err, HEARTH_EUNAVAIL,
		    "ring dns: no SRV records for %s: %s", d->name,
		    hstrerror(st.res_h_errno));
	if (ns_initparse(ans, len, &msg) != 0)
		return hearth_err_set(err, HEARTH_EUNAVAIL,
		    "ring dns: malformed SRV answer for %s", d->name);
	int n = ns_msg_count(msg, ns_s_an);
	for (int i = 0; i < n; i++) {
		ns_rr rr;
		char  target[NS_MAXDNAME], id[NS_MAXDNAME],
		    url[NS_MAXDNAME + 16];
		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0
		    || ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7)
			continue;
		const unsigned char *rd = ns_rr_rdata(rr);
		/* priority(2) weight(2) port(2) target(name) */
		unsigned port = ((unsigned) rd[4] << 8) | rd[5];
		if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6,
		        target, sizeof(target))
		        < 0
		    || port == 0)
			continue;
		size_t tl = strlen(target);
		if (tl > 0 && target[tl - 1] == '.')
			target[--tl] = '\0';
		/* A headless service's targets are pod names under the
		 * service (hearth-ingester-0.hearth-ingester.ns.svc...): the
		 * first label is the stable member id. */
		size_t first = strcspn(target, ".");
		snprintf(id, sizeof(id), "%.*s", (int) first, target);
		snprintf(url, sizeof(url), "tcp://%s:%u", target, port);
		if (id[0] != '\0' && cluster_set_add(out, id, url) != 0)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "cluster: out of memory");
	}
	return 0;
}

int
cluster_dns_resolve(const cluster_dns *d, cluster_set *out, hearth_err *err)
{
	int rc = d->srv ? cluster_dns_srv(d, out, err)
	                : cluster_dns_a(d, out, err);
	if (rc != 0)
		cluster_set_fini(out);
	return rc;
}
