#include "easgate/identity/listed_issuers.hpp"

#include <openssl/x509v3.h>

#include <algorithm>

namespace easgate::identity {

ListedIssuers::ListedIssuers(const std::vector<X509Ptr>& cas) {
    cas_.reserve(cas.size());
    for (const auto& ca : cas) {
        X509_up_ref(ca.get());
        cas_.emplace_back(ca.get());
    }
}

bool same_ca(X509* a, X509* b) {
    return X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) == 0 &&
           X509_PUBKEY_eq(X509_get_X509_PUBKEY(a), X509_get_X509_PUBKEY(b)) == 1;
}

bool ListedIssuers::lists(X509* ca) const {
    return std::any_of(cas_.begin(), cas_.end(),
                       [ca](const X509Ptr& listed) { return same_ca(listed.get(), ca); });
}

X509* ListedIssuers::unlisted_issuer(STACK_OF(X509) * chain) const {
    const int count = sk_X509_num(chain);
    if (count < 2 || !lists(sk_X509_value(chain, count - 1))) return nullptr;
    X509* issuer = sk_X509_value(chain, 1);
    return lists(issuer) ? nullptr : issuer;
}

std::string ListedIssuers::refusal(X509* issuer) const {
    std::string text = "issued by \"";
    text += peer_name_text(X509_get_subject_name(issuer));
    const bool name_listed = std::any_of(cas_.begin(), cas_.end(), [issuer](const X509Ptr& listed) {
        return X509_NAME_cmp(X509_get_subject_name(listed.get()), X509_get_subject_name(issuer)) == 0;
    });
    if (name_listed) {
        text += "\" with a key that is not listed in client_auth.trusted_ca_file (key identifier ";
        text += key_id_text(X509_get0_subject_key_id(issuer));
        text += "): a CA renewed with a new key? add its new certificate there";
        return text;
    }
    text +=
        "\", a CA not listed in client_auth.trusted_ca_file: only the CAs listed there may issue device "
        "certificates (client_auth.issuers: listed); add that CA's certificate if it issues your devices'";
    return text;
}

}  // namespace easgate::identity
