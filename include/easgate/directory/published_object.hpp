#pragma once

#include <string>

#include "easgate/common/result.hpp"

namespace easgate::directory {

// What an LDAP URL names in the directory, as AD CS writes its CRL Distribution Points:
// ldap:///CN=<CA>,CN=<server>,CN=CDP,CN=Public Key Services,CN=Services,CN=Configuration,DC=…
// ?certificateRevocationList?base?objectClass=cRLDistributionPoint
// (deltaRevocationList for the delta CRL). It names no server: every DC of the forest holds the
// configuration partition, so the directory's own servers answer.
struct PublishedObject {
    std::string dn;         // percent-decoded
    std::string attribute;  // the one attribute to read
    std::string filter;     // with its parentheses; (objectClass=*) when the URL gives none
};

// The object an ldap:/// URL names; a Failure (cause unusable_url) naming what is wrong with it
// otherwise: a server in the URL, not exactly one attribute, a scope other than base, or, since a
// certificate names what easgate's account reads, an attribute other than certificateRevocationList
// or deltaRevocationList, an entry outside CN=CDP,CN=Public Key Services,CN=Services,
// CN=Configuration, control characters.
common::Result<PublishedObject> parse_published_object(const std::string& url);

}  // namespace easgate::directory
