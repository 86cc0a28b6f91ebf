#include "cli_pprof.h"

#include "fgexport.h"
#include "fgtree.h"
#include "profile.pb-c.h"

#include <string.h>
#include <zlib.h>

static int
pprof_nomem(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "pprof export: out of memory building the profile");
}

static int
pprof_gzip(const uint8_t *in, size_t n, hearth_buf *out, hearth_err *err)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (n > (size_t) UINT32_MAX / 2) /* zlib counts in uInt */
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "pprof export: %zu bytes are too many to compress", n);
	/* 15 + 16: deflate with a gzip header and trailer. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	        Z_DEFAULT_STRATEGY)
	    != Z_OK)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "pprof export: zlib deflateInit2 failed");
	uLong bound = deflateBound(&z, (uLong) n);
	int   rc    = hearth_buf_reserve(out, bound);
	if (rc == 0) {
		z.next_in   = (Bytef *) in;
		z.avail_in  = (uInt) n;
		z.next_out  = (Bytef *) out->data + out->len;
		z.avail_out = (uInt) bound;
		rc          = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0
		                                                    : HEARTH_EINTERNAL;
		if (rc == 0)
			out->len += bound - z.avail_out;
	}
	deflateEnd(&z);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "pprof export: out of memory compressing the profile");
	if (rc != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "pprof export: zlib deflate failed");
	out->data[out->len] = '\0'; /* buf.h invariant (2) */
	return 0;
}

/* Side 0 of t as a function-name tree (the root's own self left out). */
static int
pprof_fgtree(hearth_arena *a, const hearth_cli_tree *t, hearth_fgtree **out,
    hearth_err *err)
{
	hearth_fgtree *fg  = hearth_fgtree_new();
	uint32_t      *map = hearth_arena_calloc(a, t->n_nodes, sizeof(*map));
	if (fg == NULL || map == NULL) {
		hearth_fgtree_free(fg);
		return pprof_nomem(err);
	}
	/* Parents come before children (cli_tree.h invariant (1)), so one
	 * forward pass finds every parent already mapped. */
	for (uint32_t i = 1; i < t->n_nodes; i++) {
		const hearth_cli_node *nd = &t->nodes[i];
		if (hearth_fgtree_child(fg, map[nd->parent],
		        t->names[nd->name], t->name_lens[nd->name], &map[i])
		    != 0) {
			hearth_fgtree_free(fg);
			return pprof_nomem(err);
		}
		hearth_fgtree_add_self(fg, map[i], nd->self[0]);
	}
	*out = fg;
	return 0;
}

int
hearth_cli_pprof_encode(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_pprof_meta *m, hearth_buf *out, hearth_err *err)
{
	hearth_fgtree                *fg = NULL;
	Perftools__Profiles__Profile *p  = NULL;
	hearth_fgexport_pprof_opts    o  = {
		    .sample_type    = m->type->sample_type,
		    .sample_unit    = m->type->sample_unit,
		    .period_type    = m->type->period_type,
		    .period_unit    = m->type->period_unit,
		    .time_nanos     = m->time_ns,
		    .duration_nanos = m->duration_ns,
	};
	if (pprof_fgtree(a, t, &fg, err) != 0)
		return err->code;
	int rc = hearth_fgexport_pprof(a, fg, &o, &p, err);
	hearth_fgtree_free(fg);
	if (rc != 0)
		return rc;
	size_t   len   = perftools__profiles__profile__get_packed_size(p);
	uint8_t *bytes = hearth_arena_alloc(a, len + 1);
	if (bytes == NULL)
		return pprof_nomem(err);
	perftools__profiles__profile__pack(p, bytes);
	if (!m->gzip) {
		hearth_buf_append(out, bytes, len);
		return hearth_buf_failed(out) ? hearth_err_set(
		           err, HEARTH_ENOMEM, "pprof export: out of memory")
		                              : 0;
	}
	return pprof_gzip(bytes, len, out, err);
}
