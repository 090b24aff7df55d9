#!/usr/bin/python3 -I
"""Exchange ActiveSync stand-in: CGI behind Apache + mod_auth_gssapi.

Answers every request on /Microsoft-Server-ActiveSync with 200 and a JSON body
describing what arrived: the authenticated principal (REMOTE_USER, as
mod_auth_gssapi set it), the scheme of the request's Authorization header, method, query string, body length and SHA-256 of the
body, and the TCP connection it came on.  Each request appends one line to
$LAB_PRINCIPAL_LOG (set by the Apache config):

    <conn-key> <principal> <method> <port> <request-id> <query>

<conn-key> identifies the TCP connection: "client-addr:client-port->server-port"
followed by "#<Apache connection log id>" (unique per connection; the lab's
httpd.conf makes Apache generate one for every connection), so a test can prove
that no connection carried two users (see check-connections.sh).

Identity assertion: a request whose query holds `expect=<principal>` (e.g.
expect=user07@EXAMPLE.TEST, the user of the device certificate the client
used) is compared with REMOTE_USER; on a difference the answer is 409 with
"identity_mismatch": true and the CGI writes "IDENTITY MISMATCH ..." to
stderr (Apache's error log).  check-connections.sh checks the same from the
principal log.

Test knobs (request headers, all optional):
    X-Lab-Status: NNN         answer with this status code instead of 200
    X-Lab-Delay-Ms: N         sleep N ms (<= 60000) before answering
    X-Lab-Response-Bytes: N   append a "padding" field of N bytes (<= 64 MiB)
OPTIONS answers like Exchange (MS-ASProtocolVersions / MS-ASProtocolCommands).
"""
import hashlib
import json
import os
import sys
import time
import urllib.parse


def env(name, default=""):
    return os.environ.get(name, default)


def read_body():
    stdin = sys.stdin.buffer
    h = hashlib.sha256()
    n = 0
    length = env("CONTENT_LENGTH")
    remaining = int(length) if length.isdigit() else None
    while remaining is None or remaining > 0:
        chunk = stdin.read(65536 if remaining is None else min(65536, remaining))
        if not chunk:
            break
        h.update(chunk)
        n += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return n, h.hexdigest()


def main():
    method = env("REQUEST_METHOD")
    body_len, body_sha = read_body()
    remote = f"{env('REMOTE_ADDR')}:{env('REMOTE_PORT')}"
    conn_log_id = env("LAB_CONN_LOG_ID")
    conn_key = f"{remote}->{env('SERVER_PORT')}" + (f"#{conn_log_id}" if conn_log_id else "")
    user = env("REMOTE_USER") or "-"
    request_id = env("UNIQUE_ID") or "-"
    query = env("QUERY_STRING")

    log = env("LAB_PRINCIPAL_LOG")
    if log:
        line = f"{conn_key} {user} {method} {env('SERVER_PORT')} {request_id} {query or '-'}\n"
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())  # one write with O_APPEND: atomic line
        finally:
            os.close(fd)

    delay = env("HTTP_X_LAB_DELAY_MS")
    if delay.isdigit():
        time.sleep(min(int(delay), 60000) / 1000.0)

    status = env("HTTP_X_LAB_STATUS")
    status = int(status) if status.isdigit() and 100 <= int(status) <= 599 else 200

    expected = urllib.parse.parse_qs(query).get("expect", [None])[0]
    mismatch = expected is not None and expected != user
    if mismatch:
        status = 409
        print(f"IDENTITY MISMATCH: expect={expected} but Kerberos says {user} on {conn_key} "
              f"request {request_id} query {query}", file=sys.stderr, flush=True)

    doc = {
        "user": user,
        "auth_type": env("AUTH_TYPE"),
        # The scheme of the request's own Authorization header ("" when it had none): with an
        # authentication kept per connection, later requests arrive without one.
        "authorization": env("HTTP_AUTHORIZATION").split(" ", 1)[0],
        "authorization_bytes": len(env("HTTP_AUTHORIZATION")),
        "method": method,
        "path": env("SCRIPT_NAME") + env("PATH_INFO"),
        "query": query,
        "body_length": body_len,
        "body_sha256": body_sha,
        "connection": conn_key,
        "remote": remote,
        "server_port": env("SERVER_PORT"),
        "request_id": request_id,
        "protocol_version": env("HTTP_MS_ASPROTOCOLVERSION"),
        "policy_key": env("HTTP_X_MS_POLICYKEY"),
        "content_type": env("CONTENT_TYPE"),
        "user_agent": env("HTTP_USER_AGENT"),
        "status": status,
    }
    if expected is not None:
        doc["identity_mismatch"] = mismatch
    pad = env("HTTP_X_LAB_RESPONSE_BYTES")
    if pad.isdigit():
        doc["padding"] = "x" * min(int(pad), 64 * 1024 * 1024)
    payload = (json.dumps(doc, sort_keys=True) + "\n").encode()

    out = sys.stdout.buffer
    headers = [f"Status: {status}", "Content-Type: application/json",
               f"Content-Length: {len(payload)}", "Cache-Control: private",
               "MS-Server-ActiveSync: 15.1"]
    if method == "OPTIONS":
        headers += ["MS-ASProtocolVersions: 2.0,2.1,2.5,12.0,12.1,14.0,14.1,16.0,16.1",
                    "MS-ASProtocolCommands: Sync,SendMail,SmartForward,SmartReply,GetAttachment,"
                    "GetHierarchy,CreateCollection,DeleteCollection,MoveCollection,FolderSync,"
                    "FolderCreate,FolderDelete,FolderUpdate,MoveItems,GetItemEstimate,MeetingResponse,"
                    "Search,Settings,Ping,ItemOperations,Provision,ResolveRecipients,ValidateCert,Find",
                    "Allow: OPTIONS,POST"]
    out.write(("\r\n".join(headers) + "\r\n\r\n").encode())
    if method != "HEAD":
        out.write(payload)
    out.flush()


if __name__ == "__main__":
    main()
