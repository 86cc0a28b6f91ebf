#!/usr/bin/env python3
"""Built-in authentication (-auth.tokens-file, common/auth.h).

hearth runs with multi-tenancy on and a tokens file that it re-reads every
100 ms. Checked on the ingest path, the legacy query API and the Connect APIs
(Push and the querier):
  * missing, malformed, wrong and revoked credentials get 401 with a
    WWW-Authenticate challenge and a message that says what to send;
  * a token limited to tenant A writing (or reading) as B gets 403 naming the
    token and the tenant, and stores nothing;
  * the credential decides the tenant when X-Scope-OrgID is absent;
  * basic-auth users (crypt(3) hashes) and a token sent as a basic password;
  * editing the file takes effect without a restart (revocation, a new
    token, a changed grant), an invalid file keeps the previous version and
    says why in the log and in /metrics;
  * no token or password ever appears in the log.
A second hearth checks the tokens file with multi-tenancy off (the tenant is
"anonymous", which the credential must list).
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
TOKENS = None
CPU = L.CPU_TYPE
T0 = L.now_s() - 300
FROM_MS, UNTIL_MS = (T0 - 3600) * 1000, (T0 + 3600) * 1000

TOK_A = "tok-A-6f1c2b0e9d"          # writes and reads team-a
TOK_RO = "tok-readonly-77aa1"      # reads team-a and team-b
TOK_B = "tok-B-c0ffee"             # writes team-b
TOK_NEW = "tok-new-31415926"       # added by the reload test
PASSWORD = "correct horse battery"


def tokens_v1(extra=()):
    return L.tokens_yaml(
        tokens=[{"name": "writer-a", "token": TOK_A, "write": ["team-a"], "read": ["team-a"]},
                {"name": "reader", "token": TOK_RO, "read": ["team-a", "team-b"]},
                {"name": "writer-b", "token": TOK_B, "write": ["team-b"], "read": ["team-b"]}]
        + list(extra),
        users=[{"name": "alice", "password": PASSWORD, "read": ["team-a"], "write": ["team-a"]}])


def setUpModule():
    global H, TOKENS
    import tempfile
    d = tempfile.mkdtemp(prefix="hearth-auth-")
    TOKENS = os.path.join(d, "tokens.yaml")
    L.write_file_atomic(TOKENS, tokens_v1())
    H = L.HearthProcess(flags=["-auth.multitenancy-enabled", "-auth.tokens-file=" + TOKENS,
                               "-runtime-config.reload-period=100ms"], name="hearth").start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    if H is not None:
        try:
            H.stop_checked()
        finally:
            H.cleanup()


def ingest(hdr, fn="work", service="authsvc"):
    return H.post("/ingest", {"name": service + ".cpu", "from": str(T0)},
                  ("main;%s 1\n" % fn).encode(), headers=hdr)


def render(hdr, service="authsvc"):
    return H.get("/pyroscope/render", [("query", CPU + '{service_name="%s"}' % service),
                                       ("from", str(FROM_MS)), ("until", str(UNTIL_MS))],
                 headers=hdr)


def functions(hdr, service="authsvc"):
    r = render(hdr, service)
    if r.status != 200:
        raise L.HearthError("render -> %d: %s" % (r.status, r.text()))
    tree, _ = L.flamebearer_tree(r.json()["flamebearer"])
    return L.self_by_name(tree)


def connect_labels(hdr):
    return L.connect_call(H, "/querier.v1.QuerierService/LabelNames",
                          {"start": str(FROM_MS), "end": str(UNTIL_MS)}, headers=hdr)


def connect_push(hdr):
    b = L.PprofBuilder(time_nanos=T0 * 10 ** 9)
    b.sample(b.stack("main", "pushed"), [10 ** 7])
    import base64
    msg = {"series": [{"labels": [{"name": "__name__", "value": "process_cpu"},
                                  {"name": "service_name", "value": "authpush"}],
                       "samples": [{"rawProfile": base64.b64encode(b.encode()).decode()}]}]}
    return L.connect_call(H, "/push.v1.PusherService/Push", msg, headers=hdr)


def wait_until(pred, what, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise L.HearthError("timed out waiting for %s" % what)


class AuthTest(L.HearthTestCase):

    def assert401(self, r, what, *needles):
        self.assertStatus(r, 401, what)
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Bearer realm="hearth", Basic realm="hearth", charset="UTF-8"', what)
        e = L.error_body(r)
        self.assertEqual(e["code"], "unauthenticated", what)
        for n in needles:
            self.assertIn(n, e["message"], what)

    def test_missing_wrong_malformed_credentials_are_401(self):
        cases = [
            ({"X-Scope-OrgID": "team-a"}, "missing credentials: send Authorization: Bearer "
             "<token> or Basic credentials from the tokens file"),
            (L.bearer("not-a-token", "team-a"), "invalid or revoked token"),
            ({"Authorization": "Bearer", "X-Scope-OrgID": "team-a"},
             "malformed Authorization header"),
            ({"Authorization": "Token " + TOK_A}, "unsupported Authorization scheme"),
            ({"Authorization": "Basic ###"}, "malformed Basic credentials"),
            (L.basic("alice", "wrong password"), "invalid user name or password"),
            (L.basic("mallory", PASSWORD), "invalid user name or password"),
        ]
        for hdr, msg in cases:
            self.assert401(ingest(hdr), "ingest with %r" % hdr, msg)
            self.assert401(render(hdr), "render with %r" % hdr, msg)
            r = H.get("/pyroscope/label-names", headers=hdr)
            self.assert401(r, "label-names with %r" % hdr, msg)
            r = connect_labels(hdr)
            self.assertStatus(r, 401, "Connect LabelNames with %r" % hdr)
            self.assertIn(msg, L.error_body(r)["message"])
            r = connect_push(hdr)
            self.assertStatus(r, 401, "Connect Push with %r" % hdr)
        # the operational endpoints stay open (probes, Prometheus)
        self.assertStatus(H.get("/ready"), 200, "/ready without credentials")
        self.assertStatus(H.get("/metrics"), 200, "/metrics without credentials")

    def test_token_of_a_writing_as_b_is_403(self):
        r = ingest(L.bearer(TOK_A, "team-b"), fn="a_as_b")
        self.assertStatus(r, 403, "token A writing as team-b")
        e = L.error_body(r)
        self.assertEqual(e, {"code": "permission_denied",
                             "message": 'token "writer-a" may not write tenant "team-b"'})
        r = render(L.bearer(TOK_A, "team-b"))
        self.assertStatus(r, 403, "token A reading team-b")
        self.assertEqual(L.error_body(r)["message"],
                         'token "writer-a" may not read tenant "team-b"')
        r = ingest(L.bearer(TOK_RO, "team-a"))
        self.assertStatus(r, 403, "read-only token writing")
        r = connect_push(L.bearer(TOK_A, "team-b"))
        self.assertStatus(r, 403, "Connect Push with token A as team-b")
        self.assertEqual(L.error_body(r)["code"], "permission_denied")
        r = render(L.bearer(TOK_A, "team-a|team-b"))
        self.assertStatus(r, 403, "token A reading team-a|team-b")
        # nothing was stored for team-b
        self.assertNotIn("a_as_b", functions(L.bearer(TOK_B)))

    def test_the_credential_decides_the_tenant(self):
        self.assertStatus(ingest(L.bearer(TOK_A), fn="by_token_a"), 200, "token A, no header")
        self.assertStatus(ingest(L.bearer(TOK_B), fn="by_token_b"), 200, "token B, no header")
        self.assertStatus(ingest(L.basic("alice", PASSWORD), fn="by_alice"), 200,
                          "alice, no header")
        self.assertStatus(ingest(L.basic("team-b", TOK_B), fn="token_as_password"), 200,
                          "token B as a basic password")
        a = functions(L.bearer(TOK_A))
        b = functions(L.bearer(TOK_B))
        self.assertIn("by_token_a", a)
        self.assertIn("by_alice", a)
        self.assertNotIn("by_token_b", a)
        self.assertIn("by_token_b", b)
        self.assertIn("token_as_password", b)
        self.assertNotIn("by_token_a", b)
        # a credential with several tenants must name them
        r = render(L.bearer(TOK_RO))
        self.assertStatus(r, 400, "reader without X-Scope-OrgID")
        self.assertEqual(L.error_body(r)["message"],
                         'token "reader" may read 2 tenants: name the ones to read in '
                         'X-Scope-OrgID (a|b for several)')
        both = functions(L.bearer(TOK_RO, "team-a|team-b"))
        self.assertIn("by_token_a", both)
        self.assertIn("by_token_b", both)
        self.assertStatus(connect_push(L.bearer(TOK_B)), 200, "Connect Push with token B")
        self.assertIn("pushed", functions(L.bearer(TOK_B), service="authpush"))

    def test_reload_takes_effect_without_restart(self):
        try:
            self.reload_checks()
        finally:
            # the first version again, for the other tests
            L.write_file_atomic(TOKENS, tokens_v1())
            wait_until(lambda: ingest(L.bearer(TOK_A)).status == 200, "the restore")

    def reload_checks(self):
        pid = H.pid()
        self.assertStatus(ingest(L.bearer(TOK_A)), 200, "token A before the reload")
        self.assert401(ingest(L.bearer(TOK_NEW)), "new token before the reload",
                       "invalid or revoked token")
        # revoke writer-a, add a new token for team-a, let alice read team-b too
        L.write_file_atomic(TOKENS, L.tokens_yaml(
            tokens=[{"name": "reader", "token": TOK_RO, "read": ["team-a", "team-b"]},
                    {"name": "writer-b", "token": TOK_B, "write": ["team-b"], "read": ["team-b"]},
                    {"name": "newcomer", "token": TOK_NEW, "write": ["team-a"]}],
            users=[{"name": "alice", "password": PASSWORD, "read": ["team-a", "team-b"]}]))
        wait_until(lambda: ingest(L.bearer(TOK_A)).status == 401, "the revocation")
        self.assert401(ingest(L.bearer(TOK_A)), "revoked token", "invalid or revoked token")
        self.assert401(render(L.bearer(TOK_A, "team-a")), "revoked token reading")
        self.assertStatus(ingest(L.bearer(TOK_NEW), fn="by_newcomer"), 200, "new token")
        self.assertStatus(render(L.basic("alice", PASSWORD, "team-b")), 200,
                          "alice reading team-b after the grant")
        self.assertStatus(ingest(L.basic("alice", PASSWORD)), 403, "alice lost write")
        # an invalid file is refused and the previous version stays in use
        ok_before = H.metric("hearth_runtime_file_reloads_total", what="tokens",
                             result="failure") or 0
        L.write_file_atomic(TOKENS, "tokens:\n  - name: broken\n    sha256: 1234\n")
        wait_until(lambda: (H.metric("hearth_runtime_file_reloads_total", what="tokens",
                                     result="failure") or 0) > ok_before, "the failed reload")
        self.assertEqual(H.metric("hearth_runtime_file_last_reload_successful", what="tokens"), 0)
        self.assertStatus(ingest(L.bearer(TOK_NEW)), 200, "new token after a bad edit")
        lines = H.wait_log('msg="runtime file reload failed, keeping the previous version"')
        self.assertIn("sha256 must be 64 hex digits", lines[-1])
        self.assertEqual(H.pid(), pid, "hearth restarted")

    def test_zz_no_secret_in_logs_and_metrics(self):
        text = "\n".join(H.log_lines())
        for secret in (TOK_A, TOK_RO, TOK_B, TOK_NEW, PASSWORD, L.sha256_hex(TOK_A)):
            self.assertNotIn(secret, text, "a secret is in the log")
        m = H.get("/metrics").text()
        for secret in (TOK_A, TOK_B, PASSWORD):
            self.assertNotIn(secret, m)
        self.assertGreater(H.metric("hearth_auth_requests_total", result="ok"), 0)
        self.assertGreater(H.metric("hearth_auth_requests_total", result="invalid"), 0)
        self.assertGreater(H.metric("hearth_auth_requests_total", result="denied"), 0)
        self.assertGreater(H.metric("hearth_auth_requests_total", result="missing"), 0)


class SingleTenantAuthTest(L.HearthTestCase):

    def test_multitenancy_off_checks_anonymous(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="hearth-auth1-")
        path = os.path.join(d, "tokens.yaml")
        L.write_file_atomic(path, L.tokens_yaml(tokens=[
            {"name": "ci", "token": "ci-token", "write": ["anonymous"], "read": ["anonymous"]},
            {"name": "other", "token": "other-token", "write": ["team-a"]}]))
        with L.HearthProcess(flags=["-auth.tokens-file=" + path], name="hearth-single") as h:
            r = h.post("/ingest", {"name": "solo.cpu"}, b"main 1\n",
                       headers={"Authorization": "Bearer ci-token", "X-Scope-OrgID": "x"})
            self.assertStatus(r, 200, "ci token (header ignored)")
            r = h.post("/ingest", {"name": "solo.cpu"}, b"main 1\n",
                       headers={"Authorization": "Bearer other-token"})
            self.assertStatus(r, 403, "a token without anonymous")
            self.assertEqual(L.error_body(r)["message"],
                             'token "other" may not write tenant "anonymous"')
            r = h.post("/ingest", {"name": "solo.cpu"}, b"main 1\n")
            self.assertStatus(r, 401, "no token")
        # a bad tokens file stops start-up with the reason
        L.write_file_atomic(path, "tokens:\n  - name: x\n    sha256: nothex\n")
        p = L.HearthProcess(flags=["-auth.tokens-file=" + path], name="hearth-bad")
        p.start(wait_ready=False)
        rc = p.wait_exit(30)
        self.assertEqual(rc, 2)
        self.assertIn("tokens file %s: line 3: token \"x\": sha256 must be 64 hex digits" % path,
                      p.stderr_tail())
        p.cleanup()


if __name__ == "__main__":
    L.run_tests()
