// The tokens ServiceTicket makes, checked by MIT's own acceptor code (krb5_rd_req) against a ticket
// made here for a service key in a memory keytab: no KDC needed.
#include "delegation/service_ticket.hpp"

#include <gtest/gtest.h>
#include <krb5/krb5.h>

#include <ctime>
#include <string>

#include "easgate/delegation/spnego.hpp"

// Exported by libkrb5 for MIT's KDC, declared only in its internal headers: they make the ticket a
// KDC would issue.
extern "C" krb5_error_code krb5_encrypt_tkt_part(krb5_context, const krb5_keyblock*, krb5_ticket*);
extern "C" krb5_error_code encode_krb5_ticket(const krb5_ticket*, krb5_data**);

namespace easgate::delegation {
namespace {

constexpr std::string_view binding = "tls-server-end-point:0123456789abcdef0123456789abcdef";

class ServiceTicketTest : public ::testing::TestWithParam<krb5_enctype> {
protected:
    void SetUp() override {
        ASSERT_EQ(krb5_init_context(&context_), 0);
        ASSERT_EQ(krb5_parse_name(context_, "HTTP/mail.example.test@EXAMPLE.TEST", &server_), 0);
        ASSERT_EQ(krb5_parse_name(context_, "alice@EXAMPLE.TEST", &client_), 0);
        ASSERT_EQ(krb5_c_make_random_key(context_, GetParam(), &service_key_), 0);
        static int keytabs = 0;  // one of its own for each test
        const std::string name = "MEMORY:service-ticket-test-" + std::to_string(++keytabs);
        ASSERT_EQ(krb5_kt_resolve(context_, name.c_str(), &keytab_), 0);
        ASSERT_EQ(krb5_kt_add_entry(context_, keytab_, &entry()), 0);
    }

    krb5_keytab_entry& entry() {
        entry_ = {};
        entry_.principal = server_;
        entry_.vno = 3;
        entry_.key = service_key_;
        return entry_;
    }

    void TearDown() override {
        krb5_kt_remove_entry(context_, keytab_, &entry());
        krb5_kt_close(context_, keytab_);
        krb5_free_keyblock_contents(context_, &service_key_);
        krb5_free_principal(context_, client_);
        krb5_free_principal(context_, server_);
        krb5_free_context(context_);
    }

    // A ticket to the service for alice, valid for `seconds` from now, as the KDC would issue it.
    std::unique_ptr<ServiceTicket> ticket(krb5_deltat seconds) {
        krb5_keyblock session{};
        EXPECT_EQ(krb5_c_make_random_key(context_, GetParam(), &session), 0);
        const krb5_timestamp now = static_cast<krb5_timestamp>(std::time(nullptr));
        krb5_transited transited{};
        krb5_enc_tkt_part part{};
        part.session = &session;
        part.client = client_;
        part.transited = transited;
        part.times = {now, now, now + seconds, 0};
        krb5_ticket issued{};
        issued.server = server_;
        issued.enc_part2 = &part;
        EXPECT_EQ(krb5_encrypt_tkt_part(context_, &service_key_, &issued), 0);
        issued.enc_part.kvno = 3;
        krb5_data* der = nullptr;
        EXPECT_EQ(encode_krb5_ticket(&issued, &der), 0);
        krb5_free_data_contents(context_, &issued.enc_part.ciphertext);

        krb5_creds creds{};
        EXPECT_EQ(krb5_copy_principal(context_, client_, &creds.client), 0);
        EXPECT_EQ(krb5_copy_principal(context_, server_, &creds.server), 0);
        creds.keyblock = session;  // its contents now the credential's
        creds.times = part.times;
        creds.ticket = *der;
        free(der);  // the struct only: its data is now the credential's
        krb5_error_code error = 0;
        auto made = ServiceTicket::adopt(creds, error);
        EXPECT_EQ(error, 0);
        return made;
    }

    // The AP-REQ inside a Kerberos initial context token (RFC 2743 3.1: 60 len, the mechanism OID, 01 00).
    static krb5_data ap_req_of(std::string_view token) {
        std::size_t at = 1;
        const auto first = static_cast<unsigned char>(token[at++]);
        if (first & 0x80) at += first & 0x7f;
        at += 2 + static_cast<unsigned char>(token[at + 1]);  // the OID
        at += 2;                                              // TOK_ID
        return {KV5M_DATA, static_cast<unsigned int>(token.size() - at),
                const_cast<char*>(token.data() + at)};
    }

    // What MIT's acceptor makes of the token: 0 when it accepts it; the authenticator then.
    krb5_error_code accept(std::string_view token, krb5_authenticator** authenticator, krb5_flags& options) {
        krb5_auth_context auth_context = nullptr;
        EXPECT_EQ(krb5_auth_con_init(context_, &auth_context), 0);
        krb5_auth_con_setflags(context_, auth_context, 0);  // no replay cache in a unit test
        krb5_data ap_req = ap_req_of(token);
        krb5_ticket* ticket = nullptr;
        const krb5_error_code error =
            krb5_rd_req(context_, &auth_context, &ap_req, server_, keytab_, &options, &ticket);
        if (error == 0) {
            EXPECT_EQ(krb5_auth_con_getauthenticator(context_, auth_context, authenticator), 0);
        }
        if (ticket != nullptr) krb5_free_ticket(context_, ticket);
        krb5_auth_con_free(context_, auth_context);
        return error;
    }

    krb5_context context_ = nullptr;
    krb5_principal server_ = nullptr;
    krb5_principal client_ = nullptr;
    krb5_keyblock service_key_{};
    krb5_keytab keytab_ = nullptr;
    krb5_keytab_entry entry_{};
};

TEST_P(ServiceTicketTest, MitsAcceptorAcceptsTheTokenAndFindsWhatMitsInitiatorSends) {
    const auto service_ticket = ticket(3600);
    ASSERT_NE(service_ticket, nullptr);
    const Krb5Token token = service_ticket->make_token(binding);
    ASSERT_FALSE(token.status.failed()) << token.status.minor;
    EXPECT_GT(token.ticket_lifetime, 3590u);

    krb5_authenticator* authenticator = nullptr;
    krb5_flags options = -1;
    ASSERT_EQ(accept(token.token.view(), &authenticator, options), 0);
    EXPECT_NE(options & AP_OPTS_MUTUAL_REQUIRED, 0) << "mutual authentication, as MIT for GSS_C_MUTUAL_FLAG";
    EXPECT_TRUE(krb5_principal_compare(context_, authenticator->client, client_));
    ASSERT_NE(authenticator->checksum, nullptr);
    EXPECT_EQ(authenticator->checksum->checksum_type, 0x8003);
    const std::string checksum(reinterpret_cast<const char*>(authenticator->checksum->contents),
                               authenticator->checksum->length);
    EXPECT_EQ(checksum, gss_authenticator_checksum(binding)) << "the channel bindings' hash";
    ASSERT_NE(authenticator->subkey, nullptr);
    EXPECT_EQ(authenticator->subkey->enctype, GetParam());
    EXPECT_LE(authenticator->seq_number, 0x3fffffffu);
    EXPECT_LE(std::abs(static_cast<long>(authenticator->ctime) - static_cast<long>(std::time(nullptr))), 2);
    EXPECT_LT(authenticator->cusec, 1'000'000);
    EXPECT_EQ(authenticator->authorization_data, nullptr);
    krb5_free_authenticator(context_, authenticator);
}

TEST_P(ServiceTicketTest, EachTokenHasItsOwnSubkeyAndSequenceNumber) {
    const auto service_ticket = ticket(3600);
    ASSERT_NE(service_ticket, nullptr);
    krb5_authenticator* first = nullptr;
    krb5_authenticator* second = nullptr;
    krb5_flags options = 0;
    ASSERT_EQ(accept(service_ticket->make_token(binding).token.view(), &first, options), 0);
    ASSERT_EQ(accept(service_ticket->make_token(binding).token.view(), &second, options), 0);
    const auto key = [](const krb5_authenticator* a) {
        return std::string(reinterpret_cast<const char*>(a->subkey->contents), a->subkey->length);
    };
    EXPECT_NE(key(first), key(second));
    EXPECT_NE(first->seq_number, second->seq_number);
    krb5_free_authenticator(context_, first);
    krb5_free_authenticator(context_, second);
}

TEST_P(ServiceTicketTest, ATokenForAnotherServiceKeyIsRefused) {
    const auto service_ticket = ticket(3600);
    ASSERT_NE(service_ticket, nullptr);
    const std::string token(service_ticket->make_token(binding).token.view());
    ASSERT_EQ(krb5_kt_remove_entry(context_, keytab_, &entry()), 0);
    krb5_free_keyblock_contents(context_, &service_key_);
    ASSERT_EQ(krb5_c_make_random_key(context_, GetParam(), &service_key_), 0);
    ASSERT_EQ(krb5_kt_add_entry(context_, keytab_, &entry()), 0);
    krb5_authenticator* authenticator = nullptr;
    krb5_flags options = 0;
    EXPECT_NE(accept(token, &authenticator, options), 0) << "the test can tell a bad token";
}

TEST_P(ServiceTicketTest, AnExpiredTicketMakesNoToken) {
    const auto service_ticket = ticket(-10);
    ASSERT_NE(service_ticket, nullptr);
    const Krb5Token token = service_ticket->make_token(binding);
    EXPECT_TRUE(token.status.failed());
    EXPECT_EQ(token.status.minor, static_cast<OM_uint32>(KRB5KRB_AP_ERR_TKT_EXPIRED));
    EXPECT_TRUE(token.token.view().empty());
}

// AES256 and AES128 with HMAC-SHA1 (Active Directory's), RC4 (older domains), AES with SHA-2.
INSTANTIATE_TEST_SUITE_P(Enctypes, ServiceTicketTest,
                         ::testing::Values(ENCTYPE_AES256_CTS_HMAC_SHA1_96, ENCTYPE_AES128_CTS_HMAC_SHA1_96,
                                           ENCTYPE_ARCFOUR_HMAC, ENCTYPE_AES256_CTS_HMAC_SHA384_192));

}  // namespace
}  // namespace easgate::delegation
