#include <openssl/x509_vfy.h>

#include <algorithm>

#include "certificate_checks.hpp"
#include "checks.hpp"
#include "easgate/directory/certificate_mapping.hpp"
#include "easgate/identity/certificate_identity.hpp"
#include "easgate/identity/trust_store.hpp"
#include "easgate/listener/tls_context.hpp"

namespace easgate::doctor {
namespace {

using identity::X509Ptr;
// sk_X509_free is a macro over a generic function: wrapped to be a deleter.
void free_stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
using StackPtr = common::OpenSslPtr<STACK_OF(X509), free_stack>;

constexpr const char* reenrol = "re-enrol the device (its MDM's certificate profile) for a new certificate";

// The action behind the verification error a handshake would refuse the device with.
std::string chain_remedy(int error) {
    switch (error) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return "the issuer named is not in client_auth.trusted_ca_file: if it is your CA, add it (and "
                   "its root); otherwise the device has a certificate from a CA easgate must not trust";
        case X509_V_ERR_CERT_UNTRUSTED:
            return "if the CA named issues your devices' certificates, add it to "
                   "client_auth.trusted_ca_file; "
                   "if it issues others (Wi-Fi, VPN, a partner's), this certificate must not open mail";
        case X509_V_ERR_CERT_REVOKED:
            return std::string("the certificate named was revoked; if it is the device's, ") + reenrol +
                   "; if it is a CA's, its devices need certificates from a CA that is not revoked";
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return std::string("check this machine's clock; if right, ") + reenrol;
        case X509_V_ERR_INVALID_PURPOSE:
            return "issue device certificates from a template with Client Authentication in its Application "
                   "Policies, or set client_auth.require_client_auth_eku: false";
        case X509_V_ERR_APPLICATION_VERIFICATION:
            return "put the user's UPN (or email) in the template's Subject Alternative Name";
        default:
            return "see the listener checks above for the trust file and CRLs";
    }
}

// What a TLS handshake on each listener would conclude about the device, with the CRLs the
// listener holds once running: crl_files, and with crl_refresh what its cache and CDPs gave.
void check_chain(const config::Config& config, const ListenerContexts& listeners,
                 const std::vector<X509Ptr>& certificates, Report& report) {
    const StackPtr untrusted(sk_X509_new_null());
    for (auto it = certificates.begin() + 1; it != certificates.end(); ++it)
        sk_X509_push(untrusted.get(), it->get());
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        const std::string prefix = "listeners[" + std::to_string(i) + "]";
        const std::string check = "accepted by " + prefix;
        if (!listeners[i]) {
            report.skip("device", check,
                        "the listener's TLS settings don't load (" + prefix + " TLS settings)");
            continue;
        }
        const auto result = listeners[i]->verify_certificate(certificates.front().get(), untrusted.get());
        if (!result.refusal.empty()) {
            report.fail("device", check, result.refusal + " (" + result.refused_certificate + ")",
                        chain_remedy(result.verify_error));
            continue;
        }
        const auto& client_auth = config.listeners[i].client_auth;
        report.pass("device", check,
                    !client_auth.checks_revocation()
                        ? "chains to client_auth.trusted_ca_file (revocation is not checked)"
                    : client_auth.refreshes_crls()
                        ? "chains to client_auth.trusted_ca_file and is not revoked per its CRLs (crl_files "
                          "and what crl_refresh fetched above)"
                        : "chains to client_auth.trusted_ca_file and is not revoked per its CRLs");
    }
}

void check_eku(const config::Config& config, X509* leaf, Report& report) {
    if (listener::has_client_auth_eku(leaf)) {
        report.pass("device", "Client Authentication EKU", "present");
        return;
    }
    const bool required =
        std::any_of(config.listeners.begin(), config.listeners.end(),
                    [](const auto& listener) { return listener.client_auth.require_client_auth_eku; });
    const std::string found = "no Client Authentication EKU (1.3.6.1.5.5.7.3.2)";
    const std::string remedy = chain_remedy(X509_V_ERR_INVALID_PURPOSE);
    if (required)
        report.fail("device", "Client Authentication EKU",
                    found + ": client_auth.require_client_auth_eku refuses it", remedy);
    else
        report.warn("device", "Client Authentication EKU", found, remedy);
}

// Whether a mapping other than upn can find the account from what the certificate has.
bool other_mapping_fits(const config::IdentityConfig& identity, const identity::CertificateIdentity& device) {
    using Mapping = config::CertificateMapping;
    return std::any_of(identity.mapping.begin(), identity.mapping.end(), [&device](Mapping mapping) {
        return (mapping == Mapping::email && !device.emails.empty()) ||
               (mapping == Mapping::sid && !device.sid.empty()) ||
               mapping == Mapping::alt_security_identities;
    });
}

// A certificate without a UPN is found only by what else identity.mapping can use; upn then looks
// the email up as a userPrincipalName, which finds the account only where the two are the same.
void check_upn(const config::IdentityConfig& identity, const identity::CertificateIdentity& device,
               Report& report) {
    if (!device.upn.empty()) {
        report.pass("device", "UPN", "SAN otherName UPN " + device.upn);
        return;
    }
    const std::string found = "no UPN otherName (1.3.6.1.4.1.311.20.2.3) in the SAN";
    const std::string remedy = "add User principal name (UPN) to the template's Subject Alternative Name";
    if (other_mapping_fits(identity, device)) {
        report.warn("device", "UPN", found + ": found by the other identity.mapping entries only", remedy);
        return;
    }
    const bool by_email =
        !device.emails.empty() && std::find(identity.mapping.begin(), identity.mapping.end(),
                                            config::CertificateMapping::upn) != identity.mapping.end();
    report.fail("device", "UPN",
                found + (by_email ? ": identity.mapping upn looks " + device.emails.front() +
                                        " up as a userPrincipalName, which finds the account only where UPN "
                                        "and email are the same"
                                  : ": identity.mapping has nothing to find the account by"),
                remedy);
}

void check_names(const config::Config& config, const identity::CertificateIdentity& device, Report& report) {
    check_upn(config.identity, device, report);
    if (device.emails.empty())
        report.warn(
            "device", "email", "no rfc822Name (email) in the SAN",
            "add E-mail name to the template's Subject Alternative Name (the user needs a mail attribute)");
    else
        report.pass("device", "email", "SAN email " + device.emails.front());
}

// KB5014754: the user's SID in the certificate makes the mapping strong.
void check_sid(const config::Config& config, const identity::CertificateIdentity& device, Report& report) {
    const auto strong = config.identity.strong_mapping;
    if (!device.sid.empty()) {
        report.pass("device", "SID", "the certificate names " + device.sid);
        return;
    }
    const std::string found =
        "no SID (neither the extension 1.3.6.1.4.1.311.25.2 nor a SAN URL tag:microsoft.com,2022-09-14:sid:, "
        "Microsoft KB5014754)";
    // The explicit mapping an admin can add for this very certificate, as easgate looks for it.
    const auto explicit_mappings = directory::strong_alt_security_identities(device);
    std::string remedy =
        "issue from an AD CS CA with the May 2022 updates and a template that builds the subject from AD; "
        "from Intune SCEP, add a SAN URI of {{OnPremisesSecurityIdentifier}}; otherwise map the "
        "certificate in the user's altSecurityIdentities";
    if (!explicit_mappings.empty())
        remedy += " (for this certificate: " + explicit_mappings.front() +
                  ") and list alt_security_identities in identity.mapping";
    if (strong == config::StrongMapping::required)
        report.fail("device", "SID", found + ": identity.strong_mapping is required", remedy);
    else if (strong == config::StrongMapping::preferred)
        report.warn("device", "SID", found + ": the mapping is weak (identity.strong_mapping preferred)",
                    remedy);
    else
        report.pass("device", "SID", found + "; identity.strong_mapping is off");
}

}  // namespace

void check_device_certificate(const config::Config& config, const ListenerContexts& listeners,
                              const std::string& path, SharedDirectory& shared, Report& report) {
    const auto certificates = identity::read_pem_certificates(path);
    if (certificates.empty()) {
        report.fail("device", "certificate file", path + " holds no PEM certificate",
                    "export the device certificate as Base-64 (PEM), its chain after it if you like");
        return;
    }
    X509* leaf = certificates.front().get();
    report.pass("device", "certificate file", listener::describe_certificate(leaf));
    check_chain(config, listeners, certificates, report);
    report_validity(report, {"device", "validity", "device certificate " + quoted_subject(leaf)}, leaf,
                    reenrol);
    check_eku(config, leaf, report);
    auto extracted = identity::extract_identity(leaf, listener::user_names(config));
    if (!extracted) {
        report.fail("device", "identity", extracted.error, chain_remedy(X509_V_ERR_APPLICATION_VERIFICATION));
        report.skip("device", "directory account", "the certificate names no user");
        return;
    }
    check_names(config, *extracted.identity, report);
    check_sid(config, *extracted.identity, report);
    check_directory_account(config, *extracted.identity, shared, report);
}

}  // namespace easgate::doctor
