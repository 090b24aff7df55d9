#include "device_pki.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "test_pki.hpp"

namespace easgate::bench {
namespace {

std::string read_text(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + file);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string upn_for(const std::string& pattern, unsigned number) {
    std::string upn = pattern;
    for (auto at = upn.find("{n}"); at != std::string::npos; at = upn.find("{n}"))
        upn.replace(at, 3, std::to_string(number));
    return upn;
}

common::OpenSslPtr<EVP_PKEY, EVP_PKEY_free> parse_key(const std::string& pem) {
    const common::OpenSslPtr<BIO, BIO_free> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    common::OpenSslPtr<EVP_PKEY, EVP_PKEY_free> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (!key) throw std::runtime_error("minted a key OpenSSL cannot read back");
    return key;
}

}  // namespace

common::OpenSslPtr<X509, X509_free> read_certificate(const std::string& file) {
    auto certificate = testing::parse_certificate_pem(read_text(file));
    if (!certificate) throw std::runtime_error("no certificate in " + file);
    return certificate;
}

std::vector<Device> mint_devices(const std::string& ca_cert_file, const std::string& ca_key_file,
                                 const std::string& upn_pattern, unsigned first, unsigned count) {
    const auto issuing = testing::TestCa::load(read_text(ca_cert_file), read_text(ca_key_file));
    std::vector<Device> devices;
    devices.reserve(count);
    for (unsigned number = first; number < first + count; ++number) {
        testing::CertSpec spec;
        spec.upn = upn_for(upn_pattern, number);
        spec.common_name = *spec.upn;
        spec.emails = {*spec.upn};
        const auto issued = issuing.issue(spec);
        char device_id[32];
        // 26 characters, as an iPhone's own DeviceId.
        std::snprintf(device_id, sizeof device_id, "BENCH%021u", number);
        devices.push_back({.upn = *spec.upn,
                           .user = spec.upn->substr(0, spec.upn->find('@')),
                           .device_id = device_id,
                           .certificate = testing::parse_certificate_pem(issued.cert_pem),
                           .key = parse_key(issued.key_pem)});
    }
    return devices;
}

}  // namespace easgate::bench
