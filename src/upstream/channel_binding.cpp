#include "easgate/upstream/channel_binding.hpp"

#include <openssl/evp.h>
#include <openssl/objects.h>

namespace easgate::upstream {

std::string tls_server_end_point(X509* certificate) {
    int digest_nid = NID_undef;
    int key_nid = NID_undef;
    // X509_get_signature_info also knows RSA-PSS, whose hash is in the parameters.
    if (X509_get_signature_info(certificate, &digest_nid, &key_nid, nullptr, nullptr) != 1) return {};
    if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
    const EVP_MD* digest = EVP_get_digestbynid(digest_nid);
    if (digest == nullptr) return {};
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (X509_digest(certificate, digest, hash, &length) != 1) return {};
    return "tls-server-end-point:" + std::string(reinterpret_cast<const char*>(hash), length);
}

}  // namespace easgate::upstream
