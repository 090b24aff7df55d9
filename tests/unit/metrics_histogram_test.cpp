// Histograms, label escaping and negative gauges in the Prometheus text format, and the bounded
// request counters behind easgate_requests_total.
#include <gtest/gtest.h>

#include <array>

#include "easgate/admin/metrics.hpp"
#include "easgate/eas/eas_request.hpp"
#include "easgate/listener/request_metrics.hpp"

namespace easgate {
namespace {

using namespace std::chrono_literals;
constexpr std::array<double, 2> bounds = {0.1, 1};

TEST(HistogramMetrics, RenderCumulativeBucketsSumAndCount) {
    common::Histogram histogram(bounds);
    for (const auto elapsed : {50ms, 100ms, 500ms, 2000ms}) histogram.observe(elapsed);
    const auto text =
        admin::render_metrics({{"t_seconds",
                                "a test",
                                admin::MetricFamily::Type::histogram,
                                {admin::histogram_series(admin::label("upstream", "ex"), histogram)}}});
    EXPECT_EQ(text,
              "# HELP t_seconds a test\n"
              "# TYPE t_seconds histogram\n"
              "t_seconds_bucket{upstream=\"ex\",le=\"0.1\"} 2\n"  // 100 ms is in "le 0.1"
              "t_seconds_bucket{upstream=\"ex\",le=\"1\"} 3\n"
              "t_seconds_bucket{upstream=\"ex\",le=\"+Inf\"} 4\n"
              "t_seconds_sum{upstream=\"ex\"} 2.65\n"
              "t_seconds_count{upstream=\"ex\"} 4\n");
}

TEST(HistogramMetrics, AnUnlabelledHistogramHasOnlyTheLeLabel) {
    common::Histogram histogram(bounds);
    const auto text = admin::render_metrics({{"t_seconds",
                                              "a test",
                                              admin::MetricFamily::Type::histogram,
                                              {admin::histogram_series("", histogram)}}});
    EXPECT_NE(text.find("\nt_seconds_bucket{le=\"+Inf\"} 0\nt_seconds_sum 0\nt_seconds_count 0\n"),
              std::string::npos)
        << text;
}

TEST(MetricLabels, EscapeBackslashQuoteAndNewline) {
    EXPECT_EQ(admin::label("issuer", "CN=a\"b\\c\nd,O=x"), "issuer=\"CN=a\\\"b\\\\c\\nd,O=x\"");
    EXPECT_EQ(admin::label("command", "Sync"), "command=\"Sync\"");
}

TEST(MetricValues, GaugesMayBeNegativeAndCountersStayIntegers) {
    const auto text = admin::render_metrics(
        {{"g", "past", admin::MetricFamily::Type::gauge, {{"", std::int64_t{-3600}}}},
         {"c_total", "count", admin::MetricFamily::Type::counter, {{"", std::uint64_t{12345678901}}}}});
    EXPECT_NE(text.find("\ng -3600\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nc_total 12345678901\n"), std::string::npos) << text;
}

TEST(CommandLabels, AreTheSpecsNamesOtherOrDash) {
    eas::EasRequest request;
    EXPECT_EQ(eas::command_label(request), "-");
    request.command = "Sync";
    EXPECT_EQ(eas::command_label(request), "Sync");
    request.command = "GetHierarchy";
    EXPECT_EQ(eas::command_label(request), "GetHierarchy");
    request.command = "Frobnicate";
    EXPECT_EQ(eas::command_label(request), "other");
}

TEST(RequestMetrics, CountByCommandAndStatusAndLeaveHeldLongPollsOutOfDurations) {
    listener::RequestMetrics metrics;
    metrics.count("Sync", 200, false, 10ms);
    metrics.count("Sync", 200, false, 10ms);
    metrics.count("Ping", 200, true, 900s);
    metrics.count("other", 503, false, 1ms);
    metrics.count("Sync", 700, false, 1ms);  // no such status: not counted
    const auto counts = metrics.counts();
    ASSERT_EQ(counts.size(), 3u);
    const auto requests = [&counts](std::string_view command, unsigned status) {
        for (const auto& c : counts)
            if (c.command == command && c.status == status) return c.requests;
        return std::uint64_t{0};
    };
    EXPECT_EQ(requests("Sync", 200), 2u);
    EXPECT_EQ(requests("Ping", 200), 1u);
    EXPECT_EQ(requests("other", 503), 1u);
    const auto durations = metrics.durations().snapshot();
    std::uint64_t observed = 0;
    for (const auto n : durations.counts) observed += n;
    EXPECT_EQ(observed, 4u) << "the held Ping is not observed";
    metrics.long_poll_started();
    EXPECT_EQ(metrics.long_polls_held(), 1u);
    metrics.long_poll_ended();
    EXPECT_EQ(metrics.long_polls_held(), 0u);
}

}  // namespace
}  // namespace easgate
