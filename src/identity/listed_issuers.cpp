#include "easgate/identity/listed_issuers.hpp"

#include <openssl/evp.h>

namespace easgate::identity {

ListedIssuers::ListedIssuers(const std::vector<X509Ptr>& cas) {
    cas_.reserve(cas.size());
    for (const auto& ca : cas) {
        X509_up_ref(ca.get());
        cas_.emplace_back(ca.get());
    }
}

bool ListedIssuers::lists(X509* ca) const {
    const EVP_PKEY* key = X509_get0_pubkey(ca);
    for (const auto& listed : cas_) {
        if (X509_NAME_cmp(X509_get_subject_name(listed.get()), X509_get_subject_name(ca)) != 0) continue;
        const EVP_PKEY* listed_key = X509_get0_pubkey(listed.get());
        if (key && listed_key && EVP_PKEY_eq(listed_key, key) == 1) return true;
    }
    return false;
}

X509* ListedIssuers::unlisted_issuer(STACK_OF(X509) * chain) const {
    const int count = sk_X509_num(chain);
    if (count < 2 || !lists(sk_X509_value(chain, count - 1))) return nullptr;
    X509* issuer = sk_X509_value(chain, 1);
    return lists(issuer) ? nullptr : issuer;
}

std::string ListedIssuers::refusal(X509* issuer) {
    std::string text = "issued by \"";
    text += peer_name_text(X509_get_subject_name(issuer));
    text +=
        "\", a CA not listed in client_auth.trusted_ca_file: only the CAs listed there may issue device "
        "certificates (client_auth.issuers: listed); add that CA's certificate if it issues your devices'";
    return text;
}

}  // namespace easgate::identity
