// Exchange misbehaving, or easgate's own resources running out: each gives the device a clear
// status and the log the reason, nothing meant for easgate reaches the device, a connection with
// anything left over is never reused, and a local shortage is never blamed on Exchange.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <thread>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

const std::string eas =
    "/Microsoft-Server-ActiveSync?Cmd=FolderSync&DeviceId=EASGATETEST01&DeviceType=TestDevice";

class HostileUpstreamTest : public GatewayTest {
protected:
    RawExchange send(const std::string& request,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        return send_raw(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                        pki_dir() / "alice.key", request, timeout);
    }

    // How many times a POST of target reached Exchange.
    std::size_t deliveries(const std::string& target) const {
        return count_of(read_file(work_dir() / "upstream-0.out"), "request POST " + target + "\n");
    }
};

// An answer Exchange sent unasked sits behind the real one: the connection is not pooled with it,
// so alice's next request gets its own answer, not that one.
TEST_F(HostileUpstreamTest, AnUnsolicitedExtraResponseIsNeverTakenForTheNextAnswer) {
    start_gateway();
    EXPECT_EQ(curl_report("alice", eas + "&extra=1")["target"], eas + "&extra=1");
    for (int i = 0; i < 3; ++i) {
        const auto next = eas + "&next=" + std::to_string(i);
        const auto answer = curl("alice", next, {"--data-binary", "mail " + std::to_string(i)});
        EXPECT_EQ(answer.out.find("unsolicited"), std::string::npos) << answer.out;
        EXPECT_NE(answer.out.find("\"target\":\"" + next + "\""), std::string::npos) << answer.out;
    }
    // Each request reached Exchange once: nothing was lost or replayed.
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request POST"), 3u);
}

// A 204 or 304 has no body whatever its framing fields say: the device gets the header alone, or
// the bytes of an invented empty body would be read as the start of its next answer.
TEST_F(HostileUpstreamTest, A204Or304HasNoBodyWhateverItsFramingSays) {
    start_gateway();
    for (const std::string knob : {"notmodifiedchunked", "nocontentchunked", "nocontentlength"}) {
        const auto exchange = send("GET " + eas + "&" + knob + "=1 HTTP/1.1\r\nHost: gw\r\n\r\n" + "GET " +
                                   eas + "&second=1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
        const auto end = exchange.response.find("\r\n\r\n");
        ASSERT_NE(end, std::string::npos) << knob << ": " << exchange.response;
        const auto header = exchange.response.substr(0, end);
        EXPECT_TRUE(header.starts_with(knob.starts_with("notmodified") ? "HTTP/1.1 304 " : "HTTP/1.1 204 "))
            << header;
        EXPECT_EQ(header.find("Transfer-Encoding"), std::string::npos) << header;
        EXPECT_EQ(header.find("Content-Length"), std::string::npos) << header;
        EXPECT_TRUE(exchange.response.substr(end + 4).starts_with("HTTP/1.1 200 "))
            << knob << ", then:\n"
            << exchange.response.substr(end + 4);
    }
}

// A 400 to a request with an Authorization is looked into for HTTP.sys's "header too long", in the
// start of its body; an answer to HEAD has none, so the device gets it at once, not after
// upstream_timeout.
TEST_F(HostileUpstreamTest, A400ToHeadIsRelayedAtOnce) {
    start_gateway({.client_auth_mode = "optional", .limits = "    upstream_timeout: 30s\n"});
    const auto head =
        curl("", eas + "&badrequesthead=1", {"--head", "--user", "alice:secret", "--max-time", "5"});
    EXPECT_EQ(head.exit_code, 0) << head.err;
    EXPECT_TRUE(head.out.starts_with("HTTP/1.1 400")) << head.out;
}

// easgate's own answer to a HEAD (here 502: Exchange unreachable) is a header alone, the connection
// kept: a body after it would be read as the start of the next answer.
TEST_F(HostileUpstreamTest, EasgatesOwnAnswerToHeadHasNoBody) {
    start_gateway({.upstream_url = "https://127.0.0.1:" + std::to_string(free_tcp_port())});
    const auto exchange = send("HEAD " + eas + " HTTP/1.1\r\nHost: gw\r\n\r\n" + "GET " + eas +
                               "&second=1 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n");
    const auto end = exchange.response.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos) << exchange.response;
    const auto header = exchange.response.substr(0, end);
    EXPECT_TRUE(header.starts_with("HTTP/1.1 502 ")) << header;
    EXPECT_NE(header.find("Content-Length: 12"), std::string::npos) << header;  // what a GET gets
    EXPECT_TRUE(exchange.response.substr(end + 4).starts_with("HTTP/1.1 502 "))
        << "after the HEAD's answer:\n"
        << exchange.response.substr(end + 4);
}

TEST_F(HostileUpstreamTest, ABodySentToHeadIsNeverTakenForTheNextAnswer) {
    start_gateway();
    const auto head = curl("alice", eas + "&headbody=1", {"--head"});
    EXPECT_NE(head.out.find("HTTP/1.1 200"), std::string::npos) << head.out << head.err;
    // Device connections take turns on the worker threads, each with its own pool: several more
    // requests give the pool that holds the connection the chance to hand it out.
    for (int i = 0; i < 3; ++i) {
        const auto next = eas + "&after=" + std::to_string(i);
        EXPECT_EQ(curl_report("alice", next)["target"], next);
    }
}

// Exchange's Connection header can't take the framing away from the body easgate relays.
TEST_F(HostileUpstreamTest, AResponseWhoseConnectionNamesContentLengthKeepsItsFraming) {
    start_gateway();
    const auto both =
        curl("alice", eas + "&connectionnamescl=1", {"--fail-with-body", gateway_url(eas + "&second=1")});
    EXPECT_EQ(both.exit_code, 0) << both.err;
    EXPECT_NE(both.out.find("connectionnamescl"), std::string::npos) << both.out;
    EXPECT_NE(both.out.find("second=1"), std::string::npos) << both.out;
}

// Interim 1xx answers are Exchange's business; a stream of them must not hold a request forever.
TEST_F(HostileUpstreamTest, InterimAnswersDoNotExtendUpstreamTimeout) {
    start_gateway({.limits = "    upstream_timeout: 2s\n"});
    const auto answer = curl("alice", eas + "&interim=12&interimms=500", {"--write-out", "%{http_code}"});
    EXPECT_NE(answer.out.find("504"), std::string::npos) << answer.out;
    EXPECT_NE(gateway_log().find("did not answer within limits.upstream_timeout (2s)"), std::string::npos)
        << gateway_log();
}

// Broken framing from Exchange can't be relayed: the device gets 503 (the request may have been
// processed, so it is not replayed), the log names what was wrong, and the connection is closed.
TEST_F(HostileUpstreamTest, BrokenFramingFromExchangeIsNamedAndItsConnectionClosed) {
    start_gateway();
    const std::pair<std::string, std::string> cases[] = {
        {"lengthandchunked", "bad Transfer-Encoding"},
        {"twolengths", "multiple Content-Length"},
        {"gziplength", "Transfer-Encoding: gzip; easgate relays only chunked"},
        {"chunkedgzip", "Transfer-Encoding: chunked, gzip; easgate relays only chunked"},
        {"garbage", "bad version"},
        {"switchingprotocols",
         "101 Switching Protocols, though no "
         "upgrade was asked for"},
        {"status600", "status 600, outside HTTP's 100-599"},
        {"status099", "status 99, outside HTTP's 100-599"}};
    for (const auto& [knob, fault] : cases) {
        const auto broken = eas + "&" + knob + "=1";
        const auto after = eas + "&after=" + knob;
        // One device connection (curl takes the URL in extra first): its next request must not be
        // sent where the broken answer came from.
        const auto answer = curl("alice", after, {"--include", "--data-binary", "mail", gateway_url(broken)});
        EXPECT_TRUE(answer.out.starts_with("HTTP/1.1 503 ")) << answer.out;
        EXPECT_NE(answer.out.find("Retry-After: 30\r\n"), std::string::npos) << answer.out;
        EXPECT_NE(answer.out.find("\"request_on_connection\":1,\"target\":\"" + after + "\""),
                  std::string::npos)
            << "the next request goes on a new connection:\n"
            << answer.out;
        EXPECT_NE(
            gateway_log().find("sent no valid response (request not replayed): malformed response header (" +
                               fault + ")"),
            std::string::npos)
            << gateway_log();
        EXPECT_EQ(deliveries(broken), 1u);
    }
}

// Exchange breaking off a response it had begun: the device has the status and part of the body,
// so only closing its connection can tell it; the log says why, and nothing is sent again.
TEST_F(HostileUpstreamTest, ExchangeBreakingOffItsResponseMidBodyClosesTheDeviceConnection) {
    start_gateway();
    for (const std::string ending : {"", "&rst=1"}) {
        const auto path = eas + "&cutbody=10" + ending;
        const auto before = gateway_log().size();
        const auto answer = curl("alice", path, {"--include", "--data-binary", "mail"});
        EXPECT_TRUE(answer.out.starts_with("HTTP/1.1 200 ")) << answer.out;
        EXPECT_EQ(answer.exit_code, 18) << "curl: partial transfer\n" << answer.err;
        const auto log = wait_for_gateway_log("broke off its response").substr(before);
        // The access log line: the status the device got, the part of the body it got, and why.
        EXPECT_NE(log.find("\"POST /Microsoft-Server-ActiveSync\" 200 "), std::string::npos) << log;
        EXPECT_NE(log.find("bytes_out=10 "), std::string::npos) << log;
        EXPECT_NE(log.find("reason=\"upstream https://localhost:"), std::string::npos) << log;
        EXPECT_EQ(deliveries(path), 1u);
    }
}

// An HTTP/1.0 device knows the end of a chunked answer only by the close: when Exchange breaks off,
// the device's connection ends without a TLS close_notify, so it can tell a cut answer from a whole
// one. A whole one ends with close_notify.
TEST_F(HostileUpstreamTest, ACutAnswerToAnHttp10DeviceEndsWithoutCloseNotify) {
    start_gateway();
    const auto cut = send("GET " + eas + "&cutbody=10&chunked=1 HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(cut.response.starts_with("HTTP/1.0 200 ")) << cut.response;
    EXPECT_TRUE(cut.closed) << cut.response;
    EXPECT_FALSE(cut.close_notify) << cut.response;
    const auto whole = send("GET " + eas + "&download=1&bytes=5000&chunked=1 HTTP/1.0\r\n\r\n");
    EXPECT_TRUE(whole.response.starts_with("HTTP/1.0 200 ")) << whole.response.substr(0, 200);
    EXPECT_TRUE(whole.closed);
    EXPECT_TRUE(whole.close_notify);
}

// Exchange's side of the bound on a chunk-size line. Nothing of the answer had gone to the device
// (its header goes with the body's first bytes), so the device gets 502 rather than a closed
// connection, and the log says why.
TEST_F(HostileUpstreamTest, ExchangeSendingAnEndlessChunkLineIsCutOffAtTheHeaderLimit) {
    start_gateway();
    const auto answer = curl("alice", eas + "&endlesschunkline=1", {"--include", "--max-time", "10"});
    EXPECT_TRUE(answer.out.starts_with("HTTP/1.1 502 ")) << answer.out << answer.err;
    EXPECT_NE(
        wait_for_gateway_log("broke off its response: a chunk-size line or its trailer section is longer "
                             "than 64KiB"),
        "")
        << gateway_log();
}

// Exchange took the whole POST and then closed or reset the connection without a word: it may
// have sent the mail, so the device gets 503 and Retry-After, and the request is never sent again,
// not even on a fresh connection after a kept-alive one it arrived on.
TEST_F(HostileUpstreamTest, ExchangeEndingTheConnectionBeforeAnsweringAPostIsNotReplayed) {
    start_gateway();
    for (const std::string ending : {"", "&rst=1"}) {
        const auto path = eas + "&hangup=1" + ending;
        // After a first request, so that the POST goes on a kept-alive connection (curl takes the
        // URL in extra first): the one where retrying on a fresh connection is at times safe.
        const auto answer =
            curl("alice", path, {"--include", "--data-binary", "mail", gateway_url(eas + "&warm=1")});
        EXPECT_NE(answer.out.find("\"request_on_connection\":1,"), std::string::npos) << answer.out;
        EXPECT_NE(answer.out.find("HTTP/1.1 503 "), std::string::npos) << answer.out;
        EXPECT_NE(answer.out.find("Retry-After: 30\r\n"), std::string::npos) << answer.out;
        EXPECT_EQ(deliveries(path), 1u);
    }
    EXPECT_EQ(count_of(gateway_log(), "sent no valid response (request not replayed)"), 2u) << gateway_log();
    EXPECT_EQ(gateway_log().find("sending the request on a new one"), std::string::npos) << gateway_log();
}

// An Exchange that takes the request and never answers: 504 at limits.upstream_timeout.
TEST_F(HostileUpstreamTest, ExchangeNeverAnsweringGets504AtUpstreamTimeout) {
    start_gateway({.limits = "    upstream_timeout: 2s\n"});
    const auto path = eas + "&delayms=30000";
    const auto started = std::chrono::steady_clock::now();
    const auto answer = curl("alice", path, {"--data-binary", "mail", "--write-out", "%{http_code}"});
    EXPECT_TRUE(answer.out.ends_with("504")) << answer.out;
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_NE(gateway_log().find("did not answer within limits.upstream_timeout (2s)"), std::string::npos)
        << gateway_log();
    EXPECT_EQ(deliveries(path), 1u);
}

// A connection whose request Exchange refused with 401 is closed, not pooled: the next request
// must not travel on a connection whose authentication state is unknown.
TEST_F(HostileUpstreamTest, AConnectionThatAnswered401IsNotReused) {
    start_gateway({.upstream = "    authenticate: per_connection\n"});
    const auto refused = curl("alice", eas + "&status=401", {"--write-out", "%{http_code}"});
    EXPECT_NE(refused.out.find("401"), std::string::npos) << refused.out;
    const auto refused_report = nlohmann::json::parse(refused.out.substr(0, refused.out.rfind('}') + 1));
    // Device connections take turns on the worker threads, each with its own pool: four more
    // requests give each worker's pool the chance to hand the refused connection out again.
    std::set<unsigned> connections;
    for (int i = 0; i < 4; ++i) {
        const unsigned connection = curl_report("alice", eas + "&after=" + std::to_string(i))["connection"];
        EXPECT_NE(connection, refused_report["connection"]);
        connections.insert(connection);
    }
    EXPECT_LT(connections.size(), 4u) << "ordinary answers' connections are pooled and reused";
    // Without a kerberos: section, the log blames no Kerberos ticket.
    EXPECT_NE(gateway_log().find("answered 401 (WWW-Authenticate offers nothing): easgate sends Exchange no "
                                 "credentials: it has no kerberos: section"),
              std::string::npos)
        << gateway_log();
}

// A chunked body's size shows only as it comes: past max_request_body while streaming to Exchange,
// the device gets 413 (not a bare close) and Exchange's connection is closed mid-request.
TEST_F(HostileUpstreamTest, AChunkedBodyOverMaxRequestBodyWhileStreamingGets413) {
    start_gateway({.limits = "    upload_read_ahead: 16KiB\n    max_request_body: 64KiB\n"});
    const auto file = work_dir() / "big.bin";
    write_file(file, std::string(256 * 1024, 'm'));
    const auto answer = curl("alice", eas,
                             {"--data-binary", "@" + file.string(), "-H", "Transfer-Encoding: chunked",
                              "--write-out", "%{http_code}"});
    EXPECT_NE(answer.out.find("413"), std::string::npos) << answer.out << answer.err;
    EXPECT_NE(gateway_log().find("413 "), std::string::npos) << gateway_log();
    EXPECT_NE(gateway_log().find("exceeds limits.max_request_body"), std::string::npos) << gateway_log();
}

// A device that goes away in the middle of its body is logged, streaming or read ahead alike.
TEST_F(HostileUpstreamTest, ADeviceThatLeavesMidBodyIsLogged) {
    start_gateway({.limits = "    upload_read_ahead: 16KiB\n"});
    std::size_t logged = 0;
    for (const std::size_t sent : {8 * 1024, 100 * 1024}) {
        const auto before = gateway_log().size();
        send("POST " + eas + "&sent=" + std::to_string(sent) +
                 " HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000000\r\n\r\n" + std::string(sent, 'b'),
             std::chrono::milliseconds(500));
        ++logged;
        for (int i = 0; i < 50 && count_of(gateway_log(), "went away while sending") < logged; ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_NE(gateway_log().substr(before).find("499"), std::string::npos)
            << gateway_log().substr(before);
        EXPECT_NE(gateway_log().substr(before).find("went away while sending its request body"),
                  std::string::npos)
            << sent << ":\n"
            << gateway_log().substr(before);
    }
}

// A held Ping whose phone pipelined a byte (the start of its next request) still notices the phone
// leaving, and cancels the long poll at once.
TEST_F(HostileUpstreamTest, AHeldPingNoticesThePhoneLeavingAfterItPipelinedAByte) {
    start_gateway();
    const std::string ping(
        "\x03\x01\x6a\x00\x00\x0d\x45\x48\x03"
        "90\x00\x01\x01",
        14);
    send(
        "POST "
        "/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=EASGATETEST01&DeviceType=TestDevice&delayms=8000 "
        "HTTP/1.1\r\nHost: gw\r\nContent-Length: 14\r\n\r\n" +
            ping + "P",
        std::chrono::seconds(1));
    const auto log = wait_for_text(work_dir() / "easgate.err", "the device left", std::chrono::seconds(5));
    EXPECT_NE(log.find("the device left; its long poll to"), std::string::npos) << gateway_log();
}

// A device cut off mid-header by a shutdown gets nothing forwarded, and the log says so.
TEST_F(HostileUpstreamTest, ShutdownWithHalfAHeaderReceivedIsLogged) {
    start_gateway({.limits = "    header_timeout: 30s\n"});
    // Connected and through the TLS handshake before the header is sent, so the signal finds it.
    DeviceConnection connection(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                                pki_dir() / "alice.key");
    std::thread device([&] {
        connection.exchange("GET " + eas + " HTTP/1.1\r\nHost: gw\r\n", 0, {}, std::chrono::seconds(10));
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    EXPECT_EQ(stop_gateway(), 0);
    device.join();
    EXPECT_NE(gateway_log().find("closed with an incomplete request header"), std::string::npos)
        << gateway_log();
    EXPECT_NE(gateway_log().find("easgate is shutting down"), std::string::npos) << gateway_log();
}

// Out of file descriptors is easgate's shortage: it says so with the remedy, answers 503 with
// Retry-After, and never leaves a healthy Exchange server out for it.
TEST_F(HostileUpstreamTest, RunningOutOfDescriptorsIsSaidAndNeverBlamedOnExchange) {
#if defined(EASGATE_TEST_SANITIZED)
    // UBSan's vptr check probes memory by writing it to a pipe: out of descriptors, that fails and
    // it reports every virtual call as a bad one.
    GTEST_SKIP() << "not under the sanitizers, which need descriptors of their own";
#endif
    start_gateway();
    const auto pid = gateway_pid();
    const auto original = run_command(
        {"prlimit", "--pid", std::to_string(pid), "--nofile", "--noheadings", "--output", "SOFT"});
    ASSERT_EQ(original.exit_code, 0) << original.err;
    const auto soft_limit = original.out.substr(0, original.out.find_first_of(" \n"));
    const auto limit = std::to_string(first_free_descriptor(pid) + 1);
    ASSERT_EQ(run_command({"prlimit", "--pid", std::to_string(pid), "--nofile=" + limit + ":"}).exit_code, 0);
    // (A connection may also be refused at accept: then the device sees nothing at all.)
    int refused_with_503 = 0;
    for (int i = 0; i < 5; ++i) {
        const auto answer = curl("alice", eas + "&try=" + std::to_string(i), {"--include"});
        EXPECT_EQ(answer.out.find("HTTP/1.1 502"), std::string::npos) << answer.out;
        if (answer.out.starts_with("HTTP/1.1 503")) {
            ++refused_with_503;
            EXPECT_NE(answer.out.find("Retry-After"), std::string::npos) << answer.out;
        }
    }
    EXPECT_GE(refused_with_503, 3);
    EXPECT_NE(gateway_log().find("too many open files"), std::string::npos) << gateway_log();
    EXPECT_NE(gateway_log().find("LimitNOFILE"), std::string::npos) << gateway_log();
    EXPECT_EQ(gateway_log().find("left out"), std::string::npos) << gateway_log();
    ASSERT_EQ(
        run_command({"prlimit", "--pid", std::to_string(pid), "--nofile=" + soft_limit + ":"}).exit_code, 0);
    EXPECT_EQ(curl_report("alice", eas + "&after=1")["target"], eas + "&after=1");
}

}  // namespace
}  // namespace easgate::testing
