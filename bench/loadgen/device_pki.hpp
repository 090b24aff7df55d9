#pragma once

// The simulated devices: each its own EC P-256 key and certificate, minted at start from the
// issuing CA given on the command line, with the UPN (SAN otherName 1.3.6.1.4.1.311.20.2.3) and
// email address an AD CS user template writes, and the clientAuth EKU.

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "easgate/common/openssl_ptr.hpp"

namespace easgate::bench {

struct Device {
    std::string upn;        // bench17@lab.example
    std::string user;       // bench17: the query's User=
    std::string device_id;  // BENCH000000000000000000017
    common::OpenSslPtr<X509, X509_free> certificate;
    common::OpenSslPtr<EVP_PKEY, EVP_PKEY_free> key;
};

// Devices number first .. first + count - 1; {n} in upn_pattern is replaced by the number.
std::vector<Device> mint_devices(const std::string& ca_cert_file, const std::string& ca_key_file,
                                 const std::string& upn_pattern, unsigned first, unsigned count);

// The first certificate in a PEM file (the issuing CA the devices send along).
common::OpenSslPtr<X509, X509_free> read_certificate(const std::string& file);

}  // namespace easgate::bench
