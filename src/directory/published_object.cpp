#include "easgate/directory/published_object.hpp"

#include <ldap.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "easgate/common/text.hpp"

namespace easgate::directory {
namespace {

struct UrlDeleter {
    void operator()(LDAPURLDesc* url) const { ldap_free_urldesc(url); }
};

constexpr std::string_view cdp_container = ",cn=cdp,cn=public key services,cn=services,cn=configuration,";

common::Failure unusable(const std::string& url, const std::string& why) {
    return common::Failure::unavailable("the LDAP URL " + url + " " + why).because("unusable_url");
}

}  // namespace

common::Result<PublishedObject> parse_published_object(const std::string& url) {
    LDAPURLDesc* raw = nullptr;
    if (ldap_url_parse(url.c_str(), &raw) != LDAP_URL_SUCCESS) return unusable(url, "is not an LDAP URL");
    const std::unique_ptr<LDAPURLDesc, UrlDeleter> parsed(raw);
    // A server named in the URL would be one easgate has no credentials or CA for; AD CS names none.
    if (parsed->lud_host != nullptr && *parsed->lud_host != '\0')
        return unusable(url, "names a server: easgate reads ldap:/// URLs (no server) from directory.uris");
    if (parsed->lud_dn == nullptr || *parsed->lud_dn == '\0') return unusable(url, "names no entry");
    if (parsed->lud_attrs == nullptr || parsed->lud_attrs[0] == nullptr || parsed->lud_attrs[1] != nullptr)
        return unusable(url, "does not name exactly one attribute");
    if (parsed->lud_scope != LDAP_SCOPE_BASE && parsed->lud_scope != LDAP_SCOPE_DEFAULT)
        return unusable(url, "asks for a search below the entry, not the entry itself (scope base)");
    PublishedObject object{parsed->lud_dn, parsed->lud_attrs[0], "(objectClass=*)"};
    if (parsed->lud_filter != nullptr && *parsed->lud_filter != '\0') {
        object.filter = parsed->lud_filter;
        if (object.filter.front() != '(') object.filter = "(" + object.filter + ")";
    }
    // A certificate names what easgate's account reads: only a CRL, only where AD CS publishes them.
    const auto attribute = common::ascii_lowercase(object.attribute);
    if (attribute != "certificaterevocationlist" && attribute != "deltarevocationlist" &&
        attribute != "certificaterevocationlist;binary" && attribute != "deltarevocationlist;binary")
        return unusable(
            url, "names " + object.attribute + ", not certificateRevocationList or deltaRevocationList");
    if (common::ascii_lowercase(object.dn).find(cdp_container) == std::string::npos)
        return unusable(url,
                        "names an entry outside CN=CDP,CN=Public Key Services,CN=Services,CN=Configuration");
    const auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
    if (std::any_of(object.dn.begin(), object.dn.end(), control) ||
        std::any_of(object.filter.begin(), object.filter.end(), control))
        return unusable(url, "holds control characters");
    return object;
}

}  // namespace easgate::directory
