// The operators' endpoint (admin.listen): health and Prometheus metrics over plain HTTP.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "gateway_fixture.hpp"

namespace easgate::testing {
namespace {

class AdminEndpointTest : public GatewayTest {
protected:
    // Status line and headers, then the body, as curl --include prints them.
    static CommandResult get(const std::string& url, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{"curl", "--silent", "--show-error", "--include", "--max-time", "10"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(url);
        return run_command(argv);
    }
};

// Out of descriptors, accepting fails again at once while a health check waits in the backlog: the
// admin endpoint pauses and logs once a second, as the device listeners do, instead of spinning on
// the accept thread (which also accepts devices and handles signals) and filling the disk.
TEST_F(AdminEndpointTest, OutOfDescriptorsTheAdminEndpointBacksOff) {
#if defined(EASGATE_TEST_SANITIZED)
    GTEST_SKIP() << "not under the sanitizers, which need descriptors of their own";
#endif
    start_gateway();
    const auto pid = std::to_string(gateway_pid());
    const auto original =
        run_command({"prlimit", "--pid", pid, "--nofile", "--noheadings", "--output", "SOFT"});
    ASSERT_EQ(original.exit_code, 0) << original.err;
    const auto soft_limit = original.out.substr(0, original.out.find_first_of(" \n"));
    const auto limit = std::to_string(first_free_descriptor(gateway_pid()));
    ASSERT_EQ(run_command({"prlimit", "--pid", pid, "--nofile=" + limit + ":"}).exit_code, 0);
    EXPECT_NE(get(admin_url("/healthz"), {"--max-time", "2"}).exit_code, 0) << "no descriptor to answer with";
    ASSERT_EQ(run_command({"prlimit", "--pid", pid, "--nofile=" + soft_limit + ":"}).exit_code, 0);
    const auto failures = count_of(gateway_log(), "admin: accepting a connection failed");
    EXPECT_GE(failures, 1u) << gateway_log();
    EXPECT_LE(failures, 4u) << "logged once a second at most";
    EXPECT_NE(gateway_log().find("admin: accepting a connection failed: too many open files"),
              std::string::npos)
        << gateway_log();
    EXPECT_EQ(get(admin_url("/healthz")).exit_code, 0) << "serves again";
}

TEST_F(AdminEndpointTest, HealthzAnswersOk) {
    start_gateway();
    const auto result = get(admin_url("/healthz"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("HTTP/1.1 200 OK\r\n")) << result.out;
    EXPECT_TRUE(result.out.ends_with("\r\n\r\nok\n")) << result.out;
}

// HEAD gets the header a GET gets, its Content-Length included, and no body (RFC 9110 9.3.2).
TEST_F(AdminEndpointTest, HeadGetsTheHeaderWithoutTheBody) {
    start_gateway();
    const std::string base = admin_url("");
    const auto port = static_cast<unsigned short>(std::stoi(base.substr(base.rfind(':') + 1)));
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::write(socket,
                       boost::asio::buffer(std::string("HEAD /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")));
    std::string answer;
    boost::system::error_code ec;
    char chunk[1024];
    while (!ec) answer.append(chunk, socket.read_some(boost::asio::buffer(chunk), ec));
    EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer;
    EXPECT_NE(answer.find("Content-Length: 3\r\n"), std::string::npos) << answer;
    EXPECT_TRUE(answer.ends_with("\r\n\r\n")) << answer;
}

// A flood of idle connections to the admin port holds at most 64 descriptors, and can't keep a
// monitor out: each connection beyond them takes the place of the oldest that sent no request.
TEST_F(AdminEndpointTest, IdleConnectionsBeyondTheBoundMakeRoomForAMonitor) {
    start_gateway();
    const std::string base = admin_url("");
    const auto port = static_cast<unsigned short>(std::stoi(base.substr(base.rfind(':') + 1)));
    boost::asio::io_context io;
    std::vector<boost::asio::ip::tcp::socket> idle;
    for (int i = 0; i < 70; ++i) {  // each waits for a header that never comes
        idle.emplace_back(io);
        idle.back().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }
    for (int monitor = 0; monitor < 3; ++monitor) {
        const auto served = get(admin_url("/healthz"));
        EXPECT_TRUE(served.out.starts_with("HTTP/1.1 200 ")) << monitor << served.out << served.err;
    }
    EXPECT_FALSE(wait_for_gateway_log("closing the oldest one that has sent no request yet").empty())
        << gateway_log();
    // The oldest idle ones were closed (the server's end: a read sees the end of the stream), the
    // newest are still open: never more than 64 at once.
    std::size_t closed = 0;
    for (auto& socket : idle) {
        socket.non_blocking(true);
        char byte = 0;
        boost::system::error_code error;
        socket.read_some(boost::asio::buffer(&byte, 1), error);
        if (error == boost::asio::error::eof || error == boost::asio::error::connection_reset) ++closed;
    }
    EXPECT_GE(closed, 70u - 64) << "at most 64 open";
    EXPECT_LT(closed, 70u) << "the newest wait on";
}

TEST_F(AdminEndpointTest, MetricsUseThePrometheusTextFormat) {
    start_gateway();
    const auto result = get(admin_url("/metrics"));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_TRUE(result.out.starts_with("HTTP/1.1 200 OK\r\n")) << result.out;
    EXPECT_NE(result.out.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
              std::string::npos)
        << result.out;
}

TEST_F(AdminEndpointTest, UnknownPathsAndMethodsAreRefused) {
    start_gateway();
    EXPECT_TRUE(get(admin_url("/Microsoft-Server-ActiveSync")).out.starts_with("HTTP/1.1 404 ")) << "path";
    EXPECT_TRUE(get(admin_url("/healthz"), {"--data", "x"}).out.starts_with("HTTP/1.1 405 ")) << "method";
}

// /readyz is for load balancers: 503 with every reason while no Exchange server can be had.
TEST_F(AdminEndpointTest, ReadyzFollowsTheUpstreamsHealthChecks) {
    const auto url = start_upstream("server");
    start_gateway({.upstream_url = url, .upstream = "    health_check: {interval: 200ms, timeout: 200ms}\n"});
    auto ready = get(admin_url("/readyz"));
    EXPECT_TRUE(ready.out.starts_with("HTTP/1.1 200 OK\r\n")) << ready.out;
    EXPECT_TRUE(ready.out.ends_with("\r\n\r\n{\"ready\":true}\n")) << ready.out;

    write_file(work_dir() / "upstream-0.sick", "");
    ASSERT_FALSE(wait_for_gateway_log("failed its health check").empty()) << gateway_log();
    const auto not_ready = get(admin_url("/readyz"));
    EXPECT_TRUE(not_ready.out.starts_with("HTTP/1.1 503 ")) << not_ready.out;
    EXPECT_NE(not_ready.out.find("Content-Type: application/json"), std::string::npos) << not_ready.out;
    const auto body = nlohmann::json::parse(not_ready.out.substr(not_ready.out.find("\r\n\r\n") + 4));
    EXPECT_EQ(body["ready"], false);
    ASSERT_EQ(body["reasons"].size(), 1u) << body;
    EXPECT_EQ(body["reasons"][0],
              "upstream exchange: every server is failing its health check or resting after failures");
    EXPECT_TRUE(get(admin_url("/healthz")).out.starts_with("HTTP/1.1 200 ")) << "the process itself is fine";

    std::filesystem::remove(work_dir() / "upstream-0.sick");
    ASSERT_FALSE(wait_for_gateway_log("passes its health check again").empty()) << gateway_log();
    ready = get(admin_url("/readyz"));
    EXPECT_TRUE(ready.out.starts_with("HTTP/1.1 200 OK\r\n")) << ready.out;
}

// A directory that doesn't answer makes the node unready for a while (directory outage_memory).
TEST_F(AdminEndpointTest, ReadyzNamesADirectoryThatDoesNotAnswer) {
    const auto silent = free_tcp_port();  // nothing listens: connections are refused at once
    const auto url = start_upstream("server");
    write_file(work_dir() / "ldap-password", "x");
    start_gateway({.upstream_url = url,
                   .sections = "directory:\n  uris: [ldaps://127.0.0.1:" + std::to_string(silent) +
                               "]\n  base_dn: DC=example,DC=test\n  timeout: 1s\n  ca_file: " +
                               (pki_dir() / "server-ca.pem").string() +
                               "\n  bind: {method: simple, dn: CN=x, password_file: " +
                               (work_dir() / "ldap-password").string() + "}\n"});
    EXPECT_TRUE(get(admin_url("/readyz")).out.starts_with("HTTP/1.1 200 ")) << "no lookup has failed yet";

    const auto refused =
        curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=EASGATETEST01&DeviceType=TestDevice",
             {"--write-out", "\n%{http_code}"});
    EXPECT_TRUE(refused.out.ends_with("\n503")) << refused.out;
    const auto not_ready = get(admin_url("/readyz"));
    EXPECT_TRUE(not_ready.out.starts_with("HTTP/1.1 503 ")) << not_ready.out;
    EXPECT_NE(not_ready.out.find("\"directory: no directory server answered: ldaps://127.0.0.1:" +
                                 std::to_string(silent)),
              std::string::npos)
        << not_ready.out;
    EXPECT_TRUE(get(admin_url("/healthz")).out.starts_with("HTTP/1.1 200 ")) << "the process itself is fine";
}

}  // namespace
}  // namespace easgate::testing
