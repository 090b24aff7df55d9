// Failing networks between easgate and the DCs (issue 9): stand-ins on other loopback addresses
// and ports, each lookup bounded by directory.timeout per URI; callers that give up.
#include <boost/asio/detached.hpp>

#include "directory_client_fixture.hpp"
#include "easgate/kerberos/kdc_watch.hpp"

namespace easgate::directory {
namespace {

using easgate::testing::FaultRelay;
using easgate::testing::LabEnvironment;
using lab::cause_of;
using lab::detail_of;
using lab::DirectoryClientTest;
using lab::is_member_of_sales;
using lab::lookup;
using lab::Lookup;
using lab::lookup_all;
using lab::run_lookups;
using lab::SilentServer;
using std::chrono::milliseconds;
using std::chrono::steady_clock;
using Mode = FaultRelay::Mode;

constexpr milliseconds fault_timeout{2'000};
constexpr milliseconds slack{3'000};

// CPU time this process has used (every thread, user and system).
milliseconds cpu_time() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const auto total = [](const timeval& time) {
        return std::chrono::seconds(time.tv_sec) + std::chrono::microseconds(time.tv_usec);
    };
    return std::chrono::duration_cast<milliseconds>(total(usage.ru_utime) + total(usage.ru_stime));
}

// Captures what the client logs (spdlog's default logger) while it lives.
class LogCapture {
public:
    LogCapture()
        : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100)),
          previous_(spdlog::default_logger()) {
        spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink_));
    }
    ~LogCapture() { spdlog::set_default_logger(previous_); }
    std::string text() const {
        std::string all;
        for (const auto& line : sink_->last_formatted()) all += line;
        return all;
    }

private:
    std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
    std::shared_ptr<spdlog::logger> previous_;
};

class DirectoryClientFaultTest : public DirectoryClientTest {
protected:
    // A stand-in at 127.0.0.21 (any free port) in front of the DC's port.
    std::unique_ptr<FaultRelay> stand_in(std::uint16_t dc_port, Mode mode) const {
        return std::make_unique<FaultRelay>("127.0.0.21", 0, lab_.at("LAB_DC_IP"), dc_port, mode);
    }
    // A relay on the DC's own address (another free port), so URIs name dc1.example.test: its TLS
    // certificate and its SPN ldap/dc1.example.test still match.
    std::unique_ptr<FaultRelay> relay_to_dc(std::uint16_t dc_port, Mode mode) const {
        return std::make_unique<FaultRelay>(lab_.at("LAB_DC_IP"), 0, lab_.at("LAB_DC_IP"), dc_port, mode);
    }
    static std::string uri(const std::string& scheme, const std::string& host, const FaultRelay& relay) {
        return scheme + "://" + host + ":" + std::to_string(relay.port());
    }
    // The GSSAPI bind, inside TLS (LDAPS, or StartTLS for ldap://) unless tls is none.
    config::DirectoryConfig faulty(std::vector<std::string> uris,
                                   config::LdapTls tls = config::LdapTls::starttls,
                                   milliseconds timeout = fault_timeout) const {
        auto config = gssapi(std::move(uris), tls);
        config.timeout = timeout;
        return config;
    }
};

TEST_F(DirectoryClientFaultTest, LdapsBlackHoleFailsOverToTheNextUriWithinTheTimeoutWithoutSpinning) {
    const auto hole = stand_in(636, Mode::silent);
    const std::string hole_uri = uri("ldaps", "127.0.0.21", *hole);
    DirectoryClient client(faulty({hole_uri, lab_.at("LAB_LDAPS_URL")}), &kerberos_);
    const LogCapture log;
    const auto cpu_before = cpu_time();
    const auto lookup = run_lookups(client, {{"alice@example.test"}}).front();
    const auto cpu = cpu_time() - cpu_before;

    ASSERT_EQ(cause_of(lookup.result), "found") << detail_of(lookup.result);
    EXPECT_EQ(hole->connections(), 1u);
    EXPECT_GE(lookup.elapsed, fault_timeout - milliseconds(100));
    EXPECT_LT(lookup.elapsed, fault_timeout + slack);
    // Spinning in the TLS handshake would burn a core for the whole timeout.
    EXPECT_LT(cpu, lookup.elapsed / 4)
        << "CPU " << cpu.count() << " ms in " << lookup.elapsed.count() << " ms";
    std::cout << "[ figures  ] LDAPS black hole then the DC: " << lookup.elapsed.count() << " ms, CPU "
              << cpu.count() << " ms\n";
    EXPECT_NE(log.text().find(hole_uri + ": timed out: no TLS handshake within directory.timeout (2s)"),
              std::string::npos)
        << log.text();
    EXPECT_NE(log.text().find("using " + lab_.at("LAB_LDAPS_URL") + " instead"), std::string::npos)
        << log.text();
}

TEST_F(DirectoryClientFaultTest, StartTlsToASilentPeerFailsOverWithinTheTimeout) {
    const auto hole = stand_in(389, Mode::silent);
    const std::string hole_uri = uri("ldap", "127.0.0.21", *hole);
    DirectoryClient client(faulty({hole_uri, lab_.at("LAB_LDAP_URL")}), &kerberos_);
    const LogCapture log;
    const auto lookup = run_lookups(client, {{"bob@example.test"}}).front();
    ASSERT_EQ(cause_of(lookup.result), "found") << detail_of(lookup.result);
    EXPECT_GE(lookup.elapsed, fault_timeout - milliseconds(100));
    EXPECT_LT(lookup.elapsed, fault_timeout + slack);
    EXPECT_NE(log.text().find(hole_uri + ": timed out: no answer to StartTLS"), std::string::npos)
        << log.text();
}

TEST_F(DirectoryClientFaultTest, AllUrisBlackHoledIsUnavailableNamingEachUriAndIsNotCached) {
    const auto ldaps_hole = stand_in(636, Mode::silent);
    const auto starttls_hole = stand_in(389, Mode::silent);
    const std::vector<std::string> uris{uri("ldaps", "127.0.0.21", *ldaps_hole),
                                        uri("ldap", "127.0.0.21", *starttls_hole)};
    DirectoryClient client(faulty(uris), &kerberos_);
    for (int attempt = 0; attempt < 2; ++attempt) {
        const auto cpu_before = cpu_time();
        const auto lookup = run_lookups(client, {{"alice@example.test"}}).front();
        const auto cpu = cpu_time() - cpu_before;
        EXPECT_EQ(cause_of(lookup.result), "unavailable");
        for (const auto& hole : uris) {
            EXPECT_NE(detail_of(lookup.result).find(hole + ": timed out: "), std::string::npos)
                << detail_of(lookup.result);
        }
        EXPECT_GE(lookup.elapsed, fault_timeout * 2 - milliseconds(200));
        EXPECT_LT(lookup.elapsed, fault_timeout * 2 + slack);
        EXPECT_LT(cpu, lookup.elapsed / 4)
            << "CPU " << cpu.count() << " ms in " << lookup.elapsed.count() << " ms";
        std::cout << "[ figures  ] two black holes: " << lookup.elapsed.count() << " ms, CPU " << cpu.count()
                  << " ms: " << detail_of(lookup.result) << "\n";
    }
    EXPECT_EQ(client.counters().cache_hits, 0u);
    EXPECT_EQ(ldaps_hole->connections(), 2u);
}

TEST_F(DirectoryClientFaultTest, NothingListeningFailsOverAtOnce) {
    const auto closed = stand_in(636, Mode::refuse);
    DirectoryClient client(faulty({uri("ldaps", "127.0.0.21", *closed), lab_.at("LAB_LDAPS_URL")}),
                           &kerberos_);
    const auto lookup = run_lookups(client, {{"alice@example.test"}}).front();
    ASSERT_EQ(cause_of(lookup.result), "found") << detail_of(lookup.result);
    EXPECT_LT(lookup.elapsed, fault_timeout / 2);
}

TEST_F(DirectoryClientFaultTest, ASlowDcWithinTheTimeoutAnswers) {
    const auto slow = relay_to_dc(389, Mode::forward);
    slow->set_mode(Mode::slow, milliseconds(150));  // each relayed chunk, each way: the bind takes ~1 s
    DirectoryClient client(
        faulty({uri("ldap", lab_.at("LAB_DC_HOST"), *slow)}, config::LdapTls::none, milliseconds(3'000)),
        &kerberos_);
    const auto lookup = run_lookups(client, {{"alice@example.test"}}).front();
    ASSERT_EQ(cause_of(lookup.result), "found") << detail_of(lookup.result);
    EXPECT_GE(lookup.elapsed, milliseconds(600));  // really slowed down
}

TEST_F(DirectoryClientFaultTest, ALookupItsCallerCancelsEndsAtOnceAndTheSearchStillFillsTheCache) {
    const auto slow = relay_to_dc(389, Mode::forward);
    slow->set_mode(Mode::slow, milliseconds(150));  // the bind and search take ~1 s
    DirectoryClient client(
        faulty({uri("ldap", lab_.at("LAB_DC_HOST"), *slow)}, config::LdapTls::none, milliseconds(3'000)),
        &kerberos_);
    const auto cancelled = run_lookups(
        client,
        {{.upn = "alice@example.test", .give_up_after = milliseconds(100)}, {.upn = "alice@example.test"}});
    EXPECT_EQ(cause_of(cancelled[0].result), "unavailable");
    EXPECT_NE(detail_of(cancelled[0].result).find("cancelled"), std::string::npos)
        << detail_of(cancelled[0].result);
    EXPECT_LT(cancelled[0].elapsed, milliseconds(400));
    ASSERT_EQ(cause_of(cancelled[1].result), "found") << detail_of(cancelled[1].result);
    EXPECT_GE(cancelled[1].elapsed, milliseconds(600));  // the search went on for the one still waiting

    const auto cached = lookup(client, "alice@example.test");
    EXPECT_EQ(cause_of(cached), "found") << detail_of(cached);
    EXPECT_EQ(client.counters().searches, 1u);
    EXPECT_EQ(client.counters().cache_hits, 1u);
}

TEST_F(DirectoryClientFaultTest, ADcSlowerThanTheTimeoutTimesOut) {
    const auto slow = relay_to_dc(636, Mode::forward);
    slow->set_mode(Mode::slow, milliseconds(1'500));
    const std::string slow_uri = uri("ldaps", lab_.at("LAB_DC_HOST"), *slow);
    DirectoryClient client(faulty({slow_uri}, config::LdapTls::starttls, milliseconds(1'000)), &kerberos_);
    const auto lookup = run_lookups(client, {{"alice@example.test"}}).front();
    EXPECT_EQ(cause_of(lookup.result), "unavailable");
    EXPECT_NE(detail_of(lookup.result).find(slow_uri + ": timed out: "), std::string::npos)
        << detail_of(lookup.result);
    EXPECT_LT(lookup.elapsed, milliseconds(1'000) + slack);
}

TEST_F(DirectoryClientFaultTest, RecoversWhenTheDcComesBackWithoutANewClient) {
    const auto relay = relay_to_dc(636, Mode::silent);
    DirectoryClient client(faulty({uri("ldaps", lab_.at("LAB_DC_HOST"), *relay)}), &kerberos_);
    const auto down = run_lookups(client, {{"alice@example.test"}}).front();
    EXPECT_EQ(cause_of(down.result), "unavailable");
    EXPECT_NE(detail_of(down.result).find("timed out: no TLS handshake"), std::string::npos)
        << detail_of(down.result);
    EXPECT_LT(down.elapsed, fault_timeout + slack);

    relay->set_mode(Mode::forward);
    const auto up = run_lookups(client, {{"alice@example.test"}}).front();
    ASSERT_EQ(cause_of(up.result), "found") << detail_of(up.result);
    EXPECT_EQ(client.counters().connections_opened, 1u);
}

TEST_F(DirectoryClientFaultTest, CachedUsersKeepFlowingWhileADcHangs) {
    const auto relay = relay_to_dc(636, Mode::forward);
    DirectoryClient client(faulty({uri("ldaps", lab_.at("LAB_DC_HOST"), *relay)}), &kerberos_);
    ASSERT_EQ(cause_of(lookup(client, "alice@example.test")), "found");

    // The open connection goes silent too: bob's search times out, and the only DC is not asked
    // again in that lookup.
    relay->set_mode(Mode::silent);
    const auto results =
        run_lookups(client, {{"bob@example.test"}, {"alice@example.test", milliseconds(500)}});
    EXPECT_EQ(cause_of(results[0].result), "unavailable") << detail_of(results[0].result);
    EXPECT_NE(
        detail_of(results[0].result).find("the search for bob@example.test failed on every directory server"),
        std::string::npos)
        << detail_of(results[0].result);
    EXPECT_GE(results[0].elapsed, fault_timeout - milliseconds(200));
    EXPECT_LT(results[0].elapsed, fault_timeout + slack);
    ASSERT_EQ(cause_of(results[1].result), "found") << detail_of(results[1].result);
    EXPECT_LT(results[1].elapsed, milliseconds(50));
    EXPECT_EQ(client.counters().cache_hits, 1u);
}

// A DC that still holds the connection but stops answering searches: the search that times out
// goes on to the next URI within the same lookup, not to the stalled DC again.
TEST_F(DirectoryClientFaultTest, ASearchTheDcStallsGoesToTheNextUri) {
    const auto relay = relay_to_dc(636, Mode::forward);
    const std::string stalled_uri = uri("ldaps", lab_.at("LAB_DC_HOST"), *relay);
    DirectoryClient client(faulty({stalled_uri, lab_.at("LAB_LDAPS_URL")}), &kerberos_);
    ASSERT_EQ(cause_of(lookup(client, "alice@example.test")), "found");  // its connection is kept

    relay->set_mode(Mode::silent);
    const LogCapture log;
    const auto bob = run_lookups(client, {{"bob@example.test"}}).front();
    ASSERT_EQ(cause_of(bob.result), "found") << detail_of(bob.result);
    EXPECT_GE(bob.elapsed, fault_timeout - milliseconds(100));
    EXPECT_LT(bob.elapsed, fault_timeout * 2) << "the stalled DC was tried again";
    EXPECT_NE(log.text().find("the search on " + stalled_uri + " failed"), std::string::npos) << log.text();
    EXPECT_NE(log.text().find("trying the next server"), std::string::npos) << log.text();
}

// One worker stuck on a black hole, max_queued_lookups searches queued behind it: further lookups
// are unavailable at once (the device gets 503 + Retry-After) instead of joining the queue.
TEST_F(DirectoryClientFaultTest, LookupsBeyondTheQueueBoundAreUnavailableAtOnce) {
    const auto hole = stand_in(389, Mode::silent);
    auto config = faulty({uri("ldap", "127.0.0.21", *hole)}, config::LdapTls::starttls, milliseconds(1'000));
    config.max_concurrent = 1;
    config.max_queued_lookups = 2;
    DirectoryClient client(config, &kerberos_);
    // The first is taken by the worker before the others come.
    const milliseconds later{200};
    const auto results = run_lookups(client, {{"user01@example.test"},
                                              {"user02@example.test", later},
                                              {"user03@example.test", later},
                                              {"user04@example.test", later},
                                              {"user05@example.test", later}});
    for (std::size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(cause_of(results[i].result), "unavailable") << i << ": " << detail_of(results[i].result);
        const bool refused_at_once =
            detail_of(results[i].result).find("max_queued_lookups (2)") != std::string::npos;
        EXPECT_EQ(refused_at_once, i >= 3) << i << ": " << detail_of(results[i].result);
        if (i >= 3) {
            EXPECT_LT(results[i].elapsed, milliseconds(100));
        }
    }
    EXPECT_EQ(client.counters().queue_full, 2u);
    EXPECT_EQ(client.counters().searches, 0u);  // none got past the black hole
}

// Stopping (or a reload replacing the client) while every DC is silent: the searches still queued
// are answered without asking a DC, so the client goes once the running one ends, not after each
// queued one met the silent DC in turn (up to max_queued_lookups of them: past systemd's stop timeout).
TEST_F(DirectoryClientFaultTest, SearchesStillQueuedWhenTheClientGoesAreNotRun) {
    const auto hole = stand_in(389, Mode::silent);
    auto config = faulty({uri("ldap", "127.0.0.21", *hole)}, config::LdapTls::starttls, milliseconds(1'000));
    config.max_concurrent = 1;
    {
        DirectoryClient client(config, &kerberos_);
        std::vector<Lookup> lookups;
        for (const char* upn : {"user01@example.test", "user02@example.test", "user03@example.test",
                                "user04@example.test", "user05@example.test"})
            lookups.push_back({.upn = upn, .give_up_after = milliseconds(100)});  // the devices leave
        for (const auto& timed : run_lookups(client, lookups))
            EXPECT_EQ(cause_of(timed.result), "unavailable") << detail_of(timed.result);
    }
    EXPECT_EQ(hole->connections(), 1u) << "only the search that was running met the silent DC";
}

// A device's lookup, holding the client as a request's filter chain does.
boost::asio::awaitable<void> look_up_holding(std::shared_ptr<DirectoryClient> client) {
    co_await client->find(AccountSearch::by_attribute("userPrincipalName", "alice@example.test"));
}

// At exit the loops stop with a lookup still waiting on a silent DC: its coroutine holds the client,
// and the client holds it (its search's waiter). stop_waiting() lets it go with its loop, so the client
// ends, joining its thread, instead of outliving everything with a thread that wakes up mid-exit.
TEST_F(DirectoryClientFaultTest, ALookupStillWaitingWhenTheLoopsStopLetsTheClientGo) {
    const auto hole = stand_in(389, Mode::silent);
    auto client = std::make_shared<DirectoryClient>(
        faulty({uri("ldap", "127.0.0.21", *hole)}, config::LdapTls::starttls, milliseconds(1'000)),
        &kerberos_);
    const std::weak_ptr<DirectoryClient> weak = client;
    {
        boost::asio::io_context loop;
        boost::asio::co_spawn(loop, look_up_holding(std::move(client)), boost::asio::detached);
        for (int i = 0; i < 100 && hole->connections() == 0; ++i) loop.run_for(milliseconds(20));
        ASSERT_EQ(hole->connections(), 1u) << "the search is at the silent DC";
        loop.stop();
        weak.lock()->stop_waiting();
    }
    EXPECT_TRUE(weak.expired()) << "the client outlived its loop";
}

TEST_F(DirectoryClientFaultTest, ConcurrentLookupsDoNotQueueBehindABlackHole) {
    const auto hole = stand_in(636, Mode::silent);
    auto config = faulty({uri("ldaps", "127.0.0.21", *hole), lab_.at("LAB_LDAPS_URL")});
    config.max_concurrent = 4;
    DirectoryClient client(config, &kerberos_);
    const auto start = steady_clock::now();
    const auto results = run_lookups(
        client,
        {{"user01@example.test"}, {"user02@example.test"}, {"user03@example.test"}, {"user04@example.test"}});
    const auto elapsed = steady_clock::now() - start;
    for (const auto& timed : results) EXPECT_EQ(cause_of(timed.result), "found") << detail_of(timed.result);
    EXPECT_EQ(hole->connections(), 4u);         // each worker met the black hole...
    EXPECT_LT(elapsed, fault_timeout + slack);  // ...at the same time, not one after the other
}

// Sets an environment variable for its lifetime; only while no other thread reads the environment.
class ScopedEnvironment {
public:
    ScopedEnvironment(const char* name, const std::string& value) : name_(name) {
        if (const char* previous = std::getenv(name)) previous_ = previous;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnvironment() {
        if (previous_) {
            ::setenv(name_, previous_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

private:
    const char* name_;
    std::optional<std::string> previous_;
};

// The GSSAPI bind needs easgate's own ticket from the KDC. A KDC that accepts and never answers
// (krb5 itself gives up only after ~27 s) must hold no lookup past its budget, nor queue the
// other users' lookups behind the one that is asking it.
TEST_F(DirectoryClientFaultTest, ASilentKdcHoldsNoLookupPastItsBudget) {
    const auto kdc = std::make_unique<FaultRelay>("127.0.0.21", 0, lab_.at("LAB_KDC"), 88, Mode::silent);
    temp_dir_ = easgate::testing::make_temp_dir("directory");
    std::string krb5_conf = easgate::testing::read_file(lab_.at("KRB5_CONFIG"));
    const std::string lab_kdc = "kdc = " + lab_.at("LAB_KDC") + ":88";
    ASSERT_NE(krb5_conf.find(lab_kdc), std::string::npos) << krb5_conf;
    krb5_conf.replace(krb5_conf.find(lab_kdc), lab_kdc.size(),
                      "kdc = 127.0.0.21:" + std::to_string(kdc->port()));
    easgate::testing::write_file(temp_dir_ / "krb5.conf", krb5_conf);
    const ScopedEnvironment krb5_config("KRB5_CONFIG", (temp_dir_ / "krb5.conf").string());

    constexpr milliseconds timeout{1'000};
    // The one URI's open, two searches and a read, and the wait for the KDC watch's verdict after a
    // timeout.
    constexpr milliseconds budget = timeout * 4 + kerberos::KdcWatch::longest_wait;
    DirectoryClient client(faulty({lab_.at("LAB_LDAP_URL")}, config::LdapTls::none, timeout), &kerberos_);
    const auto results =
        run_lookups(client, {{"user05@example.test"}, {"user06@example.test"}, {"user07@example.test"}});
    std::size_t gave_up = 0;
    for (const auto& timed : results) {
        EXPECT_EQ(cause_of(timed.result), "unavailable") << detail_of(timed.result);
        EXPECT_LT(timed.elapsed, budget + slack) << detail_of(timed.result);
        EXPECT_NE(detail_of(timed.result).find("KDC"), std::string::npos) << detail_of(timed.result);
        if (detail_of(timed.result).starts_with("timed out: no answer from the directory within 7s"))
            ++gave_up;
        std::cout << "[ figures  ] silent KDC: " << timed.elapsed.count()
                  << " ms: " << detail_of(timed.result) << "\n";
    }
    EXPECT_EQ(gave_up, 1u);  // the lookup whose worker is asking the KDC, answered at its budget...
    EXPECT_GE(kdc->connections(), 1u);
    kdc->set_mode(Mode::refuse);  // ...and that worker ends now instead of after krb5's ~27 s
}

}  // namespace
}  // namespace easgate::directory
