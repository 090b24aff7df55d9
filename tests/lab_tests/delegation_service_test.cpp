// DelegationService against the lab's real Samba KDC and Apache + mod_auth_gssapi (tests/lab).

#include "easgate/delegation/delegation_service.hpp"

#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "fault_relay.hpp"
#include "lab_environment.hpp"
#include "test_pki.hpp"

namespace easgate::delegation {
namespace {

using testing::FaultRelay;
using testing::LabEnvironment;
using Mode = FaultRelay::Mode;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

config::KerberosConfig lab_kerberos(const std::string& keytab = "LAB_EASGATE_KEYTAB",
                                    const std::string& principal = "LAB_EASGATE_PRINCIPAL") {
    const LabEnvironment& lab = LabEnvironment::get();
    config::KerberosConfig kerberos;
    kerberos.keytab = lab.at(keytab);
    kerberos.principal = lab.at(principal);
    return kerberos;
}

DelegationResult token_for(DelegationService& service, const std::string& user,
                           const std::string& spn = LabEnvironment::get().at("LAB_MAIL_SPN")) {
    boost::asio::io_context io;
    auto result = boost::asio::co_spawn(io, service.negotiate_token(user, spn), boost::asio::use_future);
    io.run();
    return result.get();
}

// The user the lab's Exchange stand-in (Apache + mod_auth_gssapi) authenticated with the token.
std::string backend_user(const std::string& token) {
    const LabEnvironment& lab = LabEnvironment::get();
    const auto response = testing::run_command({"curl", "-sS", "--cacert", lab.at("LAB_CA_FILE"), "-H",
                                                "Authorization: Negotiate " + token, lab.at("LAB_MAIL_URL")});
    EXPECT_EQ(response.exit_code, 0) << response.err;
    const auto json = nlohmann::json::parse(response.out, nullptr, false);
    return json.is_object() ? json.value("user", "") : "(not JSON: " + response.out + ")";
}

std::string base64_decode(const std::string& text) {
    std::string bytes(text.size(), '\0');
    const int length =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    bytes.resize(static_cast<std::size_t>(length) - std::count(text.end() - 2, text.end(), '='));
    return bytes;
}

// Accepts the token with an acceptor that speaks only SPNEGO (a raw krb5 token fails there), as
// IIS does; returns the authenticated client.
std::string spnego_only_acceptor_user(const std::string& token) {
    const LabEnvironment& lab = LabEnvironment::get();
    const std::string keytab = lab.at("LAB_MAIL_KEYTAB");
    gss_OID_desc spnego{6, const_cast<char*>("\x2b\x06\x01\x05\x05\x02")};
    gss_OID_set_desc spnego_only{1, &spnego};
    gss_key_value_element_desc elements[] = {{"keytab", keytab.c_str()}, {"rcache", "none:"}};
    const gss_key_value_set_desc store{2, elements};
    OM_uint32 minor = 0;
    gss_cred_id_t acceptor = GSS_C_NO_CREDENTIAL;
    EXPECT_EQ(gss_acquire_cred_from(&minor, GSS_C_NO_NAME, 0, &spnego_only, GSS_C_ACCEPT, &store, &acceptor,
                                    nullptr, nullptr),
              GSS_S_COMPLETE);
    std::string bytes = base64_decode(token);
    gss_buffer_desc input{bytes.size(), bytes.data()};
    gss_ctx_id_t context = GSS_C_NO_CONTEXT;
    gss_name_t client = GSS_C_NO_NAME;
    gss_buffer_desc output{0, nullptr};
    gss_buffer_desc client_text{0, nullptr};
    const OM_uint32 major =
        gss_accept_sec_context(&minor, &context, acceptor, &input, GSS_C_NO_CHANNEL_BINDINGS, &client,
                               nullptr, &output, nullptr, nullptr, nullptr);
    std::string user = "(refused)";
    if (!GSS_ERROR(major) && gss_display_name(&minor, client, &client_text, nullptr) == GSS_S_COMPLETE) {
        user.assign(static_cast<const char*>(client_text.value), client_text.length);
    }
    gss_release_buffer(&minor, &client_text);
    gss_release_buffer(&minor, &output);
    gss_release_name(&minor, &client);
    gss_delete_sec_context(&minor, &context, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &acceptor);
    return user;
}

TEST(DelegationService, AliceTokenIsAcceptedByTheBackendAsAlice) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(result.ok()) << result.detail;
    EXPECT_EQ(backend_user(result.negotiate_token), "alice@EXAMPLE.TEST");
    EXPECT_EQ(spnego_only_acceptor_user(result.negotiate_token), "alice@EXAMPLE.TEST");
}

TEST(DelegationService, FiftyTokensForOneUserCostOneS4U2SelfAndOneS4U2Proxy) {
    DelegationService service(lab_kerberos());
    boost::asio::io_context io;
    constexpr int concurrent = 40;
    std::atomic<int> ok{0};
    std::atomic<int> resumed_elsewhere{0};
    std::vector<std::string> tokens(concurrent);
    for (int i = 0; i < concurrent; ++i) {
        boost::asio::co_spawn(
            io,
            [&, i]() -> boost::asio::awaitable<void> {
                const auto result =
                    co_await service.negotiate_token("alice@EXAMPLE.TEST", "HTTP/mail.example.test");
                if (!io.get_executor().running_in_this_thread()) ++resumed_elsewhere;
                if (result.ok()) ++ok;
                tokens[i] = result.negotiate_token;
            },
            boost::asio::detached);
    }
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 3; ++i) io_threads.emplace_back([&] { io.run(); });
    for (auto& thread : io_threads) thread.join();
    EXPECT_EQ(ok, concurrent);
    EXPECT_EQ(resumed_elsewhere, 0);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(token_for(service, "alice@EXAMPLE.TEST").ok());

    EXPECT_EQ(service.counters().s4u2self, 1U);
    EXPECT_EQ(service.counters().s4u2proxy, 1U);
    EXPECT_EQ(service.counters().cache_hits, 49U);
    EXPECT_EQ(service.counters().failures, 0U);
    // Every token is a new authenticator (a replayed one would be refused), and a cached one works.
    EXPECT_NE(tokens[0], tokens[1]);
    EXPECT_EQ(backend_user(tokens[concurrent - 1]), "alice@EXAMPLE.TEST");
}

TEST(DelegationService, BobGetsBobsTicket) {
    DelegationService service(lab_kerberos());
    EXPECT_TRUE(token_for(service, "alice@EXAMPLE.TEST").ok());
    const auto bob = token_for(service, "bob@EXAMPLE.TEST");
    ASSERT_TRUE(bob.ok()) << bob.detail;
    EXPECT_EQ(backend_user(bob.negotiate_token), "bob@EXAMPLE.TEST");
    EXPECT_EQ(service.counters().s4u2self, 2U);
}

TEST(DelegationService, DisabledCarolIsRefusedAsAUser) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "carol@EXAMPLE.TEST");
    EXPECT_EQ(result.failure, DelegationFailure::user_refused) << result.detail;
    EXPECT_NE(result.detail.find("KDC_ERR_POLICY"), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("carol@EXAMPLE.TEST"), std::string::npos) << result.detail;
    EXPECT_EQ(service.counters().failures, 1U);
}

TEST(DelegationService, NotDelegableDaveIsExplainedAsBadOption) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "dave@EXAMPLE.TEST");
    EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
    EXPECT_NE(result.detail.find("KDC_ERR_BADOPTION"), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("sensitive and cannot be delegated"), std::string::npos) << result.detail;
}

TEST(DelegationService, ServiceWithoutDelegationRightsNamesAllowedToDelegateTo) {
    DelegationService service(lab_kerberos("LAB_NODELEG_KEYTAB", "LAB_NODELEG_PRINCIPAL"));
    const auto result = token_for(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
    EXPECT_NE(result.detail.find("KDC_ERR_BADOPTION"), std::string::npos) << result.detail;
    EXPECT_NE(result.detail.find("msDS-AllowedToDelegateTo of EASGATE-NODELEG$"), std::string::npos)
        << result.detail;
}

TEST(DelegationService, UnregisteredSpnIsSaidToBeNotRegistered) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "alice@EXAMPLE.TEST", "HTTP/nosuch.example.test");
    EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
    EXPECT_NE(result.detail.find("SPN HTTP/nosuch.example.test is not registered"), std::string::npos)
        << result.detail;
}

TEST(DelegationService, MissingKeytabIsAConfigError) {
    auto kerberos = lab_kerberos();
    kerberos.keytab = "/nonexistent/easgate.keytab";
    try {
        DelegationService service(kerberos);
        FAIL() << "no ConfigError";
    } catch (const config::ConfigError& error) {
        EXPECT_NE(
            std::string(error.what()).find("kerberos.keytab: /nonexistent/easgate.keytab does not exist"),
            std::string::npos)
            << error.what();
    }
}

TEST(DelegationService, KeytabWithoutThePrincipalsKeyIsAConfigError) {
    auto kerberos = lab_kerberos("LAB_NODELEG_KEYTAB");
    EXPECT_THROW(DelegationService service(kerberos), config::ConfigError);
}

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
    DelegationService& service_with_kdcs(const std::vector<std::string>& kdcs,
                                         milliseconds kdc_timeout = timeout) {
        std::string conf = testing::read_file(lab().at("KRB5_CONFIG"));
        std::string lines;
        for (const auto& kdc : kdcs) lines += (lines.empty() ? "kdc = " : "\n        kdc = ") + kdc;
        const std::string lab_kdc = "kdc = " + lab().at("LAB_KDC") + ":88";
        conf.replace(conf.find(lab_kdc), lab_kdc.size(), lines);
        const auto path = work_ / "krb5.conf";
        testing::write_file(path, conf);
        setenv("KRB5_CONFIG", path.c_str(), 1);
        auto kerberos = lab_kerberos();
        kerberos.krb5_conf = path;
        kerberos.timeout = kdc_timeout;
        service_ = std::make_unique<DelegationService>(kerberos);
        return *service_;
    }

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
    std::unique_ptr<DelegationService> service_;
};

TEST_F(KdcFaultTest, SilentKdcFailsWithinTheTimeoutNamingTheKdcAndTheRemedy) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    const auto start = Clock::now();
    auto& service = service_with_kdcs({kdc_of(silent, "127.0.0.22")});
    EXPECT_LT(Clock::now() - start, seconds(1)) << "the service must not wait for the KDC when it is made";
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
    EXPECT_GE(took, timeout - milliseconds(100));
    EXPECT_LT(took, timeout + seconds(3));
    EXPECT_NE(result.detail.find("KDC " + kdc_of(silent, "127.0.0.22") +
                                 " of EXAMPLE.TEST did not answer within kerberos.timeout (2s)"),
              std::string::npos)
        << result.detail;
    EXPECT_NE(result.detail.find("reachable from easgate on port 88 TCP and UDP"), std::string::npos)
        << result.detail;
}

TEST_F(KdcFaultTest, ThreeUsersAtOnceAllFailWithinTheTimeoutNotOneAfterTheOther) {
    const auto& silent = relay("127.0.0.22", Mode::silent);
    auto& service = service_with_kdcs({kdc_of(silent, "127.0.0.22")});
    const auto results = at_once(service, {"alice@EXAMPLE.TEST", "bob@EXAMPLE.TEST", "user01@EXAMPLE.TEST"});
    for (const auto& [result, took] : results) {
        EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
        EXPECT_LT(took, timeout + seconds(3)) << result.detail;
    }
}

// Every KDC thread stuck on the silent KDC: a user whose ticket is cached still gets tokens at once.
TEST_F(KdcFaultTest, CachedUserKeepsGettingTokensWhileTheKdcIsSilent) {
    auto& kdc = relay("127.0.0.22", Mode::forward);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    ASSERT_TRUE(token_for(service, "alice@EXAMPLE.TEST").ok());
    kdc.set_mode(Mode::silent);
    auto stuck = std::async(std::launch::async, [&] {
        return at_once(service, {"user01@EXAMPLE.TEST", "user02@EXAMPLE.TEST", "user03@EXAMPLE.TEST",
                                 "user04@EXAMPLE.TEST", "user05@EXAMPLE.TEST"});
    });
    std::this_thread::sleep_for(milliseconds(300));  // the uncached users' exchanges hold every KDC thread
    for (int i = 0; i < 5; ++i) {
        const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
        EXPECT_TRUE(result.ok()) << result.detail;
        EXPECT_LT(took, milliseconds(500));
    }
    for (const auto& [result, took] : stuck.get()) EXPECT_FALSE(result.ok());
}

TEST_F(KdcFaultTest, NothingListeningFailsAtOnceSayingNoKdcCouldBeReached) {
    const auto& refusing = relay("127.0.0.22", Mode::refuse);
    auto& service = service_with_kdcs({kdc_of(refusing, "127.0.0.22")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(result.failure, DelegationFailure::infrastructure) << result.detail;
    EXPECT_LT(took, seconds(2));
    EXPECT_NE(result.detail.find("no KDC of realm EXAMPLE.TEST (" + kdc_of(refusing, "127.0.0.22") +
                                 ") could be reached (KRB5_KDC_UNREACH"),
              std::string::npos)
        << result.detail;
    EXPECT_NE(result.detail.find("port 88"), std::string::npos) << result.detail;
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
    EXPECT_EQ(cancelled.result.failure, DelegationFailure::infrastructure);
    EXPECT_NE(cancelled.result.detail.find("cancelled"), std::string::npos) << cancelled.result.detail;
    EXPECT_LT(cancelled.took, milliseconds(400));
    EXPECT_EQ(service.counters().failures, 0U);

    const auto later = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(later.result.ok()) << later.result.detail;
    EXPECT_EQ(service.counters().s4u2self, 1U);  // the cancelled call's exchange, finished and shared
    EXPECT_EQ(backend_user(later.result.negotiate_token), "alice@EXAMPLE.TEST");
}

TEST_F(KdcFaultTest, SlowKdcWithinTheTimeoutSucceeds) {
    auto& slow = relay("127.0.0.22", Mode::forward);
    slow.set_mode(Mode::slow, milliseconds(150));  // each connection and each reply: five exchanges
    auto& service = service_with_kdcs({kdc_of(slow, "127.0.0.22")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(result.ok()) << result.detail;
    EXPECT_GT(took, milliseconds(500)) << "the relay did slow it down";
    EXPECT_EQ(backend_user(result.negotiate_token), "alice@EXAMPLE.TEST");
}

// A first KDC whose packets are dropped costs krb5 a second per exchange before it asks the next.
TEST_F(KdcFaultTest, SecondKdcTakesOverWhenTheFirstDropsPackets) {
    const auto& dropping = relay("127.0.0.22", Mode::drop);
    const auto& second = relay("127.0.0.23", Mode::forward);
    auto& service =
        service_with_kdcs({kdc_of(dropping, "127.0.0.22"), kdc_of(second, "127.0.0.23")}, seconds(10));
    const auto [result, took] = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(result.ok()) << result.detail;
    EXPECT_LT(took, seconds(10));
    EXPECT_GT(second.connections(), 0U);
    EXPECT_EQ(backend_user(result.negotiate_token), "alice@EXAMPLE.TEST");
}

TEST_F(KdcFaultTest, KdcComingBackServesTheNextCallWithoutARestart) {
    auto& kdc = relay("127.0.0.22", Mode::silent);
    auto& service = service_with_kdcs({kdc_of(kdc, "127.0.0.22")});
    const auto outage = timed_token(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(outage.result.failure, DelegationFailure::infrastructure) << outage.result.detail;
    EXPECT_LT(outage.took, timeout + seconds(3));
    kdc.set_mode(Mode::forward);
    const auto back = timed_token(service, "alice@EXAMPLE.TEST");
    ASSERT_TRUE(back.result.ok()) << back.result.detail;
    EXPECT_LT(back.took, timeout);
    EXPECT_EQ(backend_user(back.result.negotiate_token), "alice@EXAMPLE.TEST");
}

}  // namespace
}  // namespace easgate::delegation
