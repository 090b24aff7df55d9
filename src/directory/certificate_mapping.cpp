#include "easgate/directory/certificate_mapping.hpp"

#include <algorithm>

#include "easgate/common/text.hpp"
#include "easgate/config/units.hpp"
#include "easgate/directory/account_checks.hpp"
#include "easgate/directory/security_identifier.hpp"

namespace easgate::directory {
namespace {

using Mapping = config::CertificateMapping;
using config::StrongMapping;

// The serial number's bytes in reverse order, as certutil shows and AD stores it.
std::string reversed_serial(std::string serial) {
    if (serial.size() % 2 != 0) serial.insert(serial.begin(), '0');
    std::string reversed;
    for (std::size_t at = serial.size(); at >= 2; at -= 2) reversed += serial.substr(at - 2, 2);
    return reversed;
}

std::string binary_filter_value(const std::string& bytes) {
    std::string escaped;
    for (const char byte : bytes) {
        escaped += '\\';
        common::append_hex(escaped, static_cast<std::uint8_t>(byte));
    }
    return escaped;
}

std::string any_of(const std::vector<std::string>& conditions) {
    if (conditions.size() == 1) return conditions.front();
    std::string out = "(|";
    for (const auto& condition : conditions) out += condition;
    return out + ")";
}

std::string weakly(const DirectoryUser& found, Mapping found_by) {
    return "the certificate maps to " + found.distinguished_name + " only by " + mapping_name(found_by) +
           ", a weak mapping (Microsoft KB5014754)";
}

constexpr const char* make_it_strong =
    "issue certificates that carry the user's SID: the SID extension (1.3.6.1.4.1.311.25.2; AD CS adds it "
    "since the May 2022 updates) or a SAN URL tag:microsoft.com,2022-09-14:sid:<SID> (Intune SCEP "
    "profiles: a URI of {{OnPremisesSecurityIdentifier}}), or map the certificate explicitly in the "
    "user's altSecurityIdentities (X509:<I>issuer<SR>serial) and list alt_security_identities in "
    "identity.mapping";

}  // namespace

std::vector<std::string> strong_alt_security_identities(const identity::CertificateIdentity& certificate) {
    std::vector<std::string> values;
    if (!certificate.issuer_as_windows.empty() && !certificate.serial.empty() &&
        certificate.serial.front() != '-')
        values.push_back("X509:<I>" + certificate.issuer_as_windows + "<SR>" +
                         reversed_serial(certificate.serial));
    if (!certificate.subject_key_id.empty()) values.push_back("X509:<SKI>" + certificate.subject_key_id);
    if (!certificate.sha1_fingerprint.empty())
        values.push_back("X509:<SHA1-PUKEY>" + certificate.sha1_fingerprint);
    return values;
}

std::optional<AccountSearch> account_search(Mapping mapping,
                                            const identity::CertificateIdentity& certificate) {
    switch (mapping) {
        case Mapping::upn:
            if (certificate.principal_name().empty()) return std::nullopt;
            return AccountSearch::by_attribute("userPrincipalName", certificate.principal_name());
        case Mapping::email: {
            if (certificate.emails.empty()) return std::nullopt;
            std::vector<std::string> conditions;
            for (const auto& email : certificate.emails) {
                const auto value = escape_filter_value(email);
                conditions.push_back("(mail=" + value + ")");
                conditions.push_back("(proxyAddresses=smtp:" + value + ")");  // matches SMTP: too
            }
            return AccountSearch{any_of(conditions), "mail or proxyAddresses", certificate.emails.front()};
        }
        case Mapping::sid: {
            const auto binary = sid_binary(certificate.sid);
            if (!binary) return std::nullopt;
            return AccountSearch{"(objectSid=" + binary_filter_value(*binary) + ")", "objectSid",
                                 certificate.sid};
        }
        case Mapping::alt_security_identities: {
            const auto values = strong_alt_security_identities(certificate);
            if (values.empty()) return std::nullopt;
            std::vector<std::string> conditions;
            for (const auto& value : values)
                conditions.push_back("(altSecurityIdentities=" + escape_filter_value(value) + ")");
            return AccountSearch{any_of(conditions), "altSecurityIdentities", values.front()};
        }
    }
    return std::nullopt;
}

const char* mapping_name(config::CertificateMapping mapping) {
    switch (mapping) {
        case Mapping::upn:
            return "upn";
        case Mapping::email:
            return "email";
        case Mapping::sid:
            return "sid";
        case Mapping::alt_security_identities:
            return "alt_security_identities";
    }
    return "?";
}

bool is_weak_refusal(const std::string& cause) {
    return cause == "weak_mapping" || cause == "predates_account";
}

UserLookup hold_to_strong_mapping(const config::IdentityConfig& config,
                                  const identity::CertificateIdentity& certificate, Mapping found_by,
                                  FoundUser found) {
    const bool sid_named = !certificate.sid.empty() && config.strong_mapping != StrongMapping::off;
    if (sid_named && !common::equals_ignoring_case(found->object_sid, certificate.sid)) {
        return common::Failure::refused(
            "sid_mismatch", "the certificate's SID names " + certificate.sid + " but account " +
                                found->distinguished_name + " (found by " + mapping_name(found_by) +
                                ") has objectSid " +
                                (found->object_sid.empty() ? "(none readable)" : found->object_sid) +
                                ": the account was re-created after the certificate was issued, or the "
                                "certificate names someone else; issue the user a new certificate");
    }
    const bool strong = sid_named || found_by == Mapping::sid || found_by == Mapping::alt_security_identities;
    if (strong || config.strong_mapping == StrongMapping::off) return found;
    if (config.strong_mapping == StrongMapping::required) {
        return common::Failure::refused(
            "weak_mapping",
            weakly(*found, found_by) + ", and identity.strong_mapping is required: " + make_it_strong);
    }
    // A weakly mapped certificate older than its account was issued to someone else, an earlier
    // holder of the name (a domain controller in KB5014754's Compatibility mode refuses it too, KDC
    // event 40). Without the account's date that can't be told: not let through unjudged.
    if (!found->created) {
        return common::Failure::unavailable(
                   weakly(*found, found_by) +
                   ", and the directory gave no whenCreated for the account, so easgate can't tell whether "
                   "the "
                   "certificate predates it: let easgate's bind identity read whenCreated (AD lets "
                   "Authenticated Users read it), or " +
                   make_it_strong)
            .because("unavailable");
    }
    if (certificate.not_before + config.backdating_compensation < *found->created) {
        return common::Failure::refused(
            "predates_account",
            weakly(*found, found_by) + ", and the certificate is older than the account: issued " +
                utc_text(certificate.not_before) + ", the account created " + utc_text(*found->created) +
                " (whenCreated; identity.backdating_compensation " +
                config::format_duration(config.backdating_compensation) +
                " allowed for a CA that backdates notBefore). It was issued to an earlier holder of the name "
                "or before the account was re-created: issue the user a new certificate. To map without "
                "such guesses, " +
                make_it_strong);
    }
    return found;
}

CertificateMapping::CertificateMapping(config::IdentityConfig config,
                                       std::shared_ptr<DirectoryClient> directory)
    : config_(std::move(config)), directory_(std::move(directory)) {}

// One walk down identity.mapping for a certificate: the searches to make, in order, and what the
// answers come to. The walk itself never waits: find_account and find_account_now feed it answers.
class CertificateMapping::Walk {
public:
    Walk(const config::IdentityConfig& config, const identity::CertificateIdentity& certificate)
        : config_(config), certificate_(certificate) {}

    // The next mapping's search; nullopt once every mapping was tried.
    std::optional<AccountSearch> next_search() {
        for (; next_ < config_.mapping.size(); ++next_) {
            if (auto search = account_search(config_.mapping[next_], certificate_)) {
                mapping_ = config_.mapping[next_++];
                return search;
            }
        }
        return std::nullopt;
    }

    // The verdict on the search's answer, or nullopt to go on with the next mapping.
    std::optional<MappedAccount> take(UserLookup found) {
        if (!found) {
            if (found.error().cause != "not_found") return MappedAccount{std::move(found), mapping_};
            tried_ += (tried_.empty() ? "" : "; ") + found.error().reason;
            return std::nullopt;
        }
        auto verdict = hold_to_strong_mapping(config_, certificate_, mapping_, std::move(*found));
        // An account found too weakly may yet be found strongly by a later mapping (an explicit
        // altSecurityIdentities mapping after upn), which then decides.
        if (!verdict && is_weak_refusal(verdict.error().cause)) {
            if (!weak_refusal_) weak_refusal_ = MappedAccount{std::move(verdict), mapping_};
            return std::nullopt;
        }
        return MappedAccount{std::move(verdict), mapping_};
    }

    // The verdict when no mapping found an account strongly enough.
    MappedAccount none_found() const {
        if (weak_refusal_) return *weak_refusal_;
        return {common::Failure::refused(
                    "not_found",
                    tried_.empty() ? "the certificate has nothing identity.mapping can search by" : tried_),
                std::nullopt};
    }

private:
    const config::IdentityConfig& config_;
    const identity::CertificateIdentity& certificate_;
    std::size_t next_ = 0;
    Mapping mapping_ = Mapping::upn;             // the mapping of the last search
    std::string tried_;                          // why each mapping so far found no account
    std::optional<MappedAccount> weak_refusal_;  // the first account refused as weakly mapped
};

boost::asio::awaitable<MappedAccount> CertificateMapping::find_account(
    const identity::CertificateIdentity& certificate) const {
    Walk walk(config_, certificate);
    while (auto search = walk.next_search())
        if (auto verdict = walk.take(co_await directory_->find(std::move(*search))))
            co_return std::move(*verdict);
    co_return walk.none_found();
}

std::optional<MappedAccount> CertificateMapping::find_account_now(
    const identity::CertificateIdentity& certificate) const {
    Walk walk(config_, certificate);
    while (auto search = walk.next_search()) {
        auto answer = directory_->find_now(*search);
        if (!answer) return std::nullopt;
        if (auto verdict = walk.take(std::move(*answer))) return verdict;
    }
    return walk.none_found();
}

}  // namespace easgate::directory
