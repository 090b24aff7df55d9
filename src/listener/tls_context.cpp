#include "easgate/listener/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <ctime>
#include <iterator>
#include <limits>
#include <memory>

#include "easgate/identity/trust_store.hpp"
#include "tls_session_cache.hpp"

namespace easgate::listener {
namespace {

// TLS 1.2 suites for devices that can't do 1.3: forward secrecy and AEAD only.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr unsigned char session_id_context[] = "easgate";
// The most a device's Certificate message may hold: a 3-tier chain of 4 KiB certificates is 16 KiB.
constexpr long max_device_chain_bytes = 32 * 1024;

std::string openssl_error() {
    const unsigned long code = ERR_get_error();
    ERR_clear_error();
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

[[noreturn]] void fail(const std::string& key, const std::string& path, const std::string& what) {
    const std::string cause = ERR_peek_error() != 0 ? ": " + openssl_error() : "";
    throw config::ConfigError(key + ": " + path + ": " + what + cause);
}

int check_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// Where a verification without a handshake (verify_certificate) keeps its check.
int store_check_index() {
    static const int index = X509_STORE_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

// What a session's certificate was last checked against: the generation of the CRLs (0: never),
// and the earliest notAfter in the chain it was verified with (time_t). Plain numbers, so the copy
// OpenSSL makes of a session (each TLS 1.3 resumption issues one) carries them too.
int session_generation_index() {
    static const int index = SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

int session_chain_expiry_index() {
    static const int index = SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

std::uint64_t checked_generation(SSL_SESSION* session) {
    return reinterpret_cast<std::uintptr_t>(SSL_SESSION_get_ex_data(session, session_generation_index()));
}

std::int64_t checked_chain_expiry(SSL_SESSION* session) {
    return static_cast<std::int64_t>(
        reinterpret_cast<std::uintptr_t>(SSL_SESSION_get_ex_data(session, session_chain_expiry_index())));
}

void set_checked(SSL_SESSION* session, const ClientCertificateCheck& check) {
    SSL_SESSION_set_ex_data(session, session_generation_index(),
                            reinterpret_cast<void*>(static_cast<std::uintptr_t>(check.store_generation)));
    SSL_SESSION_set_ex_data(session, session_chain_expiry_index(),
                            reinterpret_cast<void*>(static_cast<std::uintptr_t>(check.chain_expiry)));
}

// The earliest notAfter of chain, as time_t (0 when a date cannot be read: check again at once).
std::int64_t chain_expiry(STACK_OF(X509) * chain) {
    const std::int64_t now = std::time(nullptr);
    std::int64_t earliest = std::numeric_limits<std::int64_t>::max();
    for (int i = 0; i < sk_X509_num(chain); ++i) {
        const auto left = identity::seconds_until(X509_get0_notAfter(sk_X509_value(chain, i)));
        if (!left) return 0;
        earliest = std::min(earliest, now + *left);
    }
    return earliest;
}

SSL* ssl_of(X509_STORE_CTX* store) {
    return static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
}

ClientCertificateCheck* check_of(X509_STORE_CTX* store) {
    if (auto* ssl = ssl_of(store))
        return static_cast<ClientCertificateCheck*>(SSL_get_ex_data(ssl, check_index()));
    return static_cast<ClientCertificateCheck*>(X509_STORE_CTX_get_ex_data(store, store_check_index()));
}

void refuse(ClientCertificateCheck& check, X509_STORE_CTX* store, std::string reason) {
    if (!check.refusal.empty()) return;  // the first reason is the one worth reporting
    check.refusal = std::move(reason);
    check.verify_error = X509_STORE_CTX_get_error(store);
    if (X509* culprit = X509_STORE_CTX_get_current_cert(store)) {
        check.refused_certificate = describe_certificate(culprit);
    }
}

// The anchor's own CRL is not needed (see is_missing_anchor_crl); an expired CRL still counts
// within client_auth.crl_refresh.grace.
bool tolerated(const ClientCertificateCheck& check, X509_STORE_CTX* store) {
    if (identity::is_missing_anchor_crl(store)) return true;
    return X509_STORE_CTX_get_error(store) == X509_V_ERR_CRL_HAS_EXPIRED && check.revocation &&
           check.revocation->within_grace(X509_STORE_CTX_get0_current_crl(store));
}

// The chain a device sends becomes its session's (check_resumed verifies with it again), so each
// certificate in it stays decoded, about 4 KiB, as long as the session lives: with every held Ping
// and in the session cache. Where the verified chain took a certificate from trusted_ca_file
// instead (the issuing CA, when listed), the device's copy of it is swapped for that one.
// Called last in a handshake's verification (the leaf, verified): OpenSSL no longer reads sent.
void share_listed_certificates(STACK_OF(X509) * sent, STACK_OF(X509) * verified) {
    if (sent == nullptr || verified == nullptr) return;
    for (int i = 0; i < sk_X509_num(sent); ++i) {
        X509* copy = sk_X509_value(sent, i);
        for (int j = 1; j < sk_X509_num(verified); ++j) {
            X509* listed = sk_X509_value(verified, j);
            if (listed == copy || X509_cmp(listed, copy) != 0) continue;
            X509_up_ref(listed);
            sk_X509_set(sent, i, listed);
            X509_free(copy);
            break;
        }
    }
}

// A chain that reaches a listed CA through a CA that is not listed (client_auth.issuers: listed) is
// refused for that first: a CRL missing for that CA, or an expiry, is not what the admin should fix.
bool refuse_unlisted_issuer(ClientCertificateCheck& check, X509_STORE_CTX* store) {
    if (!check.issuers) return false;
    X509* issuer = check.issuers->unlisted_issuer(X509_STORE_CTX_get0_chain(store));
    if (!issuer) return false;
    X509_STORE_CTX_set_error_depth(store, 0);
    X509_STORE_CTX_set_current_cert(store, sk_X509_value(X509_STORE_CTX_get0_chain(store), 0));
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_UNTRUSTED);
    refuse(check, store, check.issuers->refusal(issuer));
    return true;
}

int verify_client_certificate(int preverified, X509_STORE_CTX* store) {
    auto* check = check_of(store);
    X509* current = X509_STORE_CTX_get_current_cert(store);
    if (check->learn_distribution_points && current) check->revocation->learn_distribution_points(current);
    const bool leaf_or_error = !preverified || X509_STORE_CTX_get_error_depth(store) == 0;
    if (leaf_or_error && refuse_unlisted_issuer(*check, store)) return 0;
    if (!preverified) {
        if (tolerated(*check, store)) return 1;
        refuse(*check, store, identity::explain_verify_error(store));
        return 0;
    }
    if (X509_STORE_CTX_get_error_depth(store) != 0) return 1;

    const auto in_date = [check](const X509_CRL* crl) { return check->revocation->in_date(crl); };
    if (auto stale = identity::delta_crl_refusal(store, in_date); !stale.empty()) {
        refuse(*check, store, std::move(stale));
        return 0;
    }
    X509* leaf = current;
    if (check->require_client_auth_eku && !has_client_auth_eku(leaf)) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_INVALID_PURPOSE);
        refuse(*check, store, "certificate lacks the Client Authentication EKU (1.3.6.1.5.5.7.3.2)");
        return 0;
    }
    auto result = identity::extract_identity(leaf, check->user_names);
    if (!result) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        refuse(*check, store, result.error);
        return 0;
    }
    check->identity = std::move(result.identity);
    check->chain_expiry = chain_expiry(X509_STORE_CTX_get0_chain(store));
    // Before the session tickets go out, so the sessions they name carry it too.
    if (auto* ssl = ssl_of(store)) {
        set_checked(SSL_get_session(ssl), *check);
        share_listed_certificates(X509_STORE_CTX_get0_untrusted(store), X509_STORE_CTX_get0_chain(store));
    }
    return 1;
}

}  // namespace

bool has_client_auth_eku(X509* certificate) {
    return (X509_get_extension_flags(certificate) & EXFLAG_XKUSAGE) != 0 &&
           (X509_get_extended_key_usage(certificate) & XKU_SSL_CLIENT) != 0;
}

std::string describe_certificate(X509* certificate) {
    using identity::name_text;
    std::string serial;
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr)) {
        char* hex = BN_bn2hex(bn);
        serial = hex;
        OPENSSL_free(hex);
        BN_free(bn);
    }
    return "subject=\"" + identity::peer_name_text(X509_get_subject_name(certificate)) + "\" issuer=\"" +
           identity::peer_name_text(X509_get_issuer_name(certificate)) + "\" serial=" + serial.substr(0, 80);
}

ServerTlsContext::ServerTlsContext(const config::ListenerConfig& listener, const std::string& key_prefix,
                                   identity::UserNames user_names)
    : context_(boost::asio::ssl::context::tls_server),
      require_client_auth_eku_(listener.client_auth.require_client_auth_eku),
      user_names_(user_names) {
    SSL_CTX* ctx = context_.native_handle();
    SSL_CTX_set_min_proto_version(ctx, listener.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    // Sessions stay in easgate's cache (tls_session_cache_size, tls_session_lifetime) and the
    // tickets devices get only name them: a stateless ticket holds the whole session, which
    // OpenSSL 3.0 encodes, decodes and encodes again for each one, decoding the device's certificate
    // once more (about a third of a full handshake's instructions), and resuming from one decodes it
    // again. One ticket per connection: each is one cached session, and a phone resumes with its
    // newest.
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
    keep_device_sessions(ctx, listener);
    // Held long polls are idle most of their life; don't keep 2 x 16 KiB of TLS buffers for them.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_cipher_list(ctx, tls12_ciphers);
    SSL_CTX_set_session_id_context(ctx, session_id_context, sizeof session_id_context - 1);
    // A phone sends its certificate, perhaps with its issuing CA: a few KiB. Padded with junk
    // certificates (verification ignores them) a chain would still be kept, decoded, with its session
    // in the cache for tls_session_lifetime: OpenSSL's own bound, 100 KiB, lets one enrolled device
    // fill the cache's memory.
    SSL_CTX_set_max_cert_list(ctx, max_device_chain_bytes);

    if (SSL_CTX_use_certificate_chain_file(ctx, listener.certificate.c_str()) != 1) {
        fail(key_prefix + ".certificate", listener.certificate, "not a PEM certificate chain");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, listener.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        // OpenSSL compares a key with the certificate as it loads it: a valid key of another
        // certificate fails here, not at SSL_CTX_check_private_key.
        const bool mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        fail(key_prefix + ".private_key", listener.private_key,
             mismatch ? "does not match the certificate" : "not a PEM private key");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        fail(key_prefix + ".private_key", listener.private_key, "does not match the certificate");
    }
    certificate_ = SSL_CTX_get0_certificate(ctx);

    const auto& client_auth = listener.client_auth;
    const std::string ca_key = key_prefix + ".client_auth.trusted_ca_file";
    // Only the configured file: the system store must never vouch for a device.
    auto anchors = identity::load_trust_anchors(client_auth.trusted_ca_file);
    if (anchors.empty()) fail(ca_key, client_auth.trusted_ca_file, "holds no PEM CA certificate");
    if (client_auth.issuers == config::DeviceIssuers::listed) issuers_.emplace(anchors);
    STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(client_auth.trusted_ca_file.c_str());
    if (!ca_names) fail(ca_key, client_auth.trusted_ca_file, "holds no PEM CA certificate");
    SSL_CTX_set_client_CA_list(ctx, ca_names);  // lets devices with several certificates pick ours

    std::vector<identity::X509CrlPtr> crls;
    for (std::size_t i = 0; i < client_auth.crl_files.size(); ++i) {
        const auto& path = client_auth.crl_files[i];
        auto loaded = identity::read_crl_file(path);
        if (loaded.empty()) {
            fail(key_prefix + ".client_auth.crl_files[" + std::to_string(i) + "]", path,
                 "holds no CRL (PEM or DER)");
        }
        std::move(loaded.begin(), loaded.end(), std::back_inserter(crls));
    }
    refreshes_crls_ = client_auth.refreshes_crls();
    revocation_ = std::make_shared<identity::RevocationStore>(
        std::move(anchors), std::move(crls), client_auth.checks_revocation(),
        refreshes_crls_ ? client_auth.crl_refresh->grace : std::chrono::milliseconds(0));
    const bool required = listener.client_auth.mode == config::ClientAuthMode::required;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       verify_client_certificate);
}

std::size_t ServerTlsContext::cached_sessions() const {
    return static_cast<std::size_t>(
        SSL_CTX_sess_number(const_cast<boost::asio::ssl::context&>(context_).native_handle()));
}

std::int64_t ServerTlsContext::certificate_expiry_seconds() const {
    return identity::seconds_until(X509_get0_notAfter(certificate_)).value_or(0);
}

ClientCertificateCheck ServerTlsContext::new_check() const {
    ClientCertificateCheck check;
    check.require_client_auth_eku = require_client_auth_eku_;
    check.user_names = user_names_;
    check.revocation = revocation_.get();
    check.issuers = issuers_ ? &*issuers_ : nullptr;
    return check;
}

void ServerTlsContext::verify_into(SSL* ssl, ClientCertificateCheck& check) const {
    check = new_check();
    check.learn_distribution_points = refreshes_crls_;
    SSL_set_ex_data(ssl, check_index(), &check);
    // This handshake keeps the store of the moment even if a CRL refresh swaps in a new one.
    check.store_generation = revocation_->generation();
    SSL_set1_verify_cert_store(ssl, revocation_->current().get());
}

void ServerTlsContext::check_resumed(SSL* ssl, ClientCertificateCheck& check) const {
    forget_offered_sessions(ssl);
    X509* leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == nullptr) return;  // a device without a certificate, where one is optional
    SSL_SESSION* session = SSL_get_session(ssl);
    const std::uint64_t generation = revocation_->generation();
    // A check holds while the CRLs are those it was made with, until the first date that would fail
    // it: a certificate of the chain expiring, a CRL running out. TLS 1.3 gives the phone a fresh
    // session at each resumption, so without the dates one reconnecting often would never be
    // checked again.
    const std::int64_t now = std::time(nullptr);
    if (checked_generation(session) == generation && now < checked_chain_expiry(session) &&
        now < revocation_->crls_hold_until()) {
        auto result = identity::extract_identity(leaf, user_names_);
        if (result) {
            check.identity = std::move(result.identity);
        } else {
            check.refusal = result.error;
            check.verify_error = X509_V_ERR_APPLICATION_VERIFICATION;
        }
        return;
    }
    check = verify_certificate(leaf, SSL_get_peer_cert_chain(ssl));
    check.store_generation = generation;
    if (check.refusal.empty()) {
        set_checked(session, check);
    } else {
        SSL_CTX_remove_session(SSL_get_SSL_CTX(ssl), session);  // offered again, it would fail again
    }
}

ClientCertificateCheck ServerTlsContext::verify_certificate(X509* leaf, STACK_OF(X509) * untrusted) const {
    ClientCertificateCheck check = new_check();
    const auto store = revocation_->current();
    const common::OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free> context(X509_STORE_CTX_new());
    if (!context || X509_STORE_CTX_init(context.get(), store.get(), leaf, untrusted) != 1) {
        check.refusal = "out of memory";
        return check;
    }
    // What OpenSSL sets up for a server verifying its client: purpose and trust "ssl_client".
    X509_STORE_CTX_set_default(context.get(), "ssl_client");
    X509_STORE_CTX_set_ex_data(context.get(), store_check_index(), &check);
    X509_STORE_CTX_set_verify_cb(context.get(), verify_client_certificate);
    if (X509_verify_cert(context.get()) != 1 && check.refusal.empty()) {
        check.refusal = identity::explain_verify_error(context.get());
        check.verify_error = X509_STORE_CTX_get_error(context.get());
    }
    ERR_clear_error();
    return check;
}

}  // namespace easgate::listener
