// SIGHUP: easgate re-reads its configuration and every file it names; new connections use the
// result, open ones (held Pings too) are untouched, and a file that doesn't load changes nothing.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <future>
#include <thread>

#include "gateway_fixture.hpp"
#include "raw_device.hpp"
#include "test_pki.hpp"

namespace easgate::testing {
namespace {

// systemd's end of Type=notify: a datagram socket named by NOTIFY_SOCKET in easgate's environment.
class NotifySocket {
public:
    explicit NotifySocket(const std::filesystem::path& path) : fd_(::socket(AF_UNIX, SOCK_DGRAM, 0)) {
        sockaddr_un address{};
        address.sun_family = AF_UNIX;
        path.string().copy(address.sun_path, sizeof(address.sun_path) - 1);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0)
            ADD_FAILURE() << "bind " << path << ": " << std::strerror(errno);
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);  // inherited by the easgate the test starts
    }
    ~NotifySocket() {
        ::unsetenv("NOTIFY_SOCKET");
        ::close(fd_);
    }
    // The next message, or "" when none came within 5 s.
    std::string next() {
        pollfd ready{fd_, POLLIN, 0};
        if (::poll(&ready, 1, 5000) != 1) return "";
        char message[512];
        const auto length = ::recv(fd_, message, sizeof(message), 0);
        return length > 0 ? std::string(message, static_cast<std::size_t>(length)) : "";
    }

private:
    int fd_;
};

class ReloadTest : public GatewayTest {
protected:
    // Replaces the first `from` in the running configuration file with `to`.
    void edit_config(const std::string& from, const std::string& to) {
        const auto path = work_dir() / "easgate.yaml";
        auto yaml = read_file(path);
        const auto at = yaml.find(from);
        ASSERT_NE(at, std::string::npos) << from << " is not in\n" << yaml;
        yaml.replace(at, from.size(), to);
        write_file(path, yaml);
    }

    bool alice_gets_through() {
        const auto result = curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Sync" + device_query,
                                 {"--write-out", "\n%{http_code}"});
        return result.out.ends_with("\n200");
    }
};

TEST_F(ReloadTest, APingHeldAcrossAReloadCompletesWithExchangesAnswer) {
    start_gateway();
    const auto ping_file = work_dir() / "ping.wbxml";
    write_file(ping_file, std::string("\x03\x01\x6a\x00\x00\x0d\x45\x48\x03"
                                      "90\x00\x01\x01",
                                      14));
    auto ping = std::async(std::launch::async, [&] {
        return curl("alice", "/Microsoft-Server-ActiveSync?Cmd=Ping" + device_query + "&delayms=3000",
                    {"--data-binary", "@" + ping_file.string(), "--write-out", "\n%{http_code}"});
    });
    for (int i = 0; i < 100 && count_of(read_file(work_dir() / "upstream-0.out"), "request ") < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_EQ(count_of(read_file(work_dir() / "upstream-0.out"), "request "), 1u) << "the Ping is held";

    edit_config("    header_timeout: 5s\n", "    header_timeout: 6s\n");
    const auto logged = reload_gateway();
    EXPECT_NE(logged.find("reloaded "), std::string::npos) << logged;
    EXPECT_NE(logged.find("1 open connections keep the previous one"), std::string::npos) << logged;

    const auto result = ping.get();
    EXPECT_NE(result.out.find("Cmd=Ping"), std::string::npos) << "Exchange's own answer: " << result.out;
    EXPECT_TRUE(result.out.ends_with("\n200")) << result.out << result.err;
    EXPECT_TRUE(alice_gets_through()) << "new connections are served with the reloaded configuration";
    const auto figures = metrics();
    EXPECT_NE(figures.find("easgate_config_reloads_total{result=\"success\"} 1\n"), std::string::npos)
        << figures;
    EXPECT_NE(figures.find("easgate_config_last_reload_successful 1\n"), std::string::npos) << figures;
}

TEST_F(ReloadTest, ADeviceRefusedBeforeATrustChangeIsAcceptedAfterIt) {
    start_gateway({.trusted_ca_file = "server-ca.pem"});  // not the CA that issued the devices
    EXPECT_FALSE(alice_gets_through());

    edit_config("server-ca.pem\n", "device-cas.pem\n");
    const auto logged = reload_gateway();
    ASSERT_NE(logged.find("reloaded "), std::string::npos) << logged;
    EXPECT_TRUE(alice_gets_through()) << gateway_log();
}

// A reload keeps each listener's TLS context while its TLS settings and files are unchanged: phones
// go on resuming their sessions (no wave of full handshakes after every SIGHUP). A change to them
// makes a new context, whose cache starts empty.
TEST_F(ReloadTest, PhonesResumeTheirSessionsAcrossAReloadThatLeftTlsAlone) {
    start_gateway({.listener = "    tls_session_lifetime: 2h\n"});
    auto tls = device_tls(pki_dir() / "server-ca.pem", pki_dir() / "alice.pem", pki_dir() / "alice.key");
    const std::string request = "GET /Microsoft-Server-ActiveSync?Cmd=Sync" + device_query +
                                " HTTP/1.1\r\nHost: mail\r\nConnection: close\r\n\r\n";
    auto before = exchange_resuming(gateway_port(), tls, request, nullptr);
    ASSERT_NE(before.session, nullptr);

    edit_config("    header_timeout: 5s\n", "    header_timeout: 6s\n");
    ASSERT_NE(reload_gateway().find("reloaded "), std::string::npos);
    auto kept = exchange_resuming(gateway_port(), tls, request, before.session.get());
    EXPECT_TRUE(kept.response.starts_with("HTTP/1.1 200")) << kept.response;
    EXPECT_TRUE(kept.resumed);

    edit_config("    tls_session_lifetime: 2h\n", "    tls_session_lifetime: 3h\n");
    ASSERT_NE(reload_gateway().find("reloaded "), std::string::npos);
    auto renewed = exchange_resuming(gateway_port(), tls, request, kept.session.get());
    EXPECT_TRUE(renewed.response.starts_with("HTTP/1.1 200")) << renewed.response;
    EXPECT_FALSE(renewed.resumed);
}

TEST_F(ReloadTest, AFileThatDoesNotLoadChangesNothing) {
    start_gateway();
    ASSERT_TRUE(alice_gets_through());

    // YAML that doesn't parse: the error names the line, as at start.
    const auto yaml = read_file(work_dir() / "easgate.yaml");
    write_file(work_dir() / "easgate.yaml", yaml + "limits: [unclosed\n");
    auto logged = reload_gateway();
    EXPECT_NE(logged.find("the running configuration stays in use"), std::string::npos) << logged;
    EXPECT_NE(logged.find("line "), std::string::npos) << "names where: " << logged;
    EXPECT_TRUE(alice_gets_through());

    // A key that doesn't match the certificate: refused with the key's name, nothing swapped.
    write_file(work_dir() / "easgate.yaml", yaml);
    edit_config("server.key\n", "alice.key\n");
    logged = reload_gateway();
    EXPECT_NE(logged.find("listeners[0]"), std::string::npos) << logged;
    EXPECT_NE(logged.find("the running configuration stays in use"), std::string::npos) << logged;
    EXPECT_TRUE(alice_gets_through());

    const auto figures = metrics();
    EXPECT_NE(figures.find("easgate_config_reloads_total{result=\"failure\"} 2\n"), std::string::npos)
        << figures;
    EXPECT_NE(figures.find("easgate_config_last_reload_successful 0\n"), std::string::npos) << figures;
}

TEST_F(ReloadTest, SettingsThatNeedARestartAreReportedAndKept) {
    start_gateway();
    edit_config("workers: 2\n", "workers: 3\n");
    edit_config("    port: 0\n", "    port: 1\n");
    const auto logged = reload_gateway();
    EXPECT_NE(logged.find("workers: 3 configured, 2 running: takes effect at the next restart"),
              std::string::npos)
        << logged;
    EXPECT_NE(logged.find("listeners[0].address/port: 127.0.0.1:1 configured"), std::string::npos) << logged;
    EXPECT_NE(logged.find("reloaded "), std::string::npos) << "everything else is applied: " << logged;
    EXPECT_TRUE(alice_gets_through()) << "still on the port it had";
}

TEST_F(ReloadTest, SystemdIsToldWhenEasgateIsReadyReloadingAndStopping) {
    const auto dir = make_temp_dir("notify");
    NotifySocket systemd(dir / "notify");
    start_gateway();
    EXPECT_TRUE(systemd.next().starts_with("READY=1\n")) << "once the listeners accept";
    reload_gateway();
    EXPECT_TRUE(systemd.next().starts_with("RELOADING=1\nMONOTONIC_USEC="));
    EXPECT_EQ(systemd.next(), "READY=1\nSTATUS=accepting device connections");
    EXPECT_EQ(stop_gateway(), 0);
    EXPECT_EQ(systemd.next(), "STOPPING=1");
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace easgate::testing
