// Requests whose framing two HTTP implementations could read differently (request smuggling)
// are refused with 400 and the connection closed; nothing of them reaches Exchange.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"

namespace easgate::testing {
namespace {

const std::string request_line =
    "POST /Microsoft-Server-ActiveSync?Cmd=SendMail&DeviceId=EASGATETEST01&DeviceType=TestDevice "
    "HTTP/1.1\r\n";

class RequestFramingTest : public GatewayTest {
protected:
    RawExchange send(const std::string& request) {
        return send_raw(gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem",
                        pki_dir() / "alice.key", request);
    }

    // Each request on a connection of its own, all at once: easgate lingers on a connection it
    // refused before reading the body (up to 2 s, so that the device reads its answer rather than
    // a reset), and one after another the cases spent that much each.
    std::vector<RawExchange> send_each(const std::vector<std::string>& requests) {
        std::vector<std::future<RawExchange>> pending;
        for (const auto& request : requests)
            pending.push_back(std::async(std::launch::async, [this, &request] { return send(request); }));
        std::vector<RawExchange> exchanges;
        for (auto& exchange : pending) exchanges.push_back(exchange.get());
        return exchanges;
    }

    // The gateway's log once needle is in it times times, or after 20 s.
    std::string log_with(const std::string& needle, std::size_t times) const {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (count_of(gateway_log(), needle) < times && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return gateway_log();
    }
};

struct SmugglingCase {
    const char* name;
    std::string request;
    const char* logged;  // what the gateway's log line says
};

TEST_F(RequestFramingTest, AmbiguousFramingIsRefusedWith400AndTheConnectionClosed) {
    start_gateway();
    const std::vector<SmugglingCase> cases = {
        {"Content-Length then chunked",
         request_line + "Host: gw\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "400 "},
        {"chunked then Content-Length",
         request_line + "Host: gw\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
         "400 "},
        {"another coding with Content-Length",
         request_line + "Host: gw\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
         "both Content-Length and Transfer-Encoding"},
        {"a coding list", request_line + "Host: gw\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
         "Transfer-Encoding other than chunked"},
        {"the same Content-Length twice",
         request_line + "Host: gw\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
         "more than one Content-Length"},
        {"a Content-Length list", request_line + "Host: gw\r\nContent-Length: 5, 5\r\n\r\nhello",
         "more than one Content-Length"},
        {"conflicting Content-Lengths",
         request_line + "Host: gw\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "400 "},
        {"chunked in HTTP/1.0",
         request_line.substr(0, request_line.size() - 5) +
             "1.0\r\nHost: gw\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         "Transfer-Encoding in an HTTP/1.0 request"},
        {"a bad chunk size",
         request_line + "Host: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
         "malformed request body"},
        {"absolute-form target",
         "POST https://mail.example.test/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=A&DeviceType=B "
         "HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n",
         "request-target is not an absolute path"},
        {"no Host", request_line + "Content-Length: 0\r\n\r\n", "exactly one Host"},
        {"two Hosts", request_line + "Host: gw\r\nHost: other\r\nContent-Length: 0\r\n\r\n",
         "more than one Host"},
        {"two Hosts in HTTP/1.0",
         request_line.substr(0, request_line.size() - 5) +
             "1.0\r\nHost: gw\r\nHost: other\r\nContent-Length: 0\r\n\r\n",
         "more than one Host"},
        {"a Host that is no host name", request_line + "Host: a b@c/\"d\r\nContent-Length: 0\r\n\r\n",
         "Host is not a host name or address"},
        {"a Host with a user and a path",
         request_line + "Host: evil.example:1@x/y?z#\r\nContent-Length: 0\r\n\r\n",
         "Host is not a host name or address"},
    };
    std::vector<std::string> requests;
    for (const auto& c : cases) requests.push_back(c.request);
    const auto exchanges = send_each(requests);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const std::string name = cases[i].name;
        const std::string logged = cases[i].logged;
        const auto& exchange = exchanges[i];
        EXPECT_TRUE(exchange.response.starts_with("HTTP/1.") && exchange.response.substr(8, 5) == " 400 ")
            << name << ":\n"
            << exchange.response;
        EXPECT_TRUE(exchange.closed) << name;
        // As many lines saying it as cases expecting it.
        const auto expected =
            std::count_if(cases.begin(), cases.end(),
                          [&logged](const SmugglingCase& other) { return other.logged == logged; });
        EXPECT_GE(count_of(log_with(logged, expected), logged), static_cast<std::size_t>(expected))
            << name << ":\n"
            << gateway_log();
    }
    EXPECT_EQ(gateway_log().find(" server=https://"), std::string::npos)
        << "no smuggled request may be answered by Exchange:\n"
        << gateway_log();
}

// Beast would join folded lines silently; a front end that reads them differently from IIS is how
// requests are smuggled, so they are refused, as nginx does.
TEST_F(RequestFramingTest, ObsoleteLineFoldingIsRefusedWith400) {
    start_gateway();
    const auto exchange =
        send(request_line + "Host: gw\r\nX-Folded: first\r\n  second\r\nContent-Length: 2\r\n\r\nhi");
    EXPECT_TRUE(exchange.response.starts_with("HTTP/1.1 400 ")) << exchange.response;
    EXPECT_TRUE(exchange.closed);
    EXPECT_NE(gateway_log().find("400 obsolete line folding"), std::string::npos) << gateway_log();
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 0u);
    // The same request unfolded is served.
    const auto plain =
        send(request_line +
             "Host: gw\r\nX-Folded: first second\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi");
    EXPECT_TRUE(plain.response.starts_with("HTTP/1.1 200 ")) << plain.response;
}

// A device that names a field easgate decides in Connection asks easgate to drop it: Content-Length
// (its body would go on unframed and be read by Exchange as further requests), Authorization
// (easgate's token), Host or the forwarding fields; or a field the policy judges (User-Agent, the
// ActiveSync version and policy key), which Exchange would then not see. Refused, never obeyed.
TEST_F(RequestFramingTest, ConnectionNamingAFieldEasgateDecidesIsRefusedWith400) {
    start_gateway({.limits = "    upload_read_ahead: 16\n"});
    const std::string smuggled =
        "GET /Microsoft-Server-ActiveSync?Cmd=Smuggled&DeviceId=EASGATETEST01&DeviceType=TestDevice "
        "HTTP/1.1\r\nHost: mail\r\n\r\n";
    const std::string body = std::string(32, 'x') + smuggled;
    const std::vector<std::string> named = {
        "Content-Length", "content-length, keep-alive", "Transfer-Encoding", "Host",
        "Authorization",  "X-Forwarded-Host",           "X-Forwarded-For",   "Forwarded",
        "User-Agent",     "MS-ASProtocolVersion",       "X-MS-PolicyKey"};
    std::vector<std::string> requests;
    for (const auto& field : named)
        requests.push_back(request_line + "Host: gw\r\nConnection: " + field +
                           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    const auto exchanges = send_each(requests);
    for (std::size_t i = 0; i < named.size(); ++i) {
        EXPECT_TRUE(exchanges[i].response.starts_with("HTTP/1.1 400 ")) << named[i] << ":\n"
                                                                        << exchanges[i].response;
        EXPECT_TRUE(exchanges[i].closed) << named[i];
    }
    // A line for each, naming the field.
    const auto log = log_with("Connection names", named.size());
    EXPECT_EQ(count_of(log, "Connection names"), named.size()) << log;
    for (const auto& field : named)
        EXPECT_NE(log.find("Connection names " + field.substr(0, field.find(',')) + ","), std::string::npos)
            << field << ":\n"
            << log;
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 0u)
        << read_file(work_dir() / "upstream-0.out");
    // Naming fields of its own is the device's right: they go, the request is served.
    const auto plain = send(request_line +
                            "Host: gw\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\nX-Kept: 2\r\n"
                            "Content-Length: 2\r\nConnection: close\r\n\r\nhi");
    EXPECT_TRUE(plain.response.starts_with("HTTP/1.1 200 ")) << plain.response;
    EXPECT_EQ(plain.response.find("X-Private"), std::string::npos) << plain.response;
    EXPECT_NE(plain.response.find("X-Kept"), std::string::npos) << plain.response;
    EXPECT_TRUE(plain.closed) << "a Connection field saying close, after one saying keep-alive: "
                              << plain.response;
}

// The policy reads one User-Agent or ActiveSync version; Exchange would read both, joined. A device
// that sends one of those fields twice is refused, and nothing reaches Exchange.
TEST_F(RequestFramingTest, AFieldThePolicyJudgesSentTwiceIsRefusedWith400) {
    start_gateway();
    const std::vector<std::string> twice = {"User-Agent: Apple-iPhone/2101\r\nUser-Agent: Blocked/1.0\r\n",
                                            "MS-ASProtocolVersion: 16.1\r\nms-asprotocolversion: 12.1\r\n",
                                            "X-MS-PolicyKey: 1\r\nX-MS-PolicyKey: 2\r\n"};
    std::vector<std::string> requests;
    for (const auto& fields : twice)
        requests.push_back(request_line + "Host: gw\r\n" + fields + "Content-Length: 0\r\n\r\n");
    // Off ActiveSync's path only User-Agent is judged: repeated behind a field that means nothing there.
    requests.push_back("POST /autodiscover/autodiscover.xml HTTP/1.1\r\nHost: gw\r\n" + twice[2] + twice[0] +
                       "Content-Length: 0\r\n\r\n");
    const auto exchanges = send_each(requests);
    for (std::size_t i = 0; i < requests.size(); ++i)
        EXPECT_TRUE(exchanges[i].response.starts_with("HTTP/1.1 400 "))
            << requests[i] << exchanges[i].response;
    const auto log = log_with("header sent more than once", requests.size());
    EXPECT_EQ(count_of(log, "User-Agent header sent more than once"), 2u) << log;
    for (const char* name : {"User-Agent", "MS-ASProtocolVersion", "X-MS-PolicyKey"})
        EXPECT_NE(log.find(std::string(name) + " header sent more than once"), std::string::npos) << log;
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 0u)
        << read_file(work_dir() / "upstream-0.out");
}

// easgate speaks HTTP/1.0 and 1.1 (400 otherwise: Beast's parser reads no other version), and
// relays neither TRACE (Exchange would echo easgate's Authorization) nor CONNECT (501); nor, to
// ActiveSync, other than GET, POST, OPTIONS and HEAD (405), "trace" in lower case among them.
TEST_F(RequestFramingTest, OnlyHttp10And11AndNeitherTraceNorConnectAreRelayed) {
    start_gateway();
    const std::string target =
        "/Microsoft-Server-ActiveSync?Cmd=FolderSync&DeviceId=EASGATETEST01&DeviceType=TestDevice";
    struct Case {
        std::string request, answer;
    };
    const std::vector<Case> cases = {
        {"GET " + target + " HTTP/2.0\r\nHost: gw\r\n\r\n", "HTTP/1.1 400 "},
        {"GET " + target + " HTTP/0.9\r\nHost: gw\r\n\r\n", "HTTP/1.1 400 "},
        {"TRACE " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 501 "},
        {"CONNECT " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 501 "},
        {"trace " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 405 "},
        {"TRACK " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 405 "},
        {"PUT " + target + " HTTP/1.1\r\nHost: gw\r\nContent-Length: 1\r\n\r\nx", "HTTP/1.1 405 "},
        {"PROPFIND " + target + " HTTP/1.1\r\nHost: gw\r\n\r\n", "HTTP/1.1 405 "},
        {"GET " + target + " HTTP/1.0\r\n\r\n", "HTTP/1.0 200 "}};
    std::vector<std::string> requests;
    for (const auto& each : cases) requests.push_back(each.request);
    const auto exchanges = send_each(requests);
    for (std::size_t i = 0; i < cases.size(); ++i)
        EXPECT_TRUE(exchanges[i].response.starts_with(cases[i].answer))
            << cases[i].request << exchanges[i].response.substr(0, 200);
    for (std::size_t i = 0; i < cases.size(); ++i) {
        if (cases[i].answer != "HTTP/1.1 405 ") continue;
        EXPECT_NE(exchanges[i].response.find("\r\nAllow: GET, POST, OPTIONS, HEAD\r\n"), std::string::npos)
            << exchanges[i].response.substr(0, 300);
    }
    EXPECT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 1u)
        << read_file(work_dir() / "upstream-0.out");
}

// Beast refuses a header with bare LF line ends only once it is complete, and easgate waits for
// CRLF CRLF: without a check of its own, such a request waited for header_timeout.
TEST_F(RequestFramingTest, BareLineFeedsAreRefusedAtOnce) {
    start_gateway({.limits = "    header_timeout: 60s\n"});
    const auto exchange = send_raw(
        gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key",
        "GET /Microsoft-Server-ActiveSync?Cmd=Options HTTP/1.1\nHost: gw\n\n", std::chrono::seconds(10));
    EXPECT_TRUE(exchange.response.starts_with("HTTP/1.1 400 ")) << exchange.response;
    EXPECT_TRUE(exchange.closed);
    EXPECT_NE(gateway_log().find("400 malformed request: bad line ending"), std::string::npos)
        << gateway_log();
}

// RFC 9112 2.2: an empty line before a request line is ignored, not a malformed request; a flood
// of them is held to limits.max_header_bytes.
TEST_F(RequestFramingTest, EmptyLinesBeforeARequestLineAreIgnored) {
    start_gateway();
    const auto exchange =
        send("\r\n" + request_line + "Host: gw\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n" + request_line +
             "Host: gw\r\nContent-Length: 3\r\nConnection: close\r\n\r\nxyz");
    EXPECT_EQ(count_of(exchange.response, "HTTP/1.1 200 "), 2u) << exchange.response;
    EXPECT_EQ(exchange.response.find(" 400 "), std::string::npos) << exchange.response;

    std::string empty_lines;
    for (int i = 0; i < 32 * 1024; ++i) empty_lines += "\r\n";  // 64 KiB: over the 32KiB default
    const auto flood = send(empty_lines);
    EXPECT_TRUE(flood.response.starts_with("HTTP/1.1 431 ")) << flood.response.substr(0, 200);
}

// Beast merges a chunked body's trailer fields into the header; read ahead, they would reach
// Exchange as header fields.
TEST_F(RequestFramingTest, TrailerFieldsNeverReachExchange) {
    start_gateway();
    const auto exchange =
        send(request_line +
             "Host: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
             "5\r\nhello\r\n0\r\nX-Trailer-Test: 1\r\nAuthorization: Basic bWFsbG9yeQ==\r\n\r\n");
    ASSERT_TRUE(exchange.response.starts_with("HTTP/1.1 200 ")) << exchange.response;
    EXPECT_NE(exchange.response.find("\"body_length\":5"), std::string::npos) << exchange.response;
    EXPECT_EQ(exchange.response.find("X-Trailer-Test"), std::string::npos) << exchange.response;
    EXPECT_EQ(exchange.response.find("bWFsbG9yeQ"), std::string::npos) << exchange.response;
}

// The same with the device's own Authorization in its header, which certificate mode removes before
// the body is read: only the trailer fields go, the device's header fields all reach Exchange.
TEST_F(RequestFramingTest, TrailersAreCutAfterTheDevicesAuthorizationIsRemoved) {
    start_gateway();
    const auto exchange =
        send(request_line +
             "Host: gw\r\nAuthorization: Basic YWxpY2U6cHc=\r\nMS-ASProtocolVersion: 16.1\r\n"
             "Transfer-Encoding: chunked\r\nX-Before-Body: kept\r\nConnection: close\r\n\r\n"
             "5\r\nhello\r\n0\r\nX-Trailer-Test: 1\r\n\r\n");
    ASSERT_TRUE(exchange.response.starts_with("HTTP/1.1 200 ")) << exchange.response;
    EXPECT_NE(exchange.response.find("\"MS-ASProtocolVersion\":\"16.1\""), std::string::npos)
        << exchange.response;
    EXPECT_NE(exchange.response.find("\"X-Before-Body\":\"kept\""), std::string::npos) << exchange.response;
    EXPECT_EQ(exchange.response.find("X-Trailer-Test"), std::string::npos) << exchange.response;
    EXPECT_EQ(exchange.response.find("YWxpY2U6cHc"), std::string::npos) << exchange.response;
}

// Beast's parser limits neither a chunk-size line (with its extensions) nor a trailer section: a
// device sending one that never ends would have easgate buffer it for as long as the read timer
// allows, a gigabyte a minute on a fast link. Each is held to limits.max_header_bytes and one read
// (the most the read buffer takes at once: 64 KiB).
TEST_F(RequestFramingTest, AChunkLineOrTrailerLongerThanAHeaderIsRefused) {
    start_gateway();
    const std::string endless(1 << 20, 'a');  // 1 MiB, no line end
    for (const std::string& body : {"1;" + endless, "5\r\nhello\r\n0\r\nX-Trailer: " + endless}) {
        const auto exchange =
            send(request_line + "Host: gw\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body);
        EXPECT_TRUE(exchange.response.starts_with("HTTP/1.1 400 ")) << exchange.response.substr(0, 300);
    }
    const auto log = gateway_log();
    EXPECT_EQ(count_of(log,
                       "a chunk-size line or the trailer section of the request body is longer than "
                       "limits.max_header_bytes (32KiB) and one read (64KiB)"),
              2u)
        << log;
}

// A device that asks for 100 Continue gets it before it sends its body, wherever the expectation
// stands in Expect's list (several fields are one list); an HTTP/1.0 device knows no interim
// answers (it would take the 100 for the answer), so its expectation is ignored.
TEST_F(RequestFramingTest, OnlyAnHttp11DeviceGets100Continue) {
    start_gateway();
    struct Case {
        std::string version, expect;
        bool gets_continue;
    };
    for (const auto& [version, expect, gets_continue] :
         {Case{"1.1", "Expect: 100-continue\r\n", true}, Case{"1.0", "Expect: 100-continue\r\n", false},
          Case{"1.1", "Expect: 100-Continue\r\n", true},
          Case{"1.1", "Expect: x-later, 100-continue\r\n", true},
          Case{"1.1", "Expect: x-later\r\nX-Device: 1\r\nExpect: 100-continue\r\n", true},
          Case{"1.1", "Expect: x-later\r\n", false}}) {
        const auto upload = upload_paced(
            gateway_port(), pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key",
            request_line.substr(0, request_line.size() - 5) + version + "\r\nHost: gw\r\n" + expect +
                "Content-Length: 32768\r\nConnection: close\r\n\r\n",
            32768, std::chrono::milliseconds(300));
        const std::string answer = "HTTP/" + version + " 200 ";
        EXPECT_TRUE(
            upload.response.starts_with(gets_continue ? "HTTP/1.1 100 Continue\r\n\r\n" + answer : answer))
            << expect << upload.response.substr(0, 200);
        EXPECT_NE(upload.response.find("\"body_length\":32768"), std::string::npos)
            << upload.response.substr(0, 400);
    }
}

// An HTTP/1.0 device knows no chunked coding: a chunked (or unframed) answer from Exchange is sent
// as its plain bytes, ended by closing the connection.
TEST_F(RequestFramingTest, AnHttp10DeviceNeverGetsChunked) {
    start_gateway();
    const auto exchange = send(
        "GET /Microsoft-Server-ActiveSync?Cmd=Options&DeviceId=EASGATETEST01&"
        "DeviceType=TestDevice&download=1&bytes=5000&chunked=1 HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(exchange.response.starts_with("HTTP/1.0 200 ")) << exchange.response.substr(0, 300);
    const auto header_end = exchange.response.find("\r\n\r\n");
    ASSERT_NE(header_end, std::string::npos);
    const auto header = exchange.response.substr(0, header_end);
    EXPECT_EQ(header.find("chunked"), std::string::npos) << header;
    EXPECT_EQ(exchange.response.size() - header_end - 4, 5000u) << header;
    EXPECT_TRUE(exchange.closed);
}

}  // namespace
}  // namespace easgate::testing
