// DelegationService against the lab's real Samba KDC and Apache + mod_auth_gssapi (tests/lab).

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

#include "delegation_service_fixture.hpp"

namespace easgate::delegation {
namespace {

using namespace lab;

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
    ASSERT_TRUE(result.has_value()) << detail_of(result);
    EXPECT_EQ(backend_user(token_of(result)), "alice@EXAMPLE.TEST");
    EXPECT_EQ(spnego_only_acceptor_user(token_of(result)), "alice@EXAMPLE.TEST");
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
                if (result.has_value()) ++ok;
                tokens[i] = token_of(result);
            },
            boost::asio::detached);
    }
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 3; ++i) io_threads.emplace_back([&] { io.run(); });
    for (auto& thread : io_threads) thread.join();
    EXPECT_EQ(ok, concurrent);
    EXPECT_EQ(resumed_elsewhere, 0);
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(token_for(service, "alice@EXAMPLE.TEST").has_value());

    EXPECT_EQ(service.counters().s4u2self, 1U);
    EXPECT_EQ(service.counters().s4u2proxy, 1U);
    EXPECT_EQ(service.counters().cache_hits, 10U) << "the 40 concurrent calls shared the KDC exchange";
    EXPECT_EQ(service.counters().tokens, 49U) << "the first token came with the S4U2Proxy exchange";
    EXPECT_EQ(service.counters().failures, 0U);
    // Every token is a new authenticator (a replayed one would be refused), and a cached one works.
    EXPECT_NE(tokens[0], tokens[1]);
    EXPECT_EQ(backend_user(tokens[concurrent - 1]), "alice@EXAMPLE.TEST");
}

// Exchange refused a ticket it had accepted before (its key changed): renew drops it for a new one
// from the KDC; a request still holding the old one takes its successor from the cache. A ticket
// Exchange never accepted, or one renewed less than a minute ago, is not renewed: a new one would
// not help, and the KDC is spared.
TEST(DelegationService, ARefusedTicketIsRenewedOnlyIfExchangeHadAcceptedIt) {
    DelegationService service(lab_kerberos());
    const std::string alice = "alice@EXAMPLE.TEST";
    const std::string spn = LabEnvironment::get().at("LAB_MAIL_SPN");
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            auto refused = co_await service.delegate(alice, spn);
            EXPECT_TRUE(refused.has_value());
            if (!refused) co_return;
            const auto never_accepted = co_await service.renew(*refused);
            EXPECT_TRUE(never_accepted.has_value() && !*never_accepted);
            EXPECT_EQ(service.counters().s4u2self, 1U);

            refused->accepted();
            auto other_request = *refused;  // another request of alice's, refused with the same ticket
            const auto renewed = co_await service.renew(*refused);
            EXPECT_TRUE(renewed.has_value() && *renewed);
            EXPECT_EQ(service.counters().s4u2self, 2U);
            EXPECT_EQ(service.counters().renewals, 1U);
            const auto token = service.token(*refused, {});
            EXPECT_TRUE(token.has_value());
            if (!token) co_return;
            EXPECT_EQ(backend_user(*token), alice);

            const auto shared = co_await service.renew(other_request);
            EXPECT_TRUE(shared.has_value() && *shared);
            EXPECT_EQ(service.counters().s4u2self, 2U) << "the successor came from the cache";
            EXPECT_EQ(service.counters().renewals, 1U) << "nothing was dropped the second time";

            refused->accepted();
            const auto again = co_await service.renew(*refused);
            EXPECT_TRUE(again.has_value() && !*again) << "renewed less than a minute ago";
            EXPECT_EQ(service.counters().s4u2self, 2U);
            EXPECT_EQ(service.cached_credentials(), 1U);
        },
        boost::asio::use_future);
    io.run();
    done.get();
}

// A name passes to another account when its holder leaves (renamed, and a new hire given the
// name): the ticket cached for the name as the leaver's account never serves the newcomer's.
TEST(DelegationService, ATicketCachedForOneAccountIsNotHandedToTheNextAccountOfTheName) {
    DelegationService service(lab_kerberos());
    const std::string alice = "alice@EXAMPLE.TEST";
    const std::string spn = LabEnvironment::get().at("LAB_MAIL_SPN");
    const std::string leaver = "S-1-5-21-1004336348-1177238915-682003330-1105";
    const std::string newcomer = "S-1-5-21-1004336348-1177238915-682003330-2301";
    boost::asio::io_context io;
    auto done = boost::asio::co_spawn(
        io,
        [&]() -> boost::asio::awaitable<void> {
            bool from_cache = true;
            // Each result named: GCC 12 destroys temporaries of a co_await expression twice.
            const auto first = co_await service.delegate(alice, spn, &from_cache, leaver);
            EXPECT_TRUE(first.has_value());
            EXPECT_FALSE(from_cache);
            const auto other = co_await service.delegate(alice, spn, &from_cache, newcomer);
            EXPECT_TRUE(other.has_value());
            EXPECT_FALSE(from_cache) << "the leaver's ticket served the newcomer";
            EXPECT_EQ(service.counters().s4u2self, 2U);
            const auto again = co_await service.delegate(alice, spn, &from_cache, newcomer);
            EXPECT_TRUE(again.has_value());
            EXPECT_TRUE(from_cache);
        },
        boost::asio::use_future);
    io.run();
    done.get();
    EXPECT_FALSE(service.delegate_now(alice, spn, "S-1-5-21-1004336348-1177238915-682003330-2302"));
    EXPECT_TRUE(service.delegate_now(alice, spn, leaver));
}

TEST(DelegationService, BobGetsBobsTicket) {
    DelegationService service(lab_kerberos());
    EXPECT_TRUE(token_for(service, "alice@EXAMPLE.TEST").has_value());
    const auto bob = token_for(service, "bob@EXAMPLE.TEST");
    ASSERT_TRUE(bob.has_value()) << detail_of(bob);
    EXPECT_EQ(backend_user(token_of(bob)), "bob@EXAMPLE.TEST");
    EXPECT_EQ(service.counters().s4u2self, 2U);
}

TEST(DelegationService, DisabledCarolIsRefusedAsAUser) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "carol@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 403u) << detail_of(result);
    EXPECT_NE(detail_of(result).find("KDC_ERR_POLICY"), std::string::npos) << detail_of(result);
    EXPECT_NE(detail_of(result).find("carol@EXAMPLE.TEST"), std::string::npos) << detail_of(result);
    EXPECT_EQ(service.counters().failures, 1U);
}

TEST(DelegationService, NotDelegableDaveIsExplainedAsBadOption) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "dave@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_NE(detail_of(result).find("KDC_ERR_BADOPTION"), std::string::npos) << detail_of(result);
    EXPECT_NE(detail_of(result).find("sensitive and cannot be delegated"), std::string::npos)
        << detail_of(result);
}

// Once alice was delegated, easgate's account is known to be set up: dave's refusal is put down
// to dave alone, with no change to easgate's account suggested.
TEST(DelegationService, NotDelegableDaveAfterAliceIsPutDownToDave) {
    DelegationService service(lab_kerberos());
    ASSERT_TRUE(token_for(service, "alice@EXAMPLE.TEST"));
    const auto result = token_for(service, "dave@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_NE(
        detail_of(result).find("not forwardable for this user while it delegates others, so "
                               "dave@EXAMPLE.TEST is marked 'Account is sensitive and cannot be delegated'"),
        std::string::npos)
        << detail_of(result);
    EXPECT_EQ(detail_of(result).find("TrustedToAuthForDelegation"), std::string::npos) << detail_of(result);
}

// Neither protocol transition nor the SPN in its list: its S4U2Self ticket is not forwardable, so
// the first is named as the cause, and the remedy adds the SPN too.
TEST(DelegationService, ServiceWithoutDelegationRightsNamesProtocolTransitionAndTheList) {
    DelegationService service(lab_kerberos("LAB_NODELEG_KEYTAB", "LAB_NODELEG_PRINCIPAL"));
    const auto result = token_for(service, "alice@EXAMPLE.TEST");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_NE(detail_of(result).find("KDC_ERR_BADOPTION"), std::string::npos) << detail_of(result);
    EXPECT_NE(detail_of(result).find("'Use any authentication protocol' (protocol transition, "
                                     "TRUSTED_TO_AUTH_FOR_DELEGATION) is off for EASGATE-NODELEG$"),
              std::string::npos)
        << detail_of(result);
    EXPECT_NE(detail_of(result).find("-Add @{'msDS-AllowedToDelegateTo'='HTTP/mail.example.test'}"),
              std::string::npos)
        << detail_of(result);
}

TEST(DelegationService, UnregisteredSpnIsSaidToBeNotRegistered) {
    DelegationService service(lab_kerberos());
    const auto result = token_for(service, "alice@EXAMPLE.TEST", "HTTP/nosuch.example.test");
    EXPECT_EQ(status_of(result), 503u) << detail_of(result);
    EXPECT_NE(detail_of(result).find("SPN HTTP/nosuch.example.test is not registered"), std::string::npos)
        << detail_of(result);
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

}  // namespace
}  // namespace easgate::delegation
