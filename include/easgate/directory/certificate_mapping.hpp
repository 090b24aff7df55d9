#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "easgate/config/config.hpp"
#include "easgate/directory/directory_client.hpp"
#include "easgate/identity/certificate_identity.hpp"

namespace easgate::directory {

// Finds the AD account of a verified device certificate the ways identity.mapping lists, in order
// (the first that finds an account wins; one that finds none, or one refused as weak_mapping or
// predates_account, hands over to the next), and holds the account to identity.strong_mapping
// (Microsoft KB5014754):
// - a certificate's SID extension must name the account found, however it was found (refused as
//   sid_mismatch: a re-created account, or a certificate naming someone else);
// - with required, an account found only by UPN or email, without a matching SID, is refused as
//   weak_mapping;
// - with preferred, such an account is refused as predates_account when the certificate is older
//   than the account (notBefore + identity.backdating_compensation before whenCreated).
// What the walk down identity.mapping came to, and which entry decided it: the one that found the
// account (or failed), or the first whose account was refused as weakly mapped; none when no entry
// found an account.
struct MappedAccount {
    UserLookup account;
    std::optional<config::CertificateMapping> decided_by;
};

class CertificateMapping {
public:
    CertificateMapping(config::IdentityConfig config, std::shared_ptr<DirectoryClient> directory);

    boost::asio::awaitable<MappedAccount> find_account(
        const identity::CertificateIdentity& certificate) const;
    // find_account's answer when every search it needs is answered from the cache; nullopt when one
    // must go to a directory server.
    std::optional<MappedAccount> find_account_now(const identity::CertificateIdentity& certificate) const;

private:
    class Walk;

    config::IdentityConfig config_;
    std::shared_ptr<DirectoryClient> directory_;
};

// The account that the mapping found_by found for the certificate, held to identity.strong_mapping
// as CertificateMapping describes; a Failure::refused naming the cause and the fix when it fails.
UserLookup hold_to_strong_mapping(const config::IdentityConfig& config,
                                  const identity::CertificateIdentity& certificate,
                                  config::CertificateMapping found_by, FoundUser found);

// Whether a refusal's cause says the account was found only weakly (weak_mapping,
// predates_account): a later, strong mapping may still find it.
bool is_weak_refusal(const std::string& cause);

// The identity.mapping entry's name, as the configuration spells it: "upn", "sid", …
const char* mapping_name(config::CertificateMapping mapping);

// The search one mapping makes for a certificate; nullopt when the certificate lacks what that
// mapping needs (no SID extension, no email, …).
std::optional<AccountSearch> account_search(config::CertificateMapping mapping,
                                            const identity::CertificateIdentity& certificate);

// The strong altSecurityIdentities values that map the certificate, as AD stores them:
// X509:<I>issuer<SR>serial (issuer most significant RDN first, serial bytes reversed),
// X509:<SKI>subject key identifier, X509:<SHA1-PUKEY>the certificate's SHA-1 thumbprint.
std::vector<std::string> strong_alt_security_identities(const identity::CertificateIdentity& certificate);

}  // namespace easgate::directory
