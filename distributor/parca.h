/*
 * parca: Parca's `parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw`
 * (proto/parca_profilestore.proto) over the Connect unary protocol, on the
 * distributor's Connect route set (the one Push uses: same codecs, gzip,
 * body limit, tenant rules and error bodies, connect.h).
 *
 * A WriteRawRequest is series of a LabelSet and raw pprof samples (gzip or
 * plain), the shape of push.v1 Push. Labels map to hearth's series model
 * (model.md §3): `__name__` is Parca's profile name and is required;
 * `service_name` is taken from `job` when absent (Parca has no service
 * label; scrape and agent configs name the job), else "unknown_service";
 * every other label is kept as sent. Each pprof goes through the same
 * decode, limits and series building as a pushed pprof
 * (hearth_otlp_acc_add), and the whole request is one push to the
 * ingesters: validated whole, stored or refused whole. `tenant` (deprecated
 * upstream) and `normalized` are ignored: the tenant comes from the
 * request's credentials and X-Scope-OrgID, and hearth keys stacks on
 * function names, so address normalisation does not matter (unsymbolized
 * frames show as 0x<address>, pprof.h).
 *
 * Errors: invalid_argument (no series, no __name__, a pprof or labels
 * refused), resource_exhausted (body limit, ingestion limits), the
 * ingester's unavailable / deadline_exceeded.
 *
 * Note for clients: the Parca agent speaks gRPC over HTTP/2, which hearth's
 * HTTP/1.1 server does not; this endpoint serves HTTP/1.1 Connect clients
 * and a gRPC-to-Connect proxy in front of hearth.
 */
#ifndef HEARTH_DISTRIBUTOR_PARCA_H
#define HEARTH_DISTRIBUTOR_PARCA_H

#include "err.h"

struct hearth_distributor;

/* Register WriteRaw (and `unimplemented` for the service's other methods)
 * on d's Connect routes; call after hearth_distributor_push_routes. */
int hearth_parca_routes(struct hearth_distributor *d, hearth_err *err);

#endif
