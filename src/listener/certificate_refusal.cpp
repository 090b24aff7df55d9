#include "easgate/listener/certificate_refusal.hpp"

#include <openssl/x509_vfy.h>

namespace easgate::listener {

std::string_view certificate_refusal_cause(int verify_error) {
    switch (verify_error) {
        case X509_V_ERR_CERT_REVOKED:
            return "revoked";
        case X509_V_ERR_UNABLE_TO_GET_CRL:
        case X509_V_ERR_CRL_HAS_EXPIRED:
        case X509_V_ERR_CRL_NOT_YET_VALID:
        case X509_V_ERR_CRL_SIGNATURE_FAILURE:
        case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
        case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
        case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
        case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
        case X509_V_ERR_DIFFERENT_CRL_SCOPE:
        case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
            return "crl_unavailable";
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "expired";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return "unknown_ca";
        case X509_V_ERR_CERT_UNTRUSTED:
            return "unlisted_issuer";
        case X509_V_ERR_INVALID_PURPOSE:
            return "no_client_auth_eku";
        case X509_V_ERR_APPLICATION_VERIFICATION:
            return "no_identity";
        default:
            return "other";
    }
}

}  // namespace easgate::listener
