/*
 * otlp.c: the walk over an ExportProfilesServiceRequest (otlp.h steps 1
 * and 6: groups by service.name, series labels) and its decoding. One
 * group's pprof is built in otlp_pprof.c; the push in otlp_push.c; the
 * HTTP handler is otlp_http.c.
 */
#include "otlp_impl.h"

#include "pbjson.h"

#include <stdio.h>
#include <string.h>

/* Resource-level service name and the unknown_service fallbacks (otlp.h
 * step 6), from the first occurrence of each attribute. */
static int
otlp_resource_service(otlp_conv *c, const otlp_resource *rp, const char **svc)
{
	*svc             = "unknown_service";
	const char *name = NULL, *exe = NULL;
	size_t      n = rp->resource != NULL ? rp->resource->n_attributes : 0;
	for (size_t i = 0; i < n; i++) {
		const char *k, *v;
		int rc = otlp_kv_get(c, rp->resource->attributes[i], &k, &v);
		if (rc != 0)
			return rc;
		if (k == NULL || v == NULL || *v == '\0')
			continue;
		if (name == NULL && strcmp(k, "service.name") == 0)
			name = v;
		else if (exe == NULL
		    && strcmp(k, "process.executable.name") == 0)
			exe = v;
	}
	if (name != NULL) {
		*svc = name;
	} else if (exe != NULL) {
		size_t len = strlen(exe) + sizeof("unknown_service:");
		char  *s   = hearth_arena_alloc(c->a, len);
		if (s == NULL)
			return otlp_nomem(c);
		snprintf(s, len, "unknown_service:%s", exe);
		*svc = s;
	} else {
		*svc = "unknown_service";
	}
	return 0;
}

/* Append the label attributes of kvs, last first. */
static int
otlp_put_attrs(
    otlp_conv *c, otlp_kv *const *kvs, size_t n, hearth_label *ls, size_t *k)
{
	for (size_t i = n; i-- > 0;) {
		const char *key, *val;
		int         rc = otlp_kv_get(c, kvs[i], &key, &val);
		if (rc != 0)
			return rc;
		if (key == NULL || val == NULL)
			continue;
		ls[*k].name      = key;
		ls[(*k)++].value = val;
	}
	return 0;
}

/* Series labels of a group (otlp.h step 6). hearth_labels_sort keeps the
 * last of equal names, so they are appended lowest priority first: scope
 * attributes, resource attributes (each list from its end, so that its
 * first occurrence of a key comes last), the fixed labels, service_name. */
static int
otlp_series_labels(otlp_conv *c, const otlp_resource *rp,
    const Opentelemetry__Proto__Profiles__V1development__ScopeProfiles *sp,
    const char *name, const char *svc, hearth_otlp_pprof *out)
{
	size_t nr = rp->resource != NULL ? rp->resource->n_attributes : 0;
	size_t ns = sp->scope != NULL ? sp->scope->n_attributes : 0;
	hearth_label *ls = hearth_arena_calloc(c->a, nr + ns + 4, sizeof(*ls));
	if (ls == NULL)
		return otlp_nomem(c);
	size_t k  = 0;
	int    rc = 0;
	if (ns > 0)
		rc = otlp_put_attrs(c, sp->scope->attributes, ns, ls, &k);
	if (rc == 0 && nr > 0)
		rc = otlp_put_attrs(c, rp->resource->attributes, nr, ls, &k);
	if (rc != 0)
		return rc;
	ls[k++]       = (hearth_label) { "__delta__", "false" };
	ls[k++]       = (hearth_label) { "__otel__", "true" };
	ls[k++]       = (hearth_label) { "__name__", name };
	ls[k++]       = (hearth_label) { "service_name", svc };
	out->labels   = ls;
	out->n_labels = hearth_labels_sort(ls, k);
	return 0;
}

/* The service.name attribute of a sample, "" when it has none. */
static int
otlp_sample_service(otlp_conv *c, const otlp_sample *os, const char **svc)
{
	*svc = "";
	for (size_t i = 0; i < os->n_attribute_indices; i++) {
		const char *k, *v;
		int rc = otlp_attr(c, os->attribute_indices[i], &k, &v);
		if (rc != 0)
			return rc;
		if (v != NULL && strcmp(k, "service.name") == 0) {
			*svc = v;
			return 0;
		}
	}
	return 0;
}

typedef struct otlp_out {
	hearth_otlp_pprof *v;
	size_t             n, cap;
} otlp_out;

/* Build the pprof of group g, whose samples are idx[0..n). */
static int
otlp_group(otlp_conv *c, const otlp_resource *rp,
    const Opentelemetry__Proto__Profiles__V1development__ScopeProfiles *sp,
    const otlp_profile *op, const char *svc, const uint32_t *idx, size_t n,
    otlp_out *out)
{
	if (c->max_samples > 0 && n > c->max_samples)
		return otlp_fail(c, HEARTH_ELIMIT,
		    "the profile exceeds the samples count limit "
		    "(max_profile_stacktrace_samples, actual: %zu, limit: "
		    "%zu)",
		    n, c->max_samples);
	c->serial++;
	otlp_pp     pp;
	const char *name;
	int         rc = otlp_pp_init(c, &pp, op, &name);
	if (rc != 0)
		return rc;
	Perftools__Profiles__Sample *sv
	    = hearth_arena_alloc(c->a, n * sizeof(*sv));
	Perftools__Profiles__Sample **sp_
	    = hearth_arena_alloc(c->a, n * sizeof(*sp_));
	int64_t *vals = hearth_arena_alloc(c->a, n * sizeof(*vals));
	if (sv == NULL || sp_ == NULL || vals == NULL)
		return otlp_nomem(c);
	for (size_t i = 0; i < n; i++) {
		c->sample = idx[i];
		perftools__profiles__sample__init(&sv[i]);
		if ((rc = otlp_sample_convert(
		         c, &pp, op->samples[idx[i]], &sv[i], &vals[i]))
		    != 0)
			return rc;
		sp_[i] = &sv[i];
	}
	c->sample            = OTLP_NO_SAMPLE;
	pp.p->n_sample       = n;
	pp.p->sample         = sp_;
	pp.p->n_string_table = pp.strs.n;
	pp.p->string_table   = (char **) pp.strs.strs;
	if (otlp_grow(c->a, (void **) &out->v, &out->cap, out->n + 1,
	        sizeof(*out->v))
	    != 0)
		return otlp_nomem(c);
	hearth_otlp_pprof *o = &out->v[out->n];
	memset(o, 0, sizeof(*o));
	o->profile = pp.p;
	snprintf(o->where, sizeof(o->where), "%s", c->where);
	if ((rc = otlp_series_labels(c, rp, sp, name, svc, o)) != 0)
		return rc;
	out->n++;
	return 0;
}

/* Split a profile's samples by their service.name (otlp.h step 1), then
 * build one pprof per group, in order of first appearance. */
static int
otlp_profile_convert(otlp_conv *c, const otlp_resource *rp,
    const Opentelemetry__Proto__Profiles__V1development__ScopeProfiles *sp,
    const otlp_profile *op, const char *res_svc, otlp_out *out)
{
	size_t n = op->n_samples;
	if (n == 0)
		return 0;
	uint32_t   *grp    = hearth_arena_alloc(c->a, n * sizeof(*grp));
	uint32_t   *idx    = hearth_arena_alloc(c->a, n * sizeof(*idx));
	size_t     *counts = NULL, cap_counts = 0;
	otlp_strset svcs = { 0 };
	if (grp == NULL || idx == NULL)
		return otlp_nomem(c);
	for (size_t i = 0; i < n; i++) {
		const char *svc;
		size_t      g;
		c->sample = i;
		int rc    = otlp_sample_service(c, op->samples[i], &svc);
		if (rc != 0)
			return rc;
		if (otlp_strset_add(c->a, &svcs, svc, &g) != 0
		    || otlp_grow(c->a, (void **) &counts, &cap_counts, svcs.n,
		           sizeof(*counts))
		        != 0)
			return otlp_nomem(c);
		grp[i] = (uint32_t) g;
	}
	c->sample = OTLP_NO_SAMPLE;
	/* realloc'd arena memory is not zeroed: count now. */
	memset(counts, 0, svcs.n * sizeof(*counts));
	for (size_t i = 0; i < n; i++)
		counts[grp[i]]++;
	/* Counting sort: group g's samples are idx[start[g] ..). */
	size_t *start
	    = hearth_arena_alloc(c->a, (svcs.n + 1) * sizeof(*start));
	if (start == NULL)
		return otlp_nomem(c);
	start[0] = 0;
	for (size_t g = 0; g < svcs.n; g++) {
		start[g + 1] = start[g] + counts[g];
		counts[g]    = start[g]; /* now the next free slot of g */
	}
	for (size_t i = 0; i < n; i++)
		idx[counts[grp[i]]++] = (uint32_t) i; /* keeps sample order */
	for (size_t g = 0; g < svcs.n; g++) {
		size_t      len = start[g + 1] - start[g];
		const char *svc
		    = *svcs.strs[g] != '\0' ? svcs.strs[g] : res_svc;
		int rc
		    = otlp_group(c, rp, sp, op, svc, idx + start[g], len, out);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
hearth_otlp_convert(hearth_arena *a, const hearth_otlp_request *req,
    int64_t now_ns, size_t max_samples, size_t max_stack_depth,
    hearth_otlp_pprof **out, size_t *n, hearth_err *err)
{
	*out = NULL;
	*n   = 0;
	if (req->dictionary == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "otlp: the request has no dictionary "
		    "(ExportProfilesServiceRequest field 2, which holds every "
		    "profile's strings, stacks and functions): send profiles "
		    "in "
		    "the opentelemetry-proto v1.10.0 layout");
	const otlp_dict *d = req->dictionary;
	otlp_conv        c = {
		       .a           = a,
		       .err         = err,
		       .d           = d,
		       .now_ns      = now_ns,
		       .max_samples = max_samples,
		       .max_depth   = max_stack_depth,
		       .sample      = OTLP_NO_SAMPLE,
	};
	size_t nl = d->n_location_table + 1, nf = d->n_function_table + 1,
	       nm   = d->n_mapping_table + 1;
	c.loc_stamp = hearth_arena_calloc(a, nl, sizeof(uint32_t));
	c.loc_id    = hearth_arena_alloc(a, nl * sizeof(uint32_t));
	c.fn_stamp  = hearth_arena_calloc(a, nf, sizeof(uint32_t));
	c.fn_id     = hearth_arena_alloc(a, nf * sizeof(uint32_t));
	c.map_stamp = hearth_arena_calloc(a, nm, sizeof(uint32_t));
	c.map_id    = hearth_arena_alloc(a, nm * sizeof(uint32_t));
	if (c.loc_stamp == NULL || c.loc_id == NULL || c.fn_stamp == NULL
	    || c.fn_id == NULL || c.map_stamp == NULL || c.map_id == NULL)
		return otlp_nomem(&c);
	otlp_out o = { 0 };
	for (size_t r = 0; r < req->n_resource_profiles; r++) {
		const otlp_resource *rp = req->resource_profiles[r];
		const char          *res_svc;
		snprintf(
		    c.where, sizeof(c.where), "resource_profiles[%zu]", r);
		int rc = otlp_resource_service(&c, rp, &res_svc);
		if (rc != 0)
			return rc;
		for (size_t s = 0; s < rp->n_scope_profiles; s++) {
			const Opentelemetry__Proto__Profiles__V1development__ScopeProfiles
			    *sp
			    = rp->scope_profiles[s];
			for (size_t p = 0; p < sp->n_profiles; p++) {
				snprintf(c.where, sizeof(c.where),
				    "resource_profiles[%zu].scope_profiles[%"
				    "zu]"
				    ".profiles[%zu]",
				    r, s, p);
				rc = otlp_profile_convert(
				    &c, rp, sp, sp->profiles[p], res_svc, &o);
				if (rc != 0)
					return rc;
			}
		}
	}
	*out = o.v;
	*n   = o.n;
	return 0;
}

/* protobuf-c allocator on the arena that remembers a failed allocation,
 * so the cap is told apart from a malformed body. */
typedef struct otlp_alloc {
	hearth_arena *a;
	bool          failed;
} otlp_alloc;

static void *
otlp_pb_alloc(void *data, size_t size)
{
	otlp_alloc *s = data;
	void       *p = hearth_arena_alloc(s->a, size);
	if (p == NULL)
		s->failed = true;
	return p;
}

static void
otlp_pb_free(void *data, void *ptr)
{
	(void) data; /* arena memory goes with the request */
	(void) ptr;
}

int
hearth_otlp_decode(hearth_arena *a, const uint8_t *body, size_t len, int json,
    hearth_otlp_request **out, hearth_err *err)
{
	const ProtobufCMessageDescriptor *desc
	    = &opentelemetry__proto__profiles__v1development__export_profiles_service_request__descriptor;
	*out = NULL;
	if (json) {
		/* OTLP/JSON writes trace and span ids in hex. */
		hearth_pbjson_opts o  = { .bytes_hex = 1 };
		ProtobufCMessage  *m  = NULL;
		int                rc = hearth_pbjson_decode(
		                   a, desc, (const char *) body, len, &o, &m, err);
		if (rc != 0) {
			hearth_err_prefix(err, "otlp");
			if (rc == HEARTH_ELIMIT) /* pbjson: the arena cap */
				err->code = rc = HEARTH_ENOMEM;
			return rc;
		}
		*out = (hearth_otlp_request *) m;
		return 0;
	}
	otlp_alloc         st  = { .a = a };
	ProtobufCAllocator pba = { .alloc = otlp_pb_alloc,
		.free                     = otlp_pb_free,
		.allocator_data           = &st };
	*out = (hearth_otlp_request *) protobuf_c_message_unpack(
	    desc, &pba, len, body);
	if (*out != NULL)
		return 0;
	if (st.failed)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "otlp: request memory limit reached while decoding the "
		    "body");
	return hearth_err_set(err, HEARTH_EINVAL,
	    "otlp: malformed protobuf: the body is not an "
	    "ExportProfilesServiceRequest (truncated, or not protobuf: JSON "
	    "needs Content-Type: application/json)");
}
