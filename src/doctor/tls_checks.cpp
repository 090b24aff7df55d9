#include <openssl/x509v3.h>

#include "certificate_checks.hpp"
#include "checks.hpp"
#include "easgate/identity/trust_store.hpp"
#include "easgate/listener/tls_context.hpp"
#include "service_directory.hpp"

namespace easgate::doctor {
namespace {

// ServerTlsContext names the key it could not use; the remedy depends on which one it was.
std::string context_remedy(const std::string& message, const std::string& prefix) {
    if (message.rfind(prefix + ".private_key", 0) == 0)
        return "set " + prefix + ".private_key to the unencrypted PEM key of the certificate in " + prefix +
               ".certificate (the pair exported together, e.g. from the .pfx with `openssl pkcs12 -nodes`)";
    if (message.rfind(prefix + ".certificate", 0) == 0)
        return "set " + prefix +
               ".certificate to a PEM file: the server certificate first, then its intermediate CAs";
    if (message.find("trusted_ca_file") != std::string::npos)
        return "export the device CAs (issuing CA and root, `certutil -ca.cert`, Base-64) into " + prefix +
               ".client_auth.trusted_ca_file";
    return "copy the CA's current CRL (PEM or DER, as AD CS publishes it) to the path named";
}

// The listener's TLS settings load as `easgate run` loads them; on success the context is kept
// for the CDP and device checks.
std::unique_ptr<listener::ServerTlsContext> check_context(const config::Config& config, std::size_t i,
                                                          const std::string& prefix, Report& report) {
    const auto& listener = config.listeners[i];
    std::vector<std::string> files{listener.certificate, listener.private_key,
                                   listener.client_auth.trusted_ca_file};
    files.insert(files.end(), listener.client_auth.crl_files.begin(), listener.client_auth.crl_files.end());
    const auto unit = ServiceUnit::installed();
    for (const auto& file : files) {
        if (file.empty()) continue;
        const auto problem = service_cannot_read(file, unit);
        if (problem.why.empty()) continue;
        report.fail("tls", prefix + " TLS settings",
                    file + " can't be read by the service easgate: " + problem.why, problem.remedy);
        return nullptr;
    }
    try {
        auto context =
            std::make_unique<listener::ServerTlsContext>(listener, prefix, listener::user_names(config));
        report.pass("tls", prefix + " TLS settings",
                    "certificate, private key, trusted_ca_file and crl_files load, and the key matches "
                    "the certificate");
        return context;
    } catch (const config::ConfigError& e) {
        report.fail("tls", prefix + " TLS settings", e.what(), context_remedy(e.what(), prefix));
        return nullptr;
    }
}

void check_server_names(const config::ListenerConfig& listener, const std::string& prefix, X509* leaf,
                        Report& report) {
    const auto flags = X509_get_extension_flags(leaf);
    if ((flags & EXFLAG_XKUSAGE) != 0 && (X509_get_extended_key_usage(leaf) & XKU_SSL_SERVER) == 0) {
        report.warn("tls", prefix + " server certificate EKU",
                    quoted_subject(leaf) +
                        " has an EKU without Server Authentication (1.3.6.1.5.5.7.3.1): "
                        "phones refuse it",
                    "issue it from a Web Server template (Server Authentication EKU)");
    } else {
        report.pass("tls", prefix + " server certificate EKU", "Server Authentication allowed");
    }
    const auto& name = listener.public_name;
    if (name.empty()) return;
    const bool matches = X509_check_host(leaf, name.c_str(), name.size(), 0, nullptr) == 1 ||
                         X509_check_ip_asc(leaf, name.c_str(), 0) == 1;
    if (matches) {
        report.pass("tls", prefix + " server certificate name", "public_name " + name + " is in its SAN");
    } else {
        report.warn("tls", prefix + " server certificate name",
                    "public_name " + name + " is not a subjectAltName of " + quoted_subject(leaf) +
                        ": phones connecting to " + name + " refuse it",
                    "issue the certificate with " + name + " as a DNS name in its Subject Alternative Name");
    }
}

// Phones have only their roots: the certificate file must carry the intermediates to them.
void check_server_chain(const std::vector<identity::X509Ptr>& chain, const std::string& prefix,
                        Report& report) {
    X509* leaf = chain.front().get();
    const bool issuer_in_file =
        std::any_of(chain.begin() + 1, chain.end(), [leaf](const identity::X509Ptr& candidate) {
            return X509_check_issued(candidate.get(), leaf) == X509_V_OK;
        });
    const std::string issuer = quoted_name(X509_get_issuer_name(leaf));
    if (X509_self_signed(leaf, 0) == 1 || issuer_in_file) {
        report.pass("tls", prefix + " server certificate chain",
                    std::to_string(chain.size()) + " certificate(s), the issuer's included");
    } else {
        report.warn("tls", prefix + " server certificate chain",
                    "the issuer " + issuer + " of the server certificate is not in " + prefix +
                        ".certificate: phones that lack that CA refuse the connection",
                    "append the intermediate CA certificate(s), PEM, after the server certificate (unless " +
                        issuer + " is a root the phones already trust)");
    }
}

void check_server_certificate(const config::ListenerConfig& listener, const std::string& prefix,
                              Report& report) {
    const auto chain = identity::read_pem_certificates(listener.certificate);
    if (chain.empty()) return;  // check_context said so, naming the key
    X509* leaf = chain.front().get();
    report_validity(
        report,
        {"tls", prefix + " server certificate validity", "server certificate " + quoted_subject(leaf)}, leaf,
        "renew it on the CA and replace " + prefix + ".certificate and " + prefix +
            ".private_key, then restart easgate");
    check_server_names(listener, prefix, leaf, report);
    check_server_chain(chain, prefix, report);
}

}  // namespace

ListenerContexts check_listeners(const config::Config& config,
                                 const std::optional<std::string>& device_certificate,
                                 SharedDirectory& shared, Report& report) {
    ListenerContexts contexts;
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const auto& listener = config.listeners[i];
        const std::string prefix = "listeners[" + std::to_string(i) + "]";
        auto& context = contexts.emplace_back(check_context(config, i, prefix, report));
        check_server_certificate(listener, prefix, report);
        check_trust_and_crls(listener, prefix, report);
        if (!context) continue;
        check_crl_cache(listener.client_auth, prefix, *context->revocation(), report);
        check_distribution_points(listener.client_auth, prefix, *context->revocation(), device_certificate,
                                  shared, report);
    }
    return contexts;
}

}  // namespace easgate::doctor
