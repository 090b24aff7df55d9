#pragma once

// Changes to the lab's directory as a domain administrator would make them, for tests that break
// and restore a setting.

#include <string>
#include <vector>

#include "child_process.hpp"

namespace easgate::testing {

// An ldapmodify or ldapsearch (argv without connection options) as the domain's Administrator over
// LDAPS; `input`, when given, is the LDIF it reads.
CommandResult as_administrator(std::vector<std::string> argv, const std::string& input = {});

// An LDIF applied with ldbmodify to the DC's domain partition itself, past Samba's checks: for
// states AD refuses to create but holds in the field (an SPN on two accounts, left by a restored or
// replicated object). Samba sees the change at once.
CommandResult modify_domain_partition(const std::string& ldif);

// Replicates the domain between dc1 and dc2 now (tests/lab/dc.sh sync): what earlier tests
// changed (and undid) on dc1 reaches dc2 before a test that reads dc2, not seconds on.
CommandResult replicate_dcs_now();

}  // namespace easgate::testing
