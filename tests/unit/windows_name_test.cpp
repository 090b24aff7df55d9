// The issuer as altSecurityIdentities' X509:<I> holds it: as Windows writes it (certutil's or
// PowerShell's $cert.Issuer, its parts reversed and joined by ","), not as OpenSSL's RFC 2253 does.
#include "easgate/identity/windows_name.hpp"

#include <gtest/gtest.h>

#include <string>

#include "easgate/common/openssl_ptr.hpp"

namespace easgate::identity {
namespace {

using NamePtr = common::OpenSslPtr<X509_NAME, X509_NAME_free>;

// Adds type=value as a new RDN, or to the one before when joining (a multi-valued RDN).
void add(X509_NAME* name, const char* type, const std::string& value, bool joining = false) {
    ASSERT_EQ(X509_NAME_add_entry_by_txt(name, type, MBSTRING_UTF8,
                                         reinterpret_cast<const unsigned char*>(value.data()),
                                         static_cast<int>(value.size()), -1, joining ? -1 : 0),
              1)
        << type;
}

TEST(WindowsName, AnAdCsIssuerReadsAsInKb5014754) {
    const NamePtr name(X509_NAME_new());
    add(name.get(), "DC", "com");
    add(name.get(), "DC", "contoso");
    add(name.get(), "CN", "CONTOSO-DC-CA");
    EXPECT_EQ(windows_name(name.get()), "DC=com,DC=contoso,CN=CONTOSO-DC-CA");
}

TEST(WindowsName, KeysValuesAndQuotingAreCryptoApis) {
    const NamePtr name(X509_NAME_new());
    add(name.get(), "C", "DE");
    add(name.get(), "ST", "Bayern");
    add(name.get(), "L", "M\xc3\xbcnchen");
    add(name.get(), "O", "Contoso, Inc.");
    add(name.get(), "OU", "PKI \"Tier 2\"");
    add(name.get(), "emailAddress", "pki@contoso.example");
    add(name.get(), "1.2.3.4", "x");
    add(name.get(), "CN", "Issuing CA");
    add(name.get(), "serialNumber", "01", true);
    EXPECT_EQ(windows_name(name.get()),
              "C=DE,S=Bayern,L=M\xc3\xbcnchen,O=\"Contoso, Inc.\",OU=\"PKI \"\"Tier 2\"\"\","
              "E=pki@contoso.example,OID.1.2.3.4=x,CN=Issuing CA + SERIALNUMBER=01");
}

TEST(WindowsName, ASpaceAtEitherEndIsQuoted) {
    const NamePtr name(X509_NAME_new());
    add(name.get(), "O", " Contoso");
    add(name.get(), "OU", "PKI ");
    add(name.get(), "CN", "CA#1");
    EXPECT_EQ(windows_name(name.get()), "O=\" Contoso\",OU=\"PKI \",CN=\"CA#1\"");
}

}  // namespace
}  // namespace easgate::identity
