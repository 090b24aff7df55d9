// Requests whose framing two HTTP implementations could read differently (request smuggling)
// are refused with 400 and the connection closed; nothing of them reaches Exchange.
#include <gtest/gtest.h>

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
        {"a bad chunk size",
         request_line + "Host: gw\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
         "malformed request body"},
        {"absolute-form target",
         "POST https://mail.example.test/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=A&DeviceType=B "
         "HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n",
         "request-target is not an absolute path"},
        {"no Host", request_line + "Content-Length: 0\r\n\r\n", "exactly one Host"},
        {"two Hosts", request_line + "Host: gw\r\nHost: other\r\nContent-Length: 0\r\n\r\n",
         "exactly one Host"},
    };
    for (const auto& c : cases) {
        const auto before = gateway_log().size();
        const auto exchange = send(c.request);
        EXPECT_TRUE(exchange.response.starts_with("HTTP/1.1 400 ")) << c.name << ":\n" << exchange.response;
        EXPECT_TRUE(exchange.closed) << c.name;
        EXPECT_NE(wait_for_text(work_dir() / "easgate.err", c.logged).substr(before).find(c.logged),
                  std::string::npos)
            << c.name << ":\n"
            << gateway_log().substr(before);
    }
    EXPECT_EQ(gateway_log().find("upstream=exchange\n"), std::string::npos)
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

}  // namespace
}  // namespace easgate::testing
