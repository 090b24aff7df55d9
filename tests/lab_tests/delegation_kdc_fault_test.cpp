// KDCs that fail in chosen ways in front of the lab's real Samba KDC (tests/lab): every call
// bounded by kerberos.timeout, cached users served while the KDC is away.
#include <atomic>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <thread>
#include <utility>
#include <vector>

#include "delegation_service_fixture.hpp"
#include "fault_relay.hpp"
#include "lab_administration.hpp"
#include "test_pki.hpp"

namespace easgate::delegation {
namespace {

using namespace lab;
using testing::FaultRelay;
using Mode = FaultRelay::Mode;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A KDC that fails in a chosen way: the service's krb5.conf lists stand-ins (FaultRelay) in front of
// the lab's KDC instead of the KDC itself.
class KdcFaultTest : public ::testing::Test {
protected:
    static constexpr milliseconds timeout{2'000};

    void SetUp() override { work_ = testing::make_temp_dir("kdc-fault"); }

    void TearDown() override {
        relays_.clear();  // cuts the connections krb5 still waits on, so the KDC threads end now
        service_.reset();
        setenv("KRB5_CONFIG", lab().at("KRB5_CONFIG").c_str(), 1);
        std::filesystem::remove_all(work_);
    }

    static const LabEnvironment& lab() { return LabEnvironment::get(); }

    // A stand-in on address for the lab's KDC (TCP: the lab's krb5.conf sets udp_preference_limit = 1).
    FaultRelay& relay(const std::string& address, Mode mode) {
        relays_.push_back(std::make_unique<FaultRelay>(address, 0, lab().at("LAB_KDC"), 88, mode));
        return *relays_.back();
    }

    static std::string kdc_of(const FaultRelay& relay, const std::string& address) {
        return address + ":" + std::to_string(relay.port());
    }

    // The lab's krb5.conf with kdcs instead of the lab's KDC, in effect for this process (krb5 reads
    // KRB5_CONFIG whenever it makes a context).
    // adjust: changes to the service's configuration.
    DelegationService& service_with_kdcs(const std::vector<std::string>& kdcs,
                                         milliseconds kdc_timeout = timeout,
                                         const std::function<void(config::KerberosConfig&)>& adjust = {}) {
        const auto path = work_ / "krb5.conf";
        testing::write_file(path, lab().krb5_conf_with_kdcs(kdcs));
        setenv("KRB5_CONFIG", path.c_str(), 1);
        auto kerberos = lab_kerberos();
        kerberos.krb5_conf = path;
        kerberos.timeout = kdc_timeout;
        if (adjust) adjust(kerberos);
        service_ = std::make_shared<DelegationService>(
            kerberos, [this] { return Clock::now() + Clock::duration(clock_ahead_.load()); });
        return *service_;
    }

    // The service's clock, for when tickets are due and end, moved on: the lab's tickets last 10 h.
    void move_clock_to(Clock::duration since_start) { clock_ahead_ = since_start.count(); }

    struct Timed {
        DelegationResult result;
        milliseconds took;
    };

    static Timed timed_token(DelegationService& service, const std::string& user) {
        const auto start = Clock::now();
        auto result = token_for(service, user);
        return {std::move(result), std::chrono::duration_cast<milliseconds>(Clock::now() - start)};
    }

    // Several users at once, on one I/O thread, each call timed from the start.
    static std::vector<Timed> at_once(DelegationService& service, const std::vector<std::string>& users) {
        boost::asio::io_context io;
        const auto start = Clock::now();
        std::vector<Timed> results(users.size());
        for (std::size_t i = 0; i < users.size(); ++i) {
            boost::asio::co_spawn(
                io,
                [&, i]() -> boost::asio::awaitable<void> {
                    results[i].result = co_await service.negotiate_token(users[i], lab().at("LAB_MAIL_SPN"));
                    results[i].took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
                },
                boost::asio::detached);
        }
        io.run();
        return results;
    }

    std::filesystem::path work_;
    std::vector<std::unique_ptr<FaultRelay>> relays_;
    std::shared_ptr<DelegationService> service_;  // shared: a request's filter chain holds it so
    std::atomic<Clock::duration::rep> clock_ahead_{0};
};

TEST_F(KdcFaultTest, SilentKdcFailsWithinTheTimeoutNamingTheKdcAndTheRemedy) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    const auto start = Clock::now();
    auto& service = service_with_kdcs({kdc_of(silent, "127.0.0.22")});
    EXPECT_LT(Clock::now() - start, seconds(1)) << "the service must not wait for the KDC when it is made";
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_GE(took, timeout - milliseconds(100));
    EXPECT_LT(took, timeout + seconds(3));
    EXPECT_NE(detail_of(result).find("KDC " + kdc_of(silent, "127.0.0.22") +
                                     " of EXAMPLE.TEST did not answer within kerberos.timeout (2s)"),
              std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find("reachable from easgate on port 88 TCP and UDP"), std::string::npos)
        << detail_of(result);
}

// A request's delegation, holding the service as its filter chain does.
boost::asio::awaitable<void> delegate_holding(std::shared_ptr<DelegationService> service, std::string spn) {
    co_await service->delegate("alice@EXAMPLE.TEST", std::move(spn));
}

// At exit the loops stop with a delegation still waiting on a silent KDC: its coroutine holds the
// service, and the service holds it (its KDC exchange's waiter). stop_waiting() lets it go with its
// loop, so the service ends, joining its KDC threads, instead of outliving everything.
TEST_F(KdcFaultTest, AnExchangeStillWaitingWhenTheLoopsStopLetsTheServiceGo) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    service_with_kdcs({kdc_of(silent, "127.0.0.22")});
    const std::weak_ptr<DelegationService> weak = service_;
    {
        boost::asio::io_context loop;
        boost::asio::co_spawn(loop,
                              delegate_holding(std::exchange(service_, nullptr), lab().at("LAB_MAIL_SPN")),
                              boost::asio::detached);
        for (int i = 0; i < 100 && silent.connections() == 0; ++i) loop.run_for(milliseconds(20));
        ASSERT_GE(silent.connections(), 1u) << "the exchange is at the silent KDC";
        loop.stop();
        weak.lock()->stop_waiting();
        relays_.clear();  // krb5, cut off, returns at once: the KDC thread is joined without its 30 s
    }
    EXPECT_TRUE(weak.expired()) << "the service outlived its loop";
}

TEST_F(KdcFaultTest, ThreeUsersAtOnceAllFailWithinTheTimeoutNotOneAfterTheOther) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    auto& service = service_with_kdcs({kdc_of(silent, "127.0.0.22")});
    const auto results = at_once(service, {"alice@EXAMPLE.TEST", "bob@EXAMPLE.TEST", "user01@EXAMPLE.TEST"});
    for (const auto& [result, took] : results) {
        EXPECT_EQ(status_of(result), 503u) << detail_of(result);
        EXPECT_LT(took, timeout + seconds(3)) << detail_of(result);
    }
}

// Every KDC thread stuck on the silent KDC: a user whose ticket is cached still gets tokens at once.
// More users than the KDC threads and their queue hold, with the KDC silent: those beyond
// kerberos.max_queued_kdc are answered at once (503, overloaded), not after kerberos.timeout.
TEST_F(KdcFaultTest, ExchangesBeyondTheQueueBoundAreUnavailableAtOnce) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    auto& service = service_with_kdcs({kdc_of(silent, "127.0.0.22")}, timeout, [](config::KerberosConfig& k) {
        k.max_concurrent_kdc = 1;
        k.max_queued_kdc = 2;
    });
    const auto results =
        at_once(service, {"user01@EXAMPLE.TEST", "user02@EXAMPLE.TEST", "user03@EXAMPLE.TEST",
                          "user04@EXAMPLE.TEST", "user05@EXAMPLE.TEST", "user06@EXAMPLE.TEST"});
    std::size_t overloaded = 0;
    for (const auto& [result, took] : results) {
        EXPECT_EQ(status_of(result), 503u);
        if (detail_of(result).find(
                "overloaded: kerberos.max_queued_kdc (2) KDC exchanges are already waiting "
                "for one of kerberos.max_concurrent_kdc (1)") == std::string::npos) {
            EXPECT_GE(took, timeout - milliseconds(100)) << detail_of(result);
            continue;
        }
        ++overloaded;
        EXPECT_LT(took, milliseconds(500));
    }
    // One exchange runs (stuck on the KDC) and two wait; the first may still have been waiting
    // for the thread when the last users came.
    EXPECT_GE(overloaded, 3u);
    EXPECT_LE(overloaded, 4u);
    EXPECT_EQ(service.counters().queue_full, overloaded);
}

TEST_F(KdcFaultTest, CachedUserKeepsGettingTokensWhileTheKdcIsSilent) {
    auto& kdc = relay("127.0.0.22", Mode::forward);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    ASSERT_TRUE(token_for(service, "alice@EXAMPLE.TEST").has_value());
    kdc.set_mode(Mode::silent);
    auto stuck = std::async(std::launch::async, [&] {
        return at_once(service, {"user01@EXAMPLE.TEST", "user02@EXAMPLE.TEST", "user03@EXAMPLE.TEST",
                                 "user04@EXAMPLE.TEST", "user05@EXAMPLE.TEST"});
    });
    std::this_thread::sleep_for(milliseconds(300));  // the uncached users' exchanges hold every KDC thread
    for (int i = 0; i < 5; ++i) {
        const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
        EXPECT_TRUE(result.has_value()) << detail_of(result);
        EXPECT_LT(took, milliseconds(500));
    }
    for (const auto& [result, took] : stuck.get()) EXPECT_FALSE(result.has_value());
}

// A ticket due for refresh is still used while it lasts, and refreshed in the background: a KDC that
// is away delays nobody until the ticket really ends. The lab's tickets last 10 h: due for refresh
// 5 min before (kerberos.ticket_refresh_before), used until 10 s before.
TEST_F(KdcFaultTest, ATicketDueForRefreshIsUsedUntilItEndsWhileTheKdcIsAway) {
    using std::chrono::hours;
    using std::chrono::minutes;
    auto& kdc = relay("127.0.0.22", Mode::forward);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    ASSERT_TRUE(token_for(service, "alice@EXAMPLE.TEST").has_value());
    kdc.set_mode(Mode::refuse);

    move_clock_to(hours(9) + minutes(56));
    for (int i = 0; i < 3; ++i) {  // the first starts the refresh, which fails; the ticket stays
        const auto [due, took] = timed_token(service, "alice@EXAMPLE.TEST");
        ASSERT_TRUE(due.has_value()) << detail_of(due);
        EXPECT_LT(took, milliseconds(500));
        EXPECT_EQ(backend_user(*due), "alice@EXAMPLE.TEST");
    }
    EXPECT_EQ(service.counters().failures, 0U);
    EXPECT_EQ(service.counters().s4u2self, 2U) << "one refresh tried; the next only after a pause";

    move_clock_to(hours(10));
    const auto ended = token_for(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(status_of(ended), 503u) << "past its end, the KDC is needed";

    kdc.set_mode(Mode::forward);
    const auto back = token_for(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(back.has_value()) << detail_of(back);
    EXPECT_EQ(backend_user(*back), "alice@EXAMPLE.TEST");
}

// A user the KDC refuses when the ticket is refreshed (disabled since) loses the ticket easgate held
// at once, not when it ends.
TEST_F(KdcFaultTest, ARefreshTheKdcRefusesEndsTheHeldTicket) {
    auto& kdc = relay("127.0.0.22", Mode::forward);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    const std::string user = "user49@EXAMPLE.TEST";
    ASSERT_TRUE(token_for(service, user).has_value());
    const std::string dn = "CN=user49,CN=Users," + lab().at("LAB_BASE_DN");
    const auto set_disabled = [&](bool disabled) {
        return testing::as_administrator({"ldapmodify"},
                                         "dn: " + dn +
                                             "\nchangetype: modify\nreplace: userAccountControl\n"
                                             "userAccountControl: " +
                                             (disabled ? "514" : "512") + "\n");
    };
    ASSERT_EQ(set_disabled(true).exit_code, 0);
    struct Enable {
        std::function<void()> again;
        ~Enable() { again(); }
    } enable{[&] { set_disabled(false); }};

    move_clock_to(std::chrono::hours(9) + std::chrono::minutes(56));
    EXPECT_TRUE(token_for(service, user).has_value()) << "still held while its refresh runs";
    DelegationResult refused = token_for(service, user);
    for (int i = 0; i < 50 && refused.has_value(); ++i) {  // until the refresh has heard the KDC
        std::this_thread::sleep_for(milliseconds(100));
        refused = token_for(service, user);
    }
    EXPECT_EQ(status_of(refused), 403u) << detail_of(refused);
    EXPECT_NE(detail_of(refused).find("KDC_ERR_POLICY"), std::string::npos) << detail_of(refused);
}

TEST_F(KdcFaultTest, NothingListeningFailsAtOnceSayingNoKdcCouldBeReached) {
    const auto& refusing = relay("127.0.0.22", Mode::refuse);
    auto& service = service_with_kdcs({kdc_of(refusing, "127.0.0.22")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_LT(took, seconds(2));
    EXPECT_NE(detail_of(result).find("no KDC of realm EXAMPLE.TEST (" + kdc_of(refusing, "127.0.0.22") +
                                     ") could be reached (KRB5_KDC_UNREACH"),
              std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find("port 88"), std::string::npos) << detail_of(result);
}

TEST_F(KdcFaultTest, ACallItsCallerCancelsEndsAtOnceAndTheTicketIsStillCached) {
    auto& slow = relay("127.0.0.22", Mode::forward);
    slow.set_mode(Mode::slow, milliseconds(150));  // the exchanges take well over half a second
    auto& service = service_with_kdcs({kdc_of(slow, "127.0.0.22")}, seconds(10));
    boost::asio::io_context io;
    Timed cancelled;
    boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            using namespace boost::asio::experimental::awaitable_operators;
            const auto start = Clock::now();
            const auto call = [&]() -> boost::asio::awaitable<void> {
                cancelled.result =
                    co_await service.negotiate_token("alice@EXAMPLE.TEST", lab().at("LAB_MAIL_SPN"));
            };
            boost::asio::steady_timer give_up(io, milliseconds(100));
            co_await (call() || give_up.async_wait(boost::asio::use_awaitable));
            cancelled.took = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
        },
        boost::asio::detached);
    io.run();
    EXPECT_EQ(status_of(cancelled.result), 503u);
    EXPECT_NE(detail_of(cancelled.result).find("cancelled"), std::string::npos)
        << detail_of(cancelled.result);
    EXPECT_LT(cancelled.took, milliseconds(400));
    EXPECT_EQ(service.counters().failures, 0U);

    const auto later = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(later.result.has_value()) << detail_of(later.result);
    EXPECT_EQ(service.counters().s4u2self, 1U);  // the cancelled call's exchange, finished and shared
    EXPECT_EQ(backend_user(token_of(later.result)), "alice@EXAMPLE.TEST");
}

TEST_F(KdcFaultTest, SlowKdcWithinTheTimeoutSucceeds) {
    auto& slow = relay("127.0.0.22", Mode::forward);
    slow.set_mode(Mode::slow, milliseconds(150));  // each connection and each reply: five exchanges
    auto& service = service_with_kdcs({kdc_of(slow, "127.0.0.22")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(result.has_value()) << detail_of(result);
    EXPECT_GT(took, milliseconds(500)) << "the relay did slow it down";
    EXPECT_EQ(backend_user(token_of(result)), "alice@EXAMPLE.TEST");
}

// A first KDC whose packets are dropped costs krb5 a second per exchange before it asks the next.
TEST_F(KdcFaultTest, SecondKdcTakesOverWhenTheFirstDropsPackets) {
    const auto& dropping = relay("127.0.0.22", Mode::drop);
    const auto& second = relay("127.0.0.23", Mode::forward);
    auto& service =
        service_with_kdcs({kdc_of(dropping, "127.0.0.22"), kdc_of(second, "127.0.0.23")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(result.has_value()) << detail_of(result);
    EXPECT_LT(took, seconds(10));
    EXPECT_GT(second.connections(), 0U);
    EXPECT_EQ(backend_user(token_of(result)), "alice@EXAMPLE.TEST");
}

TEST_F(KdcFaultTest, KdcComingBackServesTheNextCallWithoutARestart) {
    auto& kdc = relay("127.0.0.22", Mode::silent);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    const auto outage = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(status_of(outage.result), 503u) << detail_of(outage.result);
    EXPECT_LT(outage.took, timeout + seconds(3));
    kdc.set_mode(Mode::forward);
    const auto back = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(back.result.has_value()) << detail_of(back.result);
    EXPECT_LT(back.took, timeout);
    EXPECT_EQ(backend_user(token_of(back.result)), "alice@EXAMPLE.TEST");
}

}  // namespace
}  // namespace easgate::delegation
