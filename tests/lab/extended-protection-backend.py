#!/usr/bin/python3 -I
"""Exchange with Extended Protection, for the lab: an HTTPS backend that accepts
Kerberos (SPNEGO) only when the token carries RFC 5929 tls-server-end-point
channel bindings matching its own certificate, as IIS does with Extended
Protection "Require".  MIT krb5 (>= 1.19) accepts a token without bindings but
then leaves GSS_C_CHANNEL_BOUND_FLAG unset, so that flag is what is enforced.
Needs Debian's python3-gssapi (run with /usr/bin/python3).

  extended-protection-backend.py --listen 127.0.0.11:8445 --cert mail.pem \
      --key mail.key --keytab mail.keytab [--service HTTP@mail.example.test]

200 "authenticated as <principal> channel-bound"   valid token, matching bindings
401 "authenticated as <principal> not channel-bound"  token without bindings
401 "gss failure: BadChannelBindingsError ..."      token bound to another channel
Each request line is logged to stdout.
"""
import argparse, base64, hashlib, os, re, ssl, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHANNEL_BOUND = 0x800  # GSS_C_CHANNEL_BOUND_FLAG (krb5 >= 1.19)

# signatureAlgorithm OID (DER content bytes) -> hash name, per RFC 5929 4.1:
# MD5 and SHA-1 are replaced by SHA-256.
_SIG_HASH = {
    "2a864886f70d010104": "sha256", "2a864886f70d010105": "sha256",  # md5/sha1WithRSA
    "2a864886f70d01010e": "sha224", "2a864886f70d01010b": "sha256",  # sha224/256WithRSA
    "2a864886f70d01010c": "sha384", "2a864886f70d01010d": "sha512",  # sha384/512WithRSA
    "2a8648ce3d0401": "sha256",                                      # ecdsa-with-SHA1
    "2a8648ce3d040301": "sha224", "2a8648ce3d040302": "sha256",      # ecdsa-with-SHA224/256
    "2a8648ce3d040303": "sha384", "2a8648ce3d040304": "sha512",      # ecdsa-with-SHA384/512
}

def _tlv(buf, i):
    """Return (tag, content_start, content_end) of the DER element at buf[i]."""
    tag, n = buf[i], buf[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[i:i + k], "big")
        i += k
    return tag, i, i + n

def tls_server_end_point(cert_der):
    _, cs, _ = _tlv(cert_der, 0)              # Certificate SEQUENCE
    _, _, tbs_end = _tlv(cert_der, cs)        # skip tbsCertificate
    _, ai, _ = _tlv(cert_der, tbs_end)        # signatureAlgorithm SEQUENCE
    tag, os_, oe = _tlv(cert_der, ai)         # algorithm OID
    oid = cert_der[os_:oe].hex()
    if tag != 0x06 or oid not in _SIG_HASH:   # e.g. RSASSA-PSS, Ed25519
        raise SystemExit("unsupported certificate signature algorithm OID " + oid)
    digest = hashlib.new(_SIG_HASH[oid], cert_der).digest()
    return b"tls-server-end-point:" + digest

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"             # keep-alive (needs Content-Length)

    def setup(self):
        super().setup()
        self.connection.settimeout(30)
        self.connection.do_handshake()        # TLS handshake in the worker thread

    def log_message(self, fmt, *args):        # request lines etc. -> stdout
        sys.stdout.write("%s - %s\n" % (self.client_address[0], fmt % args))
        sys.stdout.flush()

    def _reply(self, code, text, token=None):
        body = (text + "\n").encode()
        self.send_response(code)
        if token is not None:
            self.send_header("WWW-Authenticate",
                             "Negotiate " + base64.b64encode(token).decode())
        elif code == 401:
            self.send_header("WWW-Authenticate", "Negotiate")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)                # drain body to keep the connection usable
        auth = self.headers.get("Authorization", "")
        if not auth.lower().startswith("negotiate "):
            return self._reply(401, "negotiate required")
        try:
            in_tok = base64.b64decode(auth.split(None, 1)[1].strip(), validate=True)
        except Exception:
            return self._reply(400, "bad base64 in Authorization")
        # One context per request: Kerberos via SPNEGO completes in one leg.
        ctx = gssapi.SecurityContext(creds=SERVER_CREDS, usage="accept",
                                     channel_bindings=CHAN_BINDINGS)
        try:
            out_tok = ctx.step(in_tok)
        except gssapi.exceptions.GSSError as e:
            return self._reply(401, "gss failure: %s: %s" % (type(e).__name__, e))
        if not ctx.complete:
            return self._reply(401, "gss continue needed (unsupported)", out_tok)
        princ = str(ctx.initiator_name)
        if not int(ctx.actual_flags) & CHANNEL_BOUND:
            return self._reply(401, "authenticated as %s not channel-bound" % princ)
        self._reply(200, "authenticated as %s channel-bound" % princ, out_tok)

    # OPTIONS: what a device (and `easgate doctor`) sends first; Exchange authenticates it too.
    do_POST = do_HEAD = do_OPTIONS = do_GET

def main():
    global gssapi, SERVER_CREDS, CHAN_BINDINGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--cert", required=True, help="PEM; first cert = leaf served")
    ap.add_argument("--key", required=True)
    ap.add_argument("--keytab", required=True)
    ap.add_argument("--service", help="e.g. HTTP@mail.example.test (default: any keytab key)")
    a = ap.parse_args()
    os.environ["KRB5_KTNAME"] = "FILE:" + os.path.abspath(a.keytab)  # before any krb5 call
    import gssapi, gssapi.raw, gssapi.exceptions  # noqa: E401 (after KRB5_KTNAME)
    name = (gssapi.Name(a.service, gssapi.NameType.hostbased_service)
            if a.service else None)
    SERVER_CREDS = gssapi.Credentials(name=name, usage="accept")  # reads KRB5_KTNAME
    with open(a.cert) as f:   # first PEM block = the leaf the server presents
        pem = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                        f.read(), re.S).group(0)
    der = ssl.PEM_cert_to_DER_cert(pem)
    appdata = tls_server_end_point(der)
    CHAN_BINDINGS = gssapi.raw.ChannelBindings(application_data=appdata)  # addrtypes 0
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(a.cert, a.key)
    host, port = a.listen.rsplit(":", 1)
    srv = ThreadingHTTPServer((host.strip("[]"), int(port)), Handler)
    srv.daemon_threads = True
    srv.socket = sctx.wrap_socket(srv.socket, server_side=True,
                                  do_handshake_on_connect=False)
    print("listening on https://%s:%s cbt=%s" % (host, port, appdata[21:].hex()),
          flush=True)
    srv.serve_forever()

if __name__ == "__main__":
    main()
