#include <gtest/gtest.h>

#include "easgate/admin/metrics.hpp"
#include "easgate/app/gateway_metrics.hpp"

namespace easgate::app {
namespace {

std::string render(const MetricsSources& sources) { return admin::render_metrics(collect_metrics(sources)); }

TEST(RenderMetrics, WritesEachCounterWithHelpAndTypeInPrometheusTextFormat) {
    delegation::DelegationCounters delegation;
    delegation.s4u2self = 3;
    delegation.s4u2proxy = 4;
    directory::DirectoryCounters directory;
    directory.searches = 7;
    directory.queue_full = 2;
    const auto text = render({&directory, &delegation, nullptr, {}});
    EXPECT_NE(text.find("# HELP easgate_kdc_s4u2self_total "), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE easgate_kdc_s4u2self_total counter\neasgate_kdc_s4u2self_total 3\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\neasgate_kdc_s4u2proxy_total 4\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_ldap_searches_total 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_directory_cache_hits_total 0\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_directory_queue_full_total 2\n"), std::string::npos) << text;
}

TEST(RenderMetrics, LeavesOutStagesThatAreNotConfigured) {
    directory::DirectoryCounters directory;
    const auto text = render({&directory, nullptr, nullptr, {}});
    EXPECT_EQ(text.find("easgate_kdc_"), std::string::npos) << text;
    EXPECT_NE(text.find("easgate_ldap_searches_total 0"), std::string::npos) << text;
    EXPECT_EQ(render({}), "");
}

TEST(RenderMetrics, CountsPolicyDecisionsByRuleAndAction) {
    config::PolicyRule android;
    android.name = "no-android";
    android.device_types = {"Android"};
    const pipeline::DevicePolicy policy(config::PolicyConfig{config::PolicyAction::allow, {android}});
    eas::EasRequest request;
    request.device_type = "Android";
    policy.decide({nullptr, nullptr, &request, {}});
    const auto text = render({nullptr, nullptr, nullptr, {}, &policy});
    EXPECT_NE(text.find("# TYPE easgate_policy_decisions_total counter\n"
                        "easgate_policy_decisions_total{rule=\"no-android\",action=\"deny\"} 1\n"
                        "easgate_policy_decisions_total{rule=\"default\",action=\"allow\"} 0\n"),
              std::string::npos)
        << text;
}

TEST(RenderMetrics, CountsRefusalsByStatusAndCause) {
    common::FailureTally refusals;
    refusals.count(common::Failure::refused("account CN=erin is locked out").because("locked_out"));
    refusals.count(common::Failure::refused("account CN=erin is locked out").because("locked_out"));
    refusals.count(common::Failure::unavailable("no KDC answered").because("kdc_unreachable"));
    refusals.count(common::Failure::refused("no cause given"));
    const auto text = render({nullptr, nullptr, nullptr, {}, nullptr, &refusals});
    EXPECT_NE(text.find("# TYPE easgate_requests_refused_total counter\n"
                        "easgate_requests_refused_total{status=\"403\",cause=\"locked_out\"} 2\n"
                        "easgate_requests_refused_total{status=\"403\",cause=\"other\"} 1\n"
                        "easgate_requests_refused_total{status=\"503\",cause=\"kdc_unreachable\"} 1\n"),
              std::string::npos)
        << text;
}

// Only exchanges actually sent are timed; the services observe them (delegation_service.cpp,
// directory_client.cpp), /metrics renders what they hold.
TEST(RenderMetrics, TimesKdcAndLdapExchangesAndShowsCacheSizes) {
    using namespace std::chrono_literals;
    delegation::DelegationCounters delegation;
    delegation.s4u2self_seconds.observe(3ms);
    delegation.s4u2proxy_seconds.observe(20ms);
    delegation.s4u2proxy_seconds.observe(2s);
    directory::DirectoryCounters directory;
    directory.search_seconds.observe(4ms);
    MetricsSources sources{&directory, &delegation, nullptr, {}};
    sources.directory_cache_entries = 7;
    sources.delegation_cache_entries = 2;
    const auto text = render(sources);
    EXPECT_NE(text.find("# TYPE easgate_kdc_duration_seconds histogram\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_kdc_duration_seconds_bucket{exchange=\"s4u2self\",le=\"0.005\"} 1\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\neasgate_kdc_duration_seconds_count{exchange=\"s4u2proxy\"} 2\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\neasgate_kdc_duration_seconds_sum{exchange=\"s4u2proxy\"} 2.02\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("\neasgate_ldap_duration_seconds_count 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_directory_cache_entries 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\neasgate_delegation_cache_entries 2\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace easgate::app
