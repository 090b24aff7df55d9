// What an admin watches: /metrics after real requests (checked by Prometheus' own promtool), and
// the access log line's fields in text and JSON.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "gateway_fixture.hpp"

namespace easgate::testing {
namespace {

const std::string obs_sync = "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=OBS01&DeviceType=TestDevice";
const std::string android_sync = "/Microsoft-Server-ActiveSync?Cmd=Sync&DeviceId=OBS02&DeviceType=Android";
const std::string deny_android =
    "policy:\n"
    "  default: allow\n"
    "  rules:\n"
    "    - {name: no-android, action: deny, device_types: [Android]}\n";
// The base64 query of a Sync from device v140Device (SmartPhone), protocol 14.0.
const std::string base64_sync = "/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l";
const std::string device_secret = "Negotiate c2VjcmV0LXRva2Vu";

class ObservabilityTest : public GatewayTest {
protected:
    // The status a device gets for a POST of body (a non-WBXML body: a Sync answered at once).
    std::string status_of(const std::string& device, const std::string& path, const std::string& body,
                          std::vector<std::string> extra = {}) {
        const auto file = work_dir() / ("body-" + device + std::to_string(++bodies_));
        write_file(file, body);
        extra.insert(extra.end(), {"--write-out", "%{http_code}", "--output", "/dev/null", "--data-binary",
                                   "@" + file.string()});
        return curl(device, path, extra).out;
    }

    // promtool's verdict on text: its exit code and what it said.
    CommandResult promtool_check(const std::string& text) const {
        const auto file = work_dir() / "metrics.txt";
        write_file(file, text);
        return run_command({"sh", "-c", "promtool check metrics < '" + file.string() + "' 2>&1"});
    }

    // The access log line holding needle (text), or "".
    std::string access_line(const std::string& needle) const {
        return line_holding(wait_for_gateway_log(needle), needle);
    }

private:
    int bodies_ = 0;
};

// The value of one sample line ("name{labels} value"), or "" when absent.
std::string sample(const std::string& text, const std::string& series) {
    const auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return "";
    const auto start = at + series.size() + 2;
    return text.substr(start, text.find('\n', start) - start);
}

TEST_F(ObservabilityTest, MetricsCountEachRequestAndPassPromtool) {
    if (run_command({"sh", "-c", "command -v promtool"}).exit_code != 0)
        GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/install-deps.sh)";
    start_gateway({.sections = deny_android});
    EXPECT_EQ(status_of("alice", obs_sync, "sync"), "200");
    EXPECT_EQ(status_of("alice", obs_sync, "sync"), "200");
    EXPECT_EQ(status_of("alice", android_sync, "sync", {"-H", "MS-ASProtocolVersion: 12.1"}), "403");
    // A Ping Exchange holds for 4 s: counted in the gauge meanwhile, not in the durations.
    auto ping = std::async(std::launch::async, [this] {
        return status_of("alice",
                         "/Microsoft-Server-ActiveSync?Cmd=Ping&DeviceId=OBS01&DeviceType=TestDevice"
                         "&delayms=4000",
                         ping_90s);
    });
    std::string held;
    for (int i = 0; i < 70 && held != "1"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        held = sample(metrics(), "easgate_long_polls_held");
    }
    EXPECT_EQ(held, "1") << metrics();
    EXPECT_EQ(ping.get(), "200");

    const auto text = metrics();
    EXPECT_EQ(sample(text, "easgate_requests_total{command=\"Sync\",status=\"200\"}"), "2") << text;
    EXPECT_EQ(sample(text, "easgate_requests_total{command=\"Sync\",status=\"403\"}"), "1") << text;
    EXPECT_EQ(sample(text, "easgate_requests_total{command=\"Ping\",status=\"200\"}"), "1") << text;
    EXPECT_EQ(sample(text, "easgate_request_duration_seconds_count"), "3") << "the Ping is left out:\n"
                                                                           << text;
    EXPECT_EQ(sample(text, "easgate_request_duration_seconds_bucket{le=\"+Inf\"}"), "3") << text;
    EXPECT_EQ(sample(text, "easgate_upstream_duration_seconds_count{upstream=\"exchange\"}"), "2")
        << "the refused Sync never went, the Ping was held:\n"
        << text;
    EXPECT_EQ(sample(text, "easgate_long_polls_held"), "0") << text;
    EXPECT_NE(sample(text, "easgate_listener_certificate_expiry_seconds{listener=\"0\"}"), "") << text;
    EXPECT_NE(text.find("\neasgate_trusted_ca_expiry_seconds{subject=\"CN=easgate test device root"),
              std::string::npos)
        << text;

    const auto verdict = promtool_check(text);
    EXPECT_EQ(verdict.exit_code, 0) << verdict.out << "\n" << text;
    EXPECT_NE(promtool_check(text + "easgate_requests_total{command=\"Sync\"} x\n").exit_code, 0)
        << "promtool must be able to fail";
}

TEST_F(ObservabilityTest, CrlNextUpdateIsReportedPerIssuer) {
    start_gateway({.with_crls = true});
    const auto text = metrics();
    const auto at = text.find("\neasgate_crl_next_update_seconds{issuer=\"CN=");
    ASSERT_NE(at, std::string::npos) << text;
    EXPECT_GT(std::stoll(text.substr(text.find("} ", at) + 2)), 0) << text;
}

TEST_F(ObservabilityTest, TheTextAccessLogNamesDeviceCommandBytesAndDurationsButNoSecret) {
    start_gateway();
    EXPECT_EQ(status_of("alice", base64_sync, "sync",
                        {"-H", "MS-ASProtocolVersion: 14.0", "-H", "Authorization: " + device_secret}),
              "200");
    const auto line = access_line("\"POST /Microsoft-Server-ActiveSync\" 200 ");
    ASSERT_NE(line, "") << gateway_log();
    EXPECT_NE(line.find(" cmd=Sync device_id=v140Device device_type=SmartPhone protocol=14.0 bytes_in=4 "),
              std::string::npos)
        << line;
    for (const auto* field :
         {" ms=", " account=- ", " bytes_out=", " delegation_ms=", " upstream_ms=", " cache_hit=-"})
        EXPECT_NE(line.find(field), std::string::npos) << field << " in " << line;
    EXPECT_EQ(line.find(" bytes_out=0 "), std::string::npos) << "Exchange's answer has a body: " << line;
    EXPECT_NE(line.find(" server=https://localhost:"), std::string::npos) << line;
    const auto log = gateway_log();
    EXPECT_EQ(log.find("Negotiate"), std::string::npos) << log;
    EXPECT_EQ(log.find("c2VjcmV0LXRva2Vu"), std::string::npos) << log;
    EXPECT_EQ(log.find("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"), std::string::npos)
        << "the raw base64 query stays out:\n"
        << log;
}

// A certificate's UPN may hold spaces and quotes, and a refused request's target quotes and any
// byte: neither can make the text line show another user, status or command.
TEST_F(ObservabilityTest, ATextAccessLineCantBeForgedByTheUpnOrThePath) {
    start_gateway();
    CertSpec spec;
    spec.upn = "eve@example.test \"GET /Microsoft-Server-ActiveSync\" 200 ms=1 cmd=Sync user=ceo";
    pki().issuing->issue(spec).write(pki_dir(), "forger");
    EXPECT_EQ(status_of("forger", sync_path, "sync"), "200");
    const auto line = access_line("user=ceo \"POST /Microsoft-Server-ActiveSync\" 200 ");
    ASSERT_NE(line, "") << gateway_log();
    EXPECT_NE(line.find(" eve@example.test\\x20\\x22GET\\x20/Microsoft-Server-ActiveSync\\x22"),
              std::string::npos)
        << line;
    EXPECT_EQ(std::count(line.begin(), line.end(), '"'), 2) << "the one quoted request: " << line;
    EXPECT_EQ(line.find(" cmd=Sync user=ceo"), std::string::npos) << line;
}

TEST_F(ObservabilityTest, TheJsonAccessLogHasOneFieldPerItem) {
    start_gateway({.logging = "  format: json\n"});
    EXPECT_EQ(status_of("alice", obs_sync, "sync", {"-H", "Authorization: " + device_secret}), "200");
    const auto line = access_line("\"cmd\":\"Sync\"");
    ASSERT_NE(line, "") << gateway_log();
    const auto json = nlohmann::json::parse(line);
    EXPECT_EQ(json["level"], "info");
    EXPECT_EQ(json["user"], "alice@example.test");
    EXPECT_EQ(json["method"], "POST");
    EXPECT_EQ(json["path"], "/Microsoft-Server-ActiveSync");
    EXPECT_EQ(json["status"], 200);
    EXPECT_EQ(json["device_id"], "OBS01");
    EXPECT_EQ(json["device_type"], "TestDevice");
    EXPECT_EQ(json["bytes_in"], 4);
    EXPECT_GT(json["bytes_out"].get<long>(), 0) << line;
    for (const auto* field : {"ms", "delegation_ms", "upstream_ms"})
        EXPECT_TRUE(json[field].is_number_integer()) << field << " in " << line;
    EXPECT_EQ(json["upstream"], "exchange");
    EXPECT_EQ(json["cache_hit"], "-");
    EXPECT_EQ(gateway_log().find("Negotiate"), std::string::npos) << gateway_log();
}

// logging.access_log: every access log line (easgate's own answers too) goes to the file, none to
// the journal's stderr; nothing is lost across logrotate's rename and SIGHUP, nor at the stop; a
// file easgate can't open stops the start with the key and the reason.
TEST_F(ObservabilityTest, TheAccessLogFileTakesEveryLineAndIsReopenedOnSighup) {
    const auto dir = make_temp_dir("access-log");
    const auto path = dir / "access.log";
    start_gateway({.logging = "  access_log: " + path.string() + "\n"});
    EXPECT_EQ(status_of("alice", obs_sync, "sync"), "200");
    EXPECT_EQ(curl("alice", "/owa/").out.find("Not Found"), 0u);
    // Written within a second (spdlog's flusher), not at the next request.
    auto text = wait_for_text(path, "\"GET /owa/\" 404 ");
    EXPECT_NE(text.find("info 127.0.0.1:"), std::string::npos) << text;
    EXPECT_NE(text.find("\"POST /Microsoft-Server-ActiveSync\" 200 ms="), std::string::npos) << text;
    EXPECT_NE(text.find("warning 127.0.0.1:"), std::string::npos) << "easgate's own 404: " << text;
    EXPECT_EQ(gateway_log().find("/Microsoft-Server-ActiveSync\" 200"), std::string::npos)
        << "an access log line went to stderr too:\n"
        << gateway_log();

    std::filesystem::rename(path, dir / "access.log.1");
    EXPECT_NE(reload_gateway().find("access log: reopened " + path.string()), std::string::npos)
        << gateway_log();
    EXPECT_EQ(status_of("alice", android_sync, "after rotation"), "200");
    EXPECT_NE(wait_for_text(path, "device_id=OBS02"), "") << gateway_log();
    EXPECT_EQ(read_file(dir / "access.log.1"), text) << "a line went to the rotated file after the reopen";

    EXPECT_EQ(status_of("alice", obs_sync, "last"), "200");
    EXPECT_EQ(stop_gateway(), 0);
    EXPECT_EQ(count_of(read_file(path), "device_id=OBS0"), 2u) << read_file(path);

    const auto config = work_dir() / "easgate.yaml";
    auto yaml = read_file(config);
    yaml.replace(yaml.find(path.string()), path.string().size(), (dir / "missing" / "access.log").string());
    write_file(config, yaml);
    const auto refused = run_command({EASGATE_BINARY, "run", "--config", config.string()});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("config error: logging.access_log: cannot open " + (dir / "missing").string() +
                               "/access.log for appending: No such file or directory"),
              std::string::npos)
        << refused.err;
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace easgate::testing
