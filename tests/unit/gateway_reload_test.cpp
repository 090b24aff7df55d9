// What a SIGHUP reload keeps (services whose section and files did not change, with their caches
// and pools) and what it always builds anew (TLS contexts), and the settings it can't apply.
#include <gtest/gtest.h>

#include "child_process.hpp"
#include "easgate/app/gateway.hpp"
#include "easgate/app/reload.hpp"
#include "inproc_rig.hpp"
#include "test_pki.hpp"

namespace easgate::app {
namespace {

using testing::loopback_listener;
using testing::loopback_pki;
using testing::make_temp_dir;
using testing::read_file;
using testing::write_file;

class GatewayReloadTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = make_temp_dir("reload");
        ca_file_ = (dir_ / "exchange-ca.pem").string();
        write_file(ca_file_, read_file(loopback_pki().server_ca));
        config_.listeners.push_back(loopback_listener());
        config::UpstreamConfig upstream;
        upstream.name = "exchange";
        upstream.servers.push_back(*config::parse_upstream_url("https://127.0.0.1:8443"));
        upstream.ca_file = ca_file_;
        config_.upstreams.push_back(upstream);
        config_.policy = config::PolicyConfig{};
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::filesystem::path dir_;
    std::string ca_file_;
    config::Config config_;
};

TEST_F(GatewayReloadTest, UnchangedServicesAndTlsContextsAreKept) {
    const auto running = build_gateway(config_);
    const auto next = build_gateway(config_, &running);
    EXPECT_EQ(next.upstreams.at(0), running.upstreams.at(0)) << "its connection pools and health stay";
    EXPECT_EQ(next.policy, running.policy) << "its decision counters stay";
    EXPECT_EQ(next.sessions, running.sessions) << "one registry counts every open connection";
    EXPECT_EQ(next.refusals, running.refusals);
    EXPECT_NE(next.listeners.at(0), running.listeners.at(0));
    EXPECT_EQ(next.listeners.at(0)->tls, running.listeners.at(0)->tls) << "its session cache and CRLs stay";
}

TEST_F(GatewayReloadTest, AChangedSectionOrFileGetsANewService) {
    const auto running = build_gateway(config_);
    auto changed = config_;
    changed.upstreams[0].max_authorization_bytes = 1024;
    changed.policy->default_action = config::PolicyAction::deny;
    const auto next = build_gateway(changed, &running);
    EXPECT_NE(next.upstreams.at(0), running.upstreams.at(0));
    EXPECT_NE(next.policy, running.policy);
    EXPECT_EQ(next.listeners.at(0)->tls, running.listeners.at(0)->tls) << "its TLS settings did not change";
    changed.listeners[0].tls_session_lifetime = std::chrono::hours(1);
    EXPECT_NE(build_gateway(changed, &running).listeners.at(0)->tls, running.listeners.at(0)->tls);

    // The same section, but the CA file's bytes changed on disk.
    write_file(ca_file_, read_file(loopback_pki().device_ca));
    const auto after_file_change = build_gateway(changed, &next);
    EXPECT_NE(after_file_change.upstreams.at(0), next.upstreams.at(0));
}

TEST_F(GatewayReloadTest, ADeviceCaFileChangedOnDiskGetsANewTlsContext) {
    const auto device_cas = (dir_ / "device-cas.pem").string();
    write_file(device_cas, read_file(config_.listeners[0].client_auth.trusted_ca_file));
    config_.listeners[0].client_auth.trusted_ca_file = device_cas;
    const auto running = build_gateway(config_);
    EXPECT_EQ(build_gateway(config_, &running).listeners.at(0)->tls, running.listeners.at(0)->tls);
    write_file(device_cas, read_file(device_cas) + read_file(loopback_pki().server_ca));
    EXPECT_NE(build_gateway(config_, &running).listeners.at(0)->tls, running.listeners.at(0)->tls);
}

TEST_F(GatewayReloadTest, RestartOnlySettingsAreNamedAndKept) {
    auto next = config_;
    next.workers = 8;
    next.admin.listen = "127.0.0.1:9999";
    next.listeners[0].port = 443;
    next.limits.idle_timeout = std::chrono::seconds(5);
    next.logging.format = config::LogFormat::json;
    const auto changes = restart_only_changes(config_, next);
    ASSERT_EQ(changes.size(), 4u);
    EXPECT_EQ(changes[0], "listeners[0].address/port: 127.0.0.1:443 configured, 127.0.0.1:0 open");
    EXPECT_EQ(changes[1], "workers: 8 configured, 0 running");
    EXPECT_EQ(changes[2], "admin.listen: 127.0.0.1:9999 configured, 127.0.0.1:9443 open");
    EXPECT_EQ(changes[3], "logging.format: the log's format is chosen once, at start");

    const auto applied = keep_restart_only_settings(next, config_);
    EXPECT_EQ(applied.workers, 0u);
    EXPECT_EQ(applied.admin.listen, "127.0.0.1:9443");
    EXPECT_EQ(applied.listeners[0].port, 0);
    EXPECT_EQ(applied.logging.format, config::LogFormat::text);
    EXPECT_EQ(applied.limits.idle_timeout, std::chrono::seconds(5)) << "everything else is taken";
    EXPECT_TRUE(restart_only_changes(config_, applied).empty());
}

TEST_F(GatewayReloadTest, FileDigestsFollowTheBytes) {
    FileDigests before;
    FileDigests now;
    EXPECT_FALSE(record_unchanged({ca_file_}, before, now)) << "not seen before";
    EXPECT_EQ(now.at(ca_file_).size(), 64u) << "SHA-256, hex";
    FileDigests again;
    EXPECT_TRUE(record_unchanged({ca_file_, ""}, now, again)) << "an empty path is no file";
    write_file(ca_file_, "other\n");
    FileDigests changed;
    EXPECT_FALSE(record_unchanged({ca_file_}, again, changed));
    EXPECT_EQ(file_digest((dir_ / "missing").string()), "");
}

}  // namespace
}  // namespace easgate::app
